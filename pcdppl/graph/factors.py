"""Compiled factor kinds, as pytrees.

Every factor contributes a term to the energy

    E(x) = -( Σ biases·x + Σ couplings·x_i·x_j + Σ table terms ),   p(x) ∝ exp(-E(x)),

and knows its contribution to the *local log-potentials* of a range of units of one group
given all other units. For binary and spin units the local log-potential is the log-odds of
the "on" value,

    Δ_i = -E(x_i = on) + E(x_i = off),        p(x_i = on | rest) = σ(β Δ_i),

and for categorical units it is the vector ``l_i[c] = -E(x_i = c) + const``.

Layout (see :mod:`pcdppl.graph.layout`): values of group ``g`` are an ``int8`` array of shape
``(n_g, C)`` — units first, in *blocked order*, chains last. Factors store their index tables
in that order, and ``blocked_params`` gathers user-order parameters into it, so the gradient
of anything computed from blocked parameters flows back to the user's parameters.

Every factor is a registered pytree: its index tables (device arrays) are the leaves, its
sizes and kinds static metadata. A compiled program that takes a model as an argument
therefore receives the tables as arguments; its program text does not grow with the graph.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .groups import VariableGroup, to_state_index
from .layout import GroupLayout
from .neighbors import Neighbors, Rows, gather, pytree

Array = jax.Array

# Up to this many neighbor slots, local fields are summed slot by slot (fused by XLA).
UNROLL_MAX_DEGREE = 16


def as_float(x: Array) -> Array:
    """Unit values as ``float32`` (binary/spin values enter the energy linearly)."""
    return x.astype(jnp.float32)


def num_rows(rows: Rows, n: int) -> int:
    """Number of rows a ``rows`` selector picks out of ``n``."""
    return len(range(n)[rows]) if isinstance(rows, slice) else int(rows.shape[0])


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
    shape: tuple[int, ...]
    LEAVES: tuple[str, ...] = ()
    STATIC: tuple[str, ...] = ()

    @property
    def groups(self) -> tuple[str, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def couples(self) -> list[tuple[str, str]]:
        """Pairs of groups (possibly equal) that some factor instance ties two units of."""
        return []

    def blocked_params(self, theta: Array):
        """Map the user-order parameter into the layout used by ``energy``/``local``."""
        return theta

    def energy(self, bp, x: dict[str, Array]) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def local(self, bp, x: dict[str, Array], group: str, rows: Rows) -> Array:  # pragma: no cover
        raise NotImplementedError

    def num_instances(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, groups={self.groups}, shape={self.shape})"


# --------------------------------------------------------------------------------------
# unary
# --------------------------------------------------------------------------------------
@pytree
class Bias(Factor):
    """Unary factor: ``-E ∋ Σ_i b_i x_i`` (binary/spin) or ``Σ_i b[i, x_i]`` (categorical).

    Parameter shape ``(n,)`` (binary/spin) or ``(n, k)`` (categorical); with ``tied=True``
    one value (or one vector of ``k``) shared by all units.
    """

    kind = "bias"
    LEAVES = ("perm",)
    STATIC = ("name", "group", "tied", "shape")

    def __init__(self, name: str, group: VariableGroup, layout: GroupLayout, tied: bool):
        self.name, self.group, self.tied = name, group, bool(tied)
        unit = (group.num_states,) if group.is_categorical else ()
        self.shape = unit if tied else (group.size, *unit)
        self.perm = None if tied else layout.perm

    @property
    def groups(self):
        return (self.group.name,)

    def num_instances(self):
        return self.group.size

    def blocked_params(self, theta):
        g = self.group
        if self.tied:
            full = (g.size, g.num_states) if g.is_categorical else (g.size,)
            return jnp.broadcast_to(theta, full)
        return theta if self.perm is None else gather(theta, self.perm)

    def energy(self, bp, x):
        xg = x[self.group.name]
        if self.group.is_categorical:
            picked = jnp.take_along_axis(bp, xg.astype(jnp.int32), axis=1)  # (n, C)
            return -jnp.sum(picked, axis=0)
        return -(bp @ as_float(xg))

    def local(self, bp, x, group, rows):
        b = bp[rows]
        if self.group.is_categorical:
            return b[:, :, None]
        return self.group.span * b[:, None]


# --------------------------------------------------------------------------------------
# sparse pairwise
# --------------------------------------------------------------------------------------
@pytree
class Pairwise(Factor):
    """Sparse pairwise couplings on an explicit edge list.

    Binary/spin groups: ``-E ∋ Σ_e J_e x_i x_j``. Categorical groups (Potts):
    ``-E ∋ Σ_e J_e δ(x_i, x_j)``. Parameter shape ``(E,)``, or ``()`` with ``tied=True``.

    Leaves: ``ia``/``ib`` (blocked position of each edge's ends in groups ``a``/``b``) and
    ``sides[g]``, the :class:`Neighbors` of group ``g``'s units (edge ids in ``eid``).
    """

    kind = "pairwise"
    LEAVES = ("ia", "ib", "sides")
    STATIC = ("name", "a", "b", "tied", "num_edges", "shape")

    def __init__(self, name: str, a: VariableGroup, b: VariableGroup, la: GroupLayout,
                 lb: GroupLayout, edges: np.ndarray, tied: bool):
        self.name, self.a, self.b, self.tied = name, a, b, bool(tied)
        self.num_edges = E = len(edges)
        self.shape = () if tied else (E,)
        ia = la.host_inv()[edges[:, 0]].astype(np.int32)
        ib = lb.host_inv()[edges[:, 1]].astype(np.int32)
        self.ia, self.ib = jnp.asarray(ia), jnp.asarray(ib)
        eid = np.arange(E, dtype=np.int32)
        if a.name == b.name:
            self.sides = {a.name: Neighbors(np.concatenate([ia, ib]), np.concatenate([ib, ia]),
                                            np.concatenate([eid, eid]), a.size, E, la.blocks)}
        else:
            self.sides = {a.name: Neighbors(ia, ib, eid, a.size, E, la.blocks),
                          b.name: Neighbors(ib, ia, eid, b.size, E, lb.blocks)}

    @property
    def groups(self):
        return (self.a.name, self.b.name) if self.a.name != self.b.name else (self.a.name,)

    @property
    def potts(self) -> bool:
        """Categorical units: the coupling is ``J δ(x_i, x_j)``."""
        return self.a.is_categorical

    def other(self, group: str) -> str:
        """The group at the other end of this factor's edges from ``group``."""
        return self.b.name if group == self.a.name else self.a.name

    def couples(self):
        return [(self.a.name, self.b.name)]

    def num_instances(self):
        return self.num_edges

    def blocked_params(self, theta):
        J = jnp.broadcast_to(theta, (self.num_edges,))
        Jpad = jnp.concatenate([J, jnp.zeros((1,), J.dtype)])
        slots = {g: gather(Jpad, side.eid) for g, side in self.sides.items() if side.padded}
        return {"J": J, "slots": slots}

    def energy(self, bp, x):
        xa = gather(x[self.a.name], self.ia)
        xb = gather(x[self.b.name], self.ib)
        inter = (xa == xb).astype(jnp.float32) if self.potts else as_float(xa) * as_float(xb)
        return -(bp["J"] @ inter)

    def local(self, bp, x, group, rows):
        side = self.sides[group]
        xo = x[self.other(group)]
        g = self.a if group == self.a.name else self.b
        if not side.padded:
            return self._local_segment(bp, xo, g, side, rows)
        J = bp["slots"][group][rows]  # (r, d)
        if 1 <= side.d <= UNROLL_MAX_DEGREE:
            return self._local_unrolled(J, xo, side.nbr[rows], g)
        nb = gather(xo, side.nbr[rows])  # (r, d, C)
        if self.potts:
            k = g.num_states
            hit = nb[:, :, None, :] == jnp.arange(k, dtype=nb.dtype)[None, None, :, None]
            # broadcast-multiply-sum, not einsum: a dot with a tiny contraction (the
            # degree) and a batch axis of r rows runs ~2x slower on CPU than the fused loop
            return jnp.sum(J[:, :, None, None] * hit.astype(jnp.float32), axis=1)
        return g.span * jnp.sum(J[:, :, None] * as_float(nb), axis=1)

    def _local_unrolled(self, J, xo, nbr, g):
        """Sum over the ``d`` neighbor slots as ``d`` fused gather-multiply-adds (XLA
        would lower the einsum to ``r`` tiny batched matmuls)."""
        acc = None
        for j in range(nbr.shape[1]):
            nb = gather(xo, nbr[:, j])  # (r, C)
            if self.potts:
                hit = nb[:, None, :] == jnp.arange(g.num_states, dtype=nb.dtype)[None, :, None]
                term = J[:, j, None, None] * hit.astype(jnp.float32)
            else:
                term = J[:, j, None] * as_float(nb)
            acc = term if acc is None else acc + term
        return acc if self.potts else g.span * acc

    def _local_segment(self, bp, xo, g, side: Neighbors, rows):
        Jpad = jnp.concatenate([bp["J"], jnp.zeros((1,), bp["J"].dtype)])
        span = side.segment_range(rows)
        if span is not None:
            s, e, lo, hi = span
            src, dst, eid, n_out, sel = side.src[lo:hi] - s, side.dst[lo:hi], side.eid[lo:hi], e - s, None
        else:
            src, dst, eid, n_out, sel = side.src, side.dst, side.eid, side.n, rows
        nb = gather(xo, dst)  # (m, C)
        if self.potts:
            k = g.num_states
            hit = (nb[:, None, :] == jnp.arange(k, dtype=nb.dtype)[None, :, None]).astype(jnp.float32)
            contrib = gather(Jpad, eid)[:, None, None] * hit
            scale = 1.0
        else:
            contrib = gather(Jpad, eid)[:, None] * as_float(nb)
            scale = g.span
        out = scale * jax.ops.segment_sum(contrib, src, num_segments=n_out, indices_are_sorted=True)
        return out if sel is None else out[sel]


# --------------------------------------------------------------------------------------
# tables over small cliques
# --------------------------------------------------------------------------------------
@pytree
class Table(Factor):
    """Log-potential tables over cliques of ``m`` units: ``-E ∋ Σ_f θ_f[s(x_f1), .., s(x_fm)]``
    where ``s`` maps a value to its state index (spin ``-1 → 0``, ``+1 → 1``).

    Leaves: ``mb[f, p]``, the blocked position of the unit of clique ``f`` at position ``p``,
    and ``memberships[g]``, per unit of group ``g`` the cliques it sits in (:class:`Neighbors`
    whose ``eid`` is the clique id, ``num_cliques`` marking an empty slot, and whose ``nbr`` is
    the position). Parameter shape ``(F, k_1, .., k_m)``, or ``(k_1, .., k_m)`` when tied.
    """

    kind = "table"
    LEAVES = ("mb", "memberships")
    STATIC = ("name", "tied", "vgroups", "num_cliques", "shape", "strides")

    def __init__(self, name: str, groups: list[VariableGroup], layouts: list[GroupLayout],
                 members: np.ndarray, tied: bool):
        self.name, self.tied = name, bool(tied)
        self.vgroups = tuple(groups)
        F, m = members.shape
        self.num_cliques = int(F)
        ks = tuple(g.num_states for g in groups)
        self.shape = ks if tied else (F, *ks)
        self.strides = tuple(math.prod(ks[p + 1:]) for p in range(m))
        mb = np.stack([layouts[p].host_inv()[members[:, p]] for p in range(m)],
                      axis=1).astype(np.int32)
        self.mb = jnp.asarray(mb)
        self.memberships = {}
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
            self.memberships[name_g] = Neighbors(u_all, p_all, f_all, gsize, F, force_padded=True)

    @property
    def groups(self):
        return tuple(dict.fromkeys(g.name for g in self.vgroups))

    @property
    def arity(self) -> int:
        return len(self.vgroups)

    @property
    def ks(self) -> tuple[int, ...]:
        return tuple(g.num_states for g in self.vgroups)

    def couples(self):
        names = [g.name for g in self.vgroups]
        return [(names[p], names[q]) for p in range(self.arity) for q in range(p + 1, self.arity)]

    def num_instances(self):
        return self.num_cliques

    def blocked_params(self, theta):
        return theta.reshape(-1) if self.tied else theta.reshape(self.num_cliques, -1)

    def energy(self, bp, x):
        idx = 0
        for p, g in enumerate(self.vgroups):
            vals = to_state_index(g, gather(x[g.name], self.mb[:, p])).astype(jnp.int32)
            idx = idx + self.strides[p] * vals  # (F, C)
        if self.tied:
            return -jnp.sum(bp[idx], axis=0)
        return -jnp.sum(jnp.take_along_axis(bp, idx, axis=1), axis=0)

    def local(self, bp, x, group, rows):
        side = self.memberships[group]
        f = side.eid[rows]  # (r, s): clique ids; value F marks an empty slot
        p = side.nbr[rows]  # positions in the clique
        valid = f < self.num_cliques
        fc = jnp.where(valid, f, 0)
        base = 0
        for q, g in enumerate(self.vgroups):
            vals = to_state_index(g, gather(x[g.name], gather(self.mb, (fc, q)))).astype(jnp.int32)
            base = base + jnp.where((p != q)[..., None], self.strides[q] * vals, 0)
        stride_p = jnp.asarray(self.strides, jnp.int32)[p][..., None]  # (r, s, 1)
        g = next(v for v in self.vgroups if v.name == group)
        # every candidate value c of the unit in one gather: (r, s, C, k)
        flat = base[..., None] + stride_p[..., None] * jnp.arange(g.num_states, dtype=jnp.int32)
        val = bp[flat] if self.tied else bp[fc[..., None, None], flat]
        out = jnp.sum(jnp.where(valid[..., None, None], val, 0.0), axis=1)  # (r, C, k)
        if g.is_categorical:
            return jnp.moveaxis(out, -1, 1)  # (r, k, C)
        return out[..., 1] - out[..., 0]
