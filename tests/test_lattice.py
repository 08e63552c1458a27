"""Lattice edges are distinct pairs (the presets skip the duplicate-edge check for them)."""

import numpy as np
import pytest

import pcdppl as pp


@pytest.mark.parametrize("shape", [(3,), (2, 2), (3, 3), (2, 5), (4, 3, 2), (5, 5, 5), (1, 4)])
@pytest.mark.parametrize("periodic", [True, False])
def test_lattice_edges_are_distinct_pairs(shape, periodic):
    edges = pp.models.lattice_edges(shape, periodic)
    n = int(np.prod(shape))
    fg = pp.FactorGraph()
    s = fg.spin("s", n)
    if len(edges):
        fg.pairwise(s, s, edges, name="J")  # checks distinctness (raises on a repeat)
    keys = np.sort(edges, axis=1)
    assert len(np.unique(keys, axis=0)) == len(edges)
    model = pp.models.ising(shape, periodic=periodic)
    assert model.param_shapes.get("J", (0,)) == (len(edges),)
