"""Loading binary datasets without network access.

Every loader returns a :class:`Dataset`: ``train`` and ``test`` arrays of ``int8`` values,
one example per row, plus the image shape when the data are images. Data are validated on
the way in (:func:`validate`), so a wrong dtype, a NaN or a value outside the expected set
is reported with the file and the problem, not discovered as a wrong answer later.
"""

from __future__ import annotations

import os
import zipfile
from typing import NamedTuple

import numpy as np


class Dataset(NamedTuple):
    """A train/test split of binary (or spin) examples.

    Attributes:
        train: ``int8 (N_train, n)``.
        test: ``int8 (N_test, n)``.
        shape: the image shape of one example (e.g. ``(8, 8)``), or ``None``.
        name: where the data came from.
    """

    train: np.ndarray
    test: np.ndarray
    shape: tuple[int, ...] | None
    name: str


def validate(x, *, values: str = "binary", what: str = "data") -> np.ndarray:
    """Check a 2-D array of examples and return it as ``int8``.

    Args:
        x: array-like ``(N, n)``.
        values: ``"binary"`` ({0, 1}) or ``"spin"`` ({-1, +1}).
        what: how to name the array in error messages (e.g. the file name).

    Raises:
        ValueError: on a wrong number of dimensions, no examples, NaN or infinite entries,
            non-integral values or values outside the allowed set (the message names the
            first offending entry).
        TypeError: on a non-numeric dtype.
    """
    allowed = {"binary": (0, 1), "spin": (-1, 1)}
    if values not in allowed:
        raise ValueError(f"values must be 'binary' or 'spin', got {values!r}")
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array (examples, units), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{what}: empty array of shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"{what}: contains NaN or infinite values (first at row {i}, "
                             f"column {j})")
    lo, hi = allowed[values]
    ok = (a == lo) | (a == hi)
    if not ok.all():
        i, j = np.argwhere(~ok)[0]
        hint = ""
        if values == "binary" and np.isin(a, (-1, 1)).all():
            hint = "; the data look like spins: use values='spin' or map them with (x + 1) // 2"
        elif values == "spin" and np.isin(a, (0, 1)).all():
            hint = "; the data look binary: use values='binary' or map them with 2 * x - 1"
        elif values == "binary":
            hint = "; binarise real-valued data first (pcdppl.data.binarize)"
        raise ValueError(f"{what}: values must be in {{{lo}, {hi}}} ({values}); found "
                         f"{a[i, j]!r} at row {i}, column {j}{hint}")
    return a.astype(np.int8)


def binarize(x, threshold: float | None = None, *, key=None) -> np.ndarray:
    """Binarise real-valued data.

    Args:
        x: array of intensities.
        threshold: units are on where ``x > threshold``. If ``None``, ``x`` must lie in
            [0, 1] and each unit is drawn on with probability ``x`` (stochastic
            binarisation), using ``key`` (an int seed or ``numpy.random.Generator``).

    Returns:
        ``int8`` array of the same shape.
    """
    a = np.asarray(x, dtype=np.float64)
    if np.isnan(a).any():
        raise ValueError("binarize: input contains NaN")
    if threshold is not None:
        return (a > threshold).astype(np.int8)
    if a.min() < 0 or a.max() > 1:
        raise ValueError(f"stochastic binarisation needs values in [0, 1], got range "
                         f"[{a.min()}, {a.max()}]; pass a threshold or rescale")
    rng = key if isinstance(key, np.random.Generator) else np.random.default_rng(key)
    return (rng.random(a.shape) < a).astype(np.int8)


def split(x: np.ndarray, test_size: float = 0.2, random_state: int = 0):
    """Shuffle-split rows into train and test, as scikit-learn's ``train_test_split``."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    from sklearn.model_selection import train_test_split

    return train_test_split(x, test_size=test_size, random_state=random_state)


def load_digits(threshold: float = 8, *, test_size: float = 0.2,
                random_state: int = 0) -> Dataset:
    """scikit-learn's 1,797 8×8 handwritten digits (shipped with scikit-learn), binarised.

    Pixels (0–16) are on where ``pixel > threshold``. The split is scikit-learn's
    ``train_test_split(test_size=0.2, random_state=0)``: 1,437 training and 360 test images.
    Requires the ``data`` extra (scikit-learn).
    """
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("load_digits needs scikit-learn: pip install 'pcdppl[data]'") from err
    x = binarize(_sk_digits().data, threshold)
    train, test = split(x, test_size, random_state)
    return Dataset(train, test, (8, 8), f"sklearn digits > {threshold:g}")


def load_npz(path, *, key: str | None = None, test_key: str | None = None,
             values: str = "binary", shape=None, test_size: float = 0.2,
             random_state: int = 0) -> Dataset:
    """Load examples from a NumPy ``.npz`` archive.

    Args:
        path: the ``.npz`` file.
        key: the array holding the (training) examples; default ``"train"`` if present,
            else ``"x"``/``"data"``, else the only array in the file.
        test_key: the array holding test examples (default ``"test"`` if present); without
            one, the examples are split with :func:`split`.
        values: ``"binary"`` or ``"spin"``; the arrays are validated against it.
        shape: the image shape of one example (default: from a ``"shape"`` array in the
            file, if any).

    Raises:
        FileNotFoundError, ValueError: naming the file and the problem (missing, not a
            valid archive, missing key, wrong shape or values).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npz archive ({err})") from None
    if not arrays:
        raise ValueError(f"{path}: the archive holds no arrays")
    if key is None:
        key = next((k for k in ("train", "x", "data") if k in arrays), None)
        if key is None:
            if len(arrays) != 1:
                raise ValueError(f"{path}: cannot tell which array holds the examples among "
                                 f"{sorted(arrays)}; pass key=")
            key = next(iter(arrays))
    if key not in arrays:
        raise KeyError(f"{path}: no array named {key!r}; the archive holds {sorted(arrays)}")
    x = arrays[key]
    if x.ndim > 2:
        shape = shape or x.shape[1:]
        x = x.reshape(len(x), -1)
    x = validate(x, values=values, what=f"{path}[{key!r}]")
    if test_key is None and "test" in arrays and key != "test":
        test_key = "test"
    if test_key is not None:
        if test_key not in arrays:
            raise KeyError(f"{path}: no array named {test_key!r}; the archive holds "
                           f"{sorted(arrays)}")
        t = arrays[test_key]
        t = validate(t.reshape(len(t), -1) if t.ndim > 2 else t, values=values,
                     what=f"{path}[{test_key!r}]")
        if t.shape[1] != x.shape[1]:
            raise ValueError(f"{path}: {test_key!r} has {t.shape[1]} units per example but "
                             f"{key!r} has {x.shape[1]}")
        train, test = x, t
    else:
        train, test = split(x, test_size, random_state)
    if shape is None and "shape" in arrays:
        shape = tuple(int(s) for s in arrays["shape"])
    if shape is not None and int(np.prod(shape)) != x.shape[1]:
        raise ValueError(f"{path}: image shape {tuple(shape)} does not match {x.shape[1]} "
                         f"units per example")
    return Dataset(train, test, tuple(shape) if shape is not None else None, path)
