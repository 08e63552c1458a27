"""Drawing units: from local log-potentials, uniformly, and proposals of a new value.

Every sampler draws unit values through these functions, so the conventions (int8 values,
spins ±1, the inverse-CDF draw of categorical units from one uniform) live in one place.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..graph.groups import VariableGroup

Array = jax.Array


def sample_units(group: VariableGroup, loc: Array, beta, u: Array) -> Array:
    """Draw units from their local log-potentials at inverse temperature ``beta``.

    Args:
        group: the units' group.
        loc: binary/spin: log-odds of "on", ``(r, C)``; categorical: ``(r, k, C)``.
        beta: scalar or ``(C,)``.
        u: uniforms in [0, 1), ``(r, C)``: one per unit (callers draw the uniforms of a
            whole sweep at once).

    Returns:
        ``int8`` values ``(r, C)``. Binary/spin units are on iff ``u·(1 + e^{-βΔ}) < 1``;
        categorical units take the inverse CDF of the softmax at ``u``.
    """
    if group.is_categorical:
        p = jax.nn.softmax(beta * loc, axis=1)
        cdf = jnp.cumsum(p, axis=1)[:, :-1]  # (r, k-1, C)
        return jnp.sum(u[:, None, :] > cdf, axis=1).astype(jnp.int8)
    on = u * (1.0 + jnp.exp(-beta * loc)) < 1.0
    return from_on(group, on)


def from_on(group: VariableGroup, on: Array) -> Array:
    """Binary/spin values from booleans "unit is on"."""
    if group.kind == "spin":
        return (2 * on.astype(jnp.int8) - 1).astype(jnp.int8)
    return on.astype(jnp.int8)


def is_on(group: VariableGroup, x: Array) -> Array:
    """Booleans "unit is on" of binary/spin values."""
    return x > 0 if group.kind == "spin" else x == 1


def random_values(key, group: VariableGroup, num_chains: int) -> Array:
    """Uniformly random values in the blocked layout: ``int8 (n, num_chains)``."""
    shape = (group.size, num_chains)
    if group.kind == "spin":
        return (2 * jax.random.bernoulli(key, 0.5, shape).astype(jnp.int8) - 1).astype(jnp.int8)
    return jax.random.randint(key, shape, 0, group.num_states, dtype=jnp.int8)


def state_index(group: VariableGroup, x: Array) -> Array:
    """Stored values -> state index ``int32`` (categorical value itself, spin ±1 -> 0/1)."""
    return ((x + 1) // 2).astype(jnp.int32) if group.kind == "spin" else x.astype(jnp.int32)


def propose_change(group: VariableGroup, cur: Array, u: Array | None) -> Array:
    """A proposed new value of units currently at ``cur``: a flip for binary/spin units, a
    uniformly random *other* value for categorical ones (``u`` uniforms in [0, 1))."""
    if group.kind == "spin":
        return (-cur).astype(jnp.int8)
    if group.kind == "binary":
        return (1 - cur).astype(jnp.int8)
    k = group.num_states
    shift = 1 + jnp.minimum((u * (k - 1)).astype(jnp.int32), k - 2)
    return ((cur.astype(jnp.int32) + shift) % k).astype(jnp.int8)


def log_density_change(group: VariableGroup, loc: Array, cur: Array, new: Array | None) -> Array:
    """Change of the log-density ``-E`` (at β = 1) when units move ``cur -> new``, from their
    local log-potentials ``loc`` (``(r, C)`` log-odds or ``(r, k, C)``); returns ``(r, C)``.
    For binary/spin units ``new`` is the flip of ``cur`` (and may be ``None``)."""
    if group.is_categorical:
        def pick(v):
            return jnp.take_along_axis(loc, v.astype(jnp.int32)[:, None, :], axis=1)[:, 0]

        return pick(new) - pick(cur)
    return jnp.where(is_on(group, cur), -loc, loc)
