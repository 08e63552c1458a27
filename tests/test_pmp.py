"""Perturb-and-max-product: the sampler protocol; calibrated exactness where PMP is exact
(independent units at any β and noise scale, the conditional of conditionally independent
units given a clamped group), with the power to reject deliberately wrong samplers; the MAP
at zero noise on trees; the documented bias elsewhere; the learner on a lattice Ising model."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pytest
from exactness import assert_exact_with_power, bound, check, scaled, split_by_beta, z_scores
from models_zoo import ZOO, randomize

import pcdppl as pp
from pcdppl.evaluate import enumerate_states

CHAINS, SAMPLES = 64, 400


def _independent_model():
    fg = pp.FactorGraph()
    fg.bias(fg.spin("a", 2))
    fg.bias(fg.binary("b", 2))
    fg.bias(fg.categorical("c", 1, 3))
    m = fg.compile()
    params = {"b_a": jnp.array([0.8, -1.5]), "b_b": jnp.array([0.3, 2.0]),
              "b_c": jnp.array([[0.5, -0.5, 1.2]])}
    return m, params


def draw(model, params, sampler, beta=1.0, key=0):
    """PMP draws (independent: no warmup), ``beta`` one per chain."""
    beta = np.broadcast_to(np.asarray(beta, np.float32), (CHAINS,))
    return pp.sample(jax.random.key(key), model, params, sampler=sampler, num_chains=CHAINS,
                     num_samples=SAMPLES, num_warmup=0, beta=beta)


def test_pmp_is_exact_for_independent_units():
    """With unary perturbation only, the Gumbel-max trick makes PMP exact when units are
    independent: the draws pass the calibrated check, the sampler at β × 0.95 or with a
    +0.1 field fails it; each chain is exact at its own β; the noise scale s samples
    β / s (``noise=2`` at β = 1 is exact at β = 1/2)."""
    model, params = _independent_model()
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=2)
    assert_exact_with_power(model, params, lambda p, b: draw(model, p, sampler, b))
    betas = np.repeat(np.array([0.5, 2.0], np.float32), CHAINS // 2)
    for b, d in split_by_beta(draw(model, params, sampler, betas, key=1), betas).items():
        ok, report = check(model, scaled(params, b), d)
        assert ok, f"β = {b}: {report}"
        ok, report = check(model, scaled(params, 2.5 - b), d)
        assert not ok, f"β = {b} draws pass at β = {2.5 - b}: {report}"
    hot = draw(model, params, sampler.replace(noise=2.0), key=2)
    ok, report = check(model, scaled(params, 0.5), hot)
    assert ok, report
    assert not check(model, params, hot)[0]


def test_pmp_step_protocol():
    model = pp.models.ising(nx.grid_2d_graph(4, 4, periodic=True))
    params = model.init_params(0)
    params["J"] = jnp.full_like(params["J"], 0.3)
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=30, damping=0.5)
    state = sampler.init(0, params, num_chains=16)
    s1, _ = sampler.step(jax.random.key(1), params, state)
    s2, _ = jax.jit(sampler.step)(jax.random.key(2), params, s1)
    v1, v2 = sampler.values(s1)["s"], sampler.values(s2)["s"]
    assert v1.shape == (16, 16) and v1.dtype == np.int8
    assert set(np.unique(np.asarray(v1))) <= {-1, 1}
    assert not np.array_equal(np.asarray(v1), np.asarray(v2))  # fresh samples each step
    assert s1.residual.shape == (16,) and sampler.converged(s1).dtype == bool
    # same key, same samples: the step is a pure function
    s1b, _ = sampler.step(jax.random.key(1), params, state)
    np.testing.assert_array_equal(np.asarray(s1.x["s"]), np.asarray(s1b.x["s"]))
    # one inverse temperature per sample: beta -> 0 gives (nearly) uniform noise-driven
    # states, a large beta the MAP of the ferromagnet (all equal)
    beta = np.array([1e-3] * 8 + [50.0] * 8, np.float32)
    s3, _ = sampler.step(jax.random.key(3), params, state, beta=beta)
    mag = np.abs(np.asarray(sampler.values(s3)["s"]).mean(1))
    assert np.all(mag[8:] == 1.0) and mag[:8].mean() < 0.6
    with pytest.raises(ValueError, match="noise"):
        pp.samplers.PerturbAndMaxProduct(model, noise=-1.0)


def _trees():
    """Tree-structured factor graphs of every kind, random parameters."""
    yield "ising", pp.models.ising(nx.random_labeled_tree(8, seed=2))
    yield "potts", pp.models.potts(nx.random_labeled_tree(6, seed=3), k=3)
    yield "rbm-star", pp.models.rbm(6, 1)
    fg = pp.FactorGraph()
    c, b = fg.categorical("c", 4, 3), fg.binary("b", 2)
    fg.table([c, c], np.array([[0, 1], [1, 2], [2, 3]]), name="T")
    fg.table([c, b], np.array([[1, 0], [3, 1]]), name="U")
    fg.bias(c)
    fg.bias(b)
    yield "tables", fg.compile()


@pytest.mark.parametrize("which", range(4))
def test_zero_noise_gives_the_map_on_trees(which):
    """``noise=0``: max-product is exact on trees, so every sample is the MAP state (found
    by enumeration), whatever β > 0 and even with ``perturb_factors`` (zero-scale noise)."""
    name, model = list(_trees())[which]
    params = randomize(model, which, 1.0)
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=100, noise=0.0,
                                               perturb_factors=True)
    state, info = sampler.step(1, params, sampler.init(0, params, num_chains=3),
                               beta=np.array([0.5, 1.0, 3.0], np.float32))
    np.testing.assert_array_equal(np.asarray(info["bp_converged"]), 1.0)
    states = enumerate_states(model)
    best = np.argmin(np.asarray(model.energy(params, states)))
    for g, v in sampler.values(state).items():
        np.testing.assert_array_equal(np.asarray(v), np.broadcast_to(
            np.asarray(states[g])[best], v.shape), err_msg=name)


def test_pmp_with_noise_is_biased_as_documented():
    """Elsewhere PMP is an approximation, and the docs say which way it errs: on a
    ferromagnetic chain (a tree: max-product is exact, the bias is the unary
    perturbation's) its samples are colder than p — the mean energy lies far below the
    exact one, which the calibrated check reports."""
    model = pp.models.ising(nx.path_graph(8))
    params = {"J": jnp.full((7,), 0.5), "h": jnp.full((8,), 0.1)}
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=50)
    d = draw(model, params, sampler)
    z = z_scores(model, params, d)
    assert z["energy"][0] < -bound(16), z["energy"]
    assert not check(model, params, d)[0]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_pmp_runs_on_every_factor_kind(name):
    """With every factor perturbed and warm-started messages, on every factor kind."""
    model, params = ZOO[name]()
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=20, perturb_factors=True,
                                               warm_start=True)
    state = sampler.init(0, params, num_chains=8)
    state, _ = sampler.run(jax.random.key(1), params, state, num_steps=3)
    vals = sampler.values(state)
    for g, grp in model.groups.items():
        assert vals[g].shape == (8, grp.size)
        assert set(np.unique(np.asarray(vals[g]))) <= set(grp.values.tolist())
    assert all(np.all(np.isfinite(np.asarray(leaf)))
               for leaf in jax.tree.leaves(state.messages))


def _ising_data(L=10, n_chains=500, seed=0):
    model = pp.models.ising((L, L), periodic=True)
    rng = np.random.default_rng(seed)
    J = rng.uniform(-0.5, 0.5, size=model.param_shapes["J"]).astype(np.float32)
    truth = {"J": jnp.asarray(J), "h": jnp.zeros(L * L)}
    draws = pp.sample(jax.random.key(seed), model, truth, num_chains=n_chains, num_samples=4,
                      num_warmup=500, thin=50)
    return model, J, np.asarray(draws["s"]).reshape(-1, L * L)


@pytest.mark.slow
def test_pmp_learner_recovers_lattice_couplings():
    """10×10 periodic Ising, J ~ U(-0.5, 0.5) (RMSE of J = 0 is 0.30), 2000 Gibbs samples.
    PMP learning reaches RMSE < 0.18 with correlation > 0.95: its samples are colder than
    the model's, so the couplings it fits are shrunk (slope ≈ 0.6 here; see docs)."""
    model, J, data = _ising_data()
    learner = pp.PerturbAndMaxProduct(model, num_samples=100, num_iters=50,
                                      optimizer=optax.adam(0.05), batch_size=100)
    fit = learner.fit(data, num_epochs=30, key=0, progress=False)
    Jf = np.asarray(fit.params["J"])
    rmse = float(np.sqrt(np.mean((Jf - J) ** 2)))
    assert rmse < 0.18, rmse
    assert np.corrcoef(Jf, J)[0, 1] > 0.95
    assert np.all(np.isfinite(fit.history["pseudo_log_likelihood"]))
    assert fit.chains["s"].shape == (100, 100)


def test_pmp_learner_interfaces():
    # RBM: exact positive phase, PMP negative phase, warm-started messages
    model, _ = ZOO["rbm"]()
    data = np.random.default_rng(0).integers(0, 2, size=(60, 6))
    learner = pp.PerturbAndMaxProduct(model, num_samples=16, num_iters=10, warm_start=True,
                                      batch_size=20)
    fit = learner.fit(data, num_epochs=2, key=0, progress=False)
    assert len(fit.history["epoch"]) == 2 and "recon_error" in fit.history
    assert np.all((fit.history["bp_converged"] >= 0) & (fit.history["bp_converged"] <= 1))
    assert isinstance(learner.sampler, pp.samplers.PerturbAndMaxProduct)
    # on a tree max-product converges: every sample of every update counts as converged
    chain = pp.models.ising(nx.path_graph(5))
    spins = np.where(np.random.default_rng(2).random((40, 5)) < 0.5, -1, 1)
    tree_fit = pp.PerturbAndMaxProduct(chain, num_samples=8, num_iters=60, batch_size=20).fit(
        spins, num_epochs=2, key=0, progress=False, mixing_warnings=False)
    np.testing.assert_array_equal(tree_fit.history["bp_converged"], 1.0)
    assert pp.PerturbAndMaxProduct(model, num_chains=7).num_chains == 7
    with pytest.raises(ValueError, match="alias"):
        pp.PerturbAndMaxProduct(model, num_samples=5, num_chains=7)
    # latents that are not conditionally independent: clamped Gibbs positive phase
    fg = pp.FactorGraph()
    v, h = fg.spin("v", 4), fg.spin("h", 3)
    fg.dense(v, h, name="W")
    fg.pairwise(h, h, np.array([[0, 1], [1, 2]]), name="L")
    fg.bias(v)
    model = fg.compile()
    data = np.where(np.random.default_rng(1).random((40, 4)) < 0.5, -1, 1)
    fit = pp.PerturbAndMaxProduct(model, num_samples=8, num_iters=10, batch_size=10).fit(
        {"v": data}, num_epochs=1, key=1, progress=False)
    assert np.all(np.isfinite(np.asarray(fit.params["L"])))


def test_clamped_pmp_conditions_on_the_clamped_group():
    """RBM hidden units are independent given the visible ones, so clamped PMP samples
    p(h | v) exactly (per-unit Gumbel-max): the draws pass the calibrated check against the
    exact conditional (independent units with biases b_h + vW), and the sampler with the
    strongest active coupling dropped, at β × 0.95 or with a +0.1 hidden field fails it."""
    model, params = ZOO["rbm"]()
    # enough damped iterations for the messages of the pinned units to converge (with 5,
    # the hidden fields are still ~3 % short and the check fails: bp_converged says so)
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=20, clamp="v")
    v = np.array([1, 0, 1, 1, 0, 0], np.int8)
    init = {"v": np.tile(v, (CHAINS, 1)), "h": np.zeros((CHAINS, 4), np.int8)}
    fg = pp.FactorGraph()
    fg.bias(fg.binary("h", 4), name="b")
    cond = fg.compile()

    def field(p):
        return np.asarray(p["b_h"]) + v.astype(np.float32) @ np.asarray(p["W"])

    def draws(p, beta=1.0):
        beta = np.full(CHAINS, beta, np.float32)
        d, info = pp.sample(jax.random.key(0), model, p, sampler=sampler, num_samples=SAMPLES,
                            num_warmup=0, beta=beta, init=init, return_info=True)
        np.testing.assert_array_equal(np.asarray(info["bp_converged"]), 1.0)
        np.testing.assert_array_equal(np.asarray(d["v"]), np.broadcast_to(v, d["v"].shape))
        return {"h": d["h"]}

    W = np.abs(np.asarray(params["W"])) * v[:, None]  # couplings to clamped units that are on
    dropped = {k: np.array(x) for k, x in params.items()}
    dropped["W"][np.unravel_index(np.argmax(W), W.shape)] = 0.0
    field_wrong = {**params, "b_h": np.asarray(params["b_h"]) + 0.1}
    truth = {"b": field(params)}
    ok, report = check(cond, truth, draws(params))
    assert ok, report
    for what, d in (("beta x 0.95", draws(params, 0.95)), ("dropped", draws(dropped)),
                    ("field +0.1", draws(field_wrong))):
        ok, report = check(cond, truth, d)
        print(f"{what}: {report}")  # shown with pytest -s: the power of the check
        assert not ok, f"{what}: {report}"
    with pytest.raises(KeyError, match="clamp"):
        pp.samplers.PerturbAndMaxProduct(model, clamp="x")
