"""Exact evaluation by enumeration.

``log Z = log Σ_x exp(-E(x))``. Groups whose units are conditionally independent given the
rest (e.g. one layer of an RBM) are summed analytically through the free energy; only the
remaining groups are enumerated, in chunks of states so memory stays bounded. For an RBM
the smaller layer is enumerated: 2^16 states for 16 hidden units, whatever the visible size.
"""

from __future__ import annotations

import itertools
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.groups import from_state_index
from ..graph.model import Model

Array = jax.Array

DEFAULT_MAX_STATES = 1 << 27
CHUNK_ELEMENTS = 1 << 22  # units x columns per chunk


class IntractableError(ValueError):
    """Raised when exact enumeration would exceed ``max_states``."""


def analytic_split(model: Model, groups=None) -> tuple[list[str], list[str]]:
    """Split ``groups`` (default: all) into (enumerated, summed analytically).

    The summed set is the conditionally independent set of groups with the most joint
    states (all subsets are tried for up to 16 candidate groups, greedy beyond).
    """
    names = list(model.groups) if groups is None else list(groups)
    cands = [g for g in names if model.conditionally_independent([g])]
    best, best_size = [], 0.0
    if len(cands) <= 16:
        for r in range(1, len(cands) + 1):
            for sub in itertools.combinations(cands, r):
                if model.conditionally_independent(sub):
                    size = model.log_num_states(sub)
                    if size > best_size:
                        best, best_size = list(sub), size
    else:
        for g in sorted(cands, key=lambda g: -model.groups[g].log_num_states):
            if model.conditionally_independent(best + [g]):
                best.append(g)
    return [g for g in names if g not in best], best


def _num_states(model: Model, groups) -> int:
    return math.prod(model.groups[g].num_states ** model.groups[g].size for g in groups)


def _check_size(model: Model, enum, max_states, what):
    total = _num_states(model, enum)
    if total > max_states:
        bits = model.log_num_states(enum) / math.log(2)
        raise IntractableError(
            f"{what} needs enumerating about 2^{bits:.1f} joint states of groups {enum} "
            f"(limit max_states={max_states}, about 2^{math.log2(max_states):.0f}); use "
            f"annealed importance sampling for models this size")
    if total >= 1 << 31:
        raise IntractableError(f"{what}: {total} states exceed the 2^31 that int32 state "
                               f"indices can enumerate")
    return total


@partial(jax.jit, static_argnames=("enum", "sum_out", "total", "chunk", "num_chunks"))
def _lse_over(model: Model, bp, fixed: dict, enum: tuple, sum_out: tuple, total: int,
              chunk: int, num_chunks: int) -> Array:
    """``log Σ_{x_enum} Σ_{x_sum_out} exp(-E(fixed, x_enum, x_sum_out))`` per column of
    ``fixed`` (blocked layout ``(n, N)``): returns ``(N,)``."""
    N = next(iter(fixed.values())).shape[1] if fixed else 1
    radix = np.concatenate([np.full(model.groups[g].size, model.groups[g].num_states)
                            for g in enum]) if enum else np.zeros(0, np.int64)
    place = np.concatenate([[1], np.cumprod(radix)[:-1]]).astype(np.int64) if enum else radix
    bounds = np.cumsum([0] + [model.groups[g].size for g in enum])

    def one_chunk(c):
        s = c * chunk + jnp.arange(chunk, dtype=jnp.int32)
        valid = s < total
        x = {g: jnp.repeat(v, chunk, axis=1) for g, v in fixed.items()}  # (n, N*chunk)
        if enum:
            digits = (s[None, :] // jnp.asarray(place, jnp.int32)[:, None]) % jnp.asarray(
                radix, jnp.int32)[:, None]  # (units, chunk)
            for i, g in enumerate(enum):
                grp = model.groups[g]
                vals = from_state_index(grp, digits[bounds[i]:bounds[i + 1]]).astype(jnp.int8)
                x[g] = jnp.tile(vals, (1, N))
        if not x:  # nothing fixed or enumerated: a single empty configuration
            x = {}
        f = (model.blocked.free_energy(bp, x, sum_out) if sum_out
             else model.blocked.energy(bp, x))
        lw = jnp.where(valid[None, :], -f.reshape(N, chunk), -jnp.inf)
        return jax.nn.logsumexp(lw, axis=1)

    per_chunk = jax.lax.map(one_chunk, jnp.arange(num_chunks))  # (num_chunks, N)
    return jax.nn.logsumexp(per_chunk, axis=0)


def log_sum_exp_states(model: Model, params, fixed: dict, enum, sum_out, num_columns: int,
                       max_states: int = DEFAULT_MAX_STATES, what: str = "enumeration",
                       chunk_elements: int = CHUNK_ELEMENTS) -> Array:
    """``log Σ_{x_enum} Σ_{x_sum_out} exp(-E(fixed, x_enum, x_sum_out))`` per column of the
    blocked values ``fixed`` (``(n, num_columns)``): ``(num_columns,)``.

    The states of ``enum`` are enumerated in chunks of about ``chunk_elements`` units ×
    columns; ``sum_out`` groups (conditionally independent) are summed analytically.
    """
    total = _check_size(model, enum, max_states, what)
    n_units = sum(model.groups[g].size for g in model.groups)
    chunk = int(max(1, min(total, chunk_elements // max(1, n_units * num_columns))))
    num_chunks = -(-total // chunk)
    return _lse_over(model, model.blocked.params(params), fixed, tuple(enum), tuple(sum_out),
                     total, chunk, num_chunks)


def log_partition(model: Model, params, *, max_states: int = DEFAULT_MAX_STATES) -> Array:
    """Exact ``log Z`` by enumeration.

    Conditionally independent groups are summed analytically and the rest enumerated in
    chunks (for an RBM: the smaller layer). Raises :class:`IntractableError` naming the
    groups and the size when more than ``max_states`` states would be enumerated.
    """
    model.check_params(params)
    enum, sum_out = analytic_split(model)
    if not sum_out and not enum:  # pragma: no cover - a model always has a group
        raise ValueError("model has no groups")
    return log_sum_exp_states(model, params, {}, enum, sum_out, 1, max_states,
                              "log_partition")[0]


def enumerate_states(model: Model, groups=None, *, max_states: int = 1 << 22) -> dict:
    """All joint states of ``groups`` (default: all), ``dict[group, int8 (S, n)]``, user
    order; the first unit varies fastest. For tests and small models."""
    names = list(model.groups) if groups is None else list(groups)
    total = _check_size(model, names, max_states, "enumerate_states")
    s = np.arange(total, dtype=np.int64)
    out = {}
    place = 1
    for g in names:
        grp = model.groups[g]
        k = grp.num_states
        digits = (s[:, None] // (place * k ** np.arange(grp.size))[None, :]) % k
        out[g] = from_state_index(grp, digits).astype(np.int8)
        place *= k ** grp.size
    return out


def exact_probabilities(model: Model, params, *, max_states: int = 1 << 22):
    """The full joint distribution of a small model: ``(states, probs)`` with ``states`` as
    in :func:`enumerate_states` and ``probs`` of shape ``(S,)``."""
    states = enumerate_states(model, max_states=max_states)
    logp = -model.energy(params, states)
    return states, np.asarray(jax.nn.softmax(logp))
