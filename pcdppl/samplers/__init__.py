"""Samplers: pure ``init``/``step`` kernels over NamedTuple states."""

from .base import Sampler, sample
from .gibbs import BlockGibbs, GibbsState

__all__ = ["Sampler", "BlockGibbs", "GibbsState", "sample"]
