"""pcdppl: undirected discrete models (Ising, Potts, RBMs, factor graphs) in JAX."""


from . import (  # noqa: I001  (import order: lower layers first)
    graph,
    models,
    samplers,
    bp,
    evaluate,
    diagnostics,
    learn,
    dbn,
    data,
    integrations,  # noqa: F401  (pp.integrations.numpyro)
)
from .dbn.training import DBN, DBNFit  # noqa: F401
from .graph import FactorGraph, Model, VariableGroup
from .learn import (
    FPCD,
    PCD,
    FitResult,
    JarzynskiPCD,
    LearnerState,
    MetropolisHastings,
    PerturbAndMaxProduct,
    PerturbAndMaxProductLearner,
    PseudoLikelihood,
)
from ._compile import configure_cpu_devices as _configure_cpu_devices
from ._compile import configure_from_environment as _configure_cache
from ._compile import set_compilation_cache
from .samplers import sample

# Before JAX's backend starts (no pcdppl module creates an array when it is imported): one
# CPU device per core, and the persistent compilation cache.
_configure_cpu_devices()
_configure_cache()

__version__ = "0.1.0"

__all__ = ["FactorGraph", "Model", "VariableGroup", "graph", "models", "samplers", "sample",
           "evaluate", "data", "diagnostics", "bp", "learn", "dbn", "integrations", "PCD", "MetropolisHastings",
           "PerturbAndMaxProductLearner", "PerturbAndMaxProduct", "DBN", "FitResult",
           "LearnerState", "FPCD", "JarzynskiPCD", "PseudoLikelihood", "set_compilation_cache"]
