"""Replica exchange: the target replica is exact (calibrated z-tests against enumeration,
with the power to reject deliberately wrong samplers), swap and acceptance rates equal their
exact expectation, each chain's β scales its whole ladder; it crosses the barrier of a
bimodal model where plain Gibbs does not, plugs into PCD; bad ladders and samplers are
refused."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pytest
from exactness import (
    assert_exact_with_power,
    check,
    flip_acceptance,
    rate_z,
    scaled,
    split_by_beta,
    swap_acceptance,
)
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.samplers import BlockGibbs, Metropolis, ReplicaExchange

INNER = {"gibbs": BlockGibbs, "metropolis": Metropolis}
LADDER = (1.0, 0.6, 0.3)
CHAINS, SAMPLES, THIN = 64, 400, 5
RATE_BOUND = 4.0  # |z| of a swap or acceptance rate against its exact expectation


def draw(model, params, sampler, beta=1.0, key=0):
    """``(draws, info)`` of ``CHAINS`` chains, ``beta`` one per chain (one compiled program
    per model and sampler)."""
    beta = np.broadcast_to(np.asarray(beta, np.float32), (CHAINS,))
    return pp.sample(jax.random.key(key), model, params, sampler=sampler, num_chains=CHAINS,
                     num_samples=SAMPLES, num_warmup=50, thin=THIN, beta=beta, return_info=True)


def check_rates(model, params, info, inner, beta=1.0):
    """Swap rates of every neighboring pair, and the inner Metropolis acceptance rate
    (averaged over the rungs), against their exact expectations at equilibrium."""
    ladder = beta * np.asarray(LADDER)
    swap = np.asarray(info["swap_rate"])
    assert swap.shape[1:] == (SAMPLES, 2)
    expected = swap_acceptance(model, params, ladder)  # pairs (0.3, 0.6), (0.6, 1) of the ladder
    z = rate_z(swap, expected)
    assert np.all(np.abs(z) < RATE_BOUND), (swap.mean(axis=(0, 1)), expected, z)
    if inner == "metropolis":
        expected = np.mean([flip_acceptance(model, params, b) for b in ladder])
        z = float(rate_z(info["accept_rate"], expected)[0])
        assert abs(z) < RATE_BOUND, (np.mean(info["accept_rate"]), expected, z)


@pytest.mark.parametrize("inner", sorted(INNER))
@pytest.mark.parametrize("name", ["ising", "potts", "table"])
def test_target_replica_is_exact_and_the_check_has_power(name, inner):
    """The β = 1 replicas pass the calibrated check; the sampler run at β × 0.95 (the whole
    ladder scaled), with the strongest coupling dropped or with a +0.1 field fails it; swap
    and acceptance rates are the exact ones."""
    model, params = ZOO[name]()
    sampler = ReplicaExchange(model, INNER[inner](model), betas=LADDER)
    draws, info = draw(model, params, sampler)
    assert draws[next(iter(model.groups))].shape[:2] == (CHAINS, SAMPLES)
    check_rates(model, params, info, inner)
    assert_exact_with_power(model, params, lambda p, b: draw(model, p, sampler, b)[0])


@pytest.mark.parametrize("inner", sorted(INNER))
def test_each_chain_scales_its_own_ladder(inner):
    """Chains at β = 0.5 and β = 2 in one run: each half's target replica matches
    enumeration at its own β (and fails at the other), and its swap rates are those of the
    ladder scaled by its β."""
    model, params = ZOO["ising"]()
    params = scaled(params, 0.5)  # at β = 2 the full-strength model barely mixes
    betas = np.repeat(np.array([0.5, 2.0], np.float32), CHAINS // 2)
    sampler = ReplicaExchange(model, INNER[inner](model), betas=LADDER)
    draws, info = draw(model, params, sampler, beta=betas)
    for b, d in split_by_beta(draws, betas).items():
        ok, report = check(model, scaled(params, b), d)
        assert ok, f"β = {b}: {report}"
        other = 2.0 if b == 0.5 else 0.5
        ok, report = check(model, scaled(params, other), d)
        assert not ok, f"β = {b} draws pass at β = {other}: {report}"
        check_rates(model, params, {k: np.asarray(v)[betas == b] for k, v in info.items()},
                    inner, beta=b)


def _ring(n=12, J=4.0):
    """A ferromagnetic ring at low temperature: two modes (all up, all down) separated by
    a barrier of 4J = 16 nats (two domain walls)."""
    model = pp.models.ising(nx.cycle_graph(n), field=None)
    return model, {"J": jnp.full((n,), J, jnp.float32)}


def _mode_visits(model, params, sampler, steps=1000, chains=32):
    draws = pp.sample(jax.random.key(0), model, params, sampler=sampler, num_chains=chains,
                      num_samples=steps, num_warmup=0)
    m = np.asarray(draws["s"], np.float32).mean(-1)  # magnetisation, (chains, draws)
    both = (m > 0.5).any(axis=1) & (m < -0.5).any(axis=1)
    return float(both.mean()), float((m > 0).mean())


@pytest.mark.slow
def test_replica_exchange_visits_both_modes_where_gibbs_does_not():
    model, params = _ring()
    ladder = np.geomspace(0.05, 1.0, 8)
    gibbs_both, _ = _mode_visits(model, params, BlockGibbs(model))
    mh_both, _ = _mode_visits(model, params, Metropolis(model))
    pt_both, pt_up = _mode_visits(model, params, ReplicaExchange(model, BlockGibbs(model), ladder))
    ptmh_both, _ = _mode_visits(model, params, ReplicaExchange(model, Metropolis(model), ladder))
    assert gibbs_both <= 0.1 and mh_both <= 0.1, (gibbs_both, mh_both)
    assert pt_both >= 0.9 and ptmh_both >= 0.9, (pt_both, ptmh_both)
    assert 0.3 < pt_up < 0.7  # the two modes are equally likely


@pytest.mark.slow
def test_replica_exchange_as_pcd_negative_phase():
    model, true = ZOO["ising"]()
    true = {k: 0.5 * v for k, v in true.items()}
    states, probs = pp.evaluate.exact_probabilities(model, true)
    idx = np.random.default_rng(0).choice(len(probs), 1000, p=probs / probs.sum())
    data = {"s": np.asarray(states["s"])[idx]}
    sampler = ReplicaExchange(model, Metropolis(model), betas=[0.5, 1.0])
    learner = pp.PCD(model, sampler=sampler, num_chains=100, optimizer=optax.adam(0.05),
                     batch_size=100)
    fit = learner.fit(data, num_epochs=20, key=0, progress=False)
    assert {"swap_rate", "swap_rate_min", "accept_rate"} <= set(fit.history)
    # the chains chase moving parameters, so the rates of the last epoch are near (not at)
    # their exact equilibrium values at the final parameters
    swap = swap_acceptance(model, fit.params, [0.5, 1.0])[0]
    assert abs(fit.history["swap_rate"][-1] - swap) < 0.1, (fit.history["swap_rate"][-1], swap)
    accept = np.mean([flip_acceptance(model, fit.params, b) for b in (0.5, 1.0)])
    assert abs(fit.history["accept_rate"][-1] - accept) < 0.1, (fit.history["accept_rate"], accept)
    assert fit.chains["s"].shape == (100, 9)
    assert fit.state.chains.inner.x["s"].shape == (9, 200)  # two replicas per chain
    ll = pp.evaluate.log_likelihood
    assert float(ll(model, fit.params, data)) > float(ll(model, learner.init_state(0, data).params,
                                                         data)) + 0.5
    # CD-k: chains restart from the minibatch on every rung
    cd = pp.PCD(model, sampler=ReplicaExchange(model, BlockGibbs(model), [0.5, 1.0]),
                persistent=False, batch_size=50).fit(data, num_epochs=1, progress=False)
    assert cd.chains["s"].shape == (50, 9)


def test_ladder_scaling_and_single_rung():
    model, params = ZOO["ising"]()
    one = ReplicaExchange(model, BlockGibbs(model), betas=[1.0])
    state, info = one.run(0, params, one.init(0, params, num_chains=4), 3)
    assert "swap_rate" not in info and one.values(state)["s"].shape == (4, 9)
    pt = ReplicaExchange(model, Metropolis(model), betas=np.array([0.25, 0.5, 1.0]))
    state, info = pt.step(0, params, pt.init(0, params, num_chains=4))
    assert state.inner.x["s"].shape == (9, 12)  # three replicas of four chains
    assert info["accept_rate"].shape == (4,) and info["swap_rate"].shape == (4, 2)


def test_bad_ladders_and_samplers():
    model, _ = ZOO["ising"]()
    other, _ = ZOO["potts"]()
    with pytest.raises(ValueError, match="non-empty"):
        ReplicaExchange(model, BlockGibbs(model), betas=[])
    with pytest.raises(ValueError, match="sorted"):
        ReplicaExchange(model, BlockGibbs(model), betas=[0.5, 1.0, 0.7])
    with pytest.raises(ValueError, match="sorted"):
        ReplicaExchange(model, BlockGibbs(model), betas=[0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="positive"):
        ReplicaExchange(model, BlockGibbs(model), betas=[0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="positive"):
        ReplicaExchange(model, BlockGibbs(model), betas=[-0.5, 1.0])
    with pytest.raises(ValueError, match="β = 1"):
        ReplicaExchange(model, BlockGibbs(model), betas=[0.2, 0.5])
    with pytest.raises(ValueError, match="another model"):
        ReplicaExchange(model, BlockGibbs(other), betas=[0.5, 1.0])
    with pytest.raises(TypeError, match="pcdppl sampler"):
        ReplicaExchange(model, "gibbs", betas=[0.5, 1.0])
    with pytest.raises(ValueError, match="another model"):
        pp.PCD(model, sampler=ReplicaExchange(other, BlockGibbs(other), [0.5, 1.0]))
