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
from .samplers import sample

__version__ = "0.1.0"

__all__ = ["FactorGraph", "Model", "VariableGroup", "graph", "models", "samplers", "sample",
           "evaluate", "data", "diagnostics", "bp", "learn", "dbn", "integrations", "PCD", "MetropolisHastings",
           "PerturbAndMaxProductLearner", "PerturbAndMaxProduct", "DBN", "FitResult",
           "LearnerState", "FPCD", "JarzynskiPCD", "PseudoLikelihood"]
