"""Shared test utilities: joint states as integer codes, counting compilations, the
compiled minibatch loop of an epoch.

Exactness checks of samplers live in tests/exactness.py (calibrated z-tests).
"""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np

from pcdppl.graph.groups import to_state_index


def state_codes(model, draws: dict) -> np.ndarray:
    """Flatten joint states ``dict[group, (..., n)]`` to integer codes matching
    :func:`pcdppl.evaluate.enumerate_states` (first unit of the first group fastest)."""
    codes, place = None, 1
    for g, grp in model.groups.items():
        x = np.asarray(draws[g])
        idx = np.asarray(to_state_index(grp, x)).astype(np.int64)
        w = place * grp.num_states ** np.arange(grp.size, dtype=np.int64)
        c = idx @ w
        codes = c if codes is None else codes + c
        place *= grp.num_states ** grp.size
    return codes


class CompileCounter:
    """Counts the programs compiled inside a ``with`` block, whether XLA compiled them or
    they came from the persistent compilation cache (both mean the in-memory cache missed)."""

    COMPILED = "/jax/core/compile/backend_compile_duration"
    FROM_DISK = "/jax/compilation_cache/cache_hits"

    def __init__(self):
        self.count = 0

    def _duration(self, name, duration, **kwargs):
        if name == self.COMPILED:
            self.count += 1

    def _event(self, name, **kwargs):
        if name == self.FROM_DISK:
            self.count += 1

    def __enter__(self):
        import jax

        jax.monitoring.register_event_duration_secs_listener(self._duration)
        jax.monitoring.register_event_listener(self._event)
        return self

    def __exit__(self, *exc):
        import jax

        jax.monitoring.unregister_event_duration_listener(self._duration)
        jax.monitoring.unregister_event_listener(self._event)
        return False


def epoch_loop_hlo(learner, data: np.ndarray, plan=None) -> tuple[str, str]:
    """``(program, loop)``: the optimized HLO text of ``learner``'s epoch program on the
    visible data ``data`` (``(N, n)``, group ``"v"``) and that of its one minibatch loop."""
    from pcdppl.learn.epoch import epoch_program

    state = learner.init_state(0, {"v": data})
    hlo = epoch_program.lower(learner.epoch_spec(("v",), len(data), plan), learner.model,
                              learner.sampler, learner.clamped_sampler(("v",)), state,
                              {"v": jnp.asarray(data)}).compile().as_text()
    bodies = re.findall(r"while\(.*?body=%?([\w.-]+)", hlo)
    assert len(bodies) == 1, bodies
    start = hlo.index(f"%{bodies[0]} ")
    return hlo, hlo[start:hlo.index("\n}\n", start)]
