"""PRIVATE: the one place that knows how pcdppl's programs are compiled and seeded.

Rule: every pcdppl module builds its compiled programs with :func:`jit`, its keys with
:func:`as_key`, and draws hot-loop random numbers with :func:`uniform` / :func:`split`; none
of them knows about XLA options, garbage-collector pauses, the PRNG shortcuts behind those
names or the layout of a dense product's gradient (:func:`matmul`). Why each shortcut exists,
and what it was measured to save, is in ``docs/performance.md``.
"""

from .cache import configure_from_environment, set_compilation_cache
from .devices import configure_cpu_devices
from .host import as_key, host_initial_state
from .options import Program, compiler_options, gc_paused, jit
from .prng import epoch_randomness, random_blocked, split, uniform
from .products import matmul
from .store import Uncacheable, by_structure, describe, function_digest

__all__ = ["jit", "Program", "compiler_options", "gc_paused", "as_key", "uniform", "split",
           "epoch_randomness", "random_blocked", "matmul", "host_initial_state", "set_compilation_cache",
           "configure_from_environment", "configure_cpu_devices", "Uncacheable", "describe",
           "by_structure", "function_digest"]
