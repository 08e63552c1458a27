"""Variable groups: named vectors of discrete units that share a kind.

A group holds ``size`` units. Its values are stored as ``int8``:

=============  ===============  =================
kind           values           state index
=============  ===============  =================
``binary``     ``{0, 1}``       ``x``
``spin``       ``{-1, +1}``     ``(x + 1) / 2``
``categorical````{0, .., k-1}`` ``x``
=============  ===============  =================

The *state index* is what table factors use to look up their log-potentials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("binary", "spin", "categorical")
MAX_CATEGORIES = 127  # values are stored as int8


@dataclass(frozen=True)
class VariableGroup:
    """A named group of ``size`` discrete units of one ``kind``.

    Attributes:
        name: the group's name, the key of its values in every state dict.
        size: number of units.
        kind: ``"binary"``, ``"spin"`` or ``"categorical"``.
        num_states: states per unit (2 for binary and spin, ``k`` for categorical).
        shape: optional display shape (e.g. ``(8, 8)`` for images); ``prod(shape) == size``.
    """

    name: str
    size: int
    kind: str
    num_states: int
    shape: tuple[int, ...]

    @property
    def values(self) -> np.ndarray:
        """The allowed values of one unit, in state-index order."""
        if self.kind == "spin":
            return np.array([-1, 1], dtype=np.int8)
        return np.arange(self.num_states, dtype=np.int8)

    @property
    def span(self) -> float:
        """``on - off`` for binary (1) and spin (2) units: the factor by which a linear
        coefficient becomes the log-odds of the "on" state."""
        return 2.0 if self.kind == "spin" else 1.0

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def log_num_states(self) -> float:
        """log of the number of joint states of the group."""
        return self.size * math.log(self.num_states)

    def reference_value(self) -> int:
        """The value used as the reference state (state index 0)."""
        return -1 if self.kind == "spin" else 0

    def __repr__(self) -> str:
        k = f", k={self.num_states}" if self.is_categorical else ""
        return f"VariableGroup({self.name!r}, {self.kind}, size={self.size}{k})"


def to_state_index(group: VariableGroup, x):
    """Map stored values to state indices ``0 .. num_states-1`` (works on NumPy and JAX arrays)."""
    if group.kind == "spin":
        return (x + 1) // 2
    return x


def from_state_index(group: VariableGroup, i):
    """Inverse of :func:`to_state_index`."""
    if group.kind == "spin":
        return 2 * i - 1
    return i


def make_group(name: str, size, kind: str, num_states: int | None = None) -> VariableGroup:
    """Validate the arguments of a group declaration and build the group."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"a variable group name must be a non-empty string, got {name!r}")
    if kind not in KINDS:
        raise ValueError(f"unknown variable kind {kind!r}; expected one of {KINDS}")
    if isinstance(size, (tuple, list)):
        shape = tuple(size)
        if not shape or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
            raise ValueError(f"group {name!r}: shape must be a tuple of positive ints, got {size!r}")
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape))
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"group {name!r}: size must be positive, got {size}")
        n = int(size)
        shape = (n,)
    else:
        raise TypeError(f"group {name!r}: size must be an int or a shape tuple, got {size!r}")
    if kind == "categorical":
        if not isinstance(num_states, (int, np.integer)) or isinstance(num_states, bool):
            raise TypeError(f"categorical group {name!r}: k must be an int, got {num_states!r}")
        if not 2 <= num_states <= MAX_CATEGORIES:
            raise ValueError(
                f"categorical group {name!r}: k must be between 2 and {MAX_CATEGORIES}, "
                f"got {num_states}"
            )
        k = int(num_states)
    else:
        k = 2
    return VariableGroup(name=name, size=n, kind=kind, num_states=k, shape=shape)
