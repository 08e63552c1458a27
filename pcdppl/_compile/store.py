"""Compiled programs kept on disk under pcdppl's own key, so a new process skips tracing.

Rule: a :class:`~pcdppl._compile.options.Program` built with ``store=describe`` is looked up,
at its first call in a process, under a key made of (1) everything its trace depends on —
pcdppl's source files, the JAX/jaxlib versions, the devices, the numerical JAX settings, the
compiler options, the tree structure, shapes, dtypes and shardings of its arguments, and
``describe(*args)`` for its static arguments (a user's function, such as an optax
transformation, is described by its jaxpr: see :func:`function_digest`) — and (2) nothing
else. Found, the serialized executable is loaded (milliseconds) instead of being traced,
lowered and looked up in JAX's cache (about 0.4 s for an RBM epoch); not found, the program
is compiled as usual and written for next time. Anything the key could not pin down — a
class or function that is not pcdppl's own, an object without a stable description, a call
inside a user's trace — makes that call an ordinary ``jax.jit`` call: the store never guesses.

The programs live in ``programs/`` inside the compilation-cache folder
(:func:`pcdppl.set_compilation_cache`; ``PCDPPL_CACHE_DIR=off`` turns both off), each file
written atomically (a temporary file renamed into place) with a SHA-256 of its contents that
is checked before XLA reads it, and the folder is kept under ``MAX_BYTES`` by removing the
least recently used files. Like JAX's own cache, its files are executable code: the folder
must not be writable by others. Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import enum
import hashlib
import os
import pickle
import tempfile
import types
from collections import OrderedDict
from pathlib import Path

import jax
import jaxlib
import numpy as np

MAX_BYTES = 512 * 2**20
MEMORY_ENTRIES = 64  # loaded programs kept per Program in a process
FORMAT = 1
_TRUSTED = ("pcdppl.",)
_CONTAINER_MODULES = ("builtins", "collections", "optax.", "jax.")  # pytree nodes: data only
_SETTINGS = ("jax_enable_x64", "jax_default_prng_impl", "jax_threefry_partitionable",
             "jax_default_matmul_precision", "jax_numpy_rank_promotion",
             "jax_numpy_dtype_promotion", "jax_debug_nans", "jax_debug_infs")
_source_digest: str | None = None


stats = {"loaded": 0, "saved": 0}  # programs this process read from / wrote to the store
_reused = [0]  # programs JAX's persistent cache has served in this process


def _count_reuse(name: str, **_) -> None:
    if name == "/jax/compilation_cache/cache_hits":
        _reused[0] += 1


jax.monitoring.register_event_listener(_count_reuse)


def reused_count() -> int:
    """Programs JAX's persistent compilation cache has served so far in this process. An
    executable read back from that cache does not survive being serialized again (XLA's CPU
    client drops its compiled functions: "Function ... not found" when run), so the store
    writes only programs compiled while this count stood still."""
    return _reused[0]


class Uncacheable(Exception):
    """Raised while describing a call that the store cannot key safely."""


def folder() -> Path | None:
    """The programs' folder, or ``None`` when the compilation cache is off."""
    where = jax.config.jax_compilation_cache_dir
    if not jax.config.jax_enable_compilation_cache or not where or "://" in str(where):
        return None  # off, or a remote cache (gs://...) that only JAX knows how to write
    return Path(where) / "programs"


def enabled() -> bool:
    return folder() is not None and not jax.config.jax_disable_jit


def settings() -> tuple:
    """JAX settings that change what a trace produces (read in the caller's context)."""
    return tuple((name, str(getattr(jax.config, name))) for name in _SETTINGS)


def source_digest() -> str:
    """SHA-256 of pcdppl's own source files (any edit gives new keys)."""
    global _source_digest
    if _source_digest is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
        _source_digest = h.hexdigest()
    return _source_digest


def _trusted(module: str | None) -> bool:
    return bool(module) and module.startswith(_TRUSTED)


def describe(value, _seen: tuple = ()) -> str:
    """Text that determines ``value`` wherever pcdppl's trace reads it, the same in every
    process; raises :class:`Uncacheable` for anything it cannot vouch for (a function or
    class that is not pcdppl's, an object of an unknown type, a cycle)."""
    if id(value) in _seen or len(_seen) > 32:
        raise Uncacheable("a cyclic or very deep object")
    seen = (*_seen, id(value))
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__module__}.{type(value).__qualname__}.{value.name}"
    if isinstance(value, (np.dtype, np.generic)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, type):
        if _trusted(value.__module__) or value.__module__ == "builtins":
            return f"class {value.__module__}.{value.__qualname__}"
        raise Uncacheable(f"class {value.__qualname__} is not pcdppl's")
    if isinstance(value, (np.ndarray, jax.Array)):
        if not concrete(value):
            raise Uncacheable("a traced value")
        a = np.asarray(value)
        return f"array {a.dtype}{list(a.shape)} {hashlib.sha256(a.tobytes()).hexdigest()}"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        body = ", ".join(f"{k}={describe(v, seen)}" for k, v in zip(value._fields, value,
                                                                    strict=True))
        return f"{_known(type(value))}({body})"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}(" + ", ".join(describe(v, seen) for v in value) + ")"
    if isinstance(value, (dict, types.MappingProxyType, frozenset, set)):
        items = value.items() if hasattr(value, "items") else ((v, None) for v in value)
        pairs = sorted(f"{describe(k, seen)}: {describe(v, seen)}" for k, v in items)
        return f"{type(value).__name__}{{" + ", ".join(pairs) + "}"
    if isinstance(value, jax.sharding.Mesh):
        return (f"Mesh({value.axis_names}, {value.devices.shape}, "
                f"{[d.id for d in value.devices.flat]})")
    if isinstance(value, types.FunctionType):
        if _trusted(value.__module__) and "<locals>" not in value.__qualname__:
            return f"function {value.__module__}.{value.__qualname__}"
        raise Uncacheable(f"function {value.__qualname__} is not a pcdppl module function")
    if _trusted(type(value).__module__):
        fields = getattr(value, "__dict__", None)
        if fields is None:
            slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
            fields = {s: getattr(value, s) for s in slots if hasattr(value, s)}
        return f"{_known(type(value))}{describe(dict(fields), seen)}"
    raise Uncacheable(f"no stable description of a {type(value).__qualname__}")


def _known(kind: type) -> str:
    """``module.qualname`` of a type that is pcdppl's or a plain container's (whose code the
    key covers or need not cover); raises :class:`Uncacheable` for any other."""
    module = kind.__module__ or ""
    if not (_trusted(module) or module.startswith(_CONTAINER_MODULES)):
        raise Uncacheable(f"type {kind.__qualname__} is not pcdppl's")
    return f"{module}.{kind.__qualname__}"


def by_structure(*args, **kwargs) -> str:
    """``store=`` of a program keyed by its arguments' structure and its named static
    arguments alone (which :class:`~pcdppl._compile.options.Program` describes itself):
    nothing else to add."""
    return ""


def describe_tree(treedef) -> str:
    """The structure of a pytree: node types (pcdppl's, or plain containers) and their
    auxiliary data, described with :func:`describe`."""
    node = treedef.node_data()
    if node is None:
        return "*"
    kind, aux = node
    children = ", ".join(describe_tree(c) for c in treedef.children())
    return f"{_known(kind)}[{describe(aux)}]({children})"


def function_digest(fun, *args) -> str:
    """A user's function described by what it computes: SHA-256 of its jaxpr for abstract
    ``args`` (pytrees of ``jax.ShapeDtypeStruct``) and of the constants it closes over."""
    closed = jax.make_jaxpr(fun)(*args)
    text = str(closed.jaxpr)
    if " at 0x" in text:  # a parameter printed by address (a callback, a custom rule)
        raise Uncacheable("the function's jaxpr names an object by its address")
    h = hashlib.sha256(text.encode())
    for c in closed.consts:
        h.update(describe(c).encode())
    return h.hexdigest()


def concrete(leaf) -> bool:
    """Whether ``leaf`` is a value (not a tracer of a caller's ``jax.jit``, ``vmap``...)."""
    if not isinstance(leaf, jax.Array):
        return True
    try:
        leaf.committed  # noqa: B018 (a tracer refuses to say)
    except Exception:
        return False
    return True


def leaf_signature(leaf) -> tuple:
    """What a compiled program fixes about one argument: kind, shape, dtype, weak type and
    placement (the in-process key)."""
    return (type(leaf), np.shape(leaf), getattr(leaf, "dtype", type(leaf)),
            bool(getattr(leaf, "weak_type", False)), getattr(leaf, "sharding", None))


def execution_devices(leaves) -> list:
    """The devices a program over ``leaves`` runs on, in mesh order."""
    for leaf in leaves:
        mesh = getattr(getattr(leaf, "sharding", None), "mesh", None)
        if isinstance(mesh, jax.sharding.Mesh):
            return list(mesh.devices.flat)
    for leaf in leaves:
        devices = getattr(getattr(leaf, "sharding", None), "device_set", None)
        if devices:
            return sorted(devices, key=lambda d: d.id)
    return [jax.devices()[0]]


def key_of(name: str, described: str, options, treedef, leaves, devices) -> str:
    """The file name of one program (a SHA-256 of everything its trace depends on)."""
    backend = devices[0].client
    parts = [f"format {FORMAT}", name, source_digest(), jax.__version__,
             jaxlib.__version__, backend.platform, backend.platform_version,
             repr([(d.id, d.device_kind) for d in devices]), str(jax.device_count()),
             os.environ.get("XLA_FLAGS", ""), repr(settings()), repr(options), described,
             describe_tree(treedef)]
    for leaf in leaves:
        t, shape, dtype, weak, sharding = leaf_signature(leaf)
        text = repr(sharding)
        if " at 0x" in text:
            raise Uncacheable("an argument's sharding has no stable description")
        parts.append(f"{t.__module__}.{t.__qualname__} {shape} {dtype} {weak} {text}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def load(key: str, devices):
    """``(compiled, *meta)`` stored under ``key``, loaded onto ``devices``, or ``None`` (absent, damaged, or
    not loadable by this jaxlib: a damaged file is removed)."""
    from jax.experimental import serialize_executable

    base = folder()
    path = base / f"{key}.bin" if base is not None else None
    if path is None or not path.is_file():
        return None
    try:
        raw = path.read_bytes()
        digest, body = raw[:32], raw[32:]
        if hashlib.sha256(body).digest() != digest:
            raise ValueError("checksum mismatch")
        blob, in_tree, out_tree, meta, ids = pickle.loads(body)
        if ids != [d.id for d in devices]:
            raise ValueError("stored for other devices")
        compiled = serialize_executable.deserialize_and_load(
            blob, in_tree, out_tree, backend=devices[0].client, execution_devices=devices)
    except Exception:  # damaged, or written by another jaxlib: compile afresh
        path.unlink(missing_ok=True)
        return None
    try:
        os.utime(path)  # recently used: evicted last
    except OSError:
        pass
    stats["loaded"] += 1
    return compiled, *meta


def save(key: str, compiled, *meta) -> None:
    """Write ``compiled`` (a program of flat arrays) and ``meta`` (how to call it: picklable
    values) under ``key`` (atomically); the last of ``meta`` is the list of devices. Quietly
    skipped where it cannot be serialized or the folder is not writable."""
    *meta, devices = meta
    from jax.experimental import serialize_executable

    base = folder()
    if base is None:
        return
    try:
        blob, in_tree, out_tree = serialize_executable.serialize(compiled)
        body = pickle.dumps((blob, in_tree, out_tree, tuple(meta), [d.id for d in devices]))
        base.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=base, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(hashlib.sha256(body).digest() + body)
        os.replace(tmp, base / f"{key}.bin")
    except Exception:  # not serializable (constants, mutable refs), disk full, read-only
        return
    stats["saved"] += 1
    evict(base)


def evict(base: Path, max_bytes: int = MAX_BYTES) -> None:
    """Remove the least recently used programs until the folder holds at most ``max_bytes``."""
    try:
        files = [(p.stat(), p) for p in base.glob("*.bin")]
    except OSError:
        return
    total = sum(s.st_size for s, _ in files)
    for s, p in sorted(files, key=lambda sp: sp[0].st_mtime):
        if total <= max_bytes:
            break
        p.unlink(missing_ok=True)
        total -= s.st_size


class Memory(OrderedDict):
    """Programs loaded in this process (least recently used dropped beyond ``size``)."""

    def __init__(self, size: int = MEMORY_ENTRIES):
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        try:  # one lookup: another thread may drop the entry between two
            self.move_to_end(key)
            return self[key]
        except KeyError:
            return default

    def put(self, key, value) -> None:
        self[key] = value
        self.get(key)  # most recently used
        while len(self) > self.size:
            try:
                self.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break


__all__ = ["Uncacheable", "describe", "by_structure", "describe_tree", "function_digest",
           "enabled", "folder", "key_of", "load", "save", "Memory", "stats", "reused_count"]
