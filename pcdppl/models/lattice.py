"""Graph inputs for the presets: networkx graphs, edge arrays or lattice shapes -> edges."""

from __future__ import annotations

import networkx as nx
import numpy as np


def lattice_edges(shape: tuple[int, ...], periodic: bool = True) -> np.ndarray:
    """Nearest-neighbour edges of a hypercubic lattice, sites numbered row-major.

    Each site is linked to its successor along every axis; with ``periodic=True`` the last
    site of a line links back to the first. An axis of length 2 has one edge per line
    either way (the wrap-around pair is the same pair) and an axis of length 1 none.
    Vectorised: a 1000×1000 lattice takes milliseconds.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"lattice shape must be positive ints, got {shape}")
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    out = []
    for ax, L in enumerate(shape):
        if periodic and L > 2:
            nxt = np.roll(idx, -1, axis=ax)
            out.append(np.stack([idx.ravel(), nxt.ravel()], 1))
        elif L > 1:
            sl_a = [slice(None)] * len(shape)
            sl_b = [slice(None)] * len(shape)
            sl_a[ax], sl_b[ax] = slice(0, L - 1), slice(1, L)
            out.append(np.stack([idx[tuple(sl_a)].ravel(), idx[tuple(sl_b)].ravel()], 1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def graph_edges(graph, num_nodes: int | None = None, periodic: bool = True):
    """Normalise a graph argument.

    Returns ``(n, edges, meta)``: the number of nodes, an ``(E, 2)`` int array and
    information to keep on the model (networkx node labels, lattice shape).
    """
    if isinstance(graph, nx.Graph):
        if graph.is_directed():
            raise ValueError("expected an undirected networkx graph")
        nodes = list(graph.nodes)
        index = {v: i for i, v in enumerate(nodes)}
        edges = np.array([(index[u], index[v]) for u, v in graph.edges()], dtype=np.int64)
        if any(u == v for u, v in graph.edges()):
            raise ValueError("the graph has self-loops; an Ising/Potts coupling needs two sites")
        return len(nodes), edges.reshape(-1, 2), {"nodes": nodes}
    if isinstance(graph, tuple) or (isinstance(graph, list) and graph
                                    and all(isinstance(s, (int, np.integer)) for s in graph)):
        shape = tuple(int(s) for s in graph)
        return int(np.prod(shape)), lattice_edges(shape, periodic), {"lattice_shape": shape,
                                                                      "periodic": periodic}
    arr = np.asarray(graph)
    if arr.ndim == 2 and arr.shape[1] == 2:
        if arr.dtype.kind not in "iu":
            raise TypeError(f"an edge array must hold integers, got dtype {arr.dtype}")
        n = int(arr.max()) + 1 if num_nodes is None and arr.size else num_nodes
        if n is None:
            raise ValueError("an empty edge array needs num_nodes")
        return int(n), arr.astype(np.int64), {}
    raise TypeError("graph must be a networkx graph, an (E, 2) edge array, or a lattice shape "
                    f"tuple; got {type(graph).__name__} {getattr(arr, 'shape', '')}")
