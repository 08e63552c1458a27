"""Checks that turn bad input into errors that name the problem.

Checks on *values* (range, NaN) run only on concrete arrays; under ``jax.jit`` the
arguments are tracers and only shapes and dtypes can be checked.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np

from .groups import VariableGroup


def host_values(x) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` when its values are unknown (a traced argument
    inside ``jax.jit``: only its shape and dtype can be checked)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def describe_values(group: VariableGroup) -> str:
    if group.kind == "binary":
        return "{0, 1}"
    if group.kind == "spin":
        return "{-1, +1}"
    return f"{{0, ..., {group.num_states - 1}}}"


def check_unit_values(group: VariableGroup, x, where: str):
    """Check dtype and (for concrete arrays) values of an array of unit values.

    Returns the array as ``int8`` (NumPy in, NumPy out; JAX in, JAX out).
    """
    dtype = np.dtype(x.dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"{where} has dtype {dtype}; expected integers, booleans or "
                        f"integral floats with values in {describe_values(group)}")
    arr = host_values(x)
    if arr is not None:
        if dtype.kind == "f":
            if np.isnan(arr).any():
                raise ValueError(f"{where} contains NaN")
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))].ravel()[0]
                raise ValueError(f"{where} has non-integral value {bad}; expected values in "
                                 f"{describe_values(group)}")
        allowed = group.values
        if arr.size:
            lo, hi = arr.min(), arr.max()
            ok = np.isin(arr, allowed).all() if group.kind == "spin" else (
                lo >= 0 and hi <= group.num_states - 1)
            if not ok:
                found = np.setdiff1d(np.unique(arr), allowed)[:5]
                hint = ""
                if group.kind == "binary" and np.isin(arr, [-1, 1]).all():
                    hint = " (these look like spins: use (x + 1) // 2, or declare the group as spin)"
                elif group.kind == "spin" and np.isin(arr, [0, 1]).all():
                    hint = " (these look like binary values: use 2 * x - 1, or declare the group as binary)"
                raise ValueError(f"{where} has values outside {describe_values(group)} for "
                                 f"{group.kind} group {group.name!r}: found "
                                 f"{found.tolist()}{hint}")
    return x.astype(np.int8) if isinstance(x, np.ndarray) else x.astype("int8")


def _check_names(given, known: Mapping, required: list, noun: str, what: str) -> None:
    """``given`` must be a mapping whose keys are known names including every required one."""
    if not isinstance(given, Mapping):
        raise TypeError(f"{what} must be a dict mapping {noun} names to arrays, got "
                        f"{type(given).__name__}")
    unknown = [k for k in given if k not in known]
    if unknown:
        raise KeyError(f"unknown {noun} {unknown[0]!r} in {what}; the model's {noun}s are "
                       f"{list(known)}")
    missing = [k for k in required if k not in given]
    if missing:
        raise KeyError(f"{what} is missing {noun} {missing[0]!r} (needs {required})")


def check_state(groups: Mapping[str, VariableGroup], state, *, required=None,
                what: str = "state") -> dict:
    """Validate a dict of per-group value arrays of shape ``(..., n_g)``.

    Args:
        groups: the model's groups.
        state: mapping group name -> array.
        required: names that must be present (default: all groups).
        what: how to call the argument in error messages.

    Returns:
        dict with the same keys, arrays cast to int8, and the common batch shape.
    """
    required = list(groups) if required is None else list(required)
    _check_names(state, groups, required, "group", what)
    out, batch = {}, None
    for name, x in state.items():
        g = groups[name]
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] != g.size:
            raise ValueError(f"{what}[{name!r}] has shape {tuple(x.shape)}; expected "
                             f"(..., {g.size}) for group {name!r} of {g.size} units")
        if batch is None:
            batch = tuple(x.shape[:-1])
        elif tuple(x.shape[:-1]) != batch:
            raise ValueError(f"{what}: batch shapes differ: {name!r} has {tuple(x.shape[:-1])}, "
                             f"other groups have {batch}")
        out[name] = check_unit_values(g, x, f"{what}[{name!r}]")
    return out, (batch if batch is not None else ())


def check_params(shapes: Mapping[str, tuple], params, *, check_finite: bool = True) -> None:
    """Check names and shapes of a params dict and, where ``check_finite`` and the arrays
    are concrete, that they hold no NaN or infinity (this reads them back to the host)."""
    _check_names(params, shapes, list(shapes), "parameter", "params")
    for name, shape in shapes.items():
        p = params[name]
        pshape = tuple(np.shape(p))
        if pshape != tuple(shape):
            raise ValueError(f"parameter {name!r} has shape {pshape}; expected {tuple(shape)}")
        arr = host_values(p) if check_finite else None
        if arr is not None:
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"parameter {name!r} has dtype {arr.dtype}; expected floats")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"parameter {name!r} contains NaN or infinite values")
