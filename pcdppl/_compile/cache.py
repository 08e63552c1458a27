"""JAX's persistent compilation cache, on by default for pcdppl's programs.

Rule: at import, unless the user configured JAX's cache already, compiled programs are
kept in ``$PCDPPL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/pcdppl/xla`` or
``~/.cache/pcdppl/xla``), every program however quick its compilation, so a second process
starts its first epoch without compiling anything; the folder is kept under ``MAX_BYTES``
by evicting the least recently used programs. Its ``programs/`` subfolder is pcdppl's own
program store (:mod:`pcdppl._compile.store`): learners' epochs, ``sampler.run`` and
``pp.sample`` keyed by what their trace depends on, so a second process does not even trace
them.
``PCDPPL_CACHE_DIR=off`` (or ``pcdppl.set_compilation_cache(None)``) turns it off. JAX
writes each entry atomically (a temporary file renamed into place), so processes may share
a folder. Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

MIN_COMPILE_SECONDS = 0.0  # small programs too: reading one back takes milliseconds
MAX_BYTES = 2 * 2**30
_OFF = ("off", "0", "none", "false", "")


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pcdppl" / "xla"


def set_compilation_cache(path: str | os.PathLike | None = "default") -> Path | None:
    """Keep compiled programs in ``path`` across processes (``"default"``: pcdppl's per-user
    folder, ``~/.cache/pcdppl/xla``; also set by the environment variable
    ``PCDPPL_CACHE_DIR``), or turn the persistent cache off with ``None``
    (``PCDPPL_CACHE_DIR=off``). Returns the folder in use. Call it before the first
    compilation: JAX fixes its own cache folder then (pcdppl's store follows at once).

    Two layers share the folder: JAX's persistent compilation cache (every program; a
    warm process still traces and lowers a program to find it) and, in ``programs/``,
    pcdppl's store of learners' epoch programs, ``sampler.run`` and ``pp.sample``, keyed
    by pcdppl's source, the JAX version, the devices, the model's structure, the shapes of
    the data and the learner's settings
    (the optimiser by the jaxpr of its update): a warm process loads the epoch without
    tracing it (digits RBM: first epoch 0.5 s → 0.15 s). Settings the key cannot vouch for
    (a sampler class of your own) simply compile as usual. Processes may share the folder;
    its files are executable code, so it must not be writable by others."""
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    folder = default_dir() if path == "default" else Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return folder


def configure_from_environment() -> Path | None:
    """The import-time default (see the module docstring); leaves a cache the user set up
    through JAX untouched."""
    if jax.config.jax_compilation_cache_dir or not jax.config.jax_enable_compilation_cache:
        return Path(jax.config.jax_compilation_cache_dir or ".") if \
            jax.config.jax_enable_compilation_cache else None
    env = os.environ.get("PCDPPL_CACHE_DIR")
    if env is not None and env.strip().lower() in _OFF:
        return set_compilation_cache(None)
    try:
        return set_compilation_cache(env if env else "default")
    except OSError:  # an unwritable home: run without the cache
        return None
