"""One CPU device per core, set up before JAX's backend starts.

Rule: at import, unless ``XLA_FLAGS`` already sets ``--xla_force_host_platform_device_count``
or ``PCDPPL_CPU_DEVICES`` says otherwise, the CPU platform is split into one device per core
the process may run on, so that chain-parallel work (samplers, ``pp.sample``, AIS) runs its
chains on every core: XLA runs a program's elementwise loops on one thread per device.
``PCDPPL_CPU_DEVICES=1`` keeps one device; an int chooses the count. It takes effect only if
JAX's backend has not started yet (import pcdppl before computing with JAX). Measurements:
``docs/performance.md``.
"""

from __future__ import annotations

import os

FLAG = "--xla_force_host_platform_device_count"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def requested_devices() -> int:
    """The CPU device count pcdppl asks for (``PCDPPL_CPU_DEVICES``, default: the cores)."""
    env = os.environ.get("PCDPPL_CPU_DEVICES", "all").strip().lower()
    if env in ("", "all"):
        return cpu_count()
    try:
        n = int(env)
    except ValueError:
        raise ValueError(f"PCDPPL_CPU_DEVICES must be 'all' or a positive int, got {env!r}") \
            from None
    if n < 1:
        raise ValueError(f"PCDPPL_CPU_DEVICES must be 'all' or a positive int, got {env!r}")
    return n


def configure_cpu_devices() -> None:
    """Ask XLA for :func:`requested_devices` CPU devices (see the module docstring)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG in flags:
        return
    n = requested_devices()
    if n > 1:
        os.environ["XLA_FLAGS"] = f"{flags} {FLAG}={n}".strip()
