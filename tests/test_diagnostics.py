"""Mixing diagnostics: estimators against ArviZ, stuck chains, the equilibrium test, fit records."""

import warnings

import arviz as az
import jax
import networkx as nx
import numpy as np
import optax
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pcdppl as pp
from pcdppl.diagnostics import MixingWarning, convergence, mixing_problems


def _ar1(rng, chains, draws, phi, event=()):
    e = rng.standard_normal((chains, draws, *event))
    x = np.zeros_like(e)
    for t in range(draws):
        x[:, t] = (phi * x[:, t - 1] if t else 0) + e[:, t]
    return x


@pytest.mark.parametrize("seed", range(6))
def test_ess_rhat_mcse_agree_with_arviz(seed):
    rng = np.random.default_rng(seed)
    chains, draws = int(rng.integers(2, 6)), int(rng.integers(8, 400))
    x = _ar1(rng, chains, draws, rng.uniform(-0.4, 0.97), (3,))
    x[..., 1] += rng.normal(0, 0.5, (chains, 1))  # chains that disagree
    x[..., 2] = np.round(x[..., 2])  # ties, as for discrete statistics
    dt = az.from_dict({"posterior": {"theta": x}})
    for method in ("bulk", "tail", "mean"):
        ref = az.ess(dt, method=method)["theta"].values
        np.testing.assert_allclose(convergence.ess(x, method), ref, rtol=1e-7)
    np.testing.assert_allclose(convergence.rhat(x), az.rhat(dt)["theta"].values, rtol=1e-7)
    np.testing.assert_allclose(convergence.mcse(x), az.mcse(dt)["theta"].values, rtol=1e-7)


def test_iat_of_ar1_matches_theory():
    phi = 0.8
    x = _ar1(np.random.default_rng(0), 8, 4000, phi)
    tau = convergence.integrated_autocorr_time(x)
    assert abs(tau - (1 + phi) / (1 - phi)) < 0.15 * (1 + phi) / (1 - phi)
    acf = convergence.autocorrelation(x, max_lag=3)
    np.testing.assert_allclose(acf, phi ** np.arange(4), atol=0.03)


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_ess_of_constructed_chains_matches_theory(phi):
    """Independent draws: ESS ≈ number of draws; AR(1) chains: ESS ≈ N (1 - φ) / (1 + φ), and
    R-hat ≈ 1 for chains of one distribution. Antithetic chains (φ < 0) beat independence."""
    rng = np.random.default_rng(0)
    x = _ar1(rng, 4, 2000, phi)
    for method in ("bulk", "mean"):
        assert convergence.ess(x, method) / x.size == pytest.approx((1 - phi) / (1 + phi),
                                                                    rel=0.1)
    assert abs(convergence.rhat(x) - 1) < 0.01
    assert convergence.ess(_ar1(rng, 4, 2000, -0.5), "bulk") > 2 * x.size


def test_stuck_chain_is_flagged():
    rng = np.random.default_rng(1)
    ok = _ar1(rng, 4, 400, 0.5)
    assert mixing_problems({"energy": ok}) == []
    frozen = ok.copy()
    frozen[2] = 1.7  # one chain never moves
    assert any("energy" in p and "frozen" in p for p in mixing_problems({"energy": frozen}))
    offset = ok.copy()
    offset[0] += 3.0  # one chain stuck in another mode, moving within it
    msgs = mixing_problems({"energy": ok, "mean_v": offset})
    assert len(msgs) == 1 and msgs[0].startswith("mean_v: R-hat")
    slow = _ar1(rng, 4, 400, 0.999)  # moves, but ESS per chain collapses
    assert any("ESS per chain" in p or "R-hat" in p for p in mixing_problems({"m": slow}))


def test_mixing_check_thins_long_recordings():
    rng = np.random.default_rng(2)
    ok = _ar1(rng, 4, 4000, 0.5)
    offset = ok.copy()
    offset[0] += 3.0
    frozen = ok.copy()
    frozen[1, 2000:] = 0.25  # frozen over the whole window (the last half)
    nearly = frozen.copy()
    nearly[1, 2001] = 0.3  # moves once, at a draw that the thinning (every 40th) skips
    msgs = mixing_problems({"energy": ok, "mean_v": offset, "mean_h": frozen, "m": nearly},
                           max_draws=50)
    assert [m.split(":")[0] for m in msgs] == ["mean_v", "mean_h", "m"]
    assert msgs[0].startswith("mean_v: R-hat")
    assert "1 of 4 chains frozen over the last 2000 draws" in msgs[1]
    assert "frozen" not in msgs[2]  # the frozen-chain check sees every draw
    slow = _ar1(rng, 4, 4000, 0.9999)
    msg = mixing_problems({"m": slow}, max_draws=100)
    assert msg and ("R-hat" in msg[0] or "(thinned by 20)" in msg[0])
    for bad in (0, 3, 2.5, "10"):
        with pytest.raises(ValueError, match="max_draws"):
            mixing_problems({"energy": ok}, max_draws=bad)


def _digits_rbm():
    data = pp.data.load_digits(threshold=8)
    return data, pp.models.rbm(data.shape, 8)


@pytest.mark.slow
def test_fit_records_chains_as_datatree():
    data, model = _digits_rbm()
    learner = pp.PCD(model, num_chains=20, batch_size=50)
    nb, every = len(data.train) // 50, 4
    # recordings at steps every-1, 2*every-1, ... of each epoch: the last one is the epoch's
    # last step, so the last recording of the fit is of its final chains
    assert (nb - 1) % every == every - 1, nb
    fit = learner.fit(data.train, num_epochs=3, key=0, progress=False, record_every=every,
                      track_units={"v": [0, 10, 63], "h": [2]}, mixing_warnings=False)
    idata = fit.diagnostics()
    post = idata["posterior"]
    per_epoch = len(range(every - 1, nb, every))
    assert dict(post.sizes) == {"chain": 20, "draw": 3 * per_epoch, "v_unit": 3, "h_unit": 1}
    assert set(post.data_vars) == {"energy", "mean_v", "mean_h", "logodds_v", "logodds_h"}
    assert list(post["v_unit"].values) == [0, 10, 63]
    for g in ("v", "h"):  # the per-chain means of the last recording are the final chains'
        final = np.asarray(fit.chains[g], float).mean(axis=1)
        np.testing.assert_allclose(post[f"mean_{g}"].values[:, -1], final, atol=1e-6)
    assert np.all(np.isfinite(post["energy"].values))
    table = pp.diagnostics.summary(idata)
    assert isinstance(table, pd.DataFrame)
    assert {"ess_bulk", "ess_tail", "r_hat", "mcse_mean"} <= set(table.columns)
    own = pp.diagnostics.summary(idata, use_arviz=False)
    np.testing.assert_allclose(own.loc["energy", "ess_bulk"], table.loc["energy", "ess_bulk"],
                               rtol=1e-3)
    # resuming appends to the recording
    fit2 = learner.fit(data.train, num_epochs=1, resume=fit, progress=False, record_every=every,
                       track_units={"v": [0, 10, 63], "h": [2]}, mixing_warnings=False)
    assert fit2.diagnostics()["posterior"].sizes["draw"] == 4 * per_epoch
    assert fit.diagnostics()["posterior"].sizes["draw"] == 3 * per_epoch  # left unchanged
    off = learner.fit(data.train, num_epochs=1, key=0, progress=False, record_every=0)
    with pytest.raises(ValueError, match="record_every"):
        off.diagnostics()
    with pytest.raises(ValueError, match="record_every"):
        learner.fit(data.train, num_epochs=1, progress=False, record_every=-2)
    with pytest.raises(KeyError, match="track_units"):
        learner.fit(data.train, num_epochs=1, progress=False, track_units={"x": [0]})


class _RatedGibbs(pp.samplers.BlockGibbs):
    """Block Gibbs that also reports per-chain floats in its info, as MH samplers do."""

    def transition(self, key, model, bparams, state, beta):
        x = self.sweep(key, model, bparams, state.x, beta)
        changed = sum(jax.numpy.mean(x[g] != state.x[g], axis=0) for g in x) / len(x)
        info = {"accept_rate": changed.astype(jax.numpy.float32),
                "energy": model.blocked.energy(bparams, x)}
        return pp.samplers.ChainState(x), info


def test_sampler_info_becomes_sample_stats():
    data, model = _digits_rbm()
    learner = pp.PCD(model, num_chains=10, batch_size=100, sampler=_RatedGibbs(model))
    fit = learner.fit(data.train, num_epochs=2, key=0, progress=False, record_every=2,
                      mixing_warnings=False)
    stats = fit.diagnostics()["sample_stats"]
    # a statistic called "energy" is renamed: ArviZ reads sample_stats.energy as HMC energy
    assert set(stats.data_vars) == {"accept_rate", "sampler_energy"}
    rate = stats["accept_rate"].values
    assert rate.shape[0] == 10 and 0 < rate.mean() < 1


@pytest.mark.slow
def test_fit_warns_when_chains_are_stuck():
    data, model = _digits_rbm()
    frozen = pp.samplers.BlockGibbs(model, clamp=("v", "h"))  # chains can never move
    learner = pp.PCD(model, num_chains=16, batch_size=50, sampler=frozen)
    with pytest.warns(MixingWarning, match="mean_v: .*frozen"):
        learner.fit(data.train, num_epochs=2, key=0, progress=False, record_every=1)
    learner = pp.PCD(model, num_chains=16, batch_size=50, k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixingWarning)
        learner.fit(data.train, num_epochs=2, key=0, progress=False, record_every=1)


def _ising(J):
    m = pp.models.ising(nx.grid_2d_graph(8, 8, periodic=True))
    return m, {"J": np.full(m.param_shapes["J"], J, np.float32),
               "h": np.zeros(m.param_shapes["h"], np.float32)}


def test_equilibrium_test_passes_on_an_equilibrated_model():
    model, params = _ising(0.2)  # well above the critical temperature (J_c ≈ 0.44)
    data = np.ones((40, 64), np.int8)  # an atypical start: all spins up
    rep = pp.diagnostics.mixing(model, params, 0, num_chains=32, num_samples=400, data=data)
    assert rep.equilibrium and rep.converged, rep
    assert 1 <= rep.iat_energy < 3
    assert list(rep.idata["posterior"]["start"].values[[0, -1]]) == ["data", "random"]
    assert (rep.table["r_hat"] < 1.01).all()


def test_equilibrium_test_fails_on_an_under_mixed_model():
    model, params = _ising(1.0)  # deep in the ordered phase: single-spin Gibbs cannot flip
    data = np.ones((40, 64), np.int8)
    rep = pp.diagnostics.mixing(model, params, 0, num_chains=32, num_samples=400, data=data)
    assert rep.equilibrium is False and not rep.converged
    assert any(p.startswith("mean_s: data-started") for p in rep.problems), rep.problems
    assert "NOT MIXING" in repr(rep)


def test_mixing_without_data_and_bad_input():
    model, params = _ising(0.2)
    rep = pp.diagnostics.mixing(model, params, 1, num_chains=4, num_samples=50, num_warmup=0)
    assert rep.equilibrium is None and "p_value" not in rep.table
    with pytest.raises(ValueError, match="num_samples"):
        pp.diagnostics.mixing(model, params, 0, num_samples=2)
    with pytest.raises(ValueError, match="sampler"):
        other, _ = _ising(0.3)
        pp.diagnostics.mixing(model, params, 0, sampler=pp.samplers.BlockGibbs(other))
    with pytest.raises(TypeError, match="DataTree"):
        pp.diagnostics.summary(np.zeros(3), use_arviz=False)


@pytest.mark.slow
def test_learning_curves_unchanged_by_recording():
    """Recording reads the chains; it must not change the fit."""
    data, model = _digits_rbm()
    a = pp.PCD(model, num_chains=10, batch_size=100, optimizer=optax.sgd(0.05)).fit(
        data.train, num_epochs=2, key=3, progress=False, record_every=0)
    b = pp.PCD(model, num_chains=10, batch_size=100, optimizer=optax.sgd(0.05)).fit(
        data.train, num_epochs=2, key=3, progress=False, record_every=1,
        mixing_warnings=False)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-6, atol=1e-7)


def test_mixing_plots_are_written(tmp_path):
    model, params = _ising(0.2)
    rep = pp.diagnostics.mixing(model, params, 0, num_chains=4, num_samples=60, num_warmup=0,
                                data=np.ones((4, 64), np.int8))
    paths = pp.diagnostics.plot_mixing(rep.idata, str(tmp_path), prefix="m_",
                                       var_names=["energy", "mean_s"])
    assert [p.rsplit("/", 1)[1] for p in paths] == ["m_trace.png", "m_rank.png",
                                                    "m_autocorr.png", "m_ess_evolution.png"]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    pc = pp.diagnostics.plot_trace(rep.idata, var_names=["energy"])
    assert hasattr(pc, "savefig")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 40), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_average_ranks_equal_scipy_rankdata(rows, n, levels, seed):
    """The rank normalisation's ranks (ties averaged) equal scipy.stats.rankdata's."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    a = rng.integers(0, levels, size=(rows, n)).astype(np.float64)  # many ties
    a[:, : n // 3] += rng.normal(size=(rows, n // 3))  # and some distinct values
    np.testing.assert_array_equal(convergence.average_ranks(a),
                                  rankdata(a, method="average", axis=-1))


def test_importing_pcdppl_does_not_import_scipy_stats():
    """scipy.stats takes ~1 s to import; pcdppl's diagnostics do not need it."""
    import os
    import subprocess
    import sys

    code = "import sys, pcdppl; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PCDPPL_CACHE_DIR": "off"})
    assert out.stdout.strip().splitlines()[-1] == "False"
