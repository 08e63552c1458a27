"""An independent NumPy reference for exact evaluation.

The structure of each test model is written down here again (groups with their values, and
the factor terms with their index arrays), the joint states are enumerated with
``np.indices`` and the energies computed from the parameters with plain NumPy
formulas in float64: nothing goes through pcdppl's energy, layouts or enumeration. The
energy convention is the one of ``shared/DESIGN.md``:

    -E(x) = Σ biases·x + Σ couplings·x_i·x_j + Σ table[s(x_1), ..., s(x_m)],

with categorical biases ``b[i, x_i]``, Potts couplings ``J_e·δ(x_i, x_j)`` and ``s`` the index
of a value among the group's values (spins: -1 → 0, +1 → 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

VALUES = {"spin": (-1, 1), "binary": (0, 1)}


@dataclass
class Structure:
    """Groups ``{name: (values, size)}`` (declaration order), their kinds and factor terms."""

    groups: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    terms: list = field(default_factory=list)

    def group(self, name, kind, size, k=None):
        self.groups[name] = (tuple(range(k)) if kind == "categorical" else VALUES[kind], size)
        self.kinds[name] = kind
        return name

    def bias(self, g, name):
        self.terms.append(("bias", name, g))

    def pairwise(self, a, b, edges, name):
        self.terms.append(("pairwise", name, a, b, np.asarray(edges)))

    def dense(self, a, b, name):
        self.terms.append(("dense", name, a, b))

    def table(self, groups, members, name):
        self.terms.append(("table", name, tuple(groups), np.atleast_2d(members)))

    def param_shapes(self) -> dict:
        out = {}
        for t in self.terms:
            kind, name = t[:2]
            if kind == "bias":
                vals, n = self.groups[t[2]]
                out[name] = (n, len(vals)) if self.categorical(t[2]) else (n,)
            elif kind == "pairwise":
                out[name] = (len(t[4]),)
            elif kind == "dense":
                out[name] = (self.groups[t[2]][1], self.groups[t[3]][1])
            else:
                out[name] = (len(t[3]),) + tuple(len(self.groups[g][0]) for g in t[2])
        return out

    def categorical(self, g) -> bool:
        return self.kinds[g] == "categorical"


def states(ref: Structure) -> dict:
    """All joint states, ``dict[group, int64 (S, n)]`` (last unit varies fastest)."""
    units = [np.asarray(vals) for vals, n in ref.groups.values() for _ in range(n)]
    idx = np.indices([len(u) for u in units]).reshape(len(units), -1)
    out, start = {}, 0
    for g, (vals, n) in ref.groups.items():
        out[g] = np.asarray(vals, np.int64)[idx[start:start + n].T]
        start += n
    return out


def neg_energy(ref: Structure, params: dict, x: dict) -> np.ndarray:
    """``-E(x)`` in float64 for states ``x[group]`` of shape ``(S, n)``: ``(S,)``."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = {g: np.asarray(v, np.int64) for g, v in x.items()}
    S = len(next(iter(x.values())))
    out = np.zeros(S)
    for t in ref.terms:
        kind, name = t[:2]
        if kind == "bias":
            g = t[2]
            if ref.categorical(g):
                out += p[name][np.arange(x[g].shape[1]), x[g]].sum(axis=1)
            else:
                out += x[g] @ p[name]
        elif kind == "pairwise":
            a, b, e = t[2], t[3], t[4]
            xi, xj = x[a][:, e[:, 0]], x[b][:, e[:, 1]]
            out += ((xi == xj) if ref.categorical(a) else xi * xj) @ p[name]
        elif kind == "dense":
            out += np.einsum("si,ij,sj->s", x[t[2]], p[name], x[t[3]])
        else:
            groups, members = t[2], t[3]
            for f, row in enumerate(members):
                idx = tuple(index_of(ref, g, x[g][:, u]) for g, u in zip(groups, row, strict=True))
                out += p[name][(f,) + idx]
    return out


def index_of(ref: Structure, g, values) -> np.ndarray:
    """The index of each value among the group's values."""
    return np.searchsorted(np.asarray(ref.groups[g][0]), values)


def logsumexp(a, axis=None):
    a = np.asarray(a, np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def log_partition(ref: Structure, params: dict) -> float:
    return float(logsumexp(neg_energy(ref, params, states(ref))))


def log_likelihood(ref: Structure, params: dict, data: dict) -> np.ndarray:
    """``log p(data_n)`` per example, the groups not in ``data`` summed out by brute force."""
    x = states(ref)
    e = neg_energy(ref, params, x)
    obs = np.concatenate([x[g] for g in data], axis=1)
    rows = np.concatenate([np.asarray(v, np.int64) for v in data.values()], axis=1)
    keys, inverse = np.unique(obs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(keys)))
    m = np.maximum.reduceat(e[order], starts)  # log Σ exp per observed configuration
    per_key = m + np.log(np.add.reduceat(np.exp(e[order] - m[inverse[order]]), starts))
    hit = np.array([np.flatnonzero(np.all(keys == row, axis=1))[0] for row in rows])
    return per_key[hit] - logsumexp(e)


# ------------------------------------------------------------------ the models
def graph_edges(graph) -> np.ndarray:
    index = {v: i for i, v in enumerate(graph.nodes)}
    return np.array([(index[u], index[v]) for u, v in graph.edges()])


def ising(graph) -> Structure:
    r = Structure()
    s = r.group("s", "spin", graph.number_of_nodes())
    r.pairwise(s, s, graph_edges(graph), "J")
    r.bias(s, "h")
    return r


def potts(graph, k) -> Structure:
    r = Structure()
    s = r.group("s", "categorical", graph.number_of_nodes(), k)
    r.pairwise(s, s, graph_edges(graph), "J")
    r.bias(s, "h")
    return r


def rbm(n_v, n_h, visible="binary", hidden="binary", lateral=None) -> Structure:
    """An RBM (``-E = b_v·v + b_h·h + vᵀWh``); ``lateral`` edges couple hidden units."""
    r = Structure()
    v = r.group("v", visible, n_v)
    h = r.group("h", hidden, n_h)
    r.bias(v, "b_v")
    r.bias(h, "b_h")
    r.dense(v, h, "W")
    if lateral is not None:
        r.pairwise(h, h, lateral, "L")
    return r


def zoo_table() -> Structure:
    """The structure of ``models_zoo.table_model`` (written out again)."""
    r = Structure()
    a = r.group("a", "spin", 3)
    b = r.group("b", "binary", 3)
    c = r.group("c", "categorical", 2, 3)
    r.bias(a, "b_a")
    r.bias(b, "b_b")
    r.bias(c, "b_c")
    r.pairwise(a, b, [[0, 0], [1, 1], [2, 2], [0, 2]], "J_ab")
    r.table([a, b, c], [[0, 1, 0], [2, 2, 1]], "T")
    r.table([c, c], [[0, 1]], "T_cc")
    return r


def zoo_ising_graph():
    """The graph of ``models_zoo.frustrated_ising``."""
    g = nx.grid_2d_graph(3, 3)
    g.add_edges_from([((0, 0), (1, 1)), ((1, 1), (2, 2)), ((0, 2), (1, 1))])
    return g


ZOO = {"ising": lambda: ising(zoo_ising_graph()), "rbm": lambda: rbm(6, 4),
       "potts": lambda: potts(nx.cycle_graph(5), 3), "table": zoo_table}
