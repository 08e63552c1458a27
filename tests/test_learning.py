"""The contrastive learner: gradient against the exact gradient, learning, outputs, bad input."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax
import pytest
from helpers import CompileCounter, epoch_loop_hlo
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.samplers import ChainState


def exact_nll_grad(model, params, data: dict, latent: bool):
    states = pp.evaluate.enumerate_states(model)

    def nll(p):
        pos = model.free_energy(p, data) if latent else model.energy(p, data)
        return jnp.mean(pos) + jax.nn.logsumexp(-model.energy(p, states))

    return jax.grad(nll)(params)


def equilibrium_state(model, params, num, seed):
    """Independent exact draws from the model, as sampler chains (blocked layout)."""
    states, probs = pp.evaluate.exact_probabilities(model, params)
    idx = np.random.default_rng(seed).choice(len(probs), size=num, p=probs / probs.sum())
    xb, _ = model.to_blocked({g: v[idx] for g, v in states.items()})
    return ChainState(x=xb)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ising", "rbm", "potts"])
def test_pcd_gradient_matches_exact_gradient_at_equilibrium(name):
    model, params = ZOO[name]()
    params = {k: v * 0.5 for k, v in params.items()}
    visible = "v" if name == "rbm" else "s"
    rng = np.random.default_rng(0)
    states, probs = pp.evaluate.exact_probabilities(model, params)
    data = {visible: states[visible][rng.integers(0, len(probs), 64)]}
    C = 20_000
    learner = pp.PCD(model, num_chains=C, k=1, optimizer=optax.sgd(1.0), batch_size=64)
    state = learner.init_state(0, data, init_params=params)
    state = state._replace(chains=equilibrium_state(model, params, C, seed=1))
    fit = learner.fit(data, num_epochs=1, resume=state, progress=False)
    estimate = jax.tree.map(lambda a, b: np.asarray(a) - np.asarray(b), params, fit.params)
    exact = exact_nll_grad(model, params, data, latent=name == "rbm")
    tol = 5.0 / np.sqrt(C)  # every sufficient statistic lies in [-1, 1]: std ≤ 1/sqrt(C)
    for k in params:
        np.testing.assert_allclose(estimate[k], np.asarray(exact[k]), atol=tol, err_msg=k)
    # the check has power: a gradient without the negative phase is far off
    assert max(np.abs(np.asarray(exact[k])).max() for k in params) > 5 * tol


@pytest.mark.slow
def test_latents_that_are_not_conditionally_independent_use_clamped_gibbs():
    """Hidden units with lateral couplings: positive phase by clamped Gibbs; the fit runs,
    improves the exact likelihood and keeps chains of the right shape."""
    fg = pp.FactorGraph()
    v = fg.binary("v", 5)
    h = fg.binary("h", 3)
    fg.bias(v)
    fg.bias(h)
    fg.dense(v, h, name="W", init=pp.graph.factor_graph.normal_init(0.3))
    fg.pairwise(h, h, np.array([[0, 1], [1, 2]]), name="L")
    model = fg.compile()
    assert not model.conditionally_independent(["h"])
    rng = np.random.default_rng(0)
    prototypes = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], np.int8)
    data = prototypes[rng.integers(0, 2, 200)]
    data = np.where(rng.random(data.shape) < 0.05, 1 - data, data).astype(np.int8)
    learner = pp.PCD(model, num_chains=50, optimizer=optax.sgd(0.1), batch_size=20)
    fit = learner.fit(data, num_epochs=30, key=0, progress=False, mixing_warnings=False)
    before = pp.evaluate.log_likelihood(model, learner.init_state(0, data).params, data)
    after = pp.evaluate.log_likelihood(model, fit.params, data)
    assert float(after) > float(before) + 1.0  # measured: -3.46 -> -1.72
    assert fit.chains["h"].shape == (50, 3) and fit.chains["v"].dtype == np.int8


class CountedState(NamedTuple):
    x: dict
    count: jax.Array  # (C,) transitions since init_state


class Roll(pp.samplers.Sampler):
    """A deterministic sampler, observable through the public API: each transition moves the
    units of ``group`` one row down the blocked layout (a fixed cyclic permutation of the
    units) and leaves the other groups alone. Its state counts the transitions made since
    ``init_state``; its info reports that count and the mean value of the other groups."""

    def __init__(self, model, group):
        super().__init__(model)
        self.group = group

    def init_state(self, key, model, bparams, x):
        C = next(iter(x.values())).shape[1]
        return CountedState(x=dict(x), count=jnp.zeros((C,), jnp.int32))

    def transition(self, key, model, bparams, state, beta):
        x = {**state.x, self.group: jnp.roll(state.x[self.group], 1, axis=0)}
        info = {"count": (state.count + 1).astype(jnp.float32)}
        for g in x:
            if g != self.group:
                info[f"{g}_mean"] = jnp.mean(x[g].astype(jnp.float32), axis=0)
        return CountedState(x, state.count + 1), info


def _rolled(model, blocked: dict, group: str, k: int) -> np.ndarray:
    """``group``'s values (user layout, ``(C, n)``) after ``k`` transitions of :class:`Roll`."""
    return np.asarray(model.blocked.to_values(
        {group: np.roll(np.asarray(blocked[group]), k, axis=0)})[group])


def _ising_grad(data, chains, edges):
    """The CD/PCD gradient of the Ising NLL by hand: ``<∂E>_data - <∂E>_chains`` with
    ``∂E/∂J_e = -s_i s_j`` and ``∂E/∂h = -s``."""
    d, c = data.astype(float), chains.astype(float)
    pair = lambda s: (s[:, edges[:, 0]] * s[:, edges[:, 1]]).mean(0)  # noqa: E731
    return {"J": pair(c) - pair(d), "h": c.mean(0) - d.mean(0)}


def _rbm_grad(params, data, chains):
    """The Rao-Blackwellised gradient of a binary RBM by hand: ``<∂F>_data - <∂F>_chains`` with
    ``F(v) = -b_v·v - Σ_j softplus(b_h + vW)_j``."""
    W, b_h = np.asarray(params["W"], float), np.asarray(params["b_h"], float)

    def dF(v):
        v = v.astype(float)
        p = 1 / (1 + np.exp(-(b_h + v @ W)))
        return {"W": -(v[:, :, None] * p[:, None, :]).mean(0), "b_v": -v.mean(0),
                "b_h": -p.mean(0)}

    a, b = dF(data), dF(chains)
    return {k: a[k] - b[k] for k in a}


def _sorted_rows(a):
    a = np.asarray(a)
    return a[np.lexsort(a.T[::-1])]


def _ring_set_up():
    """k = 3, one minibatch of 16 states of a 7-spin Ising ring, random couplings."""
    k, B = 3, 16
    model = pp.models.ising(nx.cycle_graph(7))
    edges = np.array(nx.cycle_graph(7).edges())
    rng = np.random.default_rng(0)
    data = np.where(rng.random((B, 7)) < 0.7, 1, -1).astype(np.int8)
    params0 = {"J": rng.normal(0, 0.3, 7).astype(np.float32), "h": np.zeros(7, np.float32)}
    return k, B, model, edges, data, params0


def test_cd_k_restarts_chains_at_the_minibatch_and_makes_exactly_k_transitions():
    """CD-k on an Ising ring with a deterministic sampler and SGD of step 1 (one minibatch per
    epoch, two epochs): each update is exactly the hand-computed gradient of the data against
    the data after k transitions (not k - 1, not k + 1, not the chains of the previous
    update); the chains restart every minibatch (the transition count is 1..k each time)."""
    k, B, model, edges, data, params0 = _ring_set_up()
    learner = pp.PCD(model, sampler=Roll(model, "s"), k=k, persistent=False, batch_size=B,
                     optimizer=optax.sgd(1.0))
    fit = learner.fit(data, num_epochs=2, key=0, init_params=params0, progress=False,
                      mixing_warnings=False)
    blocked = model.blocked.from_values({"s": data})
    expected = {j: _ising_grad(data, _rolled(model, blocked, "s", j), edges) for j in range(7)}
    for name in params0:
        step = (params0[name] - np.asarray(fit.params[name])) / 2  # two identical updates
        np.testing.assert_allclose(step, expected[k][name], atol=1e-6, err_msg=name)
        for other in (k - 1, k + 1, 2 * k):  # the check tells these apart
            assert np.abs(expected[other][name] - expected[k][name]).max() > 1e-2, (name, other)
    assert list(fit.history["count"]) == [(k + 1) / 2] * 2  # counts 1..k, restarted each update
    # the chains the last update used: the minibatch (in shuffled order) after k transitions
    np.testing.assert_array_equal(_sorted_rows(fit.chains["s"]),
                                  _sorted_rows(_rolled(model, blocked, "s", k)))


def test_pcd_chains_persist_across_updates():
    """The same set-up with persistent chains: the first update sees the initial chains after
    k transitions, the second after 2k; the count keeps running."""
    k, B, model, edges, data, params0 = _ring_set_up()
    learner = pp.PCD(model, sampler=Roll(model, "s"), k=k, num_chains=10, batch_size=B,
                     optimizer=optax.sgd(1.0))
    state = learner.init_state(0, data, init_params=params0)
    start = jax.tree.map(np.asarray, state.chains.x)
    fit = learner.fit(data, num_epochs=2, resume=state, progress=False, mixing_warnings=False)
    g1 = _ising_grad(data, _rolled(model, start, "s", k), edges)
    g2 = _ising_grad(data, _rolled(model, start, "s", 2 * k), edges)
    for name in params0:
        np.testing.assert_allclose(np.asarray(fit.params[name]),
                                   params0[name] - g1[name] - g2[name], atol=1e-6, err_msg=name)
    assert list(fit.history["count"]) == [(k + 1) / 2, k + (k + 1) / 2]
    np.testing.assert_array_equal(np.asarray(fit.chains["s"]), _rolled(model, start, "s", 2 * k))


@pytest.mark.parametrize("persistent", [False, True])
def test_rbm_update_uses_chains_after_k_transitions(persistent):
    """An RBM (hidden units summed out in both phases): with CD-k the chains start from the
    minibatch with the hidden units filled in (a strong hidden bias makes them all on; the
    reference state would be all off) and the update is the hand-computed free-energy gradient
    against the minibatch after k transitions; with PCD against the initial chains after k."""
    k, B = 2, 12
    model = pp.models.rbm(5, 3)
    rng = np.random.default_rng(1)
    data = (rng.random((B, 5)) < 0.4).astype(np.int8)
    params0 = {"W": rng.normal(0, 0.1, (5, 3)).astype(np.float32),
               "b_v": rng.normal(0, 0.5, 5).astype(np.float32),
               "b_h": np.full(3, 9.0, np.float32)}
    learner = pp.PCD(model, sampler=Roll(model, "v"), k=k, persistent=persistent, batch_size=B,
                     num_chains=8, optimizer=optax.sgd(1.0))
    state = learner.init_state(0, data, init_params=params0)
    start = (jax.tree.map(np.asarray, state.chains.x) if persistent
             else model.blocked.from_values({"v": data}, required=["v"]))
    fit = learner.fit(data, num_epochs=1, resume=state, progress=False, mixing_warnings=False)
    expected = _rbm_grad(params0, data, _rolled(model, start, "v", k))
    for name in params0:
        np.testing.assert_allclose(np.asarray(fit.params[name]), params0[name] - expected[name],
                                   atol=1e-6, err_msg=name)
    wrong = _rbm_grad(params0, data, _rolled(model, start, "v", k + 1))
    assert max(np.abs(wrong[n] - expected[n]).max() for n in params0) > 1e-2
    if persistent:  # the chains' hidden units are whatever init_state drew, untouched by Roll
        np.testing.assert_allclose(fit.history["h_mean"], start["h"].mean())
    else:  # filled in from the data: all on, not the reference state (all off)
        assert fit.history["h_mean"][0] == 1.0


def test_cd_k_and_history():
    model, _ = ZOO["rbm"]()
    data = (np.random.default_rng(0).random((100, 6)) < 0.3).astype(np.int8)
    learner = pp.PCD(model, k=2, persistent=False, batch_size=10)
    fit = learner.fit(data, num_epochs=3, key=1, validation=data[:20], progress=False)
    assert list(fit.history["epoch"]) == [1, 2, 3]
    assert {"time", "free_energy_gap", "recon_error", "val_log_likelihood"} <= set(fit.history)
    assert np.all(np.diff(fit.history["time"]) > 0)
    assert fit.chains["v"].shape == (10, 6)  # CD-k: one chain per example of a minibatch


def test_fully_visible_history_has_pseudo_likelihood_and_resume_continues():
    model, _ = ZOO["ising"]()
    data = {"s": np.where(np.random.default_rng(0).random((60, 9)) < 0.5, 1, -1).astype(np.int8)}
    learner = pp.PCD(model, num_chains=30, batch_size=20)
    fit = learner.fit(data, num_epochs=2, key=0, progress=False)
    assert "pseudo_log_likelihood" in fit.history
    more = learner.fit(data, num_epochs=2, resume=fit, progress=False)
    assert list(more.history["epoch"]) == [3, 4]
    # resuming works on a copy: the fit resumed from stays usable and resumes again, to the
    # same place (the learner state carries the key)
    again = learner.fit(data, num_epochs=2, resume=fit.state, progress=False)
    for name in fit.params:
        assert np.all(np.isfinite(np.asarray(fit.params[name])))
        np.testing.assert_array_equal(np.asarray(again.params[name]),
                                      np.asarray(more.params[name]))


@pytest.mark.slow
def test_rbm_learns_the_digits():
    """16 hidden units, PCD-1: exact test log-likelihood better than −20.5 nats (an
    independent-pixel model scores about −31; sklearn's BernoulliRBM after 500 epochs
    about −20)."""
    d = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(d.shape, 16)
    fit = pp.PCD(model, num_chains=100, optimizer=optax.sgd(0.05), batch_size=20).fit(
        d.train, num_epochs=60, key=0, progress=False)
    ll = float(pp.evaluate.log_likelihood(model, fit.params, d.test))
    assert ll > -20.5, ll


def test_fit_bad_input():
    model, _ = ZOO["rbm"]()
    good = np.zeros((40, 6), np.int8)
    learner = pp.PCD(model, batch_size=20)
    with pytest.raises(ValueError, match="shape|columns|6"):
        learner.fit(np.zeros((40, 5), np.int8), num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="outside"):
        learner.fit(np.full((40, 6), 2), num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        learner.fit(np.full((40, 6), np.nan), num_epochs=1, progress=False)
    with pytest.raises(KeyError, match="'x'"):
        learner.fit({"x": good}, num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        learner.fit(good[:5], num_epochs=1, progress=False)
    with pytest.raises(ValueError, match="num_epochs"):
        learner.fit(good, num_epochs=0, progress=False)
    with pytest.raises(ValueError, match="num_chains"):
        pp.PCD(model, num_chains=0)
    with pytest.raises(TypeError, match="optax"):
        pp.PCD(model, optimizer="adam")


def test_divergence_raises_with_last_good_params():
    model, _ = ZOO["ising"]()
    data = {"s": np.ones((40, 9), np.int8)}
    learner = pp.PCD(model, num_chains=20, optimizer=optax.sgd(np.inf), batch_size=20)
    with pytest.raises(FloatingPointError, match="learning rate") as info:
        learner.fit(data, num_epochs=5, key=0, progress=False)
    assert all(np.all(np.isfinite(v)) for v in info.value.last_params.values())


def _nan_at_update(step: int) -> optax.GradientTransformation:
    """SGD(0.01) whose update number ``step`` is NaN."""
    def init(params):
        return {"n": jnp.zeros((), jnp.int32)}

    def update(grads, state, params=None):
        bad = state["n"] == step
        updates = jax.tree.map(lambda g: jnp.where(bad, jnp.nan, -0.01 * g), grads)
        return updates, {"n": state["n"] + 1}

    return optax.GradientTransformation(init, update)


def test_divergence_in_a_pipelined_epoch_keeps_the_last_finite_state():
    """The host reads an epoch's finite flag while the next epoch runs: a divergence in
    epoch 3 of 6 is still reported as epoch 3, with the state after epoch 2."""
    model = pp.models.rbm(6, 3)
    data = (np.random.default_rng(0).random((100, 6)) < 0.4).astype(np.int8)
    learner = pp.PCD(model, num_chains=20, batch_size=20, optimizer=_nan_at_update(12))
    with pytest.raises(FloatingPointError, match="in epoch 3;") as info:
        learner.fit(data, num_epochs=6, key=0, progress=False, record_every=0)
    good = learner.fit(data, num_epochs=2, key=0, progress=False, record_every=0)
    assert int(info.value.state.epoch) == 2
    for name, v in good.params.items():
        np.testing.assert_array_equal(np.asarray(info.value.last_params[name]), v)


@pytest.mark.slow
def test_initial_state_host_and_compiled_paths():
    """Built-in initializers + block Gibbs + a stateless optimiser: the initial state is made
    on the host (nothing compiled); otherwise one compiled program. Both are deterministic in
    the key and give the same structure."""
    rng = np.random.default_rng(0)
    data = (rng.random((40, 12)) < 0.3).astype(np.int8)
    model = pp.models.rbm(12, 5)
    learner = pp.PCD(model, num_chains=30, optimizer=optax.sgd(0.1))
    with CompileCounter() as compiles:
        a, b, c = (learner.init_state(k, data) for k in (0, 0, 1))
    assert compiles.count == 0  # the host path
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    np.testing.assert_array_equal(a.chains.x["v"], b.chains.x["v"])
    assert not np.array_equal(a.params["W"], c.params["W"])
    assert a.chains.x["v"].dtype == np.int8 and a.chains.x["h"].shape == (5, 30)
    assert set(np.unique(a.chains.x["v"])) == {0, 1}
    assert 0.005 < float(np.std(a.params["W"])) < 0.02  # N(0, 0.01²), 60 draws
    np.testing.assert_allclose(a.params["b_v"], pp.learn.data_bias_values(
        model, {"v": data})["b_v"])
    assert jnp.issubdtype(a.key.dtype, jax.dtypes.prng_key)

    fg = pp.FactorGraph()  # a user initializer (a callable) takes the compiled path
    v, h = fg.binary("v", 12), fg.binary("h", 5)
    fg.dense(v, h, name="W", init=lambda key, shape, dtype: 0.01 * jax.random.normal(key, shape))
    fg.bias(v, name="b_v")
    fg.bias(h, name="b_h")
    other = pp.PCD(fg.compile(), num_chains=30, optimizer=optax.adam(1e-3))
    with CompileCounter() as compiles:
        s = other.init_state(0, data)
    assert compiles.count > 0  # the compiled path
    spin = pp.PCD(pp.models.ising((3, 4)), num_chains=30, optimizer=optax.adam(1e-3))
    with CompileCounter() as compiles:
        t = spin.init_state(0, {"s": 2 * data - 1})  # an optimiser with state: compiled too
    assert compiles.count > 0 and set(np.unique(t.chains.x["s"])) == {-1, 1}
    assert jax.tree.structure(s.chains) == jax.tree.structure(a.chains)
    assert jax.tree.structure(s.params) == jax.tree.structure(a.params)
    for lrn, st in ((learner, a), (other, s)):  # both kinds of state train
        fit = lrn.fit(data, 1, resume=st, progress=False)
        assert np.all(np.isfinite(fit.history["free_energy_gap"]))


@pytest.mark.parametrize("centered", [False, True])
def test_recording_leaves_the_parameters_updated_in_place(centered):
    """With the chains recorded (the default), the compiled epoch still updates the weights
    in place: no copy of the weight matrix per minibatch step, which a record reading the
    old parameters after the update forced (~17 % of a 784x500 epoch) — also with an
    extension that keeps the chains (centering). And no product in the loop has both
    operands transposed (the data's minibatch is materialised in the blocked layout: ~12 %
    of the digits epoch)."""
    import re

    from pcdppl.learn.recording import record_plan

    model = pp.models.rbm(30, 20)
    data = (np.random.default_rng(0).random((64, 30)) < 0.5).astype(np.int8)
    learner = pp.PCD(model, num_chains=16, batch_size=16, devices=1, centered=centered)
    plan = record_plan(model, 4, None)
    assert plan is not None
    hlo, loop = epoch_loop_hlo(learner, data, plan)
    assert "conditional(" in hlo  # the records are there
    assert "dot(" in loop
    assert not re.findall(r"f32\[30,20\]\{1,0\} copy\(", loop)
    both_transposed = [(int(m), int(n)) for m, n in re.findall(
        r"= f32\[(\d+),(\d+)\]\{[^}]*\} dot\([^)]*\), lhs_contracting_dims=\{0\}, "
        r"rhs_contracting_dims=\{1\}", loop)]
    assert not [mn for mn in both_transposed if min(mn) > 1]  # (bias sums are (1, n))


def test_records_taken_before_the_update_equal_those_taken_after():
    """An extension that keeps the chains lets the epoch record them before the optimiser
    step; the records (and everything else) equal those of the same extension recorded
    after the step (an override of ``after_update`` that does not declare it)."""
    from pcdppl.learn.centering import Centering
    from pcdppl.learn.extensions import keeps_chains

    class OpaqueCentering(Centering):
        def after_update(self, key, model, old_params, new_params, chains, extra, grads):
            return chains, extra, {}

    class Opaque(pp.PCD):
        def extensions(self):
            return (OpaqueCentering(self.offset_rate),)

    assert keeps_chains(Centering(0.01)) and not keeps_chains(OpaqueCentering(0.01))
    model = pp.models.rbm(12, 5)
    data = (np.random.default_rng(1).random((96, 12)) < 0.4).astype(np.int8)
    kw = dict(num_chains=8, batch_size=8, devices=1, centered=True, optimizer=optax.sgd(0.1))
    a = pp.PCD(model, **kw).fit(data, 3, key=4, progress=False, record_every=1)
    b = Opaque(model, **kw).fit(data, 3, key=4, progress=False, record_every=1)
    for name in a.params:
        np.testing.assert_array_equal(np.asarray(a.params[name]), np.asarray(b.params[name]))
    ra, rb = a.recording.posterior, b.recording.posterior
    assert set(ra) == set(rb) and ra
    for name in ra:
        np.testing.assert_array_equal(np.asarray(ra[name]), np.asarray(rb[name]))
