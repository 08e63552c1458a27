"""Loopy BP against enumeration: exact on trees (max-marginals, MAP, marginals), MAP on
small loopy models when it converges, non-convergence reported."""

import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

import pcdppl as pp
from pcdppl.evaluate import enumerate_states


def _random_params(model, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return {n: jnp.asarray(scale * rng.standard_normal(s), jnp.float32)
            for n, s in model.param_shapes.items()}


def _tree_table_model():
    """Spins, binaries and a categorical group in table, pairwise and bias factors whose
    factor graph is a tree."""
    fg = pp.FactorGraph()
    a = fg.spin("a", 3)
    b = fg.binary("b", 3)
    c = fg.categorical("c", 2, 3)
    fg.bias(a)
    fg.bias(b)
    fg.bias(c)
    fg.table([a, b, c], np.array([[0, 1, 0], [2, 2, 1]]), name="T")
    fg.table([c, c], np.array([[0, 1]]), name="T_cc")
    fg.pairwise(a, b, np.array([[1, 0]]), name="J_ab")
    fg.table([b], np.array([[0], [2]]), tied=True, name="T_unary")  # arity 1, tied
    return fg.compile()


TREES = {
    "ising_tree": lambda: pp.models.ising(nx.random_labeled_tree(9, seed=1)),
    "rbm_star": lambda: pp.models.rbm(6, 1),  # one hidden unit: a dense factor on a tree
    "rbm_spin_star": lambda: pp.models.rbm(1, 5, visible="spin", hidden="spin"),
    "potts_path": lambda: pp.models.potts(nx.path_graph(5), k=3),
    "table_tree": _tree_table_model,
}


def _exact_reference(model, params, T):
    """Per unit and state: ``T·log Σ exp(-E/T)`` (``max(-E)`` at T = 0) over the states
    with that unit fixed — the exact (log) max-marginals / marginals."""
    states = enumerate_states(model)
    neg_e = -np.asarray(model.energy(params, states), np.float64)
    out = {}
    for g, grp in model.groups.items():
        x = states[g]
        per_state = []
        for c in grp.values:
            col = []
            for i in range(grp.size):
                v = neg_e[x[:, i] == c]
                col.append(v.max() if T == 0 else T * np.logaddexp.reduce(v / T))
            per_state.append(col)
        out[g] = np.array(per_state).T  # (n, k)
    return out, states, neg_e


def _beliefs_as_ref(model, beliefs):
    """BP beliefs of copy 0 in the reference's form: log-odds or max-normalised vectors."""
    out = {}
    for g, grp in model.groups.items():
        b = np.asarray(beliefs[g][0], np.float64)
        out[g] = b - b.max(1, keepdims=True) if grp.is_categorical else b
    return out


def _ref_form(model, ref):
    out = {}
    for g, grp in model.groups.items():
        r = ref[g]
        out[g] = r - r.max(1, keepdims=True) if grp.is_categorical else r[:, 1] - r[:, 0]
    return out


@pytest.mark.parametrize("name", sorted(TREES))
@pytest.mark.parametrize("T", [0.0, 1.0, 0.5])
def test_tree_beliefs_are_exact(name, T):
    model = TREES[name]()
    params = _random_params(model, seed=7)
    bp = pp.bp.BeliefPropagation(model, temperature=T, damping=0.5, num_iters=200, tol=1e-4)
    res = bp.run(params)
    assert bool(res.converged[0]), f"BP did not converge on a tree (residual {res.residual})"
    ref, states, neg_e = _exact_reference(model, params, T)
    got, want = _beliefs_as_ref(model, res.beliefs), _ref_form(model, ref)
    for g in model.groups:
        np.testing.assert_allclose(got[g], want[g], atol=2e-4, rtol=1e-4, err_msg=g)
    if T == 0.0:  # MAP decoding equals the enumerated argmax
        dec = bp.decode(res)
        best = int(np.argmax(neg_e))
        for g in model.groups:
            np.testing.assert_array_equal(np.asarray(dec[g][0]), states[g][best], err_msg=g)
    if T == 1.0:  # marginals
        marg = bp.marginals(res)
        for g, grp in model.groups.items():
            p = np.exp(ref[g] - np.logaddexp.reduce(ref[g], axis=1, keepdims=True))
            want_p = p if grp.is_categorical else p[:, 1]
            np.testing.assert_allclose(np.asarray(marg[g][0]), want_p, atol=1e-5, err_msg=g)


def test_sum_product_shortcut_and_beta():
    model = TREES["ising_tree"]()
    params = _random_params(model, seed=3)
    marg, res = pp.bp.sum_product(model, params)
    ref, _, _ = _exact_reference(model, {k: v for k, v in params.items()}, 1.0)
    p = 1.0 / (1.0 + np.exp(-(ref["s"][:, 1] - ref["s"][:, 0])))
    np.testing.assert_allclose(np.asarray(marg["s"][0]), p, atol=1e-5)
    # beta scales every log-potential: beta=2 equals doubled parameters
    bp = pp.bp.BeliefPropagation(model, temperature=1.0, num_iters=200)
    r2 = bp.run(params, beta=2.0)
    r2b = bp.run({k: 2 * v for k, v in params.items()})
    np.testing.assert_allclose(np.asarray(r2.beliefs["s"]), np.asarray(r2b.beliefs["s"]),
                               atol=1e-4)


LOOPY = {
    "grid_ising": lambda: pp.models.ising(nx.grid_2d_graph(3, 4)),
    "frustrated_ising": lambda: pp.models.ising(nx.complete_graph(5)),
    "rbm": lambda: pp.models.rbm(6, 4),
    "potts_cycle": lambda: pp.models.potts(nx.cycle_graph(6), k=3),
}


@pytest.mark.parametrize("name", sorted(LOOPY))
def test_loopy_map_when_converged(name):
    model = LOOPY[name]()
    states = enumerate_states(model)
    converged = 0
    for seed in range(6):
        params = _random_params(model, seed, scale=0.7)
        dec, res = pp.bp.max_product(model, params, damping=0.5, num_iters=300, tol=1e-4)
        if not bool(res.converged[0]):
            continue
        converged += 1
        neg_e = -np.asarray(model.energy(params, states))
        e_bp = -float(model.energy(params, {g: v[0] for g, v in dec.items()}))
        assert e_bp == pytest.approx(neg_e.max(), abs=1e-4), f"seed {seed}"
    assert converged >= 3, f"max-product converged on only {converged}/6 random {name} models"


def test_non_convergence_is_reported():
    """Undamped max-product on a strongly frustrated triangle oscillates; the result says so."""
    model = pp.models.ising(nx.complete_graph(3))
    params = {"J": jnp.full((3,), -2.0), "h": jnp.array([0.3, 0.2, 0.1])}
    bp = pp.bp.BeliefPropagation(model, temperature=0.0, damping=0.0, num_iters=101)
    res = bp.run(params)
    assert not bool(res.converged[0]) and float(res.residual[0]) > 1e-2
    # damping settles it
    res = pp.bp.BeliefPropagation(model, damping=0.5, num_iters=300).run(params)
    assert bool(res.converged[0])


def test_evidence_messages_and_errors():
    model = pp.models.ising(nx.path_graph(4))
    params = _random_params(model, 0)
    bp = pp.bp.BeliefPropagation(model, num_iters=50)
    ev = {"s": np.array([[50.0, 0, 0, 0], [-50.0, 0, 0, 0]], np.float32)}
    res = bp.run(params, evidence=ev)
    dec = bp.decode(res)
    assert dec["s"].shape == (2, 4) and dec["s"].dtype == np.int8
    assert list(np.asarray(dec["s"][:, 0])) == [1, -1]
    warm = bp.run(params, evidence=ev, messages=res.messages, num_iters=1)
    assert bool(np.all(np.asarray(warm.converged)))
    with pytest.raises(ValueError, match="evidence"):
        bp.run(params, evidence={"s": np.zeros((2, 3))})
    with pytest.raises(KeyError, match="unknown group"):
        bp.run(params, evidence={"x": np.zeros((2, 4))})
    with pytest.raises(ValueError, match="messages"):
        bp.run(params, messages=bp.init_messages(3))
    with pytest.raises(ValueError, match="damping"):
        pp.bp.BeliefPropagation(model, damping=1.0)
    with pytest.raises(ValueError, match="temperature"):
        pp.bp.BeliefPropagation(model, temperature=-1)
