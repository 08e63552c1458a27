"""Metropolis–Hastings samplers: calibrated exactness against enumeration for every proposal
and variable kind (with the power to reject deliberately wrong samplers), acceptance rates
equal to their exact expectation, each chain at its own β, detailed balance of
Gibbs-with-Gradients, the MH learner, bad input."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pytest
from exactness import (
    assert_exact_with_power,
    block_acceptance,
    check,
    exact_moments,
    flip_acceptance,
    gwg_acceptance,
    rate_z,
    scaled,
    split_by_beta,
)
from helpers import state_codes
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.samplers import Metropolis

CHAINS, SAMPLES, THIN = 64, 400, 5
RATE_BOUND = 4.0  # |z| of an acceptance rate against its exact expectation (p ≈ 6e-5)


def _num_units(model):
    return sum(g.size for g in model.groups.values())


PROPOSALS = {
    "flip": lambda m: Metropolis(m),
    "flip-random-scan": lambda m: Metropolis(m, scan="random"),
    "block": lambda m: Metropolis(m, "block", block_size=3),
    "gwg": lambda m: Metropolis(m, "gwg", num_proposals=_num_units(m)),
}
EXPECTED_RATE = {
    "flip": flip_acceptance,
    "flip-random-scan": flip_acceptance,
    "block": lambda m, p, beta=1.0: block_acceptance(m, p, 3, beta),
    "gwg": gwg_acceptance,
}


def draw(model, params, sampler, beta=1.0, key=0):
    """``(draws, info)`` of ``CHAINS`` chains, ``beta`` one per chain (one compiled program
    per model and sampler)."""
    beta = np.broadcast_to(np.asarray(beta, np.float32), (CHAINS,))
    return pp.sample(jax.random.key(key), model, params, sampler=sampler, num_chains=CHAINS,
                     num_samples=SAMPLES, num_warmup=50, thin=THIN, beta=beta, return_info=True)


@pytest.mark.parametrize("proposal", sorted(PROPOSALS))
@pytest.mark.parametrize("name", sorted(ZOO))
def test_metropolis_is_exact_and_the_check_has_power(name, proposal):
    """ising: spins with frustrated couplings; rbm: binary units, dense factor; potts:
    categorical units; table: spin, binary and categorical units tied by table factors.
    The draws pass the calibrated check, and the acceptance rate equals its exact
    expectation at equilibrium (by enumeration). On the Ising model every wrong sampler
    (β × 0.95, the strongest coupling dropped, a +0.1 field) fails the check."""
    model, params = ZOO[name]()
    sampler = PROPOSALS[proposal](model)
    draws, info = draw(model, params, sampler)
    rate = np.asarray(info["accept_rate"])
    assert rate.shape == (CHAINS, SAMPLES)
    expected = EXPECTED_RATE[proposal](model, params)
    z = float(rate_z(rate, expected)[0])
    assert abs(z) < RATE_BOUND, f"acceptance rate {rate.mean():.4f}, exact {expected:.4f}, z = {z:.2f}"
    if name == "ising":
        assert_exact_with_power(model, params, lambda p, b: draw(model, p, sampler, b)[0])
    else:
        ok, report = check(model, params, draws)
        assert ok, report


@pytest.mark.parametrize("proposal", sorted(PROPOSALS))
def test_each_chain_runs_at_its_own_beta(proposal):
    """Chains at β = 0.5 and β = 2 in one run: each half matches enumeration at its own β
    (and fails at the other), and its acceptance rate is the exact one at its β."""
    model, params = ZOO["ising"]()
    params = scaled(params, 0.5)  # at β = 2 the full-strength model barely mixes
    betas = np.repeat(np.array([0.5, 2.0], np.float32), CHAINS // 2)
    draws, info = draw(model, params, PROPOSALS[proposal](model), beta=betas)
    halves = split_by_beta(draws, betas)
    exact = {b: exact_moments(model, scaled(params, b)) for b in halves}
    for b, d in halves.items():
        ok, report = check(model, scaled(params, b), d, exact=exact[b])
        assert ok, f"β = {b}: {report}"
        other = 2.0 if b == 0.5 else 0.5
        ok, report = check(model, scaled(params, other), d, exact=exact[other])
        assert not ok, f"β = {b} draws pass at β = {other}: {report}"
        expected = EXPECTED_RATE[proposal](model, params, b)
        z = float(rate_z(np.asarray(info["accept_rate"])[betas == b], expected)[0])
        assert abs(z) < RATE_BOUND, (b, expected, z)
    rates = [EXPECTED_RATE[proposal](model, params, b) for b in (0.5, 2.0)]
    assert rates[0] > rates[1] + 0.1, rates  # the two temperatures really differ


def _gwg_transition_matrix(model, params, sampler, beta=1.0):
    """GWG transition matrix by enumeration: every state is a chain, every single-unit
    change a proposal; P[x, x'] = q(x'|x) α(x, x')."""
    states = pp.evaluate.enumerate_states(model)
    xb, _ = model.to_blocked(states)
    S = len(state_codes(model, states))
    bp = model.blocked.params(params)

    @jax.jit  # one program for every change m (run eagerly, each operation compiles alone)
    def move(xb, m):
        d = sampler.gwg_scores(model, bp, xb)
        log_q = sampler.gwg_log_q(d, beta)
        idx = jnp.full((S,), m, jnp.int32)
        x_new, rev = sampler.gwg_apply(model, xb, idx)
        d_new = sampler.gwg_scores(model, bp, x_new)
        take = lambda a, i: jnp.take_along_axis(a, i[None], axis=0)[0]  # noqa: E731
        log_alpha = (beta * take(d, idx) + take(sampler.gwg_log_q(d_new, beta), rev)
                     - take(log_q, idx))
        return take(log_q, idx), log_alpha, x_new, d.shape[0]

    num_changes = int(move(xb, 0)[3])
    P = np.zeros((S, S))
    src = np.arange(S)
    for m in range(num_changes):
        log_qm, log_alpha, x_new, _ = move(xb, m)
        q = np.exp(np.asarray(log_qm))
        # -inf - -inf where m is no change (q = 0): nan, masked by `valid` below
        alpha = np.exp(np.minimum(np.nan_to_num(np.asarray(log_alpha), nan=-np.inf), 0.0))
        dst = state_codes(model, model.from_blocked(x_new))
        valid = q > 0
        np.add.at(P, (src[valid], dst[valid]), (q * alpha)[valid])
    P[src, src] += 1.0 - P.sum(axis=1)
    return P


def _tiny_models():
    fg = pp.FactorGraph()
    s = fg.spin("s", 3)
    b = fg.binary("b", 1)
    c = fg.categorical("c", 1, 3)
    fg.bias(s)
    fg.bias(b)
    fg.bias(c)
    fg.pairwise(s, s, np.array([[0, 1], [1, 2], [0, 2]]), name="J")
    fg.table([s, b, c], np.array([[0, 0, 0]]), name="T")
    mixed = fg.compile()
    potts = pp.models.potts(nx.path_graph(3), k=3)
    rng = np.random.default_rng(5)
    out = []
    for m in (mixed, potts):
        out.append((m, {n: jnp.asarray(1.5 * rng.standard_normal(sh), jnp.float32)
                        for n, sh in m.param_shapes.items()}))
    return out


@pytest.mark.parametrize("which", [0, 1])
def test_gwg_detailed_balance(which):
    """π(x) P(x, x') = π(x') P(x', x) for the enumerated GWG kernel, and π P = π."""
    model, params = _tiny_models()[which]
    sampler = Metropolis(model, "gwg")
    _, pi = pp.evaluate.exact_probabilities(model, params)
    P = _gwg_transition_matrix(model, params, sampler)
    assert np.all(P >= -1e-6) and np.allclose(P.sum(1), 1.0, atol=1e-5)
    flow = pi[:, None] * P
    np.testing.assert_allclose(flow, flow.T, atol=1e-6)
    np.testing.assert_allclose(pi @ P, pi, atol=1e-6)
    # the proposal is informed, not uniform: some moves are much likelier than others
    off = P[~np.eye(len(pi), dtype=bool)]
    assert off[off > 0].max() > 5 * off[off > 0].min()


def test_gwg_step_follows_the_enumerated_kernel():
    """One step of the real kernel from every state, repeated, matches the matrix rows."""
    model, params = _tiny_models()[1]
    sampler = Metropolis(model, "gwg")
    P = _gwg_transition_matrix(model, params, sampler)
    states = pp.evaluate.enumerate_states(model)
    S, reps = P.shape[0], 2000
    init = {g: np.repeat(np.asarray(v), reps, axis=0) for g, v in states.items()}
    state = sampler.init(0, params, values=init)
    state, _ = sampler.step(1, params, state)
    dst = state_codes(model, sampler.values(state)).reshape(S, reps)
    emp = np.stack([np.bincount(r, minlength=S) / reps for r in dst])
    # per-entry binomial standard error ≤ 0.5/sqrt(reps); 5 sigma
    assert np.abs(emp - P).max() < 5 * 0.5 / np.sqrt(reps)


@pytest.mark.parametrize("proposal", ["flip", "block", "gwg"])
def test_clamped_chains_sample_the_conditional_at_their_own_beta(proposal):
    """Visible units of an RBM clamped, chains at β = 0.5 and 2: the hidden units follow
    p_β(h | v) (independent units with log-odds β (b_h + vW)), and the clamped units stay."""
    model, params = ZOO["rbm"]()
    v = np.array([1, 0, 1, 1, 0, 0], np.int8)
    sampler = Metropolis(model, proposal, clamp="v", num_proposals=4)
    init = {"v": np.tile(v, (CHAINS, 1)), "h": np.zeros((CHAINS, 4), np.int8)}
    betas = np.repeat(np.array([0.5, 2.0], np.float32), CHAINS // 2)
    draws = pp.sample(jax.random.key(2), model, params, sampler=sampler, init=init, beta=betas,
                      num_samples=SAMPLES, num_warmup=20)
    np.testing.assert_array_equal(np.asarray(draws["v"]), np.broadcast_to(v, draws["v"].shape))
    assert draws["h"].dtype == jnp.int8
    fg = pp.FactorGraph()
    fg.bias(fg.binary("h", 4), name="b")
    cond = fg.compile()
    field = np.asarray(params["b_h"]) + v.astype(np.float32) @ np.asarray(params["W"])
    for b, d in split_by_beta({"h": draws["h"]}, betas).items():
        ok, report = check(cond, {"b": b * field}, d)
        assert ok, f"β = {b}: {report}"
        ok, report = check(cond, {"b": (2.5 - b) * field}, d)
        assert not ok, f"β = {b} draws pass at β = {2.5 - b}: {report}"


@pytest.mark.slow
def test_metropolis_hastings_learner_and_pcd_with_any_sampler():
    """Couplings of a small Ising model are learned from exact samples; the history
    records the chains' acceptance rate."""
    model, true = ZOO["ising"]()
    true = {k: v * 0.5 for k, v in true.items()}
    states, probs = pp.evaluate.exact_probabilities(model, true)
    idx = np.random.default_rng(0).choice(len(probs), 2000, p=probs / probs.sum())
    data = {"s": np.asarray(states["s"])[idx]}
    errs = {}
    for proposal in ("flip", "gwg"):
        learner = pp.MetropolisHastings(model, proposal=proposal, num_chains=200, steps=2,
                                        num_proposals=9, optimizer=optax.adam(0.05),
                                        batch_size=100)
        fit = learner.fit(data, num_epochs=30, key=0, progress=False)
        # near (the chains chase moving parameters) the exact equilibrium rate at the end
        rate = EXPECTED_RATE[proposal](model, fit.params)
        assert abs(fit.history["accept_rate"][-1] - rate) < 0.1, (fit.history["accept_rate"], rate)
        assert fit.chains["s"].shape == (200, 9)
        errs[proposal] = float(np.sqrt(np.mean((np.asarray(fit.params["J"])
                                                 - np.asarray(true["J"])) ** 2)))
    before = float(np.sqrt(np.mean(np.asarray(true["J"]) ** 2)))
    assert max(errs.values()) < 0.3 * before, (errs, before)
    fit = pp.PCD(model, sampler=Metropolis(model, "block"), num_chains=50).fit(
        data, num_epochs=1, progress=False)
    assert "accept_rate" in fit.history


def test_bad_input():
    model, params = ZOO["ising"]()
    other, _ = ZOO["potts"]()
    with pytest.raises(ValueError, match="unknown proposal 'hmc'"):
        Metropolis(model, "hmc")
    with pytest.raises(ValueError, match="unknown proposal"):
        pp.MetropolisHastings(model, proposal="gibbs")
    with pytest.raises(ValueError, match="unknown scan"):
        Metropolis(model, scan="zigzag")
    with pytest.raises(ValueError, match="block_size"):
        Metropolis(model, "block", block_size=0)
    with pytest.raises(ValueError, match="num_proposals"):
        Metropolis(model, "gwg", num_proposals=1.5)
    with pytest.raises(KeyError, match="'v'"):
        Metropolis(model, clamp="v")
    with pytest.raises(ValueError, match="another model"):
        pp.PCD(model, sampler=Metropolis(other))
    with pytest.raises(ValueError, match="another model"):
        pp.sample(0, model, params, sampler=Metropolis(other))
    sampler = Metropolis(model)
    state = sampler.init(0, params, num_chains=2)
    with pytest.raises(ValueError, match="beta"):
        sampler.step(0, params, state, beta=-1.0)
    other_state = Metropolis(other).init(0, other.init_params(0), num_chains=2)
    with pytest.raises(ValueError, match="does not belong|shape"):
        sampler.step(0, params, other_state)


def test_gwg_draw_follows_the_proposal_and_skips_zero_mass_rows():
    """The two-level inverse-CDF draw used by GWG: frequencies match exp(log_q) within
    5 binomial standard errors, across chunk boundaries, and rows of zero mass never occur."""
    rng = np.random.default_rng(0)
    M, C = 150, 200_000
    logits = rng.normal(size=M) * 1.5
    logits[[0, 63, 64, 100, 149]] = -np.inf
    p = np.exp(logits - logits.max())
    p /= p.sum()
    log_q = jnp.broadcast_to(jnp.log(jnp.asarray(p, jnp.float32))[:, None], (M, C))
    idx = np.asarray(Metropolis.gwg_draw(log_q, jax.random.uniform(jax.random.key(0), (C,))))
    freq = np.bincount(idx, minlength=M) / C
    assert freq[p == 0].sum() == 0
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / C) + 1e-6)
