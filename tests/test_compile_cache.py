"""Compiled programs persist across processes: a second process's first epoch comes from the
program store without tracing; two processes may fill one cache folder at the same time; a
damaged or missing program is compiled again; the cache can be moved or turned off; the
store's key separates what must differ and refuses what it cannot vouch for."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pcdppl as pp

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, sys, jax, numpy as np, optax
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
jax.monitoring.register_event_duration_secs_listener(lambda name, d, **kw: events.append(name))
import pcdppl as pp
from pcdppl._compile import store
data = (np.random.default_rng(0).random((200, 12)) < 0.3).astype(np.int8)
fit = pp.PCD(pp.models.rbm(12, 5), num_chains=20, batch_size=20, optimizer=optax.sgd(0.05)).fit(
    data, 2, key=0, progress=False, mixing_warnings=False)
draws = pp.sample(1, fit.learner.model, fit.params, num_chains=4, num_samples=20)
print(json.dumps({"hits": events.count("/jax/compilation_cache/cache_hits"),
                  "traced": events.count("/jax/core/compile/jaxpr_trace_duration"),
                  **store.stats,
                  "compiled": events.count("/jax/core/compile/backend_compile_duration"),
                  "cache_dir": jax.config.jax_compilation_cache_dir,
                  "enabled": jax.config.jax_enable_compilation_cache,
                  "w": float(np.asarray(fit.params["W"]).sum()),
                  "draws": int(np.asarray(draws["v"]).sum())}))
"""


def _run(env_cache, *, wait=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PCDPPL_CACHE_DIR": str(env_cache),
           "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    p = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p if not wait else _result(p)


def _result(p):
    import json

    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_reuses_compiled_programs_and_processes_can_share_a_folder(tmp_path):
    cache = tmp_path / "cache"
    first, second = [_run(cache, wait=False) for _ in range(2)]  # both fill the folder at once
    a, b = _result(first), _result(second)
    assert a["cache_dir"] == str(cache) and a["enabled"]
    assert a["w"] == b["w"]  # the same fit either way
    entries = [p for p in cache.iterdir() if p.name.endswith("-cache")]
    assert any(p.name.startswith("jit_run_epoch") for p in entries)
    # the epoch and pp.sample's program
    assert a["saved"] + b["saved"] >= 2 and len(list((cache / "programs").glob("*.bin"))) == 2
    warm = _run(cache)
    # both came from the store: loaded, not traced, not compiled; the same fit and draws
    assert warm["loaded"] == 2 and warm["saved"] == 0 and warm["w"] == a["w"]
    assert warm["draws"] == a["draws"] == b["draws"]
    assert warm["traced"] < min(a["traced"], b["traced"])
    off = _run("off")
    assert not off["enabled"] and off["hits"] == 0 and off["w"] == a["w"]
    assert off["draws"] == a["draws"]
    assert off["loaded"] == off["saved"] == 0


@pytest.mark.slow
def test_a_damaged_or_missing_program_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    cold = _run(cache)
    program = max((cache / "programs").glob("*.bin"), key=lambda p: p.stat().st_size)
    raw = bytearray(program.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte: the checksum catches it before XLA reads
    program.write_bytes(bytes(raw))
    again = _run(cache)
    assert again["loaded"] == 1 and again["w"] == cold["w"]  # the other program still loads
    # the epoch came from JAX's own cache this time: an executable read back from there does
    # not survive serializing again, so the store is not rewritten from it
    assert again["hits"] >= 1 and again["saved"] == 0 and not program.exists()
    assert _run(cache)["w"] == cold["w"]


def test_set_compilation_cache_moves_and_turns_off(tmp_path):
    import jax

    before = (jax.config.jax_enable_compilation_cache, jax.config.jax_compilation_cache_dir)
    try:
        folder = pp.set_compilation_cache(tmp_path / "elsewhere")
        assert folder.is_dir() and jax.config.jax_compilation_cache_dir == str(folder)
        assert pp.set_compilation_cache(None) is None
        assert not jax.config.jax_enable_compilation_cache
    finally:
        jax.config.update("jax_enable_compilation_cache", before[0])
        jax.config.update("jax_compilation_cache_dir", before[1])


def _fresh_rows(tmp_path) -> int:
    """A number of examples (part of the program's key) new to every test run: JAX's own
    cache folder is fixed once JAX first compiles, so a program an earlier run compiled would
    come from there — and such an executable is, by design, never written to the store."""
    return 100 + int(hashlib.sha256(str(tmp_path).encode()).hexdigest(), 16) % 4000


def test_store_key_separates_optimizers_and_reloads_across_learners(tmp_path):
    """In one process: a second learner with an equal (new) optimizer reads the first one's
    program from the store; a different learning rate gets a program of its own; every fit
    equals the fit without any cache."""
    import jax
    import optax

    from pcdppl._compile import store

    data = (np.random.default_rng(1).random((_fresh_rows(tmp_path), 10)) < 0.4).astype(np.int8)
    model = pp.models.rbm(10, 4)

    def fit(lr):
        return np.asarray(pp.PCD(model, num_chains=20, batch_size=20, optimizer=optax.sgd(lr))
                          .fit(data, 3, key=0, progress=False, mixing_warnings=False).params["W"])

    before = (jax.config.jax_enable_compilation_cache, jax.config.jax_compilation_cache_dir)
    try:
        pp.set_compilation_cache(None)
        plain = {lr: fit(lr) for lr in (0.05, 0.1)}
        pp.set_compilation_cache(tmp_path)
        loaded = store.stats["loaded"]
        first = fit(0.05)
        assert len(list((tmp_path / "programs").glob("*.bin"))) == 1
        second = fit(0.05)  # a new optax object: not in memory, read from the store
        assert store.stats["loaded"] == loaded + 1
        other = fit(0.1)
        assert len(list((tmp_path / "programs").glob("*.bin"))) == 2
    finally:
        jax.config.update("jax_enable_compilation_cache", before[0])
        jax.config.update("jax_compilation_cache_dir", before[1])
    np.testing.assert_array_equal(first, plain[0.05])
    np.testing.assert_array_equal(second, plain[0.05])
    np.testing.assert_array_equal(other, plain[0.1])
    assert not np.array_equal(plain[0.05], plain[0.1])


def test_store_describes_only_what_it_can_vouch_for():
    import optax

    from pcdppl._compile import store

    model = pp.models.rbm(6, 3)
    text = store.describe(dict(model.groups))
    assert text == store.describe(dict(pp.models.rbm(6, 3).groups)) and " at 0x" not in text
    assert text != store.describe(dict(pp.models.rbm(6, 4).groups))
    assert store.describe((1, 2.5, "a", None)) != store.describe((1, 2.5, "b", None))
    with pytest.raises(store.Uncacheable):
        store.describe(lambda x: x)  # a user's function: only its jaxpr could describe it
    with pytest.raises(store.Uncacheable):
        store.describe(object())

    class Mine:  # a user's class: its methods are not in pcdppl's source digest
        pass

    with pytest.raises(store.Uncacheable):
        store.describe(Mine)
    import jax

    p = {"w": jax.ShapeDtypeStruct((3,), np.float32)}
    s = jax.eval_shape(optax.sgd(0.1).init, p)
    assert store.function_digest(optax.sgd(0.1).update, p, s, p) == \
        store.function_digest(optax.sgd(0.1).update, p, s, p)
    assert store.function_digest(optax.sgd(0.1).update, p, s, p) != \
        store.function_digest(optax.sgd(0.2).update, p, s, p)


def test_a_user_sampler_runs_without_the_store(tmp_path):
    """A sampler class that is not pcdppl's cannot be keyed (its code is not in the source
    digest): the epoch is an ordinary jax.jit program and nothing is stored."""
    import jax
    import optax

    class MyGibbs(pp.samplers.BlockGibbs):
        pass

    data = (np.random.default_rng(2).random((60, 6)) < 0.5).astype(np.int8)
    model = pp.models.rbm(6, 3)
    before = (jax.config.jax_enable_compilation_cache, jax.config.jax_compilation_cache_dir)
    try:
        pp.set_compilation_cache(tmp_path)
        fit = pp.PCD(model, sampler=MyGibbs(model), num_chains=20, batch_size=20,
                     optimizer=optax.sgd(0.1)).fit(data, 2, key=0, progress=False,
                                                   mixing_warnings=False)
    finally:
        jax.config.update("jax_enable_compilation_cache", before[0])
        jax.config.update("jax_compilation_cache_dir", before[1])
    assert np.all(np.isfinite(np.asarray(fit.params["W"])))
    assert not list((tmp_path / "programs").glob("*.bin"))


def test_pseudolikelihood_epochs_are_stored_too(tmp_path):
    import jax

    from pcdppl._compile import store

    data = (np.random.default_rng(3).random((_fresh_rows(tmp_path), 16)) < 0.5).astype(
        np.int8) * 2 - 1
    model = pp.models.ising((4, 4))

    def fit():
        return np.asarray(pp.PseudoLikelihood(model, batch_size=20).fit(
            data, 2, key=0, progress=False).params["J"])

    before = (jax.config.jax_enable_compilation_cache, jax.config.jax_compilation_cache_dir)
    try:
        pp.set_compilation_cache(None)
        plain = fit()
        pp.set_compilation_cache(tmp_path)
        first = fit()
        loaded = store.stats["loaded"]
        second = fit()  # a new learner and optimiser: read from the store
        assert store.stats["loaded"] == loaded + 1
    finally:
        jax.config.update("jax_enable_compilation_cache", before[0])
        jax.config.update("jax_compilation_cache_dir", before[1])
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(second, plain)


def test_a_description_that_fails_falls_back_to_jit(tmp_path):
    """An optimiser whose update cannot be traced on its own (here: it needs an extra
    argument the epoch passes through no keyword) still trains; nothing is stored."""
    import jax
    import optax

    base = optax.sgd(0.1)
    calls = {"n": 0}

    def update(grads, state, params=None, *, extra=None):
        calls["n"] += 1
        if calls["n"] == 1:  # the store's description traces first: make it fail
            raise RuntimeError("not traceable alone")
        return base.update(grads, state, params)

    opt = optax.GradientTransformation(base.init, update)
    data = (np.random.default_rng(4).random((60, 6)) < 0.5).astype(np.int8)
    before = (jax.config.jax_enable_compilation_cache, jax.config.jax_compilation_cache_dir)
    try:
        pp.set_compilation_cache(tmp_path)
        fit = pp.PCD(pp.models.rbm(6, 3), num_chains=20, batch_size=20, optimizer=opt).fit(
            data, 2, key=0, progress=False, mixing_warnings=False)
    finally:
        jax.config.update("jax_enable_compilation_cache", before[0])
        jax.config.update("jax_compilation_cache_dir", before[1])
    assert np.all(np.isfinite(np.asarray(fit.params["W"])))
    assert not list((tmp_path / "programs").glob("*.bin"))
