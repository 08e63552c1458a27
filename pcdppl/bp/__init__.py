"""Loopy belief propagation (max-product and sum-product) on compiled models.

See :class:`BeliefPropagation`; :func:`max_product` and :func:`sum_product` are one-call
shortcuts. The pure functions beneath — :func:`potentials`, :func:`perturb`,
:func:`init_messages`, :func:`iterate`, :func:`beliefs`, :func:`decode` — take the model as
an argument. Message layouts are documented in :mod:`pcdppl.bp.kernels`.
"""

from .loopy import (
    BeliefPropagation,
    BPResult,
    beliefs,
    check_settings,
    decode,
    init_messages,
    iterate,
    max_product,
    perturb,
    potentials,
    sum_product,
)

__all__ = ["BeliefPropagation", "BPResult", "max_product", "sum_product", "potentials",
           "perturb", "init_messages", "iterate", "beliefs", "decode", "check_settings"]
