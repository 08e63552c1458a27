"""XLA compiler options for pcdppl's compiled programs.

On the CPU, most of the time-to-result of a small or medium model is compilation: XLA
compiles every fusion of a program with LLVM, at LLVM optimisation level 2 by default.
pcdppl's programs are short elementwise fusions (threefry hashing, local fields,
comparisons) around matmuls, and the matmuls call precompiled kernels; at LLVM level 1
they run as fast — measured on the 64×64 lattice sweep, a 784×256 RBM epoch and a 64×16
RBM epoch, within run-to-run noise — and compile 10–40 % faster (more when the machine is
busy: level 2 spreads more of its work over threads). Small programs (fewer than
``SMALL`` unit updates per step, chains × units) are also vectorised for 128-bit rather
than the widest registers, which compiles another ~15 % faster at no measured cost to
them (a 784×256 RBM with 1,000 chains ran ~4 % slower that way, so large programs keep
the widest). Programs that run once (the learner's initial state, ``Sampler.init``) are
compiled at level 0.

Which programs: the learner's epoch and initial state, ``pp.sample``, and a sampler's
``init``/``step``/``run`` called at top level. Called inside a user's ``jax.jit`` (where
JAX refuses compiler options on the nested program) they compile as plain ``jax.jit``.

Only CPU programs are affected. ``PCDPPL_CPU_OPT_LEVEL`` overrides the level of the
programs that loop (``0``–``3``; ``xla`` leaves XLA's default).

Tracing a program allocates many short-lived Python objects, which triggers Python's
cyclic garbage collector; with JAX, NumPyro and ArviZ loaded a full collection walks
millions of objects, and for the learner's epoch that was half of the tracing time
(about 0.2 s). :func:`gc_paused` holds the collector off while pcdppl traces and compiles.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager

import jax

LOOP_LEVEL = 1  # programs that run many times (epochs)
ONCE_LEVEL = 0  # programs that run once (initial states)
SMALL = 2**18  # unit updates per step below which a program is compiled for compile speed


def _platform(mesh) -> str:
    if mesh is not None:
        return mesh.devices.flat[0].platform
    return jax.default_backend()


def compiler_options(mesh=None, *, once: bool = False, size: int | None = None) -> dict | None:
    """``compiler_options`` for :func:`jax.jit` of a pcdppl program placed on ``mesh``
    (default: the default backend); ``None`` off the CPU or when overridden with
    ``PCDPPL_CPU_OPT_LEVEL=xla``. ``size``: unit updates per step (chains × units), if
    known."""
    if _platform(mesh) != "cpu":
        return None
    env = os.environ.get("PCDPPL_CPU_OPT_LEVEL", "").strip().lower()
    if env == "xla":
        return None
    level = ONCE_LEVEL if once else LOOP_LEVEL
    if env:
        if env not in ("0", "1", "2", "3"):
            raise ValueError(f"PCDPPL_CPU_OPT_LEVEL must be 0, 1, 2, 3 or 'xla', got {env!r}")
        level = min(level, int(env)) if once else int(env)
    opts = {"xla_backend_optimization_level": level}
    if size is not None and size < SMALL and not env:
        opts["xla_cpu_prefer_vector_width"] = 128
    return opts


def jit(fun, *, mesh=None, once: bool = False, size: int | None = None, model=None, **kwargs):
    """:func:`jax.jit` with :func:`compiler_options`; with ``model``, the program takes the
    model's graph structure as an argument (:class:`pcdppl.graph.model.structured_jit`)."""
    opts = compiler_options(mesh, once=once, size=size)
    if model is not None:
        from .graph.model import structured_jit

        return structured_jit(model, fun, compiler_options=opts, **kwargs)
    return jax.jit(fun, compiler_options=opts, **kwargs)


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for the duration (reference counting still
    frees everything that is not in a cycle); it is re-enabled only if it was enabled."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
