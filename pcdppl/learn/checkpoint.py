"""Checkpoints of the complete learner state, written atomically.

A checkpoint holds everything a learner's ``fit`` needs to continue exactly where
it stopped — parameters, optimiser state, persistent chains, RNG key and epoch (the
:class:`~pcdppl.learn.LearnerState` pytree) — plus the history so far. Resuming gives the
same parameters, bit for bit on the CPU, as a run that was never interrupted: an epoch is a
pure function of the state.

File format: a NumPy ``.npz`` archive (no pickles) named ``ckpt-EPOCH.npz`` with arrays
``leaf_0 … leaf_{L-1}`` (the state's leaves in ``jax.tree`` order; PRNG keys as their raw
``uint32`` data), ``history/NAME`` and a JSON header ``meta`` that records the format, the
epoch, each leaf's path, shape and dtype and a SHA-256 checksum of the leaf bytes. It is
written to a temporary file in the same folder, flushed and ``fsync``-ed, then renamed over
the final name (``os.replace`` is atomic), so an interrupted save never leaves a partial
checkpoint behind and never damages the previous one; a stray temporary file (``.ckpt-*.tmp``,
left by a process killed while saving) is never taken for a checkpoint.

Fingerprint check. The header's ``info`` holds the writing learner's fingerprint
(:meth:`~pcdppl.learn.ContrastiveLearner.fingerprint`): a flat dict of JSON values, the same
in every process, that names the learner class; the model's groups, each factor's kind, shape
and a digest of its index tables (the edges), and a digest of the whole structure; the chain
count, ``k``, ``batch_size``, ``persistent`` and ``k_positive``; the sampler's class and
settings; the optimiser (its state's tree structure, shapes and dtypes, and a description of
its transformations and hyperparameters read from the optax functions) and the PRNG key's
implementation. Resuming (:func:`resume_state`, ``fit(..., resume=...)``) compares it with
the resuming learner's and raises :class:`CheckpointError` naming every difference, e.g.
``the checkpoint was written for num_chains=30; this learner has num_chains=40`` — also where
the state's shapes would fit (another graph with as many edges, another optimiser with the same
state). The key's value is ignored when resuming, but its implementation must match: resume an
``rbg`` run with ``key=jax.random.key(0, impl="rbg")``. The optimiser's description is compared
only between files of the same optax version (it reads optax's internals); its state's
structure always is. Files without a fingerprint (or with one of another version) are checked
by the state's entries and shapes only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import signal
import tempfile
import threading
import types
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from .soft_data import SoftData

FORMAT = "pcdppl-checkpoint/1"
_NAME = re.compile(r"^ckpt-(\d+)\.npz$")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or belongs to another model."""


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _leaves(state):
    flat, treedef = jax.tree_util.tree_flatten_with_path(state)
    paths = [jax.tree_util.keystr(p) for p, _ in flat]
    return paths, [leaf for _, leaf in flat], treedef


def _digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def checkpoint_path(directory, epoch: int) -> str:
    return os.path.join(os.fspath(directory), f"ckpt-{int(epoch):06d}.npz")


def save_checkpoint(path, state, *, history: dict | None = None, info: dict | None = None) -> str:
    """Write ``state`` (a :class:`LearnerState`) and ``history`` to ``path`` atomically.

    Returns the path written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    paths, leaves, _ = _leaves(state)
    arrays, kinds = [], []
    for leaf in leaves:
        if _is_key(leaf):
            arrays.append(np.asarray(jax.random.key_data(leaf)))
            kinds.append(f"key:{jax.random.key_impl(leaf)}")
        else:
            arrays.append(np.asarray(leaf))
            kinds.append("array")
    meta = {"format": FORMAT, "epoch": int(np.asarray(state.epoch)), "paths": paths,
            "kinds": kinds, "shapes": [list(a.shape) for a in arrays],
            "dtypes": [a.dtype.str for a in arrays], "sha256": _digest(arrays),
            "info": info or {}}
    payload = {f"leaf_{i}": a for i, a in enumerate(arrays)}
    for name, values in (history or {}).items():
        payload[f"history/{name}"] = np.asarray(values, dtype=np.float64)
    payload["meta"] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def checkpoint_epoch(path) -> int:
    """The epoch a checkpoint file holds, from its name (``ckpt-EPOCH.npz``)."""
    m = _NAME.match(os.path.basename(os.fspath(path)))
    if m is None:
        raise CheckpointError(f"{path}: not a checkpoint file name (ckpt-EPOCH.npz)")
    return int(m.group(1))


def latest_checkpoint(directory) -> str | None:
    """The checkpoint with the highest epoch in ``directory`` (``None`` if there is none)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return None
    found = [(int(m.group(1)), n) for n in os.listdir(directory) if (m := _NAME.match(n))]
    return os.path.join(directory, max(found)[1]) if found else None


def read_checkpoint(path) -> tuple[dict, list[np.ndarray], dict[str, np.ndarray]]:
    """Read and verify a checkpoint file: ``(meta, leaf arrays, history)``.

    ``path`` may be a checkpoint file or a folder (its latest checkpoint). Raises
    :class:`CheckpointError` naming the file and the problem for a missing, truncated or
    corrupted file.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"{path}: no checkpoint files (ckpt-*.npz) in this folder")
        path = found
    if not os.path.exists(path):
        raise CheckpointError(f"no such checkpoint: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "meta" not in f.files:
                raise CheckpointError(f"{path}: not a pcdppl checkpoint (no 'meta' header)")
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: unknown checkpoint format "
                                      f"{meta.get('format')!r} (expected {FORMAT!r})")
            arrays = [f[f"leaf_{i}"] for i in range(len(meta["paths"]))]
            history = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("history/")}
    except CheckpointError:
        raise
    # zipfile raises NotImplementedError when a damaged header names an unknown
    # compression method, zip version or flag
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError,
            NotImplementedError) as err:
        raise CheckpointError(f"{path}: truncated or corrupted checkpoint ({type(err).__name__}: "
                              f"{err})") from None
    if _digest(arrays) != meta["sha256"]:
        raise CheckpointError(f"{path}: checksum mismatch — the checkpoint is corrupted")
    meta["file"] = path
    return meta, arrays, history


def restore_state(template, meta: dict, arrays: list[np.ndarray]):
    """Rebuild a :class:`LearnerState` from checkpoint arrays, with the structure of
    ``template`` (a fresh state of the same learner). Raises :class:`CheckpointError` when
    the checkpoint belongs to a different model or learner configuration."""
    paths, leaves, treedef = _leaves(template)
    where = meta.get("file", "checkpoint")
    if paths != meta["paths"]:
        raise CheckpointError(f"{where}: the checkpoint's state does not match this learner "
                              f"and model (state entries {meta['paths'][:4]}... vs "
                              f"{paths[:4]}...); resume with the same model and learner")
    out = []
    for p, leaf, a, kind in zip(paths, leaves, arrays, meta["kinds"], strict=True):
        if _is_key(leaf):
            if not kind.startswith("key:"):
                raise CheckpointError(f"{where}: entry {p} should be a PRNG key")
            try:  # the checkpoint's implementation (the fingerprint checks it against the fit's)
                out.append(jax.random.wrap_key_data(jnp.asarray(a), impl=kind[4:]))
            except (TypeError, ValueError) as err:
                raise CheckpointError(f"{where}: PRNG key {p} ({kind[4:]}, shape {a.shape}) "
                                      f"cannot be restored: {err}") from None
            continue
        want_shape, want_dtype = tuple(np.shape(leaf)), np.dtype(leaf.dtype)
        if a.shape != want_shape or a.dtype != want_dtype:
            raise CheckpointError(f"{where}: entry {p} has shape {a.shape} and dtype {a.dtype}; "
                                  f"this learner needs {want_shape} {want_dtype} (a different "
                                  f"model, number of chains or optimiser?)")
        out.append(jnp.asarray(a))
    return jax.tree_util.tree_unflatten(treedef, out)


def stable_description(value, _path: tuple = ()) -> str:
    """Text for ``value`` that is the same in every process (no memory addresses): numbers,
    strings and containers as themselves; a function as its qualified name and the values it
    closes over (an optax transformation reads as its components and hyperparameters); an
    array as dtype, shape and its values (up to 8) or a digest; any other object as its type."""
    if id(value) in _path or len(_path) > 16:
        return "..."
    path = (*_path, id(value))
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        return (f"{type(value).__qualname__}(" + ", ".join(
            f"{k}={stable_description(v, path)}" for k, v in zip(value._fields, value, strict=True))
            + ")")
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(stable_description(v, path) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {stable_description(v, path)}" for k, v in value.items()) + "}"
    if _is_key(value):
        return f"key<{jax.random.key_impl(value)}>{list(value.shape)}"
    if isinstance(value, (np.ndarray, jax.Array)):
        a = np.asarray(value)
        return f"{a.dtype}{list(a.shape)}=" + (repr(a.tolist()) if a.size <= 8 else _digest([a])[:12])
    if isinstance(value, functools.partial):
        return (f"partial({stable_description(value.func, path)}, "
                f"{stable_description(value.args, path)}, {stable_description(value.keywords, path)})")
    if isinstance(value, types.MethodType):
        return f"{type(value.__self__).__qualname__}.{value.__func__.__name__}"
    if isinstance(value, types.FunctionType):
        inner = []
        for name, cell in zip(value.__code__.co_freevars, value.__closure__ or (), strict=False):
            try:
                content = cell.cell_contents
            except ValueError:  # a cell not filled yet
                inner.append(f"{name}=?")
                continue
            inner.append(f"{name}={stable_description(content, path)}")
        return f"{value.__qualname__.replace('<locals>.', '')}({', '.join(inner)})"
    return type(value).__qualname__  # never its repr: that may hold a memory address


def _excerpt(a: str, b: str, context: int = 30) -> tuple[str, str]:
    """The parts of two long texts that differ, with some context around them."""
    if max(len(a), len(b)) <= 2 * context + 20:
        return a, b
    i = len(os.path.commonprefix([a, b]))
    j = min(len(os.path.commonprefix([a[::-1], b[::-1]])), min(len(a), len(b)) - i)
    lo = max(0, i - context)

    def cut(t):
        hi = min(len(t), len(t) - j + context)
        return ("…" if lo else "") + t[lo:hi] + ("…" if hi < len(t) else "")

    return cut(a), cut(b)


def _difference(name: str, saved, current) -> str:
    if name == "learner":
        return f"the checkpoint was written by {saved}; this learner is {current}"
    if name == "key":
        return (f"the checkpoint's PRNG key is {saved!r}; this fit's key is {current!r} (when "
                f"resuming the key's value is ignored but its implementation must match: pass "
                f"e.g. key=jax.random.key(0, impl={saved!r}))")
    a, b = _excerpt(str(saved), str(current))
    text = f"the checkpoint was written for {name}={a}; this learner has {name}={b}"
    if name.startswith("model.factor") and a.split(" tables")[0] == b.split(" tables")[0]:
        text += " (same kind and shape, other index tables: another graph)"
    elif name == "model.structure":
        text += " (the same groups and factors in another layout)"
    return text


def check_fingerprint(where: str, saved: dict, current: dict) -> None:
    """Raise :class:`CheckpointError` naming each difference between a checkpoint's fingerprint
    (``saved``, its header's ``info``) and the resuming learner's (``current``); see the module
    docstring. Entries missing from either side are not compared; ``model.structure`` (the
    digest of the whole model) is reported only when no other model entry differs, and
    ``optimizer`` only when both sides have the same ``optax`` version."""
    if "fingerprint" not in saved or saved["fingerprint"] != current.get("fingerprint"):
        return  # an older file: restore_state checks the state's entries and shapes
    diffs = [k for k in current if k in saved and saved[k] != current[k]]
    if saved.get("optax") != current.get("optax"):
        diffs = [k for k in diffs if k not in ("optimizer", "optax")]
    if any(k.startswith("model.") and k != "model.structure" for k in diffs):
        diffs = [k for k in diffs if k != "model.structure"]
    if diffs:
        raise CheckpointError(f"{where}: the checkpoint belongs to another model or learner "
                              f"configuration: " + "; ".join(_difference(k, saved[k], current[k])
                                                              for k in diffs)
                              + ". Resume with the model, learner settings, optimiser and key "
                              "type it was written with, or start a new fit")


class Checkpointer:
    """Saves every ``every`` epochs into ``directory``, keeping the newest ``keep`` files."""

    def __init__(self, directory, every: int | None = None, keep: int = 3,
                 info: dict | None = None):
        if every is not None and (not isinstance(every, (int, np.integer)) or every < 1):
            raise ValueError(f"checkpoint_every must be a positive int, got {every!r}")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive int, got {keep!r}")
        self.directory, self.every, self.keep = os.fspath(directory), every, keep
        self.info = info or {}
        self.last: str | None = None
        os.makedirs(self.directory, exist_ok=True)

    def after_epoch(self, state, history: dict, *, final: bool = False,
                    guard: InterruptGuard | None = None) -> None:
        """Save when due (every ``every`` epochs, the last epoch, or after Ctrl-C); after
        Ctrl-C raise :class:`TrainingInterrupted`."""
        epoch = int(np.asarray(state.epoch))
        stop = guard is not None and guard.requested
        if stop or final or (self.every is not None and epoch % self.every == 0):
            self.save(state, history)
        if stop:
            raise TrainingInterrupted(self.last, epoch)

    def save(self, state, history: dict) -> str:
        epoch = int(np.asarray(state.epoch))
        self.last = save_checkpoint(checkpoint_path(self.directory, epoch), state,
                                    history=history, info=self.info)
        old = sorted((int(m.group(1)), n) for n in os.listdir(self.directory)
                     if (m := _NAME.match(n)))
        for _, n in old[:-self.keep]:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.directory, n))
        return self.last


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a checkpointed fit: raised after the running epoch finished and its
    state was saved. ``checkpoint`` is the file written."""

    def __init__(self, checkpoint: str | None, epoch: int):
        super().__init__(f"training interrupted after epoch {epoch}; state saved to "
                         f"{checkpoint}")
        self.checkpoint, self.epoch = checkpoint, epoch


class InterruptGuard:
    """Turns the first SIGINT (Ctrl-C) into a flag checked between epochs; a second one
    interrupts at once. Inactive outside the main thread."""

    def __init__(self, enabled: bool = True):
        self.requested, self.enabled = False, enabled
        self._old = None

    def __enter__(self):
        if self.enabled and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None
        return False


def resume_state(learner, source, data, key=None) -> tuple:
    """``(state, history)`` from a checkpoint path for ``learner`` on ``data``, once the
    checkpoint's fingerprint matches ``learner.fingerprint(key)`` (:func:`check_fingerprint`;
    ``key`` is the resuming fit's key, whose implementation must be the checkpoint's; ``None``
    skips that comparison)."""
    meta, arrays, history = read_checkpoint(source)
    check_fingerprint(meta["file"], meta.get("info") or {}, learner.fingerprint(key))
    if any(np.asarray(a).dtype.kind == "f" for a in data.values()):
        data = SoftData(data)
    template = learner.init_state(0, data)
    return restore_state(template, meta, arrays), {k: list(v) for k, v in history.items()}
