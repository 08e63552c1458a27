"""Declared factors, before compilation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .init import Init

KINDS = ("bias", "dense", "pairwise", "table")


@dataclass(frozen=True, eq=False)
class FactorSpec:
    """A declared factor, in user-order indices; compiled by :meth:`FactorGraph.compile`.

    Attributes:
        kind: ``"bias"``, ``"dense"``, ``"pairwise"`` or ``"table"``.
        name: the parameter name.
        groups: the names of the groups it touches (per clique position for tables).
        data: edges ``(E, 2)`` (pairwise), cliques ``(F, m)`` (table) or ``None``.
        tied: one parameter shared by all instances.
        init: what was given as ``init=`` (see :func:`pcdppl.graph.init.as_initializer`).
    """

    kind: str
    name: str
    groups: tuple[str, ...]
    data: Any
    tied: bool
    init: Init

    def unit_pairs(self, group: str):
        """Pairs of units (user order) of ``group`` that share an instance of this factor:
        ``(m, 2)`` ints (what coloring must keep apart)."""
        if self.kind == "pairwise" and self.groups[0] == self.groups[1] == group:
            return self.data
        if self.kind == "table":
            cols = [p for p, g in enumerate(self.groups) if g == group]
            pairs = [self.data[:, [p, q]] for i, p in enumerate(cols) for q in cols[i + 1:]]
            if pairs:
                return np.concatenate(pairs)
        return np.zeros((0, 2), dtype=np.int64)
