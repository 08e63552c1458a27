"""The factor-graph DSL: shapes, energies against a direct formula, graph views, bad input."""

import itertools

import hypothesis.extra.numpy as hnp
import jax
import networkx as nx
import numpy as np
import pytest
from helpers import CompileCounter
from hypothesis import given, settings
from hypothesis import strategies as st
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.graph.coloring import check_coloring


def naive_energy(model, params, state):
    """E(x) from the factor definitions, one unit at a time (no vectorisation tricks)."""
    e = 0.0
    for f in model.specs:
        name = f.name
        p = np.asarray(params[name], np.float64)
        if f.kind == "bias":
            g = model.groups[f.groups[0]]
            x = np.asarray(state[g.name]).ravel()
            for i, xi in enumerate(x):
                if g.is_categorical:
                    e -= (p if f.tied else p[i])[xi]
                else:
                    e -= (p if f.tied else p[i]) * xi
        elif f.kind == "dense":
            a, b = (np.asarray(state[g]).ravel() for g in f.groups)
            e -= a @ p @ b
        elif f.kind == "pairwise":
            ga, gb = f.groups
            xa, xb = np.asarray(state[ga]).ravel(), np.asarray(state[gb]).ravel()
            for k, (i, j) in enumerate(f.data):
                J = p if f.tied else p[k]
                cat = model.groups[ga].is_categorical
                e -= J * (float(xa[i] == xb[j]) if cat else xa[i] * xb[j])
        elif f.kind == "table":
            for k, clique in enumerate(f.data):
                idx = []
                for gname, u in zip(f.groups, clique, strict=True):
                    grp = model.groups[gname]
                    v = int(np.asarray(state[gname]).ravel()[u])
                    idx.append((v + 1) // 2 if grp.kind == "spin" else v)
                e -= (p if f.tied else p[k])[tuple(idx)]
    return e


@pytest.mark.parametrize("name", sorted(ZOO))
def test_energy_matches_naive_formula(name):
    model, params = ZOO[name]()
    states = pp.evaluate.enumerate_states(model)
    E = np.asarray(model.energy(params, states))
    rng = np.random.default_rng(0)
    for s in rng.choice(len(E), size=20, replace=False):
        one = {g: v[s] for g, v in states.items()}
        assert E[s] == pytest.approx(naive_energy(model, params, one), rel=1e-5, abs=1e-4)


def test_rbm_preset_shapes_and_graph():
    m = pp.models.rbm(n_visible=(8, 8), n_hidden=16)
    assert m.param_shapes == {"b_v": (64,), "b_h": (16,), "W": (64, 16)}
    assert m.groups["v"].shape == (8, 8)
    p = m.init_params(0)
    assert float(np.std(p["W"])) == pytest.approx(0.01, rel=0.2)
    G = m.to_networkx()
    assert G.number_of_nodes() > 80
    assert len(m.blocks) == 2  # one color per layer


def test_ising_inputs_agree():
    g = nx.grid_2d_graph(4, 4, periodic=True)
    a = pp.models.ising(g)
    b = pp.models.ising((4, 4))
    c = pp.models.ising(np.array([[0, 1], [1, 2], [2, 3]]))
    assert a.param_shapes == b.param_shapes == {"J": (32,), "h": (16,)}
    assert c.param_shapes == {"J": (3,), "h": (4,)}
    assert len(b.blocks) == 2  # even periodic lattice: checkerboard
    assert len(pp.models.ising((3, 3)).blocks) == 3  # odd periodic lattice is not bipartite
    t = pp.models.ising((4, 4), coupling="tied", field=None)
    assert t.param_shapes == {"J": ()}


def test_potts_preset():
    m = pp.models.potts(nx.cycle_graph(5), k=3)
    assert m.param_shapes == {"J": (5,), "h": (5, 3)}
    assert m.groups["s"].num_states == 3


def test_model_is_immutable_and_hashable():
    m, _ = ZOO["rbm"]()
    with pytest.raises(AttributeError):
        m.groups = {}
    assert hash(m) == hash(m) and {m: 1}[m] == 1


def test_parameter_change_does_not_recompile():
    m, params = ZOO["ising"]()
    sampler = pp.samplers.BlockGibbs(m)
    state = sampler.init(0, params, num_chains=4)
    state, _ = sampler.step(1, params, state)
    scaled = [{k: np.asarray(v) * scale for k, v in params.items()} for scale in (0.5, 2.0)]
    m2, params2 = ZOO["ising"](seed=5)
    s2 = pp.samplers.BlockGibbs(m2)
    with CompileCounter() as compiles:
        for p in scaled:
            state, _ = sampler.step(1, p, state)
        # a second model of the same shape shares the compiled program (structure is an argument)
        s2.step(1, params2, state)
    assert compiles.count == 0


# ----------------------------------------------------------------- property tests
@st.composite
def graphs(draw):
    n = draw(st.integers(2, 12))
    pairs = list(itertools.combinations(range(n), 2))
    edges = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    return n, np.array(edges)


@settings(deadline=None)  # examples per run: the profile (tests/conftest.py)
@given(graphs(), st.sampled_from(["spin", "binary", "categorical"]))
def test_random_graphs_compile_with_valid_coloring(g, kind):
    n, edges = g
    fg = pp.FactorGraph()
    grp = {"spin": lambda: fg.spin("x", n), "binary": lambda: fg.binary("x", n),
           "categorical": lambda: fg.categorical("x", n, 3)}[kind]()
    fg.pairwise(grp, grp, edges, name="J")
    fg.bias(grp, name="b")
    m = fg.compile()
    colors = m.coloring["x"]
    check_coloring(np.asarray(colors), edges, "x")
    # blocks partition the units
    assert sum(e - s for _, s, e in m.blocks) == n
    p = {k: np.ones(s, np.float32) for k, s in m.param_shapes.items()}
    x = np.zeros((n,), np.int8) + (1 if kind == "spin" else 0)
    assert np.isfinite(float(m.energy(p, {"x": x})))


@settings(deadline=None)  # examples per run: the profile (tests/conftest.py)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.just(5)),
                  elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                     st.integers(-3, 3).map(float))))
def test_energy_rejects_invalid_spin_states(x):
    m = pp.models.ising(np.array([[0, 1], [1, 2], [2, 3], [3, 4]]))
    p = m.init_params(0)
    valid = np.isin(x, (-1.0, 1.0)).all()
    if valid:
        assert m.energy(p, {"s": x.astype(np.int8)}).shape == (x.shape[0],)
    else:
        with pytest.raises((ValueError, TypeError)):
            m.energy(p, {"s": x})


# ----------------------------------------------------------------- bad input
def test_bad_declarations_name_the_problem():
    fg = pp.FactorGraph()
    v = fg.binary("v", 4)
    with pytest.raises(ValueError, match="'v'"):
        fg.binary("v", 3)
    with pytest.raises((KeyError, ValueError), match="nope"):
        fg.bias("nope")
    with pytest.raises(IndexError, match="outside group .v.: index 4"):
        fg.pairwise(v, v, np.array([[0, 4]]), name="J")
    with pytest.raises(ValueError, match="self-loop"):
        fg.pairwise(v, v, np.array([[1, 1]]), name="J")
    with pytest.raises(ValueError, match=r"\(E, 2\)"):
        fg.pairwise(v, v, np.array([0, 1, 2]), name="J")
    with pytest.raises((TypeError, ValueError), match="edges"):
        fg.pairwise(v, v, np.array([[0.5, 1.0]]), name="J")
    fg.bias(v, name="b")
    with pytest.raises(ValueError, match="'b'"):
        fg.bias(v, name="b")
    with pytest.raises(ValueError, match="itself"):
        fg.dense(v, v)
    c = fg.categorical("c", 2, 3)
    with pytest.raises(ValueError, match="twice"):
        fg.table([c, c], np.array([[0, 0]]))
    with pytest.raises(ValueError):
        fg.categorical("k1", 2, 1)
    with pytest.raises(ValueError, match="no variable groups"):
        pp.FactorGraph().compile()


def test_bad_params_and_states_name_the_problem():
    m, params = ZOO["rbm"]()
    state = {"v": np.zeros(6, np.int8), "h": np.zeros(4, np.int8)}
    with pytest.raises(KeyError, match="'Q'"):
        m.energy({**params, "Q": np.zeros(2)}, state)
    with pytest.raises(KeyError, match="W"):
        m.energy({k: v for k, v in params.items() if k != "W"}, state)
    with pytest.raises(ValueError, match="'W'.*shape"):
        m.energy({**params, "W": np.zeros((4, 6), np.float32)}, state)
    with pytest.raises(ValueError, match="'W'.*NaN"):
        m.check_params({**params, "W": np.full((6, 4), np.nan, np.float32)})
    with pytest.raises(KeyError, match="'x'"):
        m.energy(params, {**state, "x": np.zeros(3)})
    with pytest.raises(ValueError, match="shape"):
        m.energy(params, {"v": np.zeros(5, np.int8), "h": np.zeros(4, np.int8)})
    with pytest.raises(ValueError, match="outside"):
        m.energy(params, {"v": np.full(6, 2, np.int8), "h": np.zeros(4, np.int8)})
    with pytest.raises(ValueError, match="NaN"):
        m.energy(params, {"v": np.full(6, np.nan), "h": np.zeros(4)})
    with pytest.raises(TypeError, match="dtype"):
        m.energy(params, {"v": np.array(["a"] * 6), "h": np.zeros(4, np.int8)})


def test_sampler_for_another_model_is_rejected():
    m1, p1 = ZOO["rbm"]()
    m2, _ = ZOO["ising"]()
    with pytest.raises(ValueError, match="another model"):
        pp.sample(0, m1, p1, sampler=pp.samplers.BlockGibbs(m2))
    with pytest.raises(ValueError, match="another model"):
        pp.PCD(m1, sampler=pp.samplers.BlockGibbs(m2))
    s = pp.samplers.BlockGibbs(m1)
    state = s.init(0, p1, num_chains=2)
    with pytest.raises(ValueError, match="does not belong"):
        pp.samplers.BlockGibbs(m2).step(0, ZOO["ising"]()[1], state)


@pytest.mark.slow
def test_million_spin_lattice_builds_and_sweeps():
    """10^6 spins, 2·10^6 couplings: vectorised build, checkerboard coloring, one sweep."""
    model = pp.models.ising((1000, 1000))
    assert model.param_shapes["J"] == (2_000_000,) and len(model.blocks) == 2
    params = model.init_params(0)
    sampler = pp.samplers.BlockGibbs(model)
    state, _ = sampler.step(1, params, sampler.init(0, params, num_chains=1))
    assert sampler.values(state)["s"].shape == (1, 1_000_000)


def test_graph_structure_is_a_program_argument_not_a_constant():
    """The model is a pytree whose leaves are the index tables: compiled programs take them
    as arguments, so program text does not grow with the graph (it did: 72 MB of HLO for a
    1000x1000 lattice)."""
    sizes = {}
    for n in (16, 128):
        model = pp.models.ising((n, n))
        params = model.init_params(0)
        sampler = pp.samplers.BlockGibbs(model)
        state = sampler.init(0, params, 2)
        key = jax.random.key(1)
        step = jax.jit(lambda s, k, p, x: s.step(k, p, x))
        sizes[n] = len(step.lower(sampler, key, params, state).as_text())
        assert len(jax.tree.leaves(model)) > 0 and len(jax.tree.leaves(sampler)) > 0
    assert sizes[128] < 1.2 * sizes[16], sizes  # 64x the units, the same program
