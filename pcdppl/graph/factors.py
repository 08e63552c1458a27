"""Compiled factor kinds.

Every factor contributes a term to the energy

    E(x) = -( Σ biases·x + Σ couplings·x_i·x_j + Σ table terms ),   p(x) ∝ exp(-E(x)),

and knows how to compute its contribution to the *local log-potentials* of a range of
units of one group given all other units. For binary and spin units the local
log-potential is the log-odds of the "on" value,

    Δ_i = -E(x_i = on) + E(x_i = off),        p(x_i = on | rest) = σ(β Δ_i),

and for categorical units it is the vector ``l_i[c] = -E(x_i = c) + const``.

Internal layout (see :mod:`pcdppl.graph.layout`): values of group ``g`` are an ``int8``
array of shape ``(n_g, C)`` — units first, in *blocked order* (the units of each colour
class contiguous), chains last. Factors store their index tables in that order, and
``blocked_params`` gathers user-order parameters into it, so the gradient of anything
computed from blocked parameters flows back to the user's parameters through autodiff.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .groups import VariableGroup, to_state_index
from .layout import GroupLayout

Array = jax.Array
Rows = slice | np.ndarray | Array

# A padded neighbour table wastes ``n * max_degree - E`` slots. When that waste exceeds
# this factor times the number of edges (star-like graphs), block updates use a sorted
# segment sum instead. The choice is made once, at compile time.
_PAD_WASTE_LIMIT = 4.0
# Up to this many neighbour slots, local fields are summed slot by slot (fused by XLA).
_UNROLL_MAX_DEGREE = 16


def _val(x: Array) -> Array:
    return x.astype(jnp.float32)


class Factor:
    """Base class of compiled factors.

    Attributes:
        name: the parameter name (key in the params dict).
        kind: ``"bias"``, ``"dense"``, ``"pairwise"`` or ``"table"``.
        groups: the names of the groups it touches.
        shape: the shape of its parameter.
    """

    name: str
    kind: str
    groups: tuple[str, ...]
    shape: tuple[int, ...]
    init: Callable

    def couples(self) -> list[tuple[str, str]]:
        """Pairs of groups (possibly equal) that some factor instance ties two units of."""
        return []

    def within_group_edges(self, group: str) -> np.ndarray:
        """Unit pairs (user order) of ``group`` that share a factor instance: (m, 2) ints."""
        return np.zeros((0, 2), dtype=np.int64)

    def blocked_params(self, theta: Array):
        """Map the user-order parameter into the layout used by ``energy``/``local``."""
        return theta

    def energy(self, bp, x: dict[str, Array]) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def local(self, bp, x: dict[str, Array], group: str, rows: Rows) -> Array:  # pragma: no cover
        raise NotImplementedError

    def num_instances(self) -> int:
        return 1

    def array_slots(self) -> list[tuple[object, str]]:
        """``(object, attribute)`` of every device index array this factor's ``energy`` and
        ``local`` read (see :meth:`pcdppl.Model.structure`)."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, groups={self.groups}, shape={self.shape})"


def _at(a: Array, idx) -> Array:
    """``a[idx]`` for index arrays that are in bounds by construction (the factors' index
    tables): no clamping. The tables are program arguments, not constants (see
    :meth:`pcdppl.Model.structure`), so XLA cannot prove the bounds itself."""
    if isinstance(a, np.ndarray):  # host-side use (e.g. NumPy parameters)
        parts = idx if isinstance(idx, tuple) else (idx,)
        return a[tuple(np.asarray(i) if isinstance(i, jax.Array) else i for i in parts)]
    return a.at[idx].get(mode="promise_in_bounds")


def _take_rows(a: Array, rows: Rows) -> Array:
    return a[rows]


# --------------------------------------------------------------------------------------
# unary
# --------------------------------------------------------------------------------------
class Bias(Factor):
    """Unary factor: ``-E ∋ Σ_i b_i x_i`` (binary/spin) or ``Σ_i b[i, x_i]`` (categorical).

    Parameter shape ``(n,)`` (binary/spin) or ``(n, k)`` (categorical); with ``tied=True``
    one value (or one vector of ``k``) shared by all units.
    """

    kind = "bias"

    def __init__(self, name, group: VariableGroup, layout: GroupLayout, tied: bool, init):
        self.name, self.group, self.layout, self.tied, self.init = name, group, layout, tied, init
        self.groups = (group.name,)
        unit = (group.num_states,) if group.is_categorical else ()
        self.shape = unit if tied else (group.size, *unit)
        self.perm = None if tied or layout.identity else jnp.asarray(layout.perm, jnp.int32)

    def array_slots(self):
        return [] if self.perm is None else [(self, "perm")]

    def blocked_params(self, theta):
        g = self.group
        if self.tied:
            full = (g.size, g.num_states) if g.is_categorical else (g.size,)
            return jnp.broadcast_to(theta, full)
        return theta if self.perm is None else _at(theta, self.perm)

    def energy(self, bp, x):
        xg = x[self.group.name]
        if self.group.is_categorical:
            picked = jnp.take_along_axis(bp, xg.astype(jnp.int32), axis=1)  # (n, C)
            return -jnp.sum(picked, axis=0)
        return -(bp @ _val(xg))

    def local(self, bp, x, group, rows):
        b = bp[rows]
        if self.group.is_categorical:
            return b[:, :, None]
        return self.group.span * b[:, None]


# --------------------------------------------------------------------------------------
# dense bipartite
# --------------------------------------------------------------------------------------
class Dense(Factor):
    """All-to-all coupling of two different binary/spin groups: ``-E ∋ x_aᵀ W x_b``.

    Parameter shape ``(n_a, n_b)``. Local log-odds are one matmul per block.
    """

    kind = "dense"

    def __init__(self, name, a: VariableGroup, b: VariableGroup, la: GroupLayout, lb: GroupLayout,
                 init):
        self.name, self.a, self.b, self.la, self.lb, self.init = name, a, b, la, lb, init
        self.groups = (a.name, b.name)
        self.shape = (a.size, b.size)
        self.perm_a = None if la.identity else jnp.asarray(la.perm, jnp.int32)
        self.perm_b = None if lb.identity else jnp.asarray(lb.perm, jnp.int32)

    def couples(self):
        return [(self.a.name, self.b.name)]

    def array_slots(self):
        return [(self, a) for a in ("perm_a", "perm_b") if getattr(self, a) is not None]

    def blocked_params(self, theta):
        if self.perm_a is not None:
            theta = _at(theta, self.perm_a)
        if self.perm_b is not None:
            theta = _at(theta, (slice(None), self.perm_b))
        return theta

    def energy(self, W, x):
        xa, xb = _val(x[self.a.name]), _val(x[self.b.name])
        return -jnp.sum(xa * (W @ xb), axis=0)

    def local(self, W, x, group, rows):
        if group == self.a.name:
            return self.a.span * (W[rows] @ _val(x[self.b.name]))
        return self.b.span * (W[:, rows].T @ _val(x[self.a.name]))

    def num_instances(self):
        return self.a.size * self.b.size


# --------------------------------------------------------------------------------------
# sparse pairwise
# --------------------------------------------------------------------------------------
class _Side:
    """Neighbour lists of one group's units through one pairwise factor (blocked order).

    ``padded`` mode: ``nbr`` and ``eid`` of shape (n, d); empty slots point at edge ``E``
    whose coupling is 0. ``segment`` mode: edges sorted by their source unit.
    """

    def __init__(self, src, dst, eid, n, num_edges, force_padded=False):
        deg = np.bincount(src, minlength=n)
        d = int(deg.max()) if len(src) else 0
        self.n, self.d, self.num_edges = n, d, num_edges
        order = np.argsort(src, kind="stable")
        src_s, dst_s, eid_s = src[order], dst[order], eid[order]
        waste = n * d - len(src)
        self.padded = force_padded or waste <= _PAD_WASTE_LIMIT * max(len(src), 1) + 1024
        if self.padded:
            starts = np.concatenate([[0], np.cumsum(deg)[:-1]])
            rank = np.arange(len(src)) - starts[src_s]
            nbr = np.zeros((n, d), dtype=np.int32)
            slot = np.full((n, d), num_edges, dtype=np.int32)
            nbr[src_s, rank] = dst_s
            slot[src_s, rank] = eid_s
            self.nbr = jnp.asarray(nbr)
            self.eid = jnp.asarray(slot)
        else:
            self.src_np = src_s.astype(np.int32)
            self.src = jnp.asarray(self.src_np)
            self.dst = jnp.asarray(dst_s.astype(np.int32))
            self.eid = jnp.asarray(eid_s.astype(np.int32))

    def array_slots(self) -> list[tuple[object, str]]:
        names = ("nbr", "eid") if self.padded else ("src", "dst", "eid")
        return [(self, a) for a in names]


class Pairwise(Factor):
    """Sparse pairwise couplings on an explicit edge list.

    Binary/spin groups: ``-E ∋ Σ_e J_e x_i x_j``. Categorical groups (Potts):
    ``-E ∋ Σ_e J_e δ(x_i, x_j)``. Parameter shape ``(E,)``, or ``()`` with ``tied=True``.
    ``edges[:, 0]`` indexes group ``a`` and ``edges[:, 1]`` group ``b`` (user order).
    """

    kind = "pairwise"

    def __init__(self, name, a: VariableGroup, b: VariableGroup, la: GroupLayout,
                 lb: GroupLayout, edges: np.ndarray, tied: bool, init):
        self.name, self.a, self.b, self.tied, self.init = name, a, b, tied, init
        self.groups = (a.name, b.name) if a.name != b.name else (a.name,)
        self.edges = edges
        self.num_edges = E = len(edges)
        self.shape = () if tied else (E,)
        self.potts = a.is_categorical
        ia = la.inv[edges[:, 0]].astype(np.int32)
        ib = lb.inv[edges[:, 1]].astype(np.int32)
        self.ia, self.ib = jnp.asarray(ia), jnp.asarray(ib)
        eid = np.arange(E, dtype=np.int32)
        if a.name == b.name:
            both_src = np.concatenate([ia, ib])
            both_dst = np.concatenate([ib, ia])
            self.sides = {a.name: (_Side(both_src, both_dst, np.concatenate([eid, eid]), a.size, E),
                                   a.name)}
        else:
            self.sides = {a.name: (_Side(ia, ib, eid, a.size, E), b.name),
                          b.name: (_Side(ib, ia, eid, b.size, E), a.name)}

    def couples(self):
        return [(self.a.name, self.b.name)]

    def within_group_edges(self, group):
        if self.a.name == self.b.name == group:
            return self.edges
        return np.zeros((0, 2), dtype=np.int64)

    def num_instances(self):
        return self.num_edges

    def array_slots(self):
        return [(self, "ia"), (self, "ib")] + [slot for side, _ in self.sides.values()
                                               for slot in side.array_slots()]

    def blocked_params(self, theta):
        J = jnp.broadcast_to(theta, (self.num_edges,))
        Jpad = jnp.concatenate([J, jnp.zeros((1,), J.dtype)])
        slots = {g: _at(Jpad, side.eid) for g, (side, _) in self.sides.items() if side.padded}
        return {"J": J, "slots": slots}

    def energy(self, bp, x):
        xa = _at(x[self.a.name], self.ia)
        xb = _at(x[self.b.name], self.ib)
        inter = (xa == xb).astype(jnp.float32) if self.potts else _val(xa) * _val(xb)
        return -(bp["J"] @ inter)

    def local(self, bp, x, group, rows):
        side, other = self.sides[group]
        xo = x[other]
        g = self.a if group == self.a.name else self.b
        if side.padded:
            J = bp["slots"][group][rows]  # (r, d)
            if 1 <= side.d <= _UNROLL_MAX_DEGREE:
                return self._local_unrolled(J, xo, side.nbr[rows], g)
            nb = _at(xo, side.nbr[rows])  # (r, d, C)
            if self.potts:
                k = g.num_states
                hit = nb[:, :, None, :] == jnp.arange(k, dtype=nb.dtype)[None, None, :, None]
                # broadcast-multiply-sum, not einsum: a dot with a tiny contraction (the
                # degree) and a batch axis of r rows runs ~2x slower on CPU than the fused
                # elementwise loop
                return jnp.sum(J[:, :, None, None] * hit.astype(jnp.float32), axis=1)
            return g.span * jnp.sum(J[:, :, None] * _val(nb), axis=1)
        return self._local_segment(bp, xo, g, side, rows)

    def _local_unrolled(self, J, xo, nbr, g):
        """Sum over the ``d`` neighbour slots as ``d`` fused gather-multiply-adds (XLA
        would lower the einsum to ``r`` tiny batched matmuls)."""
        acc = None
        for j in range(nbr.shape[1]):
            nb = _at(xo, nbr[:, j])  # (r, C)
            if self.potts:
                hit = nb[:, None, :] == jnp.arange(g.num_states, dtype=nb.dtype)[None, :, None]
                term = J[:, j, None, None] * hit.astype(jnp.float32)
            else:
                term = J[:, j, None] * _val(nb)
            acc = term if acc is None else acc + term
        return acc if self.potts else g.span * acc

    def _local_segment(self, bp, xo, g, side, rows):
        Jpad = jnp.concatenate([bp["J"], jnp.zeros((1,), bp["J"].dtype)])
        if isinstance(rows, slice) and rows.step in (None, 1):
            s, e, _ = rows.indices(side.n)
            lo, hi = np.searchsorted(side.src_np, [s, e])
            src, dst, eid, n_out, sel = side.src[lo:hi] - s, side.dst[lo:hi], side.eid[lo:hi], e - s, None
        else:
            src, dst, eid, n_out, sel = side.src, side.dst, side.eid, side.n, rows
        nb = _at(xo, dst)  # (m, C)
        if self.potts:
            k = g.num_states
            hit = (nb[:, None, :] == jnp.arange(k, dtype=nb.dtype)[None, :, None]).astype(jnp.float32)
            contrib = _at(Jpad, eid)[:, None, None] * hit
            scale = 1.0
        else:
            contrib = _at(Jpad, eid)[:, None] * _val(nb)
            scale = g.span
        out = scale * jax.ops.segment_sum(contrib, src, num_segments=n_out, indices_are_sorted=True)
        return out if sel is None else out[sel]


# --------------------------------------------------------------------------------------
# tables over small cliques
# --------------------------------------------------------------------------------------
class Table(Factor):
    """Log-potential tables over cliques of ``m`` units: ``-E ∋ Σ_f θ_f[s(x_f1), .., s(x_fm)]``
    where ``s`` maps a value to its state index (spin ``-1 → 0``, ``+1 → 1``).

    ``members[f, p]`` is the unit (user order) of group ``groups[p]`` at position ``p`` of
    clique ``f``. Parameter shape ``(F, k_1, .., k_m)``, or ``(k_1, .., k_m)`` when tied.
    """

    kind = "table"

    def __init__(self, name, groups: list[VariableGroup], layouts: list[GroupLayout],
                 members: np.ndarray, tied: bool, init):
        self.name, self.tied, self.init = name, tied, init
        self.vgroups = groups
        self.groups = tuple(dict.fromkeys(g.name for g in groups))
        self.members = members
        F, m = members.shape
        self.arity, self.num_cliques = m, F
        ks = tuple(g.num_states for g in groups)
        self.ks = ks
        self.table_size = math.prod(ks)
        self.shape = ks if tied else (F, *ks)
        self.strides = np.array([math.prod(ks[p + 1:]) for p in range(m)], dtype=np.int32)
        mb = np.stack([layouts[p].inv[members[:, p]] for p in range(m)], axis=1).astype(np.int32)
        self.mb = jnp.asarray(mb)
        # memberships of each unit, per group: (n_g, slots) clique ids and positions
        self._member_tables = {}
        for name_g in self.groups:
            gsize = next(g.size for g in groups if g.name == name_g)
            fs, ps, us = [], [], []
            for p, g in enumerate(groups):
                if g.name == name_g:
                    fs.append(np.arange(F))
                    ps.append(np.full(F, p))
                    us.append(mb[:, p])
            f_all, p_all, u_all = map(np.concatenate, (fs, ps, us))
            # "dst" carries the position; always padded: a unit sits in few cliques
            side = _Side(u_all, p_all, f_all, gsize, F, force_padded=True)
            self._member_tables[name_g] = side  # .eid: clique id (F = empty), .nbr: position

    def couples(self):
        names = [g.name for g in self.vgroups]
        return [(names[p], names[q]) for p in range(self.arity) for q in range(p + 1, self.arity)]

    def within_group_edges(self, group):
        cols = [p for p, g in enumerate(self.vgroups) if g.name == group]
        pairs = [self.members[:, [p, q]] for i, p in enumerate(cols) for q in cols[i + 1:]]
        return np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)

    def num_instances(self):
        return self.num_cliques

    def array_slots(self):
        return [(self, "mb")] + [slot for side in self._member_tables.values()
                                 for slot in side.array_slots()]

    def blocked_params(self, theta):
        flat = theta.reshape(-1) if self.tied else theta.reshape(self.num_cliques, -1)
        return flat

    def _index(self, x, f):
        """Flat table index of cliques ``f`` (any shape): (..., C)."""
        idx = 0
        for p, g in enumerate(self.vgroups):
            vals = to_state_index(g, _at(x[g.name], self.mb[f, p])).astype(jnp.int32)
            idx = idx + int(self.strides[p]) * vals
        return idx

    def energy(self, bp, x):
        idx = self._index(x, jnp.arange(self.num_cliques))  # (F, C)
        if self.tied:
            return -jnp.sum(bp[idx], axis=0)
        return -jnp.sum(jnp.take_along_axis(bp, idx, axis=1), axis=0)

    def local(self, bp, x, group, rows):
        side = self._member_tables[group]
        f = side.eid[rows]  # (r, s): clique ids; value F marks an empty slot
        p = side.nbr[rows]  # positions in the clique
        valid = f < self.num_cliques
        fc = jnp.where(valid, f, 0)
        base = 0
        for q, g in enumerate(self.vgroups):
            vals = to_state_index(g, _at(x[g.name], _at(self.mb, (fc, q)))).astype(jnp.int32)
            base = base + jnp.where((p != q)[..., None], int(self.strides[q]) * vals, 0)
        stride_p = jnp.asarray(self.strides)[p][..., None]  # (r, s, 1)
        g = next(v for v in self.vgroups if v.name == group)
        outs = []
        for c in range(g.num_states):
            flat = base + stride_p * c
            if self.tied:
                val = bp[flat]
            else:
                val = bp[fc[..., None], flat]
            outs.append(jnp.sum(jnp.where(valid[..., None], val, 0.0), axis=1))  # (r, C)
        if g.is_categorical:
            return jnp.stack(outs, axis=1)
        return outs[1] - outs[0]

