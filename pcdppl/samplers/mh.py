"""The Metropolis–Hastings accept/reject step shared by every MH-type kernel.

A proposal ``x → x'`` is accepted with probability ``min(1, exp(log_alpha))``, where
``log_alpha = -β [E(x') - E(x)] + log q(x|x') - log q(x'|x)``. Accepting where
``log u < log_alpha`` for ``u ~ U[0, 1)`` does exactly that (``log 0 = -inf`` is always below).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def accept(u: Array, log_alpha: Array) -> Array:
    """Booleans: accept where ``log u < log_alpha`` (``u`` uniforms in [0, 1))."""
    return jnp.log(u) < log_alpha


def select(accepted: Array, new: Array, old: Array) -> Array:
    """``new`` where accepted, else ``old``; ``accepted`` broadcasts over the leading axes
    (it has the chain axis last, like the blocked states)."""
    return jnp.where(accepted, new, old)
