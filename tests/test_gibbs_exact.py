"""Block Gibbs draws match the enumerated distribution of small models of every kind.

Calibrated z-tests (tests/exactness.py): the mean energy, every unit's marginal and every
coupled pair's correlation against enumeration, standard errors from the draws' ESS, a
Bonferroni bound. The same checks fail on deliberately wrong samplers (β × 0.95, the
strongest coupling dropped, a spurious +0.1 field), all with fixed seeds.
"""

import jax
import numpy as np
import pytest
from exactness import assert_exact_with_power, check, exact_moments, scaled, split_by_beta
from helpers import CompileCounter
from models_zoo import EXTRA, ZOO

import pcdppl as pp

CHAINS, SAMPLES, THIN = 64, 400, 5


def draw(model, params, sampler=None, beta=1.0, key=0):
    """Draws of ``CHAINS`` chains; ``beta`` always one per chain, so that every call with the
    same model and sampler runs the same compiled program."""
    beta = np.broadcast_to(np.asarray(beta, np.float32), (CHAINS,))
    return pp.sample(jax.random.key(key), model, params, sampler=sampler or pp.samplers.BlockGibbs(model),
                     num_chains=CHAINS, num_samples=SAMPLES, num_warmup=50, thin=THIN, beta=beta)


@pytest.mark.parametrize("name", sorted(ZOO) + ["tied"])
def test_block_gibbs_is_exact_and_the_check_has_power(name):
    """ising: spins, frustrated couplings; rbm: dense factor; potts: categorical units;
    table: spin, binary and categorical units tied by table factors; tied: tied factors of
    every kind (the other extra models' conditionals are checked sample-free in
    test_conditionals.py). Each passes, and each wrong sampler fails."""
    model, params = {**ZOO, **EXTRA}[name]()
    assert_exact_with_power(model, params, lambda p, b: draw(model, p, beta=b))


def test_each_chain_runs_at_its_own_beta():
    """Chains at β = 0.5 and β = 2 in one run: each half matches enumeration at its own β,
    and fails the check at the other one."""
    model, params = ZOO["ising"]()
    params = scaled(params, 0.5)  # at β = 2 the full-strength model barely mixes
    betas = np.repeat(np.array([0.5, 2.0], np.float32), CHAINS // 2)
    halves = split_by_beta(draw(model, params, beta=betas), betas)
    exact = {b: exact_moments(model, scaled(params, b)) for b in halves}
    for b, d in halves.items():
        ok, report = check(model, scaled(params, b), d, exact=exact[b])
        assert ok, f"β = {b}: {report}"
        other = 2.0 if b == 0.5 else 0.5
        ok, report = check(model, scaled(params, other), d, exact=exact[other])
        assert not ok, f"β = {b} draws pass at β = {other}: {report}"


def test_clamped_block_gibbs_samples_the_conditional():
    """With the visible units clamped, the hidden units of an RBM follow p(h | v) exactly:
    a model of independent hidden units with biases b_h + vW gives the exact moments."""
    model, params = ZOO["rbm"]()
    v = np.array([1, 0, 1, 1, 0, 0], np.int8)
    sampler = pp.samplers.BlockGibbs(model, clamp="v")
    init = {"v": np.tile(v, (CHAINS, 1)), "h": np.zeros((CHAINS, 4), np.int8)}
    d = pp.sample(jax.random.key(3), model, params, sampler=sampler, num_samples=SAMPLES,
                  num_warmup=1, init=init)
    np.testing.assert_array_equal(np.asarray(d["v"]), np.broadcast_to(v, d["v"].shape))
    fg = pp.FactorGraph()
    fg.bias(fg.binary("h", 4), name="b")
    cond = fg.compile()
    field = np.asarray(params["b_h"]) + v.astype(np.float32) @ np.asarray(params["W"])
    ok, report = check(cond, {"b": field}, {"h": d["h"]})
    assert ok, report
    ok, report = check(cond, {"b": field + 0.1}, {"h": d["h"]})
    assert not ok, report


def test_step_protocol_and_clamp():
    model, params = ZOO["rbm"]()
    sampler = pp.samplers.BlockGibbs(model, clamp="v")
    state = sampler.init(0, params, num_chains=5)
    v0 = np.asarray(sampler.values(state)["v"])
    state, _ = jax.jit(sampler.step)(jax.random.key(1), params, state)
    vals = sampler.values(state)
    assert vals["v"].dtype == np.int8 and vals["h"].shape == (5, 4)
    np.testing.assert_array_equal(vals["v"], v0)


def test_bad_beta():
    model, params = ZOO["ising"]()
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(0, params, num_chains=3)
    with pytest.raises(ValueError, match="beta"):
        sampler.step(1, params, state, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        sampler.step(1, params, state, beta=np.array([1.0, np.nan, 1.0], np.float32))


@pytest.mark.parametrize("sampler_cls", [pp.samplers.BlockGibbs, pp.samplers.Metropolis])
def test_init_is_one_program_and_gives_the_same_state_inside_jit(sampler_cls):
    """``init`` compiles (top-level calls with compile-speed options, calls inside a jit
    without): the state is the same either way, for random and for given values."""
    model, params = ZOO["potts"]()
    sampler = sampler_cls(model)
    key = jax.random.key(4)
    top = sampler.init(key, params, 6)
    inside = jax.jit(lambda k, p: sampler.init(k, p, 6))(key, params)
    for a, b in zip(jax.tree.leaves(top), jax.tree.leaves(inside), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    values = {g: np.asarray(v) for g, v in sampler.values(top).items()}
    again = sampler.init(key, params, values=values)
    for g, v in sampler.values(again).items():
        np.testing.assert_array_equal(np.asarray(v), values[g])
    # one program: a second top-level call compiles nothing
    with CompileCounter() as compiles:
        sampler.init(jax.random.key(5), params, 6)
    assert compiles.count == 0
    with pytest.raises(ValueError, match="num_chains"):
        sampler.init(key, params, 5, values=values)
