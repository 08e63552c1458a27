"""Perturb-and-max-product: the sampler protocol, exactness where PMP is exact, the
learner on a lattice Ising model."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pytest
from helpers import empirical_tv, tv_bound
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.evaluate import enumerate_states


def _independent_model():
    fg = pp.FactorGraph()
    fg.bias(fg.spin("a", 2))
    fg.bias(fg.binary("b", 2))
    fg.bias(fg.categorical("c", 1, 3))
    m = fg.compile()
    params = {"b_a": jnp.array([0.8, -1.5]), "b_b": jnp.array([0.3, 2.0]),
              "b_c": jnp.array([[0.5, -0.5, 1.2]])}
    return m, params


def test_pmp_is_exact_for_independent_units():
    """With unary perturbation only, the Gumbel-max trick makes PMP exact when units are
    independent: the draws must match the enumerated distribution."""
    model, params = _independent_model()
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=2)
    draws = pp.sample(jax.random.key(0), model, params, sampler=sampler, num_chains=500,
                      num_samples=40, num_warmup=0)
    tv, S = empirical_tv(model, params, draws)
    bound = tv_bound(S, 500 * 40, slack=2.0)  # draws are independent
    assert tv < bound, f"TV {tv:.4f} ≥ {bound:.4f}"
    wrong = {k: -v for k, v in params.items()}
    assert empirical_tv(model, wrong, draws)[0] > bound


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


def test_zero_noise_gives_the_map():
    model = pp.models.ising(nx.random_labeled_tree(8, seed=2))
    rng = np.random.default_rng(0)
    params = {n: jnp.asarray(rng.standard_normal(s), jnp.float32)
              for n, s in model.param_shapes.items()}
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=100, noise=0.0)
    state, _ = sampler.step(1, params, sampler.init(0, params, num_chains=3))
    states = enumerate_states(model)
    best = states["s"][np.argmax(-np.asarray(model.energy(params, states)))]
    for row in np.asarray(sampler.values(state)["s"]):
        np.testing.assert_array_equal(row, best)


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("perturb_factors", [False, True])
def test_pmp_runs_on_every_factor_kind(name, perturb_factors):
    model, params = ZOO[name]()
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=20,
                                               perturb_factors=perturb_factors,
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
    p(h | v) exactly (per-unit Gumbel-max): compare with the exact conditional."""
    model, params = ZOO["rbm"]()
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=5, clamp="v")
    v = np.array([[1, 0, 1, 1, 0, 0]] * 4000, np.int8)
    state = sampler.init(0, params, values={"v": v, "h": np.zeros((4000, 4), np.int8)})
    state, _ = sampler.step(1, params, state)
    vals = sampler.values(state)
    np.testing.assert_array_equal(np.asarray(vals["v"]), v)
    p_on = jax.nn.sigmoid(params["b_h"] + v[0].astype(np.float32) @ params["W"])
    emp = np.asarray(vals["h"]).mean(0)
    assert np.all(np.abs(emp - np.asarray(p_on)) < 4 * np.sqrt(0.25 / 4000)), (emp, p_on)
    with pytest.raises(KeyError, match="clamp"):
        pp.samplers.PerturbAndMaxProduct(model, clamp="x")
