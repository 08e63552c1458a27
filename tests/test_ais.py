"""AIS against exact enumeration of log Z on RBMs small enough to enumerate."""

import jax.numpy as jnp
import numpy as np
import numpy_reference as ref
import pytest
from models_zoo import ZOO

import pcdppl as pp


def _rbm(n_v, n_h, seed, scale=0.5, visible="binary", hidden="binary"):
    m = pp.models.rbm(n_v, n_h, visible=visible, hidden=hidden)
    rng = np.random.default_rng(seed)
    p = {n: jnp.asarray(rng.standard_normal(s) * (scale if n == "W" else 0.5), jnp.float32)
         for n, s in m.param_shapes.items()}
    return m, p


@pytest.mark.slow
@pytest.mark.parametrize("seed,visible,hidden", [(0, "binary", "binary"), (1, "binary", "binary"),
                                                 (2, "spin", "binary"), (3, "binary", "spin")])
def test_ais_matches_exact_within_stderr(seed, visible, hidden):
    m, p = _rbm(18, 10, seed, visible=visible, hidden=hidden)
    exact = float(pp.evaluate.log_partition(m, p))
    data = pp.sample(seed, m, p, num_chains=50, num_samples=4, num_warmup=200)["v"].reshape(-1, 18)
    res = pp.evaluate.ais(m, p, seed, num_chains=400, betas=1000, data=data)
    log_z, se = res
    assert se > 0 and res.num_betas == 1000 and res.num_chains == 400
    # 4 standard errors plus the float32 accumulation error of 1,000 increments
    assert abs(log_z - exact) < 4 * se + 1e-3, (log_z, exact, se)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k == "table" else k
                                  for k in sorted(ZOO)])  # table: a long compilation
def test_ais_matches_numpy_log_z_on_every_model_kind(kind):
    """Ising, Potts, RBM and the table-factor model (every variable and factor kind): AIS with
    the default sampler and a uniform base model lands within 3 reported standard errors of
    the NumPy enumeration, for three fixed seeds; the check has power (the standard error is
    small and the base model's log Z is far off)."""
    model, params = ZOO[kind]()
    exact = ref.log_partition(ref.ZOO[kind](), params)
    for seed in range(3):
        res = pp.evaluate.ais(model, params, seed, num_chains=400, betas=1000)
        assert res.stderr < 0.03 and abs(res.log_z_base - exact) > 30 * res.stderr, res
        assert abs(res.log_z - exact) < 3 * res.stderr, (seed, res.log_z, exact, res.stderr)


@pytest.mark.slow
def test_ais_error_shrinks_with_chains_and_temperatures():
    m, p = _rbm(24, 12, 5, scale=1.0)
    exact = float(pp.evaluate.log_partition(m, p))
    errs, ses = {}, {}
    for K, M in ((30, 50), (3000, 50), (3000, 800)):
        rs = [pp.evaluate.ais(m, p, s, num_chains=M, betas=K) for s in range(3)]
        errs[K, M] = np.mean([abs(r.log_z - exact) for r in rs])
        ses[K, M] = np.mean([r.stderr for r in rs])
    # more temperatures: a better proposal, smaller error and smaller reported error
    assert errs[3000, 50] < errs[30, 50] and ses[3000, 50] < ses[30, 50], (errs, ses)
    # 16x more chains: the reported standard error shrinks by about 4
    assert ses[3000, 800] < ses[3000, 50] / 2.5, ses
    assert errs[3000, 800] < 4 * ses[3000, 800] + 1e-3


def test_paper_schedule():
    b = pp.evaluate.paper_betas()
    assert b.size == 14_501 and b[0] == 0 and b[-1] == 1
    assert np.sum(b < 0.5) == 500 and np.sum((b >= 0.5) & (b < 0.9)) == 4000
    assert np.all(np.diff(b) > 0)


def test_log_likelihood_falls_back_to_ais_and_says_so():
    m, p = _rbm(16, 14, 7)
    data = (np.random.default_rng(0).random((50, 16)) < 0.4).astype(np.int8)
    exact = float(pp.evaluate.log_likelihood(m, p, data))
    with pytest.warns(pp.evaluate.AISEstimateWarning, match="annealed importance sampling"):
        ll, info = pp.evaluate.log_likelihood(m, p, data, max_states=1 << 10, return_info=True,
                                              ais_options={"num_chains": 200, "betas": 500})
    assert info["method"] == "ais" and info["log_z_stderr"] > 0
    assert abs(float(ll) - exact) < 4 * info["log_z_stderr"] + 1e-3
    with pytest.raises(pp.evaluate.IntractableError):
        pp.evaluate.log_likelihood(m, p, data, max_states=1 << 10, method="exact")
    ll2, info2 = pp.evaluate.log_likelihood(m, p, data, return_info=True)
    assert info2["method"] == "exact" and float(ll2) == exact


def test_ais_bad_input():
    m, p = _rbm(6, 4, 0)
    with pytest.raises(ValueError, match="betas"):
        pp.evaluate.ais(m, p, betas=np.array([0.0, 0.7, 0.5, 1.0]))
    with pytest.raises(ValueError, match="num_chains"):
        pp.evaluate.ais(m, p, num_chains=1)
    with pytest.raises(ValueError, match="base_logits"):
        pp.evaluate.ais(m, p, base_logits=np.zeros(5))
    with pytest.raises(KeyError, match="unknown group"):
        pp.evaluate.ais(m, p, visible="x")
    with pytest.raises(ValueError, match="built for this model"):
        pp.evaluate.ais(m, p, sampler=pp.samplers.BlockGibbs(pp.models.rbm(6, 4)))
