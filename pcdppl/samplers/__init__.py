"""Samplers: immutable configuration over pure ``init_state``/``transition`` kernels.

See :mod:`pcdppl.samplers.base` for the protocol a sampler implements.
"""

from .base import ChainState, Sampler, check_beta, clamped_groups, num_chains_of
from .driver import resolve_sampler, sample
from .gibbs import BlockGibbs, GibbsState
from .langevin import DiscreteLangevin
from .metropolis import Metropolis, MetropolisState
from .pmp import PerturbAndMaxProduct, PMPState
from .tempering import ReplicaExchange, ReplicaState
from .units import random_values, sample_units

__all__ = ["Sampler", "ChainState", "BlockGibbs", "GibbsState", "sample", "Metropolis",
           "MetropolisState", "ReplicaExchange", "ReplicaState", "PerturbAndMaxProduct",
           "PMPState", "resolve_sampler", "check_beta", "clamped_groups", "num_chains_of",
           "random_values", "sample_units", "DiscreteLangevin"]
