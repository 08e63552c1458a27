"""Graph inputs for the presets: networkx graphs, edge arrays or lattice shapes -> edges."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np


def lattice_edges(shape: tuple[int, ...], periodic: bool = True) -> np.ndarray:
    """Nearest-neighbor edges of a hypercubic lattice, sites numbered row-major.

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


def ising_log_partition_2d(rows: int, cols: int, coupling: float) -> float:
    """Exact ``log Z`` of the periodic 2-D Ising model on a ``rows × cols`` torus with
    uniform coupling ``J`` and no field, ``-E(s) = J Σ_<ij> s_i s_j`` (Kaufman, 1949).

    With ``K = J``, ``cosh γ_k = cosh 2K coth 2K − cos(πk / cols)`` (``γ_k ≥ 0``) and
    ``γ_0 = 2K + log tanh K``::

        Z = ½ (2 sinh 2K)^{rows·cols/2} Σ_{a=1}^{4} Z_a,
        Z_1 = Π_r 2 cosh(rows γ_{2r+1}/2),   Z_2 = Π_r 2 sinh(rows γ_{2r+1}/2),
        Z_3 = Π_r 2 cosh(rows γ_{2r}/2),     Z_4 = Π_r 2 sinh(rows γ_{2r}/2),

    products over ``r = 0 .. cols-1``, evaluated in log space with signs (``Z_4`` is
    negative where ``γ_0 < 0``, below the critical coupling). Needs ``J > 0`` and sides ≥ 3
    (the lattices of :func:`lattice_edges`).
    """
    M, N, K = int(rows), int(cols), float(coupling)
    if M < 3 or N < 3 or not K > 0:
        raise ValueError("ising_log_partition_2d needs sides >= 3 and a positive coupling")
    c = math.cosh(2 * K) / math.tanh(2 * K)
    gam = [math.acosh(c - math.cos(math.pi * k / N)) for k in range(2 * N)]
    gam[0] = 2 * K + math.log(math.tanh(K))

    def log_prod(fn, ks):
        total, sign = 0.0, 1.0
        for k in ks:
            v = fn(M * gam[k] / 2)
            total += math.log(2 * abs(v)) if v != 0 else -math.inf
            sign *= 1.0 if v >= 0 else -1.0
        return total, sign

    odd, even = range(1, 2 * N, 2), range(0, 2 * N, 2)
    terms = [log_prod(math.cosh, odd), log_prod(math.sinh, odd), log_prod(math.cosh, even),
             log_prod(math.sinh, even)]
    top = max(t for t, _ in terms)
    s = sum(sign * math.exp(t - top) for t, sign in terms)
    return math.log(0.5) + M * N / 2 * math.log(2 * math.sinh(2 * K)) + top + math.log(s)
