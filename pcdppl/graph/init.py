"""Parameter initializers: callables ``init(key, shape, dtype) -> array``.

The built-in ones are small declarative classes (so that a learner can tell what they draw);
any callable with that signature works too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

Init = float | int | np.ndarray | jax.Array | Callable | None


@dataclass(frozen=True)
class Normal:
    """Entries drawn from N(0, std²)."""

    std: float

    def __call__(self, key, shape, dtype=jnp.float32):
        return self.std * jax.random.normal(key, shape, dtype)

    def __repr__(self) -> str:
        return f"normal({self.std})"


@dataclass(frozen=True)
class Zeros:
    """All entries 0."""

    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.zeros(shape, dtype)

    def __repr__(self) -> str:
        return "zeros"


@dataclass(frozen=True)
class Constant:
    """All entries ``value``."""

    value: float

    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.full(shape, self.value, dtype)


@dataclass(frozen=True, eq=False)
class FromArray:
    """A given array (its shape must be the parameter's)."""

    array: np.ndarray

    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.asarray(self.array, dtype)


def normal_init(std: float) -> Normal:
    """Initializer drawing N(0, std²) entries."""
    return Normal(float(std))


zeros_init = Zeros()


def as_initializer(init: Init, default: Callable, shape: tuple, name: str) -> Callable:
    """The initializer a declaration's ``init=`` stands for: ``None`` -> ``default``, a number
    -> :class:`Constant`, an array -> :class:`FromArray` (shape and finiteness checked), a
    callable -> itself."""
    if init is None:
        return default
    if callable(init):
        return init
    if isinstance(init, (int, float, np.integer, np.floating)) and not isinstance(init, bool):
        value = float(init)
        if not np.isfinite(value):
            raise ValueError(f"init of parameter {name!r} must be finite, got {value}")
        return Constant(value)
    arr = np.asarray(init, dtype=np.float32)
    if arr.shape != tuple(shape):
        raise ValueError(f"init array of parameter {name!r} has shape {arr.shape}; expected "
                         f"{tuple(shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"init array of parameter {name!r} contains NaN or infinite values")
    return FromArray(arr)


DEFAULT_INIT = {"bias": zeros_init, "dense": Normal(0.01), "pairwise": Normal(0.01),
                "table": zeros_init}
