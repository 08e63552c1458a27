"""Neighbor tables: which units share a factor with each unit, in the blocked layout.

A :class:`Neighbors` table is a pytree (its index arrays are leaves), built once when a model
is compiled; :func:`gather` reads through it without bounds clamping; :func:`pytree`
registers the factor classes (index tables as leaves, sizes and kinds as static metadata).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node

Array = jax.Array
Rows = slice | np.ndarray | Array

# A padded neighbor table wastes ``n * max_degree - E`` slots. When that waste exceeds
# this factor times the number of edges (star-like graphs), block updates use a sorted
# segment sum instead. The choice is made once, at compile time.
PAD_WASTE_LIMIT = 4.0


def pytree(cls):
    """Register ``cls`` as a pytree whose ``LEAVES`` attributes are children and whose
    ``STATIC`` attributes are (hashable) metadata."""
    leaves, static = cls.LEAVES, cls.STATIC

    def flatten(obj):
        return (tuple(getattr(obj, f) for f in leaves),
                tuple(getattr(obj, f) for f in static))

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for f, v in zip(static, aux, strict=True):
            object.__setattr__(obj, f, v)
        for f, v in zip(leaves, children, strict=True):
            object.__setattr__(obj, f, v)
        return obj

    register_pytree_node(cls, flatten, unflatten)
    return cls


def gather(a: Array, idx) -> Array:
    """``a[idx]`` for indices in bounds by construction (the factors' index tables): no
    clamping. The tables are program arguments, so XLA cannot prove the bounds itself."""
    if isinstance(a, np.ndarray):  # host-side use (e.g. NumPy parameters)
        parts = idx if isinstance(idx, tuple) else (idx,)
        return a[tuple(np.asarray(i) if isinstance(i, jax.Array) else i for i in parts)]
    return a.at[idx].get(mode="promise_in_bounds")


@pytree
class Neighbors:
    """Neighbor lists of one group's units through one factor (blocked order).

    ``padded`` mode: ``nbr`` and ``eid`` of shape ``(n, d)``; empty slots point at edge
    ``num_edges`` (a zero coupling). ``segment`` mode (star-like graphs): ``src``, ``dst``,
    ``eid`` of shape ``(m,)``, sorted by ``src``; ``ranges`` holds ``(start, end, lo, hi)``
    for every row block of the group (the edges of rows ``start:end`` are ``lo:hi``).
    """

    LEAVES = ("nbr", "eid", "src", "dst")
    STATIC = ("n", "d", "num_edges", "padded", "ranges")

    def __init__(self, src, dst, eid, n: int, num_edges: int, blocks=(),
                 force_padded: bool = False):
        src, dst, eid = (np.asarray(a, np.int64) for a in (src, dst, eid))
        deg = np.bincount(src, minlength=n)
        d = int(deg.max()) if len(src) else 0
        self.n, self.d, self.num_edges = int(n), d, int(num_edges)
        order = np.argsort(src, kind="stable")
        src_s, dst_s, eid_s = src[order], dst[order], eid[order]
        waste = n * d - len(src)
        self.padded = bool(force_padded or waste <= PAD_WASTE_LIMIT * max(len(src), 1) + 1024)
        self.src = self.dst = None
        self.ranges = ()
        if self.padded:
            starts = np.concatenate([[0], np.cumsum(deg)[:-1]])
            rank = np.arange(len(src)) - starts[src_s]
            nbr = np.zeros((n, d), dtype=np.int32)
            slot = np.full((n, d), num_edges, dtype=np.int32)
            nbr[src_s, rank] = dst_s
            slot[src_s, rank] = eid_s
            self.nbr, self.eid = jnp.asarray(nbr), jnp.asarray(slot)
        else:
            self.nbr = None
            self.src = jnp.asarray(src_s.astype(np.int32))
            self.dst = jnp.asarray(dst_s.astype(np.int32))
            self.eid = jnp.asarray(eid_s.astype(np.int32))
            spans = {(0, int(n))} | {(int(s), int(e)) for s, e in blocks}
            self.ranges = tuple((s, e, *(int(v) for v in np.searchsorted(src_s, [s, e])))
                                for s, e in sorted(spans))

    def segment_range(self, rows: Rows):
        """``(start, end, lo, hi)`` when ``rows`` is a row block with precomputed edges."""
        if isinstance(rows, slice) and rows.step in (None, 1):
            s, e, _ = rows.indices(self.n)
            for r in self.ranges:
                if r[:2] == (s, e):
                    return r
        return None

    def gather_sum(self, rows_of_edges: Array, values: Array) -> Array:
        """Sum, into each of the ``n`` units, ``values[rows_of_edges[...]]``: the rows of
        ``values`` (one per edge id, plus padding) that the unit's slots point at.

        ``rows_of_edges`` has the shape of ``eid``; ``values`` is ``(R, ...)``."""
        if self.padded:
            return jnp.sum(gather(values, rows_of_edges), axis=1)
        return jax.ops.segment_sum(gather(values, rows_of_edges), self.src, num_segments=self.n,
                                   indices_are_sorted=True)
