"""Blocked layout of a group's units: color classes stored contiguously.

A Gibbs half-sweep updates one color class. Storing each class as a contiguous range of
rows turns the write-back into a slice update, and storing chains as the *last* axis turns
every neighbor gather into a gather of whole rows (``C`` contiguous bytes), which is what
makes a generic, table-driven sweep run at the speed of a hand-written lattice kernel.

A :class:`GroupLayout` is a pytree: the permutations are device arrays (leaves) and the block
boundaries static metadata, so compiled programs take it as an argument.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node


class GroupLayout:
    """Where each unit of a group lives in the blocked, chain-minor state array.

    Attributes:
        size: number of units.
        blocks: ``(start, end)`` row range of each color class, in color order.
        identity: whether the blocked order is the user order (no gathers needed).
        perm: user index of the unit at each blocked position, ``int32 (n,)`` device array
            (``None`` when ``identity``).
        inv: blocked position of each user index, ``int32 (n,)`` (``None`` when ``identity``).
    """

    __slots__ = ("size", "blocks", "identity", "perm", "inv")

    def __init__(self, size: int, blocks: tuple, identity: bool, perm, inv):
        self.size, self.blocks, self.identity, self.perm, self.inv = size, blocks, identity, perm, inv

    @classmethod
    def from_colors(cls, colors: np.ndarray) -> GroupLayout:
        """The layout of units with the given colors (user order)."""
        colors = np.asarray(colors, dtype=np.int64)
        perm = np.argsort(colors, kind="stable")
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        counts = np.bincount(colors) if len(colors) else np.zeros(0, np.int64)
        ends = np.cumsum(counts)
        starts = ends - counts
        blocks = tuple((int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e > s)
        identity = bool(np.all(perm == np.arange(len(perm))))
        if identity:
            return cls(len(colors), blocks, True, None, None)
        return cls(len(colors), blocks, False, jnp.asarray(perm, jnp.int32),
                   jnp.asarray(inv, jnp.int32))

    @property
    def num_colors(self) -> int:
        return len(self.blocks)

    def host_perm(self) -> np.ndarray:
        """``perm`` as a NumPy array (the identity when ``identity``)."""
        return np.arange(self.size) if self.identity else np.asarray(self.perm)

    def host_inv(self) -> np.ndarray:
        """``inv`` as a NumPy array (the identity when ``identity``)."""
        return np.arange(self.size) if self.identity else np.asarray(self.inv)

    def __repr__(self) -> str:
        return f"GroupLayout(size={self.size}, blocks={self.blocks})"


def _flatten(lay: GroupLayout):
    return (lay.perm, lay.inv), (lay.size, lay.blocks, lay.identity)


def _unflatten(aux, children):
    return GroupLayout(*aux, *children)


register_pytree_node(GroupLayout, _flatten, _unflatten)
