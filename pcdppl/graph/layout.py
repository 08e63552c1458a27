"""Blocked layout of a group's units: colour classes stored contiguously.

A Gibbs half-sweep updates one colour class. Storing each class as a contiguous range of
rows turns the write-back into a slice update, and storing chains as the *last* axis turns
every neighbour gather into a gather of whole rows (``C`` contiguous bytes), which is what
makes a generic, table-driven sweep run at the speed of a hand-written lattice kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class GroupLayout:
    """Where each unit of a group lives in the blocked, chain-minor state array.

    Attributes:
        colors: colour of each unit, user order, ``(n,)``.
        perm: user index of the unit at each blocked position, ``(n,)``.
        inv: blocked position of each user index, ``(n,)``.
        blocks: ``(start, end)`` row range of each colour class, in colour order.
        identity: whether ``perm`` is the identity (no gathers needed).
    """

    colors: np.ndarray
    perm: np.ndarray
    inv: np.ndarray
    blocks: tuple[tuple[int, int], ...]
    identity: bool

    @classmethod
    def from_colors(cls, colors: np.ndarray) -> GroupLayout:
        colors = np.asarray(colors, dtype=np.int64)
        perm = np.argsort(colors, kind="stable")
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        counts = np.bincount(colors)
        ends = np.cumsum(counts)
        starts = ends - counts
        blocks = tuple((int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e > s)
        identity = bool(np.all(perm == np.arange(len(perm))))
        return cls(colors=colors, perm=perm.astype(np.int32), inv=inv.astype(np.int32),
                   blocks=blocks, identity=identity)

    @property
    def num_colors(self) -> int:
        return len(self.blocks)
