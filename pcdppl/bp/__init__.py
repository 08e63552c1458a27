"""Loopy belief propagation (max-product and sum-product) on compiled models.

See :class:`BeliefPropagation`; :func:`max_product` and :func:`sum_product` are one-call
shortcuts. Message layouts are documented in :mod:`pcdppl.bp.kernels`.
"""

from .loopy import BeliefPropagation, BPResult, max_product, sum_product

__all__ = ["BeliefPropagation", "BPResult", "max_product", "sum_product"]
