"""Compiler options and the compiled-program wrapper.

Rule: CPU programs that loop compile at LLVM level 1 without XLA's YNNPACK fusions, programs
that run once at level 0, and small programs (< ``SMALL`` unit updates per step) prefer
128-bit vectors; options are
passed only to top-level programs (JAX refuses them on nested ones); Python's cyclic garbage
collector is paused during every call (tracing allocates many short-lived objects).
Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from contextlib import contextmanager

import jax

LOOP_LEVEL = 1  # programs that run many times (epochs, sweeps)
ONCE_LEVEL = 0  # programs that run once (initial states)
SMALL = 2**18  # unit updates per step below which a program is compiled for compile speed
NO_YNN = "xla_cpu_experimental_ynn_fusion_type"  # "" turns XLA's YNNPACK fusions off
_supported = {NO_YNN: True}  # set False the first time XLA refuses the option
_NESTED = "`compiler_options` can only be passed to top-level"


def _platform(mesh) -> str:
    if mesh is not None:
        return mesh.devices.flat[0].platform
    return jax.default_backend()


def compiler_options(mesh=None, *, once: bool = False, size: int | None = None) -> dict | None:
    """``compiler_options`` for :func:`jax.jit` of a pcdppl program placed on ``mesh``
    (default: the default backend); ``None`` off the CPU or with ``PCDPPL_CPU_OPT_LEVEL=xla``.
    ``size``: unit updates per step (chains × units), if known."""
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
    if not once and _supported[NO_YNN]:
        opts[NO_YNN] = ""
    if size is not None and size < SMALL and not env:
        opts["xla_cpu_prefer_vector_width"] = 128
    return opts


class Program:
    """A function compiled with :func:`jax.jit`, with pcdppl's compiler options at top level.

    Args:
        fun: the pure function.
        once: the program runs once (compile for compile speed).
        context: ``context(*args, **kwargs) -> (mesh, size)``: the mesh the call runs on and
            its unit updates per step (``None`` when unknown); options are chosen per call.
        **jit_kwargs: passed to :func:`jax.jit` (``static_argnames``, ``donate_argnums``...).

    Called inside a caller's trace (a user's ``jax.jit``, a ``lax.scan`` body), where JAX
    refuses compiler options, the same function runs as a plain ``jax.jit``.
    """

    def __init__(self, fun: Callable, *, once: bool = False, context: Callable | None = None,
                 **jit_kwargs):
        self.fun, self.once, self.context, self.jit_kwargs = fun, once, context, jit_kwargs
        self.variants: dict = {}

    def _variant(self, opts):
        key = tuple(sorted(opts.items())) if opts else None
        if key not in self.variants:
            self.variants[key] = jax.jit(self.fun, compiler_options=opts, **self.jit_kwargs)
        return self.variants[key]

    def _options(self, args, kwargs):
        mesh, size = self.context(*args, **kwargs) if self.context else (None, None)
        return compiler_options(mesh, once=self.once, size=size)

    def __call__(self, *args, **kwargs):
        opts = self._options(args, kwargs)
        with gc_paused():  # a call may trace and compile: no cyclic collections meanwhile
            if opts:
                try:
                    return self._variant(opts)(*args, **kwargs)
                except ValueError as err:
                    if _NESTED not in str(err):
                        raise
                except Exception as err:  # an XLA that does not know an option (newer jaxlib)
                    if NO_YNN not in opts or f"No such compile option: '{NO_YNN}'" not in str(err):
                        raise
                    _supported[NO_YNN] = False
                    opts = {k: v for k, v in opts.items() if k != NO_YNN}
                    return self._variant(opts)(*args, **kwargs)
            return self._variant(None)(*args, **kwargs)

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` of the variant a top-level call would use."""
        return self._variant(self._options(args, kwargs)).lower(*args, **kwargs)


def jit(fun: Callable | None = None, **kwargs):
    """``Program(fun, **kwargs)``; usable as a decorator with or without arguments."""
    if fun is None:
        return lambda f: Program(f, **kwargs)
    return Program(fun, **kwargs)


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while tracing and compiling (reference counting
    still frees what is not in a cycle); re-enabled only if it was enabled."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
