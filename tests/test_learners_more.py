"""FPCD, Jarzynski-weighted PCD, pseudo-likelihood, mixing-aware k and weighted data: each
does what it claims, checked against exact answers on small models."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from models_zoo import table_model

import pcdppl as pp
from pcdppl.learn import estimators as est
from pcdppl.learn.extensions import integrated_time


def _rbm_data(seed=0):
    rng = np.random.default_rng(seed)
    model = pp.models.rbm(8, 4)
    true = {k: rng.normal(0, 1.0, s).astype(np.float32) for k, s in model.param_shapes.items()}
    data = np.asarray(pp.sample(seed, model, true, num_chains=50, num_samples=20,
                                thin=10)["v"]).reshape(-1, 8)
    return model, data


def _same(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_fpcd_with_zero_fast_rate_is_pcd_bit_for_bit_and_fast_weights_act_otherwise():
    model, data = _rbm_data()
    kw = dict(num_chains=64, batch_size=50, optimizer=optax.sgd(0.1))
    pcd = pp.PCD(model, **kw).fit(data, 3, key=0, progress=False, mixing_warnings=False)
    zero = pp.FPCD(model, fast_lr=0.0, **kw).fit(data, 3, key=0, progress=False,
                                                  mixing_warnings=False)
    assert _same(pcd.params, zero.params) and _same(pcd.state.chains, zero.state.chains)
    np.testing.assert_array_equal(pcd.history["free_energy_gap"], zero.history["free_energy_gap"])
    fast = pp.FPCD(model, fast_lr=2.0, **kw).fit(data, 3, key=0, progress=False,
                                                  mixing_warnings=False)
    fw = fast.state.extra["ext"][0]
    assert max(float(jnp.abs(v).max()) for v in fw.values()) > 0.01  # the fast weights moved
    assert not _same(pcd.state.chains, fast.state.chains)
    assert not _same(pcd.params, fast.params)
    with pytest.raises(ValueError, match="persistent"):
        pp.FPCD(model, persistent=False)
    with pytest.raises(ValueError, match="fast_decay"):
        pp.FPCD(model, fast_decay=1.0)


def test_jarzynski_weights_track_the_exact_log_partition_function():
    """The weighted chains' running estimate of log Z follows the exact value while the
    parameters move (a plain PCD learner has no such estimate)."""
    model, data = _rbm_data(1)
    learner = pp.JarzynskiPCD(model, num_chains=256, batch_size=50, optimizer=optax.sgd(0.1))
    fit = learner.fit(data, 1, key=1, progress=False, mixing_warnings=False)
    errors = []
    for _ in range(4):
        exact = float(pp.evaluate.log_partition(model, fit.params))
        errors.append(abs(fit.history["log_z"][-1] - exact))
        fit = learner.fit(data, 1, resume=fit, progress=False, mixing_warnings=False)
    assert max(errors) < 0.05, errors
    assert {"ess_fraction", "resampled", "log_z"} <= set(fit.history)
    assert np.all((fit.history["ess_fraction"] > 0) & (fit.history["ess_fraction"] <= 1))
    # weights that never reset drift: a threshold of 1 resamples on every update
    always = pp.JarzynskiPCD(model, num_chains=64, batch_size=50, resample_threshold=1.0)
    assert always.fit(data, 1, key=1, progress=False,
                      mixing_warnings=False).history["resampled"][-1] == 1.0
    # degenerate weights are reported, not silently used
    with pytest.warns(pp.diagnostics.MixingWarning, match="resampled its chains on 100%"):
        always.fit(data, 1, key=1, progress=False, record_every=0)


@pytest.mark.parametrize("kind", ["rbm", "potts_rbm", "potts_lattice", "table"])
def test_energy_is_linear_in_the_parameters(kind):
    """Jarzynski's weight increment uses E_θ'(x) - E_θ(x) = E_(θ'-θ)(x), one evaluation."""
    if kind == "rbm":
        model = pp.models.rbm(6, 3)
    elif kind == "potts_rbm":
        model = pp.models.rbm(n_visible=4, n_hidden=3, visible_states=3)
    elif kind == "potts_lattice":
        model = pp.models.potts((3, 3), 3)
    else:
        model, _ = table_model()
    rng = np.random.default_rng(0)
    p0 = {k: rng.normal(size=s).astype(np.float32) for k, s in model.param_shapes.items()}
    p1 = {k: rng.normal(size=s).astype(np.float32) for k, s in model.param_shapes.items()}
    x = model.blocked.from_values(pp.sample(0, model, p0, num_chains=16, num_samples=1))
    e = jax.jit(model.blocked.energy)  # (eagerly every operation would compile on its own)
    bp = jax.jit(model.blocked.params)
    diff = bp(jax.tree.map(jnp.subtract, p1, p0))
    np.testing.assert_allclose(np.asarray(e(diff, x)), np.asarray(e(bp(p1), x) - e(bp(p0), x)),
                               rtol=1e-5, atol=1e-4)


def _pll_numpy(model, params, x):
    """Mean pseudo-log-likelihood by brute force: every unit's conditional from energies."""
    x = {g: np.asarray(v) for g, v in x.items()}
    total = 0.0
    for g, grp in model.groups.items():
        for i in range(grp.size):
            energies = []
            for value in grp.values:
                y = {h: v.copy() for h, v in x.items()}
                y[g][:, i] = value
                energies.append(np.asarray(model.energy(params, y), np.float64))
            e = np.stack(energies, 1)
            cur = np.argmax(grp.values[None, :] == x[g][:, i:i + 1], axis=1)
            logp = -e - np.logaddexp.reduce(-e, axis=1, keepdims=True)
            total += logp[np.arange(len(cur)), cur]
    return total.mean()


def test_pseudo_likelihood_gradient_is_exact_and_weights_equal_repeated_data():
    model = pp.models.ising((3, 3), periodic=False)
    rng = np.random.default_rng(0)
    params = {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in model.param_shapes.items()}
    x = {"s": (2 * (rng.random((30, 9)) < 0.5) - 1).astype(np.int8)}
    bp = model.blocked.params(params)
    xb = model.blocked.from_values(x)
    np.testing.assert_allclose(float(jnp.mean(est.pseudo_log_likelihood(model, bp, xb))),
                               _pll_numpy(model, params, x), rtol=1e-5)
    # one full-batch SGD step of the learner is the exact gradient of the mean PLL
    lr = 0.1
    learner = pp.PseudoLikelihood(model, optimizer=optax.sgd(lr), batch_size=30, data_init=False)
    fit = learner.fit(x, 1, init_params=params, progress=False)
    grad = jax.grad(lambda p: jnp.mean(est.pseudo_log_likelihood(
        model, model.blocked.params(p), xb)))(params)
    for k in params:
        np.testing.assert_allclose(np.asarray(fit.params[k]) - params[k], lr * np.asarray(grad[k]),
                                   atol=1e-6)
    eps = 1e-3  # ... and that gradient agrees with finite differences of the brute-force PLL
    for i in (0, 5):
        p1 = {k: v.copy() for k, v in params.items()}
        p1["J"][i] += eps
        p0 = {k: v.copy() for k, v in params.items()}
        p0["J"][i] -= eps
        fd = (_pll_numpy(model, p1, x) - _pll_numpy(model, p0, x)) / (2 * eps)
        np.testing.assert_allclose(float(grad["J"][i]), fd, rtol=2e-2, atol=2e-3)
    # integer weights are repeated examples (full batch: the same update)
    w = rng.integers(0, 3, 30)
    w[0] = 1
    rep = {"s": np.repeat(x["s"], w, axis=0)}
    a = pp.PseudoLikelihood(model, optimizer=optax.sgd(lr), batch_size=30, data_init=False).fit(
        x, 1, weights=w, init_params=params, progress=False)
    b = pp.PseudoLikelihood(model, optimizer=optax.sgd(lr), batch_size=len(rep["s"]),
                            data_init=False).fit(rep, 1, init_params=params, progress=False)
    for k in params:
        np.testing.assert_allclose(np.asarray(a.params[k]), np.asarray(b.params[k]), atol=1e-6)


def test_pseudo_likelihood_learns_couplings_and_refuses_latent_groups():
    model = pp.models.ising((4, 4), field=None)
    truth = {"J": np.full(model.param_shapes["J"], 0.3, np.float32)}
    data = np.asarray(pp.sample(0, model, truth, num_chains=40, num_samples=100,
                                thin=5)["s"]).reshape(-1, 16)
    fit = pp.PseudoLikelihood(model, optimizer=optax.adam(0.05), batch_size=100).fit(
        data, 30, key=0, progress=False, validation=data[:200])
    assert np.abs(np.asarray(fit.params["J"]) - 0.3).mean() < 0.05
    assert fit.history["pseudo_log_likelihood"][-1] > fit.history["pseudo_log_likelihood"][0]
    assert np.isfinite(fit.history["val_log_likelihood"][-1]) and fit.chains == {}
    rbm = pp.models.rbm(6, 3)
    with pytest.raises(ValueError, match="latent"):
        pp.PseudoLikelihood(rbm).fit(np.zeros((40, 6), np.int8), 1, progress=False)


def test_integrated_time_of_an_ar1_process():
    """τ = (1+ρ)/(1-ρ) per transition, read from one energy per update of k transitions."""
    rng = np.random.default_rng(0)
    rho, T, C = 0.9, 4000, 40
    z = np.zeros((T, C))
    for t in range(1, T):
        z[t] = rho * z[t - 1] + np.sqrt(1 - rho ** 2) * rng.standard_normal(C)
    exact = (1 + rho) / (1 - rho)  # 19
    iat = jax.jit(integrated_time, static_argnums=1)  # as inside the epoch program
    for k in (1, 4):
        tau_u, tau = iat(jnp.asarray(z[::k], jnp.float32), k)
        assert abs(float(tau) - exact) < 0.2 * exact, (k, float(tau))
    common = z + np.linspace(0, 50, T)[:, None]  # a drift shared by all chains is ignored
    assert abs(float(iat(jnp.asarray(common, jnp.float32), 1)[1]) - exact) < 4


def test_auto_k_follows_the_mixing_time():
    """A slowly mixing model (strong couplings) gets a larger k than a fast one, and the
    history records k and the chains' IAT per epoch."""
    model = pp.models.ising((6, 6), field=None)
    strong = {"J": np.full(model.param_shapes["J"], 0.35, np.float32)}
    data = np.asarray(pp.sample(0, model, strong, num_chains=20, num_samples=40,
                                thin=10)["s"]).reshape(-1, 36)
    kw = dict(num_chains=64, batch_size=20, k="auto", optimizer=optax.sgd(1e-4), k_max=50)
    slow = pp.PCD(model, **kw).fit(data, 3, key=0, init_params=strong, progress=False,
                                   mixing_warnings=False)
    weak = {"J": np.full(model.param_shapes["J"], 0.05, np.float32)}
    fast = pp.PCD(model, **kw).fit(data, 3, key=0, init_params=weak, progress=False,
                                   mixing_warnings=False)
    assert {"k", "iat", "iat_updates"} <= set(slow.history)
    assert slow.history["k"][-1] > fast.history["k"][-1]
    assert slow.history["iat"][-1] > 2 * fast.history["iat"][-1]
    assert int(slow.state.extra["k"]) == int(np.ceil(slow.history["iat"][-1])) or \
        int(slow.state.extra["k"]) == 50
    with pytest.raises(ValueError, match="k_target"):
        pp.PCD(model, k="auto", k_target=0)


def test_weighted_positive_phase_is_the_weighted_mean():
    model, data = _rbm_data()
    params = model.init_params(3)
    w = np.random.default_rng(1).integers(0, 4, len(data))
    x = model.blocked.from_values({"v": data})
    rep = model.blocked.from_values({"v": np.repeat(data, w, axis=0)})
    neg = (x, ("h",))
    g1 = est.gradient(model, params, (x, ("h",)), neg, jnp.asarray(w, jnp.float32))
    g2 = est.gradient(model, params, (rep, ("h",)), neg)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="weights"):
        pp.PCD(model, batch_size=20).fit(data, 1, weights=np.ones(3), progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        pp.PCD(model, batch_size=20).fit(data, 1, weights=-np.ones(len(data)), progress=False)
