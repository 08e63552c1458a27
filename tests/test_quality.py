"""Moment matching of sequence models: frequencies and connected correlations against an
explicit computation, perfect agreement for the same data, weights, and the CLI report."""

import numpy as np
import pytest

import pcdppl as pp


def test_moments_against_explicit_sums_and_weights():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (40, 5))
    w = rng.random(40)
    f, c = pp.evaluate.quality.moments(x, 3, w)
    wn = w / w.sum()
    for i, j in [(0, 1), (2, 4)]:
        for a in range(3):
            assert abs(f[i, a] - wn @ (x[:, i] == a)) < 1e-6
            for b in range(3):
                pair = wn @ ((x[:, i] == a) & (x[:, j] == b))
                idx = [k for k, (p, q) in enumerate(zip(*np.triu_indices(5, 1), strict=True))
                       if (p, q) == (i, j)][0]
                assert abs(c[idx, a, b] - (pair - f[i, a] * f[j, b])) < 1e-6
    same = pp.evaluate.moment_match(x, x, weights=w, sample_weights=w)
    assert same.single_site == pytest.approx(1.0) and same.pair == pytest.approx(1.0)
    spins = pp.evaluate.moment_match(2 * (x > 0) - 1, 2 * (x > 0) - 1)
    assert spins.pair == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sites"):
        pp.evaluate.moment_match(x, x[:, :4])


def test_a_fitted_potts_model_reproduces_the_moments_better_than_its_start():
    model = pp.models.potts(pp.models.lattice_edges((4,), periodic=False), k=3, num_nodes=4)
    rng = np.random.default_rng(1)
    true = {"J": np.full(3, 1.2, np.float32), "h": rng.normal(0, 1, (4, 3)).astype(np.float32)}
    data = np.asarray(pp.sample(0, model, true, num_chains=50, num_samples=40, thin=5)["s"]
                      ).reshape(-1, 4)
    model_draws = pp.sample(1, model, true, num_chains=50, num_samples=40, thin=5)["s"]
    start_draws = pp.sample(1, model, model.init_params(0), num_chains=50, num_samples=40)["s"]
    good = pp.evaluate.moment_match(data, model_draws, num_states=3)
    bad = pp.evaluate.moment_match(data, start_draws, num_states=3)
    assert good.single_site > 0.95 and good.pair > 0.9
    assert bad.single_site < good.single_site and bad.pair < good.pair


def test_weighted_log_likelihood_is_the_weighted_mean():
    model = pp.models.rbm(5, 3)
    params = model.init_params(2)
    x = (np.random.default_rng(3).random((12, 5)) < 0.5).astype(np.int8)
    w = np.arange(12.0)
    per = np.asarray(pp.evaluate.log_likelihood(model, params, x, per_example=True))
    got = float(pp.evaluate.log_likelihood(model, params, x, weights=w))
    assert got == pytest.approx(float((w * per).sum() / w.sum()), rel=1e-5)
    with pytest.raises(ValueError, match="weights"):
        pp.evaluate.log_likelihood(model, params, x, weights=-w)
