"""Samplers: pure ``init``/``step`` kernels over NamedTuple states."""

from .base import Sampler, sample
from .gibbs import BlockGibbs, GibbsState
from .pmp import PerturbAndMaxProduct, PMPState

__all__ = ["Sampler", "BlockGibbs", "GibbsState", "sample",
           "PerturbAndMaxProduct", "PMPState"]
