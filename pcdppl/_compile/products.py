"""Products of a coupling matrix with a block of chains, whose gradient is a plain matmul.

Rule: dense factors compute their local fields and energies with :func:`matmul`. Units are
stored ``(n, C)`` (chains last), so the gradient of ``M @ x`` with respect to ``M`` contracts
the chain axis of two arrays that both hold it last, ``ct @ x.T``: a product with a
transposed operand. XLA's CPU backend hands such a product to a library routine, which for
small operands (i) is about twice as slow as a plain matmul whose transposed operand was
written out first, and (ii) keeps the whole loop it sits in out of XLA's small-loop path,
where the loop is compiled into one kernel instead of one dispatch per operation (a digits
RBM's epoch, 64x12 units and 20 chains: 2.8 -> 1.6 ms). Small products (at most
``SMALL_PRODUCT`` multiply-adds) therefore get their gradients as plain matmuls of a
written-out transpose; large ones keep XLA's own (a 784x500 RBM with 100 chains was ~35 %
slower the other way). Measurements: ``docs/performance.md``.

Reverse-mode differentiation (``jax.grad``, ``jax.vjp``) of a small product is exact and
the same as the plain one up to rounding; forward mode (``jax.jvp``) is not available for it
(JAX's rule for functions with a custom gradient).
"""

from __future__ import annotations

import jax
from jax import lax

SMALL_PRODUCT = 2**16  # multiply-adds of a product whose gradient is written as plain matmuls


def matmul(M: jax.Array, x: jax.Array, *, transpose: bool = False) -> jax.Array:
    """``M @ x`` (``transpose=False``) or ``M.T @ x`` for a matrix ``M`` and the values
    ``x`` of a block of chains, ``(n, C)``; the same numbers as the plain product, with the
    gradient of a small product computed as plain matmuls (see the module docstring)."""
    if M.ndim != 2 or x.ndim != 2 or M.size * x.shape[1] > SMALL_PRODUCT:
        return (M.T if transpose else M) @ x
    return _matmul_t(M, x) if transpose else _matmul(M, x)


def _written_out_transpose(a: jax.Array) -> jax.Array:
    """``a.T`` materialised: XLA would otherwise fold it into the product that reads it."""
    return lax.optimization_barrier(a.T)


@jax.custom_vjp
def _matmul(M, x):
    return M @ x


def _matmul_fwd(M, x):
    return M @ x, (M, x)


def _matmul_bwd(res, ct):
    M, x = res  # ct: (r, C)
    return ct @ _written_out_transpose(x), _written_out_transpose(M) @ ct


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


@jax.custom_vjp
def _matmul_t(M, x):
    return M.T @ x


def _matmul_t_fwd(M, x):
    return M.T @ x, (M, x)


def _matmul_t_bwd(res, ct):
    M, x = res  # ct: (r, C) with r = M.shape[1]
    return x @ _written_out_transpose(ct), M @ ct


_matmul_t.defvjp(_matmul_t_fwd, _matmul_t_bwd)
