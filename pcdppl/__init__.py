"""pcdppl: undirected discrete models (Ising, Potts, RBMs, factor graphs) in JAX."""

from . import data, diagnostics, evaluate, models, samplers
from . import integrations  # noqa: F401  (pp.integrations.numpyro)
from .graph import FactorGraph, Model, VariableGroup
from .learn import DBN, PCD, FitResult, LearnerState
from .samplers import sample

__version__ = "0.1.0"

__all__ = ["FactorGraph", "Model", "VariableGroup", "models", "samplers", "sample", "evaluate", "data", "diagnostics",
           "PCD", "FitResult", "LearnerState", "DBN"]
