"""Compiled programs persist across processes: a second process's first epoch comes from the
cache; two processes may fill one cache folder at the same time; the cache can be moved or
turned off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pcdppl as pp

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, sys, jax, numpy as np, optax
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
jax.monitoring.register_event_duration_secs_listener(lambda name, d, **kw: events.append(name))
import pcdppl as pp
data = (np.random.default_rng(0).random((200, 12)) < 0.3).astype(np.int8)
fit = pp.PCD(pp.models.rbm(12, 5), num_chains=20, batch_size=20, optimizer=optax.sgd(0.05)).fit(
    data, 2, key=0, progress=False, mixing_warnings=False)
print(json.dumps({"hits": events.count("/jax/compilation_cache/cache_hits"),
                  "compiled": events.count("/jax/core/compile/backend_compile_duration"),
                  "cache_dir": jax.config.jax_compilation_cache_dir,
                  "enabled": jax.config.jax_enable_compilation_cache,
                  "w": float(np.asarray(fit.params["W"]).sum())}))
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
    warm = _run(cache)
    assert warm["hits"] >= 1 and warm["w"] == a["w"]  # the epoch came from the cache
    off = _run("off")
    assert not off["enabled"] and off["hits"] == 0 and off["w"] == a["w"]


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
