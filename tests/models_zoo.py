"""Models of every variable kind, factor kind and local-field code path, for tests.

``ZOO``: small models, enumerable, that every sampler is checked on against enumeration.
``EXTRA``: more small enumerable models (tied factors, a spin RBM, a Potts model with table
factors), checked with block Gibbs and by the sample-free checks.
``STRUCTURES``: every model of the sample-free checks (tests/test_conditionals.py): the two
above plus graphs that take the other local-field paths of :class:`pcdppl.graph.factors.Pairwise`
— padded tables with a gather (degree > 16), sorted segment sums (star-like graphs) — and a
lattice of more than 100,000 spins colored by the vectorised Jones–Plassmann coloring.
``STRUCTURES`` values are ``(builder, expected)`` where ``expected`` maps ``(factor, group)`` to
the path its local fields must take (``"unrolled"``, ``"gather"`` or ``"segment"``).
"""

from __future__ import annotations

import jax
import networkx as nx
import numpy as np

import pcdppl as pp
from pcdppl.graph.factors import UNROLL_MAX_DEGREE


def randomize(model, seed: int, scale: float = 1.0) -> dict:
    """Random parameters of every factor: N(0, scale²) (strong, frustrated couplings)."""
    rng = np.random.default_rng(seed)
    return {n: jax.numpy.asarray(scale * rng.standard_normal(s), jax.numpy.float32)
            for n, s in model.param_shapes.items()}


def frustrated_ising(seed: int = 0):
    """Ising model on a 3×3 periodic-free lattice plus diagonals (odd cycles), random J, h."""
    g = nx.grid_2d_graph(3, 3)
    g.add_edges_from([((0, 0), (1, 1)), ((1, 1), (2, 2)), ((0, 2), (1, 1))])
    m = pp.models.ising(g)
    return m, randomize(m, seed, 0.8)


def small_rbm(seed: int = 1):
    m = pp.models.rbm(6, 4)
    return m, randomize(m, seed, 1.0)


def small_potts(seed: int = 2):
    m = pp.models.potts(nx.cycle_graph(5), k=3)
    return m, randomize(m, seed, 1.0)


def table_model(seed: int = 3):
    """Mixed model: spins, binaries and a categorical group tied together by table factors,
    a pairwise factor across groups and biases."""
    fg = pp.FactorGraph()
    a = fg.spin("a", 3)
    b = fg.binary("b", 3)
    c = fg.categorical("c", 2, 3)
    fg.bias(a)
    fg.bias(b)
    fg.bias(c)
    fg.pairwise(a, b, np.array([[0, 0], [1, 1], [2, 2], [0, 2]]), name="J_ab")
    fg.table([a, b, c], np.array([[0, 1, 0], [2, 2, 1]]), name="T")
    fg.table([c, c], np.array([[0, 1]]), name="T_cc")
    m = fg.compile()
    return m, randomize(m, seed, 1.0)


ZOO = {"ising": frustrated_ising, "rbm": small_rbm, "potts": small_potts, "table": table_model}


# ------------------------------------------------------------------ more small, enumerable
def tied_model(seed: int = 4):
    """Tied factors of every kind: a tied coupling on a frustrated spin graph, a tied bias,
    a tied categorical bias, a tied binary pairwise coupling and a tied table."""
    fg = pp.FactorGraph()
    s = fg.spin("s", 5)
    b = fg.binary("b", 3)
    c = fg.categorical("c", 2, 3)
    fg.pairwise(s, s, np.array([[0, 1], [1, 2], [2, 0], [2, 3], [3, 4], [4, 0]]), name="J",
                tied=True)
    fg.bias(s, name="h", tied=True)
    fg.bias(b, name="hb")
    fg.bias(c, name="hc", tied=True)
    fg.pairwise(s, b, np.array([[0, 0], [1, 1], [3, 2]]), name="K", tied=True)
    fg.table([b, c], np.array([[0, 0], [1, 1], [2, 0]]), name="T", tied=True)
    m = fg.compile()
    return m, randomize(m, seed, 0.9)


def spin_rbm(seed: int = 5):
    m = pp.models.rbm(5, 3, visible="spin", hidden="spin")
    return m, randomize(m, seed, 0.7)


def potts_tables(seed: int = 6):
    """A Potts model (k = 3) on a wheel graph plus a table factor over each of two triangles
    (27 entries each) and a tied pair table."""
    fg = pp.FactorGraph()
    s = fg.categorical("s", 5, 3)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 0], [4, 1], [4, 2], [4, 3]])
    fg.pairwise(s, s, edges, name="J")
    fg.bias(s, name="h")
    fg.table([s, s, s], np.array([[4, 0, 1], [4, 2, 3]]), name="T3")
    fg.table([s, s], np.array([[0, 2], [1, 3]]), name="T2", tied=True)
    m = fg.compile()
    return m, randomize(m, seed, 0.7)


EXTRA = {"tied": tied_model, "spin_rbm": spin_rbm, "potts_tables": potts_tables}


# ------------------------------------------------------------------ the other code paths
def complete_ising(seed: int = 7, n: int = 20):
    """Ising model on the complete graph K20: degree 19 > 16, the gathered padded path."""
    m = pp.models.ising(nx.complete_graph(n))
    return m, randomize(m, seed, 0.5)


def complete_potts(seed: int = 8, n: int = 18):
    """Potts model (k = 3) on K18: the gathered padded path of categorical units."""
    m = pp.models.potts(nx.complete_graph(n), k=3)
    return m, randomize(m, seed, 0.5)


def hub_binary(seed: int = 9):
    """Binary units, a hub of degree 24 over a ring of 24 (irregular degrees > 16: padded
    slots point at the zero coupling), a tied bias."""
    n = 24
    ring = np.stack([np.arange(n), (np.arange(n) + 1) % n], 1) + 1
    spokes = np.stack([np.zeros(n, int), np.arange(1, n + 1)], 1)
    fg = pp.FactorGraph()
    x = fg.binary("x", n + 1)
    fg.pairwise(x, x, np.concatenate([spokes, ring]), name="J")
    fg.bias(x, name="b", tied=True)
    m = fg.compile()
    return m, randomize(m, seed, 0.8)


def star_ising(seed: int = 10, leaves: int = 60):
    """Ising star, a centre with 60 leaves: the padded table would waste 60·61 - 120 slots,
    so the sorted segment sum is taken."""
    m = pp.models.ising(nx.star_graph(leaves))
    return m, randomize(m, seed, 0.8)


def star_potts(seed: int = 11, leaves: int = 50):
    """Potts star (k = 4): the segment-sum path of categorical units, with a tied coupling."""
    m = pp.models.potts(nx.star_graph(leaves), k=4, coupling="tied")
    return m, randomize(m, seed, 0.8)


def cross_star(seed: int = 12):
    """A binary group of 100 units and a spin group of 20 coupled by a pairwise factor in
    which unit 0 of the binary group touches every spin (degree 20, the rest degree 1): the
    binary side takes the segment sum, the spin side the unrolled padded table."""
    na, nb = 100, 20
    edges = np.concatenate([np.stack([np.zeros(nb, int), np.arange(nb)], 1),
                            np.stack([np.arange(1, na), np.arange(1, na) % nb], 1)])
    fg = pp.FactorGraph()
    a = fg.binary("a", na)
    b = fg.spin("b", nb)
    fg.pairwise(a, b, edges, name="J")
    fg.pairwise(b, b, np.stack([np.arange(nb), (np.arange(nb) + 1) % nb], 1), name="L")
    fg.bias(a)
    fg.bias(b)
    m = fg.compile()
    return m, randomize(m, seed, 0.8)


LATTICE_SIDE = 317  # 317² = 100,489 spins > NETWORKX_LIMIT; odd periodic side: not bipartite


def big_lattice(seed: int = 13):
    """Periodic 317×317 Ising lattice: more than 100,000 units and odd cycles, so the
    coloring is the vectorised Jones–Plassmann one (three or more colors)."""
    m = pp.models.ising((LATTICE_SIDE, LATTICE_SIDE), periodic=True)
    return m, randomize(m, seed, 1.0)


U, G, S = "unrolled", "gather", "segment"
STRUCTURES = {
    **{name: (b, {("J", "s"): U} if name in ("ising", "potts") else {})
       for name, b in ZOO.items()},
    "tied": (tied_model, {("J", "s"): U, ("K", "s"): U, ("K", "b"): U}),
    "spin_rbm": (spin_rbm, {}),
    "potts_tables": (potts_tables, {("J", "s"): U}),
    "complete_ising": (complete_ising, {("J", "s"): G}),
    "complete_potts": (complete_potts, {("J", "s"): G}),
    "hub_binary": (hub_binary, {("J", "x"): G}),
    "star_ising": (star_ising, {("J", "s"): S}),
    "star_potts": (star_potts, {("J", "s"): S}),
    "cross_star": (cross_star, {("J", "a"): S, ("J", "b"): U, ("L", "b"): U}),
    "big_lattice": (big_lattice, {("J", "s"): U}),
}


def local_field_path(model, factor: str, group: str) -> str:
    """The path :meth:`Pairwise.local` takes for ``group``'s side of pairwise ``factor``."""
    f = next(f for f in model.factors if f.name == factor)
    side = f.sides[group]
    if not side.padded:
        return S
    return U if 1 <= side.d <= UNROLL_MAX_DEGREE else G
