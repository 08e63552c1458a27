"""pcdppl: undirected discrete models (Ising, Potts, RBMs, factor graphs) in JAX."""

from . import (
           bp,
           data,
           diagnostics,
           evaluate,
           integrations,  # noqa: F401  (pp.integrations.numpyro)
           models,
           samplers,
)
from .graph import FactorGraph, Model, VariableGroup
from .learn import DBN, PCD, FitResult, LearnerState, MetropolisHastings, PerturbAndMaxProduct
from .samplers import sample

__version__ = "0.1.0"

__all__ = ["FactorGraph", "Model", "VariableGroup", "models", "samplers", "sample", "evaluate", "data",
           "diagnostics", "bp", "PCD", "MetropolisHastings", "PerturbAndMaxProduct", "DBN", "FitResult",
           "LearnerState"]
