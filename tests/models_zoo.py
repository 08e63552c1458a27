"""Small random models of every variable and factor kind, enumerable in tests."""

from __future__ import annotations

import jax
import networkx as nx
import numpy as np

import pcdppl as pp


def _randomize(model, seed: int, scale: float = 1.0) -> dict:
    """Random parameters of every factor: N(0, scale²) (strong, frustrated couplings)."""
    rng = np.random.default_rng(seed)
    return {n: jax.numpy.asarray(scale * rng.standard_normal(s), jax.numpy.float32)
            for n, s in model.param_shapes.items()}


def frustrated_ising(seed: int = 0):
    """Ising model on a 3×3 periodic-free lattice plus diagonals (odd cycles), random J, h."""
    g = nx.grid_2d_graph(3, 3)
    g.add_edges_from([((0, 0), (1, 1)), ((1, 1), (2, 2)), ((0, 2), (1, 1))])
    m = pp.models.ising(g)
    return m, _randomize(m, seed, 0.8)


def small_rbm(seed: int = 1):
    m = pp.models.rbm(6, 4)
    return m, _randomize(m, seed, 1.0)


def small_potts(seed: int = 2):
    m = pp.models.potts(nx.cycle_graph(5), k=3)
    return m, _randomize(m, seed, 1.0)


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
    return m, _randomize(m, seed, 1.0)


ZOO = {"ising": frustrated_ising, "rbm": small_rbm, "potts": small_potts, "table": table_model}
