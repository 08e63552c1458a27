"""Turning user data into validated per-group arrays."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .validation import check_unit_values


def default_visible(groups: Mapping) -> str:
    """The group a bare data array belongs to: the only group, else ``"v"``."""
    if len(groups) == 1:
        return next(iter(groups))
    if "v" in groups:
        return "v"
    raise ValueError(f"data given as a bare array is ambiguous for a model with groups "
                     f"{list(groups)}; pass a dict mapping group names to arrays")


def as_dataset(groups: Mapping, data, what: str = "data") -> dict[str, np.ndarray]:
    """Validate a dataset: a 2-D array (for the default visible group) or a dict of them.

    Every array must be ``(num_examples, n_g)`` with values of the group's kind (no NaN,
    nothing outside {0,1} / {-1,1} / {0..k-1}); all must have the same number of examples.

    Returns:
        ``dict[group, int8 ndarray (num_examples, n_g)]``.
    """
    if not isinstance(data, Mapping):
        data = {default_visible(groups): data}
    if not data:
        raise ValueError(f"{what} is an empty dict")
    out, n = {}, None
    for name, x in data.items():
        if name not in groups:
            raise KeyError(f"unknown group {name!r} in {what}; the model's groups are "
                           f"{list(groups)}")
        g = groups[name]
        arr = np.asarray(x)
        where = f"{what}[{name!r}]" if len(data) > 1 or what != "data" else "data"
        if arr.ndim != 2:
            raise ValueError(f"{where} must be 2-D (num_examples, {g.size}), got shape "
                             f"{arr.shape}")
        if arr.shape[1] != g.size:
            raise ValueError(f"{where} has {arr.shape[1]} columns; group {name!r} has {g.size} "
                             f"units (expected shape (num_examples, {g.size}))")
        if arr.shape[0] == 0:
            raise ValueError(f"{where} has no examples")
        if n is not None and arr.shape[0] != n:
            raise ValueError(f"{what}: groups have different numbers of examples ({n} and "
                             f"{arr.shape[0]} for {name!r})")
        n = arr.shape[0]
        out[name] = check_unit_values(g, arr, where)
    return out
