"""Shared helper of the benchmarks: run any pcdppl sampler on frozen parameters, record the
energy of every chain after every transition, and turn it into ESS per second.

Not a benchmark itself (the leading underscore); imported by ``fpcd_jarzynski.py``,
``langevin.py`` and ``auto_k_equilibrium.py``.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import pcdppl as pp


@partial(jax.jit, static_argnames=("steps",))
def _energy_chunk(sampler, key, params, state, steps):
    model = sampler.model
    bp = model.blocked.params(params)

    def body(s, k):
        s, info = sampler.transition(k, model, bp, s, 1.0)
        info = info._asdict() if hasattr(info, "_asdict") else dict(info)
        info = {n: jnp.mean(v.astype(jnp.float32)) for n, v in info.items()}
        return s, (model.blocked.energy(bp, s.x), info)

    return jax.lax.scan(body, state, jax.random.split(key, steps))


def energy_trace(sampler, params, key, steps: int | None = None, *, seconds: float | None = None,
                 chunk: int = 100, num_chains: int | None = None, values: dict | None = None,
                 state=None, max_steps: int = 10**6) -> dict:
    """Run ``sampler`` on frozen ``params`` from ``values`` (``dict[group, (C, n)]``), a
    sampler ``state`` or ``num_chains`` random states, recording every chain's energy after
    every transition.

    The run is a host loop over one compiled program of ``chunk`` transitions. The first
    call compiles it and is discarded (``chunk`` transitions of warm-up, untimed); then
    chunks run, timed, until ``steps`` transitions are recorded, or (``seconds``) until that
    much sampling time has passed. Returns ``{"energy": (C, steps), "seconds", "compile_s",
    "info": {name: mean over the run}, "state"}``.
    """
    if (steps is None) == (seconds is None):
        raise ValueError("give exactly one of steps and seconds")
    key = jax.random.key(key) if isinstance(key, int) else key
    k_init, k_run = jax.random.split(key)
    if state is None:
        state = sampler.init(k_init, params, num_chains, values=values)
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(_energy_chunk(sampler, jax.random.fold_in(k_run, 0),
                                                   params, state, chunk))
    compile_s = time.perf_counter() - t0
    energies, infos, elapsed, done, i = [], [], 0.0, 0, 0
    while (done < steps) if steps is not None else (elapsed < seconds and done < max_steps):
        i += 1
        t0 = time.perf_counter()
        state, (e, info) = _energy_chunk(sampler, jax.random.fold_in(k_run, i), params, state,
                                         chunk)
        e, info = jax.device_get((e, info))
        elapsed += time.perf_counter() - t0
        energies.append(np.asarray(e, np.float64))
        infos.append(info)
        done += chunk
    energy = np.concatenate(energies)[:steps].T if steps else np.concatenate(energies).T
    info = {n: float(np.mean([np.mean(x[n]) for x in infos])) for n in infos[0]}
    return {"energy": energy, "seconds": elapsed, "compile_s": compile_s, "info": info,
            "state": state}


def energy_ess(energy: np.ndarray, discard: float = 0.0) -> float:
    """Bulk ESS of the energy, ``(chain, draw)``, after dropping the first ``discard``
    fraction of every chain."""
    start = int(discard * energy.shape[1])
    return float(pp.diagnostics.ess(energy[:, start:], "bulk"))


def energy_iat(energy: np.ndarray, discard: float = 0.0) -> float:
    """Integrated autocorrelation time of the energy in transitions: draws / ESS."""
    start = int(discard * energy.shape[1])
    e = energy[:, start:]
    return float(e.size / max(energy_ess(e), 1e-12))
