"""Compiler options and the compiled-program wrapper.

Rule: CPU programs that loop compile at LLVM level 1 without XLA's YNNPACK fusions, programs
that run once at level 0, small programs (< ``SMALL`` unit updates per step) prefer
128-bit vectors, and tiny looping programs (< ``TINY``) run their products on one thread;
options are
passed only to top-level programs (JAX refuses them on nested ones); Python's cyclic garbage
collector is paused during every call (tracing allocates many short-lived objects).
Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import gc
import inspect
import os
import weakref
from collections.abc import Callable
from contextlib import contextmanager

import jax

from . import store as _store

LOOP_LEVEL = 1  # programs that run many times (epochs, sweeps)
ONCE_LEVEL = 0  # programs that run once (initial states)
SMALL = 2**18  # unit updates per step below which a program is compiled for compile speed
TINY = 2**13  # ... below which its products run on one thread (no thread-pool hand-offs)
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
    if size is not None and size < TINY and not env and not once:
        opts["xla_cpu_multi_thread_eigen"] = False
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
                 store: Callable | None = None, **jit_kwargs):
        self.fun, self.once, self.context, self.jit_kwargs = fun, once, context, jit_kwargs
        self.variants: dict = {}
        self.describe = store
        self.static = tuple(jit_kwargs.get("static_argnums", ()))
        self.donate = tuple(jit_kwargs.get("donate_argnums", ()))
        self.static_names = tuple(jit_kwargs.get("static_argnames", ()))
        self.named: dict[int, str] = {}  # position -> name of static arguments given by name
        if store is not None and self.static_names:  # static names given by position count too
            positional = [p.name for p in inspect.signature(fun).parameters.values()
                          if p.kind is p.POSITIONAL_OR_KEYWORD]
            self.named = {positional.index(n): n for n in self.static_names if n in positional}
            self.static += tuple(self.named)
        if store is not None and set(jit_kwargs) - {"static_argnums", "static_argnames",
                                                    "donate_argnums"}:
            raise ValueError("a stored program takes only static_argnums, static_argnames "
                             "and donate_argnums")
        self.loaded = _store.Memory()  # in-process key -> (compiled, out_tree) or None
        self.flat_cache = _store.Memory(16)  # id -> (immutable argument, its flattening)

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
            if self.describe is not None and _store.enabled() and \
                    set(kwargs) <= set(self.static_names):
                stored = self._stored(opts, args, kwargs)
                if stored is not None:
                    return _call_flat(*stored)
            if opts:
                try:
                    return self._variant(opts)(*args, **kwargs)
                except ValueError as err:
                    if _NESTED not in str(err):
                        raise
                except Exception as err:  # an XLA that does not know an option (newer jaxlib)
                    return self._variant(_without_refused(opts, err))(*args, **kwargs)
            return self._variant(None)(*args, **kwargs)

    def _stored(self, opts, args, kwargs):
        """``(program, out_tree, leaves)`` for ``args`` from this process's memory or from the
        store (:mod:`pcdppl._compile.store`), compiled and stored if new — ``program`` takes
        and returns flat lists of arrays — or ``None`` where the call cannot be keyed safely
        (then it is an ordinary ``jax.jit`` call)."""
        parts, leaves = [], []
        for i, a in enumerate(args):
            if i in self.static:
                continue
            flat = self._flat(a, cache=i not in self.donate)
            if flat is None:
                return None  # inside a caller's trace
            a_leaves, treedef, sigs = flat
            parts.append((treedef, sigs))
            leaves.extend(a_leaves)
        static = (tuple(args[i] for i in self.static if i < len(args)),
                  tuple(sorted(kwargs.items())))
        opts_key = tuple(sorted(opts.items())) if opts else None
        memory_key = (opts_key, static, _store.settings(), tuple(parts))
        try:
            entry = self.loaded.get(memory_key, False)
        except TypeError:  # an unhashable static argument: let jax.jit report it
            return None
        if entry is False:
            trees = [t for t, _ in parts]
            entry = self._load_or_compile(opts, opts_key, args, kwargs, trees, leaves)
            self.loaded.put(memory_key, entry)
        return None if entry is None else (*entry, leaves)

    def _flat(self, arg, cache: bool):
        """``(leaves, treedef, signatures)`` of one argument, or ``None`` if it holds a traced
        value; an object whose class declares ``__immutable__ = True`` (a model, a sampler)
        is flattened once per process."""
        hit = self.flat_cache.get(id(arg)) if cache else None
        if hit is not None and hit[0]() is arg:
            return hit[1]
        leaves, treedef = jax.tree.flatten(arg)
        if not all(map(_store.concrete, leaves)):
            return None
        out = (leaves, treedef, tuple(_store.leaf_signature(x) for x in leaves))
        if cache and getattr(type(arg), "__immutable__", False):
            # a weak reference: the cache keeps no model alive, and a dead one never matches
            self.flat_cache.put(id(arg), (weakref.ref(arg), out))
        return out

    def _load_or_compile(self, opts, opts_key, args, kwargs, trees, leaves):
        """``trees``: the treedef of every dynamic argument, in order."""
        treedef = jax.tree_util.treedef_tuple(trees)
        devices = _store.execution_devices(leaves)
        try:
            key = _store.key_of(getattr(self.fun, "__qualname__", "program"),
                                self._description(args, kwargs), opts_key, treedef, leaves,
                                devices)
        except Exception:  # Uncacheable, or a description that failed (an optimiser whose
            return None    # update cannot be traced alone): an ordinary jax.jit call
        entry = _store.load(key, devices)
        if entry is None:
            reused = _store.reused_count()
            entry = self._compile_flat(opts, args, kwargs, trees, leaves, key)
            if _store.reused_count() == reused:  # freshly compiled: safe to serialize
                _store.save(key, *entry, devices)
        return entry

    def _description(self, args, kwargs) -> str:
        """``describe(*args, **kwargs)`` and the static arguments named in
        ``static_argnames`` (by keyword or by position), described."""
        named = dict(kwargs)
        named.update({n: args[i] for i, n in self.named.items() if i < len(args)})
        extra = _store.describe(tuple(sorted(named.items()))) if named else ""
        return f"{self.describe(*args, **kwargs)} {extra}"

    def _compile_flat(self, opts, args, kwargs, trees, leaves, key: str):
        """The program as a function of the flat list of its array arguments (so that a call
        does not flatten the model again) with PRNG keys passed as their raw data (so that
        JAX's C++ dispatch path serves every call), compiled:
        ``(compiled, out_tree, in_keys, out_keys)``, ``*_keys`` the ``(position, impl)`` of
        each key; the program is named after ``key``."""
        static = {i: args[i] for i in self.static if i < len(args)}
        treedef = jax.tree_util.treedef_tuple(trees)
        in_keys = tuple((i, str(jax.random.key_impl(x))) for i, x in enumerate(leaves)
                        if _is_key(x))
        meta = []

        def flat(*flat_leaves):
            flat_leaves = list(flat_leaves)
            for i, impl in in_keys:
                flat_leaves[i] = jax.random.wrap_key_data(flat_leaves[i], impl=impl)
            dynamic = iter(treedef.unflatten(flat_leaves))
            full = [static[i] if i in static else next(dynamic) for i in range(len(args))]
            out_leaves, out_tree = jax.tree.flatten(self.fun(*full, **kwargs))
            out_keys = tuple((i, str(jax.random.key_impl(x))) for i, x in enumerate(out_leaves)
                             if _is_key(x))
            for i, _ in out_keys:
                out_leaves[i] = jax.random.key_data(out_leaves[i])
            meta.append((out_tree, out_keys))
            return out_leaves

        # named by its store key: JAX's cache holds this program only if the store wrote it
        flat.__name__ = flat.__qualname__ = f"{getattr(self.fun, '__name__', 'program')}_{key[:12]}"
        donate, start = [], 0
        dynamic = [i for i in range(len(args)) if i not in self.static]
        for i, tree in zip(dynamic, trees, strict=True):
            if i in self.donate:
                donate.extend(range(start, start + tree.num_leaves))
            start += tree.num_leaves

        raw = list(leaves)
        for i, _ in in_keys:
            raw[i] = jax.random.key_data(raw[i])

        def compile_with(o):
            return jax.jit(flat, donate_argnums=tuple(donate), compiler_options=o
                           ).lower(*raw).compile()

        try:
            compiled = compile_with(opts)
        except Exception as err:  # an XLA that does not know an option (newer jaxlib)
            compiled = compile_with(_without_refused(opts, err))
        out_tree, out_keys = meta[-1]
        return compiled, out_tree, in_keys, out_keys

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` of the variant a top-level call would use."""
        return self._variant(self._options(args, kwargs)).lower(*args, **kwargs)


def _without_refused(opts, err: Exception) -> dict:
    """``opts`` without the YNNPACK option when ``err`` is XLA refusing it (never passed
    again in this process); re-raises ``err`` otherwise."""
    if not opts or NO_YNN not in opts or f"No such compile option: '{NO_YNN}'" not in str(err):
        raise err
    _supported[NO_YNN] = False
    return {k: v for k, v in opts.items() if k != NO_YNN}


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)


def _call_flat(compiled, out_tree, in_keys, out_keys, leaves):
    """Call a program of :meth:`Program._compile_flat` on the flat arguments ``leaves``."""
    for i, _ in in_keys:
        leaves[i] = jax.random.key_data(leaves[i])
    outs = compiled(*leaves)
    for i, impl in out_keys:
        outs[i] = jax.random.wrap_key_data(outs[i], impl=impl)
    return out_tree.unflatten(outs)


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
