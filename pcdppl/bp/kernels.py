"""Factor-to-variable message kernels of loopy belief propagation, one class per factor kind.

All messages live in log space and carry the batch ("copy") axis ``C`` last, like the
blocked states of :mod:`pcdppl.graph.layout`. Two representations are used:

* **log-odds** for binary and spin units: one number per message, ``m(on) - m(off)``;
* **log-vectors** for categorical units and inside table factors: ``k`` numbers per
  message, normalised so that their maximum is 0.

A factor with log-potential ``θ(x_s, x_r)`` sends the receiver ``r``

    m(x_r) = T · log Σ_{x_s} exp((θ(x_s, x_r) + n_s(x_s)) / T)       (T > 0, sum-product at T = 1)
    m(x_r) = max_{x_s} (θ(x_s, x_r) + n_s(x_s))                         (T = 0, max-product)

where ``n_s`` is the sender's variable-to-factor message (its belief minus what this
factor last sent it). For two binary/spin units with ``n_s = [0, n]`` that collapses to
the closed form ``⊕(θ_01, θ_11 + n) - ⊕(θ_00, θ_10 + n)`` with ``⊕`` the temperature-``T``
soft maximum of two numbers: no vectors, no gathers beyond the edge endpoints.

Every kernel exposes

* ``potential(bp, beta)`` -> the factor's log-potentials, scaled by the inverse
  temperature ``beta`` (a scalar or one value per copy), batch axis last (size 1 or ``C``);
* ``perturb(key, pot, scale, C)`` -> the same with Gumbel noise on every table entry;
* ``zeros(C)`` -> the initial messages;
* ``incoming(msgs, group)`` -> the sum of this factor's messages into each unit of
  ``group`` (log-odds ``(n, C)`` or log-vectors ``(n, k, C)``), or ``None``;
* ``update(pot, msgs, beliefs, T)`` -> the recomputed messages (same pytree as ``msgs``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.dense import Dense
from ..graph.factors import Bias, Factor, Pairwise, Table
from ..graph.groups import VariableGroup
from ..graph.neighbors import gather

Array = jax.Array


# ----------------------------------------------------------------------------- helpers
def soft_max2(a: Array, b: Array, T: float) -> Array:
    """``T·log(e^{a/T} + e^{b/T})``; ``max(a, b)`` at ``T = 0``."""
    if T == 0.0:
        return jnp.maximum(a, b)
    return T * jnp.logaddexp(a / T, b / T)


def soft_max(x: Array, axis, T: float) -> Array:
    """``T·logsumexp(x / T)`` over ``axis``; ``max`` at ``T = 0``."""
    if T == 0.0:
        return jnp.max(x, axis=axis)
    return T * jax.nn.logsumexp(x / T, axis=axis)


def normalize(v: Array, axis: int = 1) -> Array:
    """Shift log-vectors so that their maximum over ``axis`` is 0."""
    return v - jax.lax.stop_gradient(jnp.max(v, axis=axis, keepdims=True))


def as_vector(group: VariableGroup, belief: Array) -> Array:
    """A unit's belief as a log-vector ``(n, k, C)`` (log-odds ``l`` -> ``[0, l]``)."""
    if group.is_categorical:
        return belief
    return jnp.stack([jnp.zeros_like(belief), belief], axis=1)


def as_group_message(group: VariableGroup, vec: Array) -> Array:
    """A log-vector message ``(n, k, C)`` in the group's representation."""
    if group.is_categorical:
        return vec
    return vec[:, 1] - vec[:, 0]


def gumbel(key, shape) -> Array:
    return jax.random.gumbel(key, shape, jnp.float32)


def _values(g: VariableGroup) -> np.ndarray:
    return g.values.astype(np.float32)


class Kernel:
    """Base class: a factor that contributes nothing (overridden by every kind)."""

    factor: Factor

    def potential(self, bp, beta):  # pragma: no cover - abstract
        raise NotImplementedError

    def perturb(self, key, pot, scale: float, C: int):
        return pot

    def zeros(self, C: int):
        return ()

    def incoming(self, msgs, group: str):
        return None

    def update(self, pot, msgs, beliefs, T: float):
        return msgs


# ----------------------------------------------------------------------------- unary
class BiasKernel(Kernel):
    """Unary factor: folded into the units' unary log-potentials (no messages).

    Binary/spin: log-odds ``span · b`` (n, 1|C); categorical: ``b`` (n, k, 1|C).
    """

    def __init__(self, f: Bias):
        self.factor, self.group = f, f.group

    def potential(self, bp, beta):
        if self.group.is_categorical:
            return bp[:, :, None] * beta
        return self.group.span * bp[:, None] * beta


# ----------------------------------------------------------------------------- binary pairs
def _pair_message(th, n, T):
    """Log-odds message to the receiver of a binary pair with table ``th[s][r]`` (sender
    state ``s``, receiver state ``r``) from sender log-odds ``n``."""
    return soft_max2(th[0][1], th[1][1] + n, T) - soft_max2(th[0][0], th[1][0] + n, T)


def _transpose(th):
    return ((th[0][0], th[1][0]), (th[0][1], th[1][1]))


def _binary_table(J, ga: VariableGroup, gb: VariableGroup, beta):
    """``θ[s][r] = β·J·val_a(s)·val_b(r)`` as a nested 2×2 tuple of arrays."""
    va, vb = _values(ga), _values(gb)
    return tuple(tuple(J * (float(va[s] * vb[r])) * beta for r in range(2)) for s in range(2))


def _perturb_table(key, th, scale, shape):
    keys = jax.random.split(key, 4)
    return tuple(tuple(th[s][r] + scale * gumbel(keys[2 * s + r], shape) for r in range(2))
                 for s in range(2))


def message_rows(f: Pairwise) -> dict[str, Array]:
    """Per group, the rows of the ``(2E, ...)`` message array (row ``e`` flows to the ``a``
    end of edge ``e``, row ``E + e`` to its ``b`` end; ``2E`` is a zero pad) that each slot
    of the group's neighbor table receives: the shape of ``f.sides[g].eid``."""
    E = f.num_edges
    out = {}
    for g, side in f.sides.items():
        eid = side.eid
        empty = eid >= E
        e = jnp.where(empty, 0, eid)
        if f.a.name != f.b.name:
            rows = e if g == f.a.name else E + e
        else:
            unit = jnp.arange(side.n, dtype=eid.dtype)[:, None] if side.padded else side.src
            rows = jnp.where(gather(f.ia, e) == unit, e, E + e)
        out[g] = jnp.where(empty, 2 * E, rows)
    return out


def _incoming(f: Pairwise, rows: dict, msgs: Array, group: str):
    if group not in f.sides:
        return None
    pad = jnp.zeros((1,) + msgs.shape[1:], msgs.dtype)
    return f.sides[group].gather_sum(rows[group], jnp.concatenate([msgs, pad]))


class PairwiseBinaryKernel(Kernel):
    """Sparse pairwise factor on binary/spin units, closed-form log-odds messages.

    Messages: ``(2E, C)`` log-odds; row ``e`` goes to the ``a`` end of edge ``e``
    (``Pairwise.ia``), row ``E + e`` to its ``b`` end (``Pairwise.ib``). Incoming sums go
    through the factor's own neighbor tables (:func:`message_rows`).
    """

    def __init__(self, f: Pairwise):
        self.factor, self.ga, self.gb = f, f.a, f.b
        self.E = f.num_edges
        self.rows = message_rows(f)

    def potential(self, bp, beta):
        return _binary_table(bp["J"][:, None], self.ga, self.gb, beta)

    def perturb(self, key, pot, scale, C):
        return _perturb_table(key, pot, scale, (self.E, C))

    def zeros(self, C):
        return jnp.zeros((2 * self.E, C), jnp.float32)

    def incoming(self, msgs, group):
        return _incoming(self.factor, self.rows, msgs, group)

    def update(self, th, msgs, beliefs, T):
        f, E = self.factor, self.E
        n_a = gather(beliefs[self.ga.name], f.ia) - msgs[:E]  # a -> factor
        n_b = gather(beliefs[self.gb.name], f.ib) - msgs[E:]  # b -> factor
        to_b = _pair_message(th, n_a, T)
        to_a = _pair_message(_transpose(th), n_b, T)
        return jnp.concatenate([to_a, to_b])


class DenseKernel(Kernel):
    """All-to-all bipartite factor on binary/spin groups: the same closed form as
    :class:`PairwiseBinaryKernel`, laid out densely — no gathers at all, incoming sums are
    reductions over one axis.

    Messages: ``(2, n_a, n_b, C)`` log-odds; ``[0, i, j]`` goes to unit ``i`` of ``a``,
    ``[1, i, j]`` to unit ``j`` of ``b``.
    """

    def __init__(self, f: Dense):
        self.factor, self.ga, self.gb = f, f.a, f.b

    def potential(self, W, beta):
        return _binary_table(W[:, :, None], self.ga, self.gb, beta)

    def perturb(self, key, pot, scale, C):
        return _perturb_table(key, pot, scale, (self.ga.size, self.gb.size, C))

    def zeros(self, C):
        return jnp.zeros((2, self.ga.size, self.gb.size, C), jnp.float32)

    def incoming(self, msgs, group):
        if group == self.ga.name:
            return jnp.sum(msgs[0], axis=1)
        if group == self.gb.name:
            return jnp.sum(msgs[1], axis=0)
        return None

    def update(self, th, msgs, beliefs, T):
        n_a = beliefs[self.ga.name][:, None, :] - msgs[0]
        n_b = beliefs[self.gb.name][None, :, :] - msgs[1]
        return jnp.stack([_pair_message(_transpose(th), n_b, T), _pair_message(th, n_a, T)])


class DenseTableKernel(Kernel):
    """All-to-all bipartite factor with a categorical side: every pair ``(i, j)`` has the
    table ``θ_ij(s_a, s_b) = β W_ij[s_a, s_b]`` over state indices (a binary/spin side's
    table column is ``W`` times its value), laid out densely.

    Messages: ``[to_a (n_a, n_b, k_a, C), to_b (n_a, n_b, k_b, C)]`` log-vectors
    (``k = 2`` on a binary/spin side); incoming sums are reductions over the other side.
    """

    def __init__(self, f: Dense):
        self.factor, self.ga, self.gb = f, f.a, f.b
        self.ka, self.kb = f.a.num_states, f.b.num_states

    def _values(self, g: VariableGroup, k: int):
        """Per state index, the multiplier of the categorical table: 1 for categorical
        states, the unit's value for binary/spin states."""
        return jnp.ones((k,), jnp.float32) if g.is_categorical else jnp.asarray(_values(g))

    def potential(self, W, beta):
        # W: (n_a, ka', n_b, kb') with ka' = 1 on a binary/spin side
        th = W * self._values(self.ga, self.ka)[None, :, None, None] if not self.ga.is_categorical \
            else W
        th = th * self._values(self.gb, self.kb)[None, None, None, :] if not self.gb.is_categorical \
            else th
        th = jnp.broadcast_to(th, (W.shape[0], self.ka, W.shape[2], self.kb))
        return jnp.transpose(th, (0, 2, 1, 3))[..., None] * beta  # (n_a, n_b, ka, kb, 1|C)

    def perturb(self, key, pot, scale, C):
        return pot + scale * gumbel(key, pot.shape[:-1] + (C,))

    def zeros(self, C):
        na, nb = self.ga.size, self.gb.size
        return (jnp.zeros((na, nb, self.ka, C), jnp.float32),
                jnp.zeros((na, nb, self.kb, C), jnp.float32))

    def incoming(self, msgs, group):
        if group == self.ga.name:
            return as_group_message(self.ga, jnp.sum(msgs[0], axis=1))
        if group == self.gb.name:
            return as_group_message(self.gb, jnp.sum(msgs[1], axis=0))
        return None

    def update(self, th, msgs, beliefs, T):
        n_a = as_vector(self.ga, beliefs[self.ga.name])[:, None] - msgs[0]  # (na, nb, ka, C)
        n_b = as_vector(self.gb, beliefs[self.gb.name])[None, :] - msgs[1]  # (na, nb, kb, C)
        to_b = soft_max(th + n_a[:, :, :, None, :], 2, T)  # reduce over a's state
        to_a = soft_max(th + n_b[:, :, None, :, :], 3, T)  # reduce over b's state
        return (normalize(to_a, axis=2), normalize(to_b, axis=2))


# ----------------------------------------------------------------------------- Potts pairs
class PairwisePottsKernel(Kernel):
    """Sparse pairwise factor on categorical units, ``θ(x_i, x_j) = J·δ(x_i, x_j)``.

    Messages: ``(2E, k, C)`` log-vectors, rows as in :class:`PairwiseBinaryKernel`.
    The potential is kept as ``J`` (E, 1|C) unless factors are perturbed, then as the full
    ``(E, k, k, C)`` table.
    """

    def __init__(self, f: Pairwise):
        self.factor, self.ga, self.gb = f, f.a, f.b
        self.E, self.k = f.num_edges, f.a.num_states
        self.rows = message_rows(f)

    def potential(self, bp, beta):
        J = bp["J"][:, None] * beta  # (E, 1|C)
        return J[:, None, None, :] * jnp.eye(self.k, dtype=jnp.float32)[None, :, :, None]

    def perturb(self, key, pot, scale, C):
        return pot + scale * gumbel(key, (self.E, self.k, self.k, C))

    def zeros(self, C):
        return jnp.zeros((2 * self.E, self.k, C), jnp.float32)

    def incoming(self, msgs, group):
        return _incoming(self.factor, self.rows, msgs, group)

    def update(self, th, msgs, beliefs, T):
        f, E = self.factor, self.E
        n_a = gather(beliefs[self.ga.name], f.ia) - msgs[:E]  # (E, k, C)
        n_b = gather(beliefs[self.gb.name], f.ib) - msgs[E:]
        to_b = soft_max(th + n_a[:, :, None, :], 1, T)  # reduce over the a state
        to_a = soft_max(th + n_b[:, None, :, :], 2, T)  # reduce over the b state
        return normalize(jnp.concatenate([to_a, to_b]))


# ----------------------------------------------------------------------------- tables
class TableKernel(Kernel):
    """Table factor over cliques of ``m`` units (the generic path).

    Messages: a tuple over positions ``p`` of ``(F, k_p, C)`` log-vectors, message of
    clique ``f`` to its unit at position ``p``. The update forms the clique's full
    ``(F, k_1, .., k_m, C)`` table of ``θ + Σ_q n_q`` once and reduces it per position.
    """

    def __init__(self, f: Table):
        self.factor, self.m, self.F, self.ks = f, f.arity, f.num_cliques, f.ks

    def potential(self, flat, beta):
        f = self.factor
        th = flat.reshape((1 if f.tied else self.F,) + self.ks)
        return th[..., None] * beta

    def perturb(self, key, pot, scale, C):
        return pot + scale * gumbel(key, (self.F,) + self.ks + (C,))

    def zeros(self, C):
        return tuple(jnp.zeros((self.F, k, C), jnp.float32) for k in self.ks)

    def incoming(self, msgs, group):
        f = self.factor
        total = None
        for p, g in enumerate(f.vgroups):
            if g.name != group:
                continue
            part = jax.ops.segment_sum(msgs[p], f.mb[:, p], num_segments=g.size)
            total = part if total is None else total + part
        if total is None:
            return None
        g = next(v for v in f.vgroups if v.name == group)
        return as_group_message(g, total)

    def _expand(self, v, p):
        """``(F, k_p, C)`` -> broadcastable against ``(F, k_1, .., k_m, C)``."""
        shape = [v.shape[0]] + [1] * self.m + [v.shape[-1]]
        shape[p + 1] = v.shape[1]
        return v.reshape(shape)

    def update(self, th, msgs, beliefs, T):
        f = self.factor
        n = [gather(as_vector(g, beliefs[g.name]), f.mb[:, p]) - msgs[p]
             for p, g in enumerate(f.vgroups)]
        total = th
        for p in range(self.m):
            total = total + self._expand(n[p], p)
        out = []
        for p in range(self.m):
            axes = tuple(q + 1 for q in range(self.m) if q != p)
            red = total - self._expand(n[p], p)
            msg = soft_max(red, axes, T) if axes else jnp.broadcast_to(red, n[p].shape)
            out.append(normalize(msg))
        return tuple(out)


def make_kernel(f: Factor) -> Kernel:
    if isinstance(f, Bias):
        return BiasKernel(f)
    if isinstance(f, Dense):
        return DenseTableKernel(f) if f.categorical else DenseKernel(f)
    if isinstance(f, Pairwise):
        return PairwisePottsKernel(f) if f.potts else PairwiseBinaryKernel(f)
    if isinstance(f, Table):
        return TableKernel(f)
    raise TypeError(f"belief propagation has no message kernel for factor {f!r}")
