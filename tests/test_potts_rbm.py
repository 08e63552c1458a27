"""Dense couplings of categorical groups (Potts RBMs): energy in the zero-sum gauge, closed
form free energy, exact samplers, exact and AIS log Z, exact BP on trees, and learners."""

import jax
import numpy as np
import optax
import pytest
from exactness import check

import pcdppl as pp


def _model(kind, n_v=4, n_h=3, q=3, seed=0):
    fg = pp.FactorGraph()
    v = fg.categorical("v", n_v, q)
    h = {"binary": fg.binary, "spin": fg.spin}[kind]("h", n_h) if kind != "categorical" \
        else fg.categorical("h", n_h, 2)
    fg.bias(v, name="b_v")
    fg.bias(h, name="b_h")
    fg.dense(v, h, name="W")
    model = fg.compile()
    rng = np.random.default_rng(seed)
    return model, {k: rng.normal(0, 1.0, s).astype(np.float32)
                   for k, s in model.param_shapes.items()}


def _naive_energy(model, params, states):
    """-E from the parameters with NumPy, W projected to the zero-sum gauge."""
    v = np.asarray(states["v"])
    h = np.asarray(states["h"])
    gh = model.groups["h"]
    W = params["W"] - params["W"].mean(axis=1, keepdims=True)
    fv = np.eye(model.groups["v"].num_states)[v]  # (S, n_v, q)
    if gh.is_categorical:
        W = W - W.mean(axis=3, keepdims=True)
        fh = np.eye(gh.num_states)[h]
        coup = np.einsum("sic,icjd,sjd->s", fv, W, fh)
        bh = np.take_along_axis(params["b_h"][None], h[..., None], 2)[..., 0].sum(1)
    else:
        coup = np.einsum("sic,icj,sj->s", fv, W, h.astype(float))
        bh = h @ params["b_h"]
    bv = np.take_along_axis(params["b_v"][None], v[..., None], 2)[..., 0].sum(1)
    return -(bv + bh + coup)


@pytest.mark.parametrize("kind", ["binary", "spin", "categorical"])
def test_energy_free_energy_and_log_partition(kind):
    model, params = _model(kind)
    states = pp.evaluate.enumerate_states(model)
    E = np.asarray(model.energy(params, states), np.float64)
    np.testing.assert_allclose(E, _naive_energy(model, params, states), atol=1e-4)
    # the gauge: a constant added over the visible states of one coupling changes nothing
    shifted = dict(params)
    shifted["W"] = params["W"] + np.random.default_rng(1).normal(size=(4, 1) + params["W"].shape[2:]
                                                                 ).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model.energy(shifted, states)), E, atol=1e-4)
    # closed-form free energy of the hidden layer against a sum over its states
    v = pp.evaluate.enumerate_states(model, ["v"])["v"][:7]
    hs = pp.evaluate.enumerate_states(model, ["h"])["h"]
    brute = [-np.logaddexp.reduce(-np.asarray(model.energy(
        params, {"v": np.repeat(row[None], len(hs), 0), "h": hs}), np.float64)) for row in v]
    np.testing.assert_allclose(np.asarray(model.free_energy(params, {"v": v})), brute, atol=1e-4)
    exact = float(np.logaddexp.reduce(-E))
    assert abs(float(pp.evaluate.log_partition(model, params)) - exact) < 1e-3
    res = pp.evaluate.ais(model, params, 0, num_chains=200, betas=1000)
    assert abs(res.log_z - exact) < 3 * res.stderr + 1e-3


@pytest.mark.parametrize("make", [
    lambda m: pp.samplers.BlockGibbs(m),
    lambda m: pp.samplers.Metropolis(m, "flip"),
    lambda m: pp.samplers.Metropolis(m, "gwg", num_proposals=7),
    lambda m: pp.samplers.DiscreteLangevin(m, 0.3),
    lambda m: pp.samplers.ReplicaExchange(m, pp.samplers.BlockGibbs(m), betas=(0.5, 1.0)),
], ids=["gibbs", "mh-flip", "gwg", "langevin", "replica"])
def test_samplers_are_exact_on_a_potts_rbm(make):
    model = pp.models.rbm(4, 3, visible_states=3)
    rng = np.random.default_rng(0)
    params = {k: rng.normal(0, 1.0, s).astype(np.float32) for k, s in model.param_shapes.items()}
    draws = pp.sample(jax.random.key(0), model, params, sampler=make(model), num_chains=64,
                      num_samples=1500, num_warmup=100, thin=2)
    ok, report = check(model, params, draws)
    assert ok, report
    hot = {k: 0.9 * v for k, v in params.items()}  # power: the wrong temperature fails
    assert not check(model, hot, draws)[0]


def test_belief_propagation_is_exact_on_a_tree():
    """One categorical visible unit and three hidden units: the dense factor is a star."""
    model, params = _model("binary", n_v=1, n_h=3, q=4)
    states, probs = pp.evaluate.exact_probabilities(model, params)
    marg, res = pp.bp.sum_product(model, params, num_iters=50)
    assert bool(res.converged[0])
    pv = np.array([probs[states["v"][:, 0] == c].sum() for c in range(4)])
    np.testing.assert_allclose(np.asarray(marg["v"][0, 0]), pv, atol=1e-4)
    ph = (probs[:, None] * states["h"]).sum(0)
    np.testing.assert_allclose(np.asarray(marg["h"][0]), ph, atol=1e-4)
    x_map, _ = pp.bp.max_product(model, params)
    best = int(np.argmax(probs))
    np.testing.assert_array_equal(np.asarray(x_map["v"][0]), states["v"][best])
    np.testing.assert_array_equal(np.asarray(x_map["h"][0]), states["h"][best])


def test_preset_and_learners_on_sequences():
    model = pp.models.rbm(n_visible=6, n_hidden=4, visible_states=5)
    assert model.param_shapes == {"b_v": (6, 5), "b_h": (4,), "W": (6, 5, 4)}
    rng = np.random.default_rng(0)
    true = {k: rng.normal(0, 1.0, s).astype(np.float32) for k, s in model.param_shapes.items()}
    data = np.asarray(pp.sample(0, model, true, num_chains=40, num_samples=10, thin=10)["v"]
                      ).reshape(-1, 6)
    w = rng.random(len(data))
    start = model.init_params(0)
    ll0 = float(pp.evaluate.log_likelihood(model, start, data))
    for learner in (pp.PCD(model, num_chains=64, batch_size=40, optimizer=optax.adam(0.05)),
                    pp.PerturbAndMaxProductLearner(model, num_samples=32, batch_size=40,
                                                   num_iters=20, optimizer=optax.adam(0.05))):
        fit = learner.fit(data, 8, key=0, weights=w, progress=False, mixing_warnings=False)
        assert np.all(np.isfinite(fit.history["recon_error"]))
        assert float(pp.evaluate.log_likelihood(model, fit.params, data)) > ll0
