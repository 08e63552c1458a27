"""Block Gibbs draws match the enumerated distribution of small models of every kind."""

import jax
import numpy as np
import pytest
from helpers import CompileCounter, empirical_tv, tv_bound
from models_zoo import ZOO

import pcdppl as pp


@pytest.mark.parametrize("name", sorted(ZOO))
def test_block_gibbs_matches_enumeration(name):
    model, params = ZOO[name]()
    chains, samples = 64, 400
    draws = pp.sample(jax.random.key(0), model, params, num_chains=chains, num_samples=samples,
                      num_warmup=50)
    tv, S = empirical_tv(model, params, draws)
    bound = tv_bound(S, chains * samples)
    assert tv < bound, f"{name}: TV {tv:.4f} ≥ bound {bound:.4f} over {S} states"


def test_block_gibbs_detects_wrong_target():
    """The TV check has power: draws from a different model fail it."""
    model, params = ZOO["ising"]()
    wrong = {k: -v for k, v in params.items()}
    draws = pp.sample(jax.random.key(0), model, wrong, num_chains=64, num_samples=400,
                      num_warmup=50)
    tv, S = empirical_tv(model, params, draws)
    assert tv > tv_bound(S, 64 * 400)


def test_step_protocol_and_clamp():
    model, params = ZOO["rbm"]()
    sampler = pp.samplers.BlockGibbs(model, clamp="v")
    state = sampler.init(0, params, num_chains=5)
    v0 = np.asarray(sampler.values(state)["v"])
    state, _ = jax.jit(sampler.step)(jax.random.key(1), params, state)
    vals = sampler.values(state)
    assert vals["v"].dtype == np.int8 and vals["h"].shape == (5, 4)
    np.testing.assert_array_equal(vals["v"], v0)


def test_per_chain_beta_and_bad_beta():
    model, params = ZOO["ising"]()
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(0, params, num_chains=3)
    sampler.step(1, params, state, beta=np.array([0.5, 1.0, 2.0], np.float32))
    with pytest.raises(ValueError, match="beta"):
        sampler.step(1, params, state, beta=0.0)


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
