"""The discrete Langevin sampler: exact when adjusted (enumeration), detectably biased when
not, and a first-class sampler (learners, replica exchange, NumPyro)."""

import jax
import numpy as np
import numpyro
import optax
import pytest
from exactness import assert_exact_with_power, check
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.samplers import DiscreteLangevin

STEP = {"ising": 1.0, "rbm": 0.3, "potts": 0.3, "table": 0.3}


def _draws(model, params, sampler, seed=0, beta=1.0):
    return pp.sample(jax.random.key(seed), model, params, sampler=sampler, num_chains=64,
                     num_samples=2000, num_warmup=100, thin=2, beta=beta, return_info=True)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_adjusted_langevin_is_exact_and_the_checks_have_power(name):
    """Adjusted DLP passes the calibrated check against enumeration; the same check fails on
    DLP aimed at the wrong targets (β × 0.95, the strongest coupling dropped, a +0.1 field)
    and on the unadjusted sampler."""
    model, params = ZOO[name]()
    sampler = DiscreteLangevin(model, STEP[name])
    draws, info = _draws(model, params, sampler)
    assert 0.5 < float(info["accept_rate"].mean()) <= 1.0
    assert 0.0 < float(info["change_rate"].mean()) < 1.0
    assert_exact_with_power(model, params,
                            lambda p, b: _draws(model, p, sampler, beta=b)[0])
    unadjusted, _ = _draws(model, params, sampler.replace(adjusted=False))
    assert not check(model, params, unadjusted)[0]


def test_langevin_is_a_negative_phase_a_replica_and_a_numpyro_kernel():
    model, params = ZOO["ising"]()
    sampler = DiscreteLangevin(model, 1.0)
    data = np.asarray(pp.sample(0, model, params, num_chains=20, num_samples=10,
                                thin=5)["s"]).reshape(-1, 9)
    fit = pp.PCD(model, sampler=sampler, num_chains=32, k=3, batch_size=50,
                 optimizer=optax.sgd(0.05)).fit(data, 2, key=0, progress=False,
                                                mixing_warnings=False)
    assert {"accept_rate", "change_rate"} <= set(fit.history)
    assert set(fit.diagnostics()["sample_stats"].data_vars) >= {"accept_rate", "change_rate"}
    tempered = pp.samplers.ReplicaExchange(model, sampler, betas=(0.5, 1.0))
    draws = pp.sample(1, model, params, sampler=tempered, num_chains=64, num_samples=1500,
                      num_warmup=100, thin=2)
    assert check(model, params, draws)[0]
    kernel = pp.integrations.numpyro.Kernel(model, params, sampler=sampler, thin=2)
    mcmc = numpyro.infer.MCMC(kernel, num_warmup=100, num_samples=1000, num_chains=64,
                              chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(2))
    s = mcmc.get_samples(group_by_chain=True)["s"]
    assert check(model, params, {"s": s})[0]


def test_langevin_clamp_and_bad_settings():
    model, params = ZOO["rbm"]()
    sampler = DiscreteLangevin(model, 0.3, clamp="v")
    state = sampler.init(0, params, 4)
    v0 = np.asarray(sampler.values(state)["v"])
    state, _ = sampler.run(1, params, state, 5)
    np.testing.assert_array_equal(np.asarray(sampler.values(state)["v"]), v0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="step_size"):
            DiscreteLangevin(model, bad)
    with pytest.raises(ValueError, match="clamped"):
        DiscreteLangevin(model, clamp=("v", "h"))
