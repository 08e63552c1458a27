"""The declaration DSL: variable groups and factors, compiled into a :class:`Model`.

Example::

    fg = pp.FactorGraph()
    v = fg.binary("v", 64)
    h = fg.binary("h", 16)
    fg.bias(v, name="b_v"); fg.bias(h, name="b_h")
    fg.dense(v, h, name="W")
    model = fg.compile()

Declarations are vectorised: a ``pairwise`` factor takes a whole ``(E, 2)`` edge array and a
``table`` factor a whole ``(F, m)`` array of cliques, so building a million-edge model costs
a few NumPy operations, not a Python loop per factor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .groups import VariableGroup, make_group
from .init import Init, normal_init, zeros_init  # noqa: F401  (re-exported)
from .model import Model
from .spec import FactorSpec

MAX_TABLE_SIZE = 1 << 16


class FactorGraph:
    """Builder for factor graphs over groups of discrete units.

    Energy convention: ``p(x) ∝ exp(-E(x))`` with
    ``E(x) = -(Σ biases·x + Σ couplings·x_i·x_j + Σ table terms)``.
    """

    def __init__(self):
        self._groups: dict[str, VariableGroup] = {}
        self._factors: list[FactorSpec] = []

    # ---------------------------------------------------------------- variable groups
    def _add_group(self, name, size, kind, k=None) -> VariableGroup:
        group = make_group(name, size, kind, k)
        if name in self._groups:
            raise ValueError(f"duplicate variable group name {name!r}")
        self._groups[name] = group
        return group

    def binary(self, name: str, size: int | tuple[int, ...]) -> VariableGroup:
        """Declare ``size`` units with values in {0, 1}. ``size`` may be a shape tuple."""
        return self._add_group(name, size, "binary")

    def spin(self, name: str, size: int | tuple[int, ...]) -> VariableGroup:
        """Declare ``size`` units with values in {-1, +1}."""
        return self._add_group(name, size, "spin")

    def categorical(self, name: str, size: int | tuple[int, ...], k: int) -> VariableGroup:
        """Declare ``size`` units with values in {0, ..., k-1} (k ≤ 127)."""
        return self._add_group(name, size, "categorical", k)

    @property
    def groups(self) -> Mapping[str, VariableGroup]:
        return dict(self._groups)

    def _group(self, g) -> VariableGroup:
        name = g.name if isinstance(g, VariableGroup) else g
        if not isinstance(name, str):
            raise TypeError(f"expected a variable group or its name, got {g!r}")
        if name not in self._groups:
            raise KeyError(f"unknown variable group {name!r}; declared groups are "
                           f"{list(self._groups)}")
        if isinstance(g, VariableGroup) and g != self._groups[name]:
            raise ValueError(f"group {name!r} was declared in another FactorGraph")
        return self._groups[name]

    # ---------------------------------------------------------------- factors
    def _name(self, name, default: str) -> str:
        if name is None:
            name, i = default, 1
            while any(f.name == name for f in self._factors):
                i += 1
                name = f"{default}_{i}"
        if not isinstance(name, str) or not name:
            raise TypeError(f"a parameter name must be a non-empty string, got {name!r}")
        if any(f.name == name for f in self._factors):
            raise ValueError(f"duplicate parameter name {name!r}")
        return name

    def bias(self, group, name: str | None = None, *, tied: bool = False,
             init: Init = None) -> str:
        """Unary factor on every unit of ``group``: ``-E ∋ Σ_i b_i x_i``.

        Parameter shape ``(n,)``, or ``(n, k)`` for a categorical group (one log-potential
        per state); ``tied=True`` shares one value (``()`` or ``(k,)``) across units.
        Returns the parameter name.
        """
        g = self._group(group)
        name = self._name(name, f"b_{g.name}")
        self._factors.append(FactorSpec("bias", name, (g.name,), None, bool(tied), init))
        return name

    def dense(self, a, b, name: str | None = None, *, init: Init = None) -> str:
        """All-to-all coupling of two groups: ``-E ∋ x_aᵀ W x_b`` for binary/spin groups, W of
        shape ``(n_a, n_b)``; a categorical side couples through its one-hot states, W of
        shape ``(n_a, k_a, n_b)``, ``(n_a, n_b, k_b)`` or ``(n_a, k_a, n_b, k_b)``, in the
        zero-sum gauge over the states (see :mod:`pcdppl.graph.dense`). Initialised
        N(0, 0.01²) by default. Returns the parameter name."""
        ga, gb = self._group(a), self._group(b)
        if ga.name == gb.name:
            raise ValueError(f"dense factor {name or ''!r} couples group {ga.name!r} with "
                             f"itself; declare lateral couplings with pairwise(g, g, edges)")
        name = self._name(name, f"W_{ga.name}_{gb.name}")
        self._factors.append(FactorSpec("dense", name, (ga.name, gb.name), None, False, init))
        return name

    def pairwise(self, a, b, edges, name: str | None = None, *, tied: bool = False,
                 init: Init = None, assume_unique: bool = False) -> str:
        """Sparse couplings on an explicit edge list.

        ``edges`` is an int array ``(E, 2)``: ``edges[:, 0]`` indexes units of ``a`` and
        ``edges[:, 1]`` units of ``b``. Binary/spin groups: ``-E ∋ Σ_e J_e x_i x_j``;
        categorical groups (Potts): ``-E ∋ Σ_e J_e δ(x_i, x_j)``. Parameter ``J`` has shape
        ``(E,)``, or ``()`` with ``tied=True``. Each pair of units appears at most once (within
        one group ``(i, j)`` and ``(j, i)`` are the same pair); ``assume_unique=True`` skips
        that check (one sort of the edges) for edge lists distinct by construction, such as
        :func:`pcdppl.models.lattice_edges`. Returns the parameter name.
        """
        ga, gb = self._group(a), self._group(b)
        if ga.is_categorical != gb.is_categorical:
            raise ValueError(f"pairwise factor between {ga.kind} group {ga.name!r} and "
                             f"{gb.kind} group {gb.name!r}: couple categorical with "
                             f"non-categorical units through a table factor")
        e = _index_array(edges, "edges", name)
        if e.ndim != 2 or e.shape[1] != 2:
            raise ValueError(f"edges of pairwise factor {name!r} must have shape (E, 2), got "
                             f"{e.shape}")
        if len(e) == 0:
            raise ValueError(f"pairwise factor {name!r} has no edges")
        _check_range(e[:, 0], ga, f"edges[:, 0] of pairwise factor {name!r}")
        _check_range(e[:, 1], gb, f"edges[:, 1] of pairwise factor {name!r}")
        if ga.name == gb.name and np.any(e[:, 0] == e[:, 1]):
            i = int(e[np.argmax(e[:, 0] == e[:, 1]), 0])
            raise ValueError(f"pairwise factor {name!r} has a self-loop on unit {i} of "
                             f"{ga.name!r}; use a bias for unary terms")
        name = self._name(name, f"J_{ga.name}_{gb.name}")
        if not assume_unique:
            _check_distinct_pairs(e, ga, gb, name)
        self._factors.append(FactorSpec("pairwise", name, (ga.name, gb.name), e, bool(tied), init))
        return name

    def table(self, groups: Sequence, members, name: str | None = None, *, tied: bool = False,
              init: Init = None) -> str:
        """Log-potential tables over small cliques: ``-E ∋ Σ_f θ_f[s(x_f1), ..., s(x_fm)]``.

        Args:
            groups: the group of each of the ``m`` positions of a clique.
            members: int array ``(F, m)`` (or ``(m,)`` for one clique): ``members[f, p]`` is a
                unit of ``groups[p]``.
            name: parameter name.
            tied: share one table across the ``F`` cliques.
            init: initial tables (default zeros).

        ``s`` maps a unit's value to its state index (spins: -1 → 0, +1 → 1). Parameter
        shape ``(F, k_1, ..., k_m)``, or ``(k_1, ..., k_m)`` when tied. Returns the name.
        """
        if isinstance(groups, (str, VariableGroup)):
            raise TypeError(f"table factor {name!r}: groups must be a list with one group per "
                            f"clique position")
        gs = [self._group(g) for g in groups]
        if not gs:
            raise ValueError(f"table factor {name!r} needs at least one position")
        m = _index_array(members, "members", name)
        if m.ndim == 1:
            m = m[None, :]
        if m.ndim != 2 or m.shape[1] != len(gs):
            raise ValueError(f"members of table factor {name!r} must have shape (F, {len(gs)}), "
                             f"got {m.shape}")
        if len(m) == 0:
            raise ValueError(f"table factor {name!r} has no cliques")
        for p, g in enumerate(gs):
            _check_range(m[:, p], g, f"members[:, {p}] of table factor {name!r}")
        size = int(np.prod([g.num_states for g in gs]))
        if size > MAX_TABLE_SIZE:
            raise ValueError(f"table factor {name!r} has {size} entries per clique (limit "
                             f"{MAX_TABLE_SIZE}); tables are meant for small cliques")
        for p in range(len(gs)):
            for q in range(p + 1, len(gs)):
                if gs[p].name == gs[q].name and np.any(m[:, p] == m[:, q]):
                    f = int(np.argmax(m[:, p] == m[:, q]))
                    raise ValueError(f"clique {f} of table factor {name!r} uses unit "
                                     f"{int(m[f, p])} of {gs[p].name!r} twice")
        name = self._name(name, "T_" + "_".join(dict.fromkeys(g.name for g in gs)))
        self._factors.append(FactorSpec("table", name, tuple(g.name for g in gs), m, bool(tied),
                                        init))
        return name

    @classmethod
    def from_model(cls, model: Model) -> FactorGraph:
        """A builder holding the declarations a compiled model was built from, to extend it
        (e.g. with more factors) and compile again. Pass ``coloring=model.coloring`` to
        ``compile`` to keep the model's coloring."""
        fg = cls()
        fg._groups = dict(model.groups)
        fg._factors = list(model.specs)
        return fg

    # ---------------------------------------------------------------- compile
    def compile(self, coloring: str | Mapping[str, Any] = "auto", meta: Mapping | None = None):
        """Compile into an immutable :class:`pcdppl.Model`.

        Args:
            coloring: ``"auto"``, a networkx greedy-coloring strategy name, or a dict
                giving the color of every unit (user order) of some groups.
            meta: free-form information kept on the model (e.g. networkx node labels).
        """
        if not self._groups:
            raise ValueError("the factor graph has no variable groups")
        return Model(dict(self._groups), list(self._factors), coloring=coloring, meta=meta or {})


def _index_array(x, what: str, name) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} of factor {name!r} must be integers, got non-integral "
                             f"floats")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} of factor {name!r} must be an integer array, got dtype "
                        f"{arr.dtype}")
    return arr.astype(np.int64)


def _check_range(idx: np.ndarray, g: VariableGroup, what: str) -> None:
    if len(idx) and (idx.min() < 0 or idx.max() >= g.size):
        bad = int(idx[(idx < 0) | (idx >= g.size)][0])
        raise IndexError(f"{what} points outside group {g.name!r}: index {bad} not in "
                         f"[0, {g.size})")


def _pair_keys(e: np.ndarray, same_group: bool, size_b: int) -> np.ndarray:
    """One int64 per edge naming its pair of units (unordered within one group)."""
    a, b = e[:, 0], e[:, 1]
    if same_group:
        a, b = np.minimum(a, b), np.maximum(a, b)
    key = a * size_b
    key += b
    return key


def _check_distinct_pairs(e: np.ndarray, ga: VariableGroup, gb: VariableGroup, name) -> None:
    """Refuse an edge list that couples one pair of units twice; within one group
    ``(i, j)`` and ``(j, i)`` are the same pair. One in-place sort of ``E`` integers on the
    host (timsort, fast on the runs of generated edge lists: about 0.1 s for 2M edges)."""
    same_group = ga.name == gb.name
    key = _pair_keys(e, same_group, gb.size)
    key.sort(kind="stable")
    repeated = key[1:] == key[:-1]
    if not np.any(repeated):
        return
    pair = key[1:][repeated][0]
    i, j = np.flatnonzero(_pair_keys(e, same_group, gb.size) == pair)[:2]
    raise ValueError(f"pairwise factor {name!r} lists the same pair of units twice: "
                     f"edges[{i}] = {tuple(e[i].tolist())} and edges[{j}] = "
                     f"{tuple(e[j].tolist())}; give each pair one edge (one coupling)")
