"""Samplers: pure ``init``/``step`` kernels over NamedTuple states."""

from .base import Sampler, sample
from .gibbs import BlockGibbs, GibbsState
from .metropolis import Metropolis, MetropolisState
from .pmp import PerturbAndMaxProduct, PMPState
from .tempering import ReplicaExchange, ReplicaState

__all__ = ["Sampler", "BlockGibbs", "GibbsState", "sample", "Metropolis", "MetropolisState",
           "ReplicaExchange", "ReplicaState", "PerturbAndMaxProduct", "PMPState"]
