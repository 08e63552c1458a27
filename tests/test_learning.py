"""The contrastive learner: gradient against the exact gradient, learning, outputs, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import CompileCounter
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.samplers import ChainState


def exact_nll_grad(model, params, data: dict, latent: bool):
    states = pp.evaluate.enumerate_states(model)

    def nll(p):
        pos = model.free_energy(p, data) if latent else model.energy(p, data)
        return jnp.mean(pos) + jax.nn.logsumexp(-model.energy(p, states))

    return jax.grad(nll)(params)


def equilibrium_state(model, params, num, seed):
    """Independent exact draws from the model, as sampler chains (blocked layout)."""
    states, probs = pp.evaluate.exact_probabilities(model, params)
    idx = np.random.default_rng(seed).choice(len(probs), size=num, p=probs / probs.sum())
    xb, _ = model.to_blocked({g: v[idx] for g, v in states.items()})
    return ChainState(x=xb)


@pytest.mark.parametrize("name", ["ising", "rbm", "potts"])
def test_pcd_gradient_matches_exact_gradient_at_equilibrium(name):
    model, params = ZOO[name]()
    params = {k: v * 0.5 for k, v in params.items()}
    visible = "v" if name == "rbm" else "s"
    rng = np.random.default_rng(0)
    states, probs = pp.evaluate.exact_probabilities(model, params)
    data = {visible: states[visible][rng.integers(0, len(probs), 64)]}
    C = 20_000
    learner = pp.PCD(model, num_chains=C, k=1, optimizer=optax.sgd(1.0), batch_size=64)
    state = learner.init_state(0, data, init_params=params)
    state = state._replace(chains=equilibrium_state(model, params, C, seed=1))
    fit = learner.fit(data, num_epochs=1, resume=state, progress=False)
    estimate = jax.tree.map(lambda a, b: np.asarray(a) - np.asarray(b), params, fit.params)
    exact = exact_nll_grad(model, params, data, latent=name == "rbm")
    tol = 5.0 / np.sqrt(C)  # every sufficient statistic lies in [-1, 1]: std ≤ 1/sqrt(C)
    for k in params:
        np.testing.assert_allclose(estimate[k], np.asarray(exact[k]), atol=tol, err_msg=k)
    # the check has power: a gradient without the negative phase is far off
    assert max(np.abs(np.asarray(exact[k])).max() for k in params) > 5 * tol


def test_latents_that_are_not_conditionally_independent_use_clamped_gibbs():
    """Hidden units with lateral couplings: positive phase by clamped Gibbs; the fit runs,
    improves the exact likelihood and keeps chains of the right shape."""
    fg = pp.FactorGraph()
    v = fg.binary("v", 5)
    h = fg.binary("h", 3)
    fg.bias(v)
    fg.bias(h)
    fg.dense(v, h, name="W", init=pp.graph.factor_graph.normal_init(0.3))
    fg.pairwise(h, h, np.array([[0, 1], [1, 2]]), name="L")
    model = fg.compile()
    assert not model.conditionally_independent(["h"])
    rng = np.random.default_rng(0)
    prototypes = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], np.int8)
    data = prototypes[rng.integers(0, 2, 200)]
    data = np.where(rng.random(data.shape) < 0.05, 1 - data, data).astype(np.int8)
    learner = pp.PCD(model, num_chains=50, optimizer=optax.sgd(0.1), batch_size=20)
    fit = learner.fit(data, num_epochs=30, key=0, progress=False, mixing_warnings=False)
    before = pp.evaluate.log_likelihood(model, learner.init_state(0, data).params, data)
    after = pp.evaluate.log_likelihood(model, fit.params, data)
    assert float(after) > float(before) + 1.0  # measured: -3.46 -> -1.72
    assert fit.chains["h"].shape == (50, 3) and fit.chains["v"].dtype == np.int8


def test_cd_k_and_history():
    model, _ = ZOO["rbm"]()
    data = (np.random.default_rng(0).random((100, 6)) < 0.3).astype(np.int8)
    learner = pp.PCD(model, k=2, persistent=False, batch_size=10)
    fit = learner.fit(data, num_epochs=3, key=1, validation=data[:20], progress=False)
    assert list(fit.history["epoch"]) == [1, 2, 3]
    assert {"time", "free_energy_gap", "recon_error", "val_log_likelihood"} <= set(fit.history)
    assert np.all(np.diff(fit.history["time"]) > 0)
    assert fit.chains["v"].shape == (10, 6)  # CD-k: one chain per example of a minibatch


def test_fully_visible_history_has_pseudo_likelihood_and_resume_continues():
    model, _ = ZOO["ising"]()
    data = {"s": np.where(np.random.default_rng(0).random((60, 9)) < 0.5, 1, -1).astype(np.int8)}
    learner = pp.PCD(model, num_chains=30, batch_size=20)
    fit = learner.fit(data, num_epochs=2, key=0, progress=False)
    assert "pseudo_log_likelihood" in fit.history
    more = learner.fit(data, num_epochs=2, resume=fit, progress=False)
    assert list(more.history["epoch"]) == [3, 4]
    # resuming works on a copy: the fit resumed from stays usable and resumes again, to the
    # same place (the learner state carries the key)
    again = learner.fit(data, num_epochs=2, resume=fit.state, progress=False)
    for name in fit.params:
        assert np.all(np.isfinite(np.asarray(fit.params[name])))
        np.testing.assert_array_equal(np.asarray(again.params[name]),
                                      np.asarray(more.params[name]))


@pytest.mark.slow
def test_rbm_learns_the_digits():
    """16 hidden units, PCD-1: exact test log-likelihood better than −20.5 nats (an
    independent-pixel model scores about −31; sklearn's BernoulliRBM after 500 epochs
    about −20)."""
    d = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(d.shape, 16)
    fit = pp.PCD(model, num_chains=100, optimizer=optax.sgd(0.05), batch_size=20).fit(
        d.train, num_epochs=60, key=0, progress=False)
    ll = float(pp.evaluate.log_likelihood(model, fit.params, d.test))
    assert ll > -20.5, ll


def test_fit_bad_input():
    model, _ = ZOO["rbm"]()
    good = np.zeros((40, 6), np.int8)
    learner = pp.PCD(model, batch_size=20)
    with pytest.raises(ValueError, match="shape|columns|6"):
        learner.fit(np.zeros((40, 5), np.int8), num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="outside"):
        learner.fit(np.full((40, 6), 2), num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        learner.fit(np.full((40, 6), np.nan), num_epochs=1, progress=False)
    with pytest.raises(KeyError, match="'x'"):
        learner.fit({"x": good}, num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        learner.fit(good[:5], num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="num_epochs"):
        learner.fit(good, num_epochs=0, progress=False)
    with pytest.raises(ValueError, match="num_chains"):
        pp.PCD(model, num_chains=0)
    with pytest.raises(TypeError, match="optax"):
        pp.PCD(model, optimizer="adam")


def test_divergence_raises_with_last_good_params():
    model, _ = ZOO["ising"]()
    data = {"s": np.ones((40, 9), np.int8)}
    learner = pp.PCD(model, num_chains=20, optimizer=optax.sgd(np.inf), batch_size=20)
    with pytest.raises(FloatingPointError, match="learning rate") as info:
        learner.fit(data, num_epochs=5, key=0, progress=False)
    assert all(np.all(np.isfinite(v)) for v in info.value.last_params.values())


def test_initial_state_host_and_compiled_paths():
    """Built-in initializers + block Gibbs + a stateless optimiser: the initial state is made
    on the host (nothing compiled); otherwise one compiled program. Both are deterministic in
    the key and give the same structure."""
    rng = np.random.default_rng(0)
    data = (rng.random((40, 12)) < 0.3).astype(np.int8)
    model = pp.models.rbm(12, 5)
    learner = pp.PCD(model, num_chains=30, optimizer=optax.sgd(0.1))
    with CompileCounter() as compiles:
        a, b, c = (learner.init_state(k, data) for k in (0, 0, 1))
    assert compiles.count == 0  # the host path
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    np.testing.assert_array_equal(a.chains.x["v"], b.chains.x["v"])
    assert not np.array_equal(a.params["W"], c.params["W"])
    assert a.chains.x["v"].dtype == np.int8 and a.chains.x["h"].shape == (5, 30)
    assert set(np.unique(a.chains.x["v"])) == {0, 1}
    assert 0.005 < float(np.std(a.params["W"])) < 0.02  # N(0, 0.01²), 60 draws
    np.testing.assert_allclose(a.params["b_v"], pp.learn.data_bias_values(
        model, {"v": data})["b_v"])
    assert jnp.issubdtype(a.key.dtype, jax.dtypes.prng_key)

    fg = pp.FactorGraph()  # a user initializer (a callable) takes the compiled path
    v, h = fg.binary("v", 12), fg.binary("h", 5)
    fg.dense(v, h, name="W", init=lambda key, shape, dtype: 0.01 * jax.random.normal(key, shape))
    fg.bias(v, name="b_v")
    fg.bias(h, name="b_h")
    other = pp.PCD(fg.compile(), num_chains=30, optimizer=optax.adam(1e-3))
    with CompileCounter() as compiles:
        s = other.init_state(0, data)
    assert compiles.count > 0  # the compiled path
    spin = pp.PCD(pp.models.ising((3, 4)), num_chains=30, optimizer=optax.adam(1e-3))
    with CompileCounter() as compiles:
        t = spin.init_state(0, {"s": 2 * data - 1})  # an optimiser with state: compiled too
    assert compiles.count > 0 and set(np.unique(t.chains.x["s"])) == {-1, 1}
    assert jax.tree.structure(s.chains) == jax.tree.structure(a.chains)
    assert jax.tree.structure(s.params) == jax.tree.structure(a.params)
    for lrn, st in ((learner, a), (other, s)):  # both kinds of state train
        fit = lrn.fit(data, 1, resume=st, progress=False)
        assert np.all(np.isfinite(fit.history["free_energy_gap"]))
