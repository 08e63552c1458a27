"""Graph coloring of the units inside a group.

Two units of the same group that share a factor must not be updated in the same Gibbs
block. The coloring is computed with networkx: bipartite graphs get their exact
2-coloring (``networkx.bipartite.color``), other graphs a greedy coloring
(``networkx.greedy_color``, strategy ``"largest_first"`` by default, ``"DSATUR"`` often
uses fewer colors on irregular graphs). Graphs above :data:`NETWORKX_LIMIT` units are
colored with vectorised NumPy/SciPy equivalents — a bipartiteness test through the
connected components of the bipartite double cover, else a Jones–Plassmann parallel
greedy coloring — so that a million-spin lattice compiles in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

NETWORKX_LIMIT = 100_000
DSATUR_LIMIT = 20_000
STRATEGIES = ("largest_first", "DSATUR", "smallest_last", "random_sequential",
              "connected_sequential_bfs", "independent_set")


def check_coloring(colors: np.ndarray, edges: np.ndarray, group: str) -> None:
    """Raise if two endpoints of an edge share a color."""
    if len(edges) == 0:
        return
    bad = colors[edges[:, 0]] == colors[edges[:, 1]]
    if np.any(bad):
        i, j = edges[np.argmax(bad)]
        raise ValueError(
            f"coloring of group {group!r} is not proper: units {i} and {j} share a factor "
            f"and both have color {colors[i]}"
        )


def color_units(n: int, edges: np.ndarray, strategy: str = "auto",
                seed: int = 0) -> np.ndarray:
    """Color ``n`` units so that the endpoints of every edge differ.

    Args:
        n: number of units.
        edges: (m, 2) int array of unit pairs (self-pairs are not allowed).
        strategy: ``"auto"`` (bipartite check, then the better of ``"largest_first"`` and,
            up to :data:`DSATUR_LIMIT` units, ``"DSATUR"``) or any
            ``networkx.greedy_color`` strategy name.
        seed: seed of the random priorities of the vectorised coloring.

    Returns:
        ``(n,)`` int array of colors ``0 .. c-1``.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) == 0:
        return np.zeros(n, dtype=np.int64)
    if strategy != "auto" and strategy not in STRATEGIES:
        raise ValueError(f"unknown coloring strategy {strategy!r}; expected 'auto' or one of "
                         f"{STRATEGIES}")
    if n <= NETWORKX_LIMIT:
        G = nx.Graph()
        G.add_nodes_from(range(n))
        G.add_edges_from(map(tuple, edges))
        if strategy == "auto" and nx.is_bipartite(G):
            side = nx.bipartite.color(G)
            return np.array([side[i] for i in range(n)], dtype=np.int64)
        if strategy != "auto":
            return _greedy(G, n, strategy)
        colors = _greedy(G, n, "largest_first")
        if n <= DSATUR_LIMIT:  # DSATUR often needs fewer colors (fewer Gibbs blocks)
            dsatur = _greedy(G, n, "DSATUR")
            if dsatur.max() < colors.max():
                colors = dsatur
        return colors
    colors = _bipartite_colors(n, edges)
    if colors is None:
        colors = _jones_plassmann(n, edges, seed)
    return colors


def _greedy(G: nx.Graph, n: int, strategy: str) -> np.ndarray:
    col = nx.greedy_color(G, strategy=strategy)
    return _compact(np.array([col[i] for i in range(n)], dtype=np.int64))


def _compact(colors: np.ndarray) -> np.ndarray:
    _, inv = np.unique(colors, return_inverse=True)
    return inv.astype(np.int64)


def _bipartite_colors(n: int, edges: np.ndarray) -> np.ndarray | None:
    """2-coloring via the bipartite double cover, or None if some component has an odd cycle.

    The double cover has nodes (v, 0) and (v, 1) and an edge (u, s)–(v, 1-s) per edge u–v.
    A connected component of the graph is bipartite iff its cover splits into two
    components; then (v, 0) and (v, 1) lie in different ones and the order of their labels
    is a proper 2-coloring.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    u, v = edges[:, 0], edges[:, 1]
    rows = np.concatenate([u, n + u])
    cols = np.concatenate([n + v, v])
    A = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(2 * n, 2 * n))
    _, labels = connected_components(A, directed=False)
    l0, l1 = labels[:n], labels[n:]
    if np.any(l0 == l1):
        return None
    return (l0 > l1).astype(np.int64)


def _jones_plassmann(n: int, edges: np.ndarray, seed: int) -> np.ndarray:
    """Parallel greedy coloring: a vertex whose random priority beats all its uncolored
    neighbors takes the smallest color none of its colored neighbors has."""
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    if np.bincount(src, minlength=n).max() >= 63:
        # bit masks below hold 63 colors; dense graphs go to networkx
        G = nx.Graph()
        G.add_nodes_from(range(n))
        G.add_edges_from(map(tuple, edges))
        col = nx.greedy_color(G, strategy="largest_first")
        return _compact(np.array([col[i] for i in range(n)], dtype=np.int64))
    prio = np.random.default_rng(seed).permutation(n)
    colors = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n, dtype=np.int64)  # bit c set: a neighbor has color c
    while True:
        open_ = colors < 0
        if not open_.any():
            break
        live = open_[src] & open_[dst]
        best = np.full(n, -1, dtype=np.int64)
        np.maximum.at(best, src[live], prio[dst[live]])
        pick = open_ & (prio > best)
        free = ~used[pick]
        colors[pick] = np.log2(free & -free).astype(np.int64)  # lowest zero bit of `used`
        newly = pick[src]
        np.bitwise_or.at(used, dst[newly], np.left_shift(1, colors[src[newly]]))
    return colors


def color_groups(groups: Mapping, specs, coloring="auto") -> dict[str, np.ndarray]:
    """The color of every unit of every group (user order), ``dict[group, (n,) ints]``.

    Args:
        groups: the model's groups.
        specs: the declared factors (:class:`~pcdppl.graph.spec.FactorSpec`); units of one
            group that share a factor instance must get different colors.
        coloring: ``"auto"``, a networkx greedy-coloring strategy name, or a dict giving the
            colors of some groups (checked).

    Every coloring, given or computed, is verified to be proper.
    """
    given = {}
    strategy = "auto"
    if isinstance(coloring, Mapping):
        given = dict(coloring)
        unknown = [g for g in given if g not in groups]
        if unknown:
            raise KeyError(f"coloring names unknown group {unknown[0]!r}")
    elif isinstance(coloring, str):
        if coloring != "auto" and coloring not in STRATEGIES:
            raise ValueError(f"unknown coloring strategy {coloring!r}; expected 'auto' or one "
                             f"of {STRATEGIES}")
        strategy = coloring
    else:
        raise TypeError("coloring must be 'auto', a networkx strategy name, or a dict of "
                        "color arrays per group")
    out = {}
    for name, g in groups.items():
        pairs = [p for s in specs if len(p := s.unit_pairs(name))]
        edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
        if name in given:
            colors = np.asarray(given[name])
            if colors.shape != (g.size,) or colors.dtype.kind not in "iu" or colors.min() < 0:
                raise ValueError(f"coloring[{name!r}] must be {g.size} non-negative ints")
        else:
            colors = color_units(g.size, edges, strategy)
        check_coloring(colors, edges, name)
        out[name] = colors
    return out
