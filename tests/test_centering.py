"""Centered gradients: the update is the gradient in the centered parametrization mapped
back to pcdppl's parameters; zero offsets leave the update unchanged bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pcdppl as pp
from pcdppl.learn.centering import Centering


def _rbm(n_v=5, n_h=3, q=None, seed=0):
    model = pp.models.rbm(n_v, n_h, visible_states=q)
    rng = np.random.default_rng(seed)
    return model, {k: jnp.asarray(rng.normal(0, 0.5, s), jnp.float32)
                   for k, s in model.param_shapes.items()}


def _nll(model, params, data):
    states = pp.evaluate.enumerate_states(model)
    return (jnp.mean(model.free_energy(params, data))
            + jax.nn.logsumexp(-model.energy(params, states)))


def test_centered_update_is_the_centered_gradient_mapped_back():
    model, params = _rbm()
    data = {"v": (np.random.default_rng(1).random((30, 5)) < 0.6).astype(np.int8)}
    x = model.blocked.from_values(data)
    hidden_means = {"h": jnp.full((3, 30), 0.3, jnp.float32)}
    cen = Centering(offset_rate=1.0)  # the offsets are this minibatch's means
    extra, _ = cen.init(None, model, params, None)
    g_std = jax.grad(lambda p: _nll(model, p, data))(params)
    g_cen, extra = cen.transform_grads(model, g_std, extra, {**x, **hidden_means}, None)
    mu = jnp.asarray(data["v"].mean(0), jnp.float32)
    lam = jnp.full((3,), 0.3, jnp.float32)

    def nll_centered(pc):  # θ_std from the centered parameters
        W = pc["W"]
        return _nll(model, {"W": W, "b_v": pc["b_v"] - W @ lam, "b_h": pc["b_h"] - W.T @ mu},
                    data)

    pc = {"W": params["W"], "b_v": params["b_v"] + params["W"] @ lam,
          "b_h": params["b_h"] + params["W"].T @ mu}
    gc = jax.grad(nll_centered)(pc)
    expect = {"W": gc["W"], "b_v": gc["b_v"] - gc["W"] @ lam, "b_h": gc["b_h"] - gc["W"].T @ mu}
    for k in params:
        np.testing.assert_allclose(np.asarray(g_cen[k]), np.asarray(expect[k]), atol=1e-5)
    assert not np.allclose(np.asarray(g_cen["W"]), np.asarray(g_std["W"]), atol=1e-3)


def test_zero_offsets_give_the_uncentered_update_bit_for_bit():
    model, params = _rbm(q=3)
    g = {k: jnp.asarray(np.random.default_rng(2).normal(size=v.shape), jnp.float32)
         for k, v in params.items()}
    cen = Centering(0.5)
    extra, _ = cen.init(None, model, params, None)
    zeros = {"v": jnp.zeros((5, 4), jnp.int8), "h": jnp.zeros((3, 4), jnp.float32)}
    out, _ = cen.transform_grads(model, g, extra, zeros, None)  # v = 0 is state 0, not zeros
    assert not np.array_equal(np.asarray(out["W"]), np.asarray(g["W"]))
    model2, params2 = _rbm()
    g2 = {k: jnp.asarray(np.random.default_rng(3).normal(size=v.shape), jnp.float32)
          for k, v in params2.items()}
    extra2, _ = cen.init(None, model2, params2, None)
    zeros2 = {"v": jnp.zeros((5, 4), jnp.int8), "h": jnp.zeros((3, 4), jnp.float32)}
    out2, _ = cen.transform_grads(model2, g2, extra2, zeros2, None)
    for k in g2:
        np.testing.assert_array_equal(np.asarray(out2[k]), np.asarray(g2[k]))


@pytest.mark.parametrize("q", [None, 4])
def test_centered_learners_fit(q):
    model, true = _rbm(6, 4, q=q, seed=4)
    data = np.asarray(pp.sample(0, model, true, num_chains=30, num_samples=10, thin=10)["v"]
                      ).reshape(-1, 6)
    ll0 = float(pp.evaluate.log_likelihood(model, model.init_params(0), data))
    for learner in (pp.PCD(model, centered=True, num_chains=50, batch_size=30,
                           optimizer=optax.sgd(0.1)),
                    pp.FPCD(model, centered=True, num_chains=50, batch_size=30)):
        fit = learner.fit(data, 10, key=0, progress=False, mixing_warnings=False)
        assert float(pp.evaluate.log_likelihood(model, fit.params, data)) > ll0
        assert int(fit.state.extra["ext"][0]["steps"]) == 10 * (len(data) // 30)
    with pytest.raises(ValueError, match="offset_rate"):
        pp.PCD(model, centered=True, offset_rate=0.0)
