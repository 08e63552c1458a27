"""Exact evaluation against brute-force enumeration in NumPy."""

import jax
import numpy as np
import numpy_reference as ref
import pytest
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.evaluate import IntractableError


def brute_log_z(name, params):
    """``(log Z, states, E)`` of a zoo model by the independent NumPy enumeration."""
    r = ref.ZOO[name]()
    states = ref.states(r)
    E = -ref.neg_energy(r, params, states)
    return ref.logsumexp(-E), states, E


@pytest.mark.parametrize("name", sorted(ZOO))
def test_log_partition_matches_brute_force(name):
    model, params = ZOO[name]()
    expected, _, _ = brute_log_z(name, params)
    assert float(pp.evaluate.log_partition(model, params)) == pytest.approx(expected, rel=1e-5)


def test_rbm_log_likelihood_sums_hidden_units_out():
    model, params = ZOO["rbm"]()
    log_z, states, E = brute_log_z("rbm", params)
    data = np.array([[0, 1, 1, 0, 1, 0], [1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]], np.int8)
    expected = []
    for v in data:
        rows = np.all(states["v"] == v, axis=1)
        e = -E[rows]
        expected.append(e.max() + np.log(np.exp(e - e.max()).sum()) - log_z)
    ll = pp.evaluate.log_likelihood(model, params, data, per_example=True)
    np.testing.assert_allclose(np.asarray(ll), expected, rtol=1e-5)
    assert float(pp.evaluate.log_likelihood(model, params, data)) == pytest.approx(
        np.mean(expected), rel=1e-5)


def test_fully_visible_log_likelihood():
    model, params = ZOO["potts"]()
    log_z, states, E = brute_log_z("potts", params)
    idx = np.array([0, 7, 100, 242])
    data = {"s": states["s"][idx]}
    ll = pp.evaluate.log_likelihood(model, params, data, per_example=True)
    np.testing.assert_allclose(np.asarray(ll), -E[idx] - log_z, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_exact_probabilities_match_numpy(name):
    """``exact_probabilities`` lists every joint state once, in the documented order (first
    unit of the first group fastest), each with its probability ``exp(-E) / Z`` computed in
    NumPy from the parameters (tests/numpy_reference.py), not through pcdppl's energy."""
    model, params = ZOO[name]()
    r = ref.ZOO[name]()
    states, probs = pp.evaluate.exact_probabilities(model, params)
    code, place = 0, 1
    for g, (values, n) in r.groups.items():
        idx = ref.index_of(r, g, states[g].astype(np.int64))
        assert np.array_equal(np.asarray(values)[idx], states[g])  # valid values only
        code = code + idx @ (place * len(values) ** np.arange(n))
        place *= len(values) ** n
    np.testing.assert_array_equal(code, np.arange(place))  # each state once, in order
    e = ref.neg_energy(r, params, states)
    expected = np.exp(e - ref.logsumexp(e))
    assert probs.shape == (place,)
    np.testing.assert_allclose(probs, expected, rtol=2e-5, atol=1e-9)


def test_digits_sized_rbm_enumerates_the_hidden_side(chunk_spy):
    """64 visible × 16 hidden: only the 2^16 hidden states are enumerated (in two chunks of the
    default size); log Z and log-likelihoods equal NumPy's, which sums the visible units
    analytically for every hidden state, ``log Z = logsumexp_h [b_h·h + Σ_i softplus(b_v + Wh)_i]``,
    and ``log p(v) = b_v·v + Σ_j softplus(b_h + vW)_j - log Z``."""
    model = pp.models.rbm(64, 16)
    params = model.init_params(jax.random.key(0))
    params = {**params, "W": params["W"] * 100,
              "b_v": np.linspace(-1, 1, 64, dtype=np.float32),
              "b_h": np.linspace(0.5, -0.5, 16, dtype=np.float32)}
    W, b_v, b_h = (np.asarray(params[k], np.float64) for k in ("W", "b_v", "b_h"))
    h = (np.arange(1 << 16)[:, None] >> np.arange(16)) & 1
    log_z = ref.logsumexp(h @ b_h + np.logaddexp(0, b_v + h @ W.T).sum(1))
    spy = chunk_spy()  # records only
    got = float(pp.evaluate.log_partition(model, params))
    assert spy.calls == [("log_partition", 1 << 16, 2)]
    assert got == pytest.approx(log_z, rel=2e-6)
    data = (np.random.default_rng(0).random((5, 64)) < 0.3).astype(np.int8)
    expected = data @ b_v + np.logaddexp(0, b_h + data @ W).sum(1) - log_z
    ll = pp.evaluate.log_likelihood(model, params, data, log_z=got, per_example=True)
    np.testing.assert_allclose(np.asarray(ll), expected, rtol=2e-6)


def test_too_large_models_raise_a_clear_error():
    model = pp.models.ising((8, 8))  # 2^64 states, nothing conditionally independent enough
    with pytest.raises(IntractableError, match=r"2\^.*states"):
        pp.evaluate.log_partition(model, model.init_params(0))
    rbm = pp.models.rbm(40, 40)
    with pytest.raises(IntractableError, match="max_states"):
        pp.evaluate.log_partition(rbm, rbm.init_params(0))


def test_log_likelihood_rejects_bad_data():
    model, params = ZOO["rbm"]()
    with pytest.raises(ValueError, match="outside"):
        pp.evaluate.log_likelihood(model, params, np.full((2, 6), 3, np.int8))
    with pytest.raises(ValueError, match="shape"):
        pp.evaluate.log_likelihood(model, params, np.zeros((2, 5), np.int8))
    with pytest.raises(ValueError, match="NaN"):
        pp.evaluate.log_likelihood(model, params, np.full((2, 6), np.nan))
