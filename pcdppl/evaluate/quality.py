"""How well a model reproduces the statistics of its data: the standard measure of the
DCA and Potts-RBM literature (e.g. Tubiana, Cocco & Monasson, 2019).

With one-hot features ``x_i(a) = [s_i = a]`` (``k`` states per site; binary and spin values
use ``k = 2``) and example weights ``w``,

    f_i(a) = Σ_n w_n x_ni(a) / Σ_n w_n,       C_ij(a, b) = f_ij(a, b) − f_i(a) f_j(b)   (i < j)

are the single-site frequencies and the connected pair correlations. :func:`moment_match`
gives the Pearson correlations between the data's and the model samples' ``f`` and ``C``
(1 is a perfect match), computed with two matrix products per set.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class MomentMatch(NamedTuple):
    """Pearson correlations of the data's and the samples' moments, and the moments.

    Attributes:
        single_site: correlation of the single-site frequencies ``f_i(a)``.
        pair: correlation of the connected pair correlations ``C_ij(a, b)``, ``i < j``.
        frequencies: ``(data, samples)`` single-site frequencies, ``(L, k)`` each.
        connected: ``(data, samples)`` connected correlations of site pairs ``i < j``,
            ``(L(L-1)/2, k, k)`` each.
    """

    single_site: float
    pair: float
    frequencies: tuple
    connected: tuple


def _states(x, num_states: int | None) -> tuple[np.ndarray, int]:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"expected (examples, sites) arrays, got shape {x.shape}")
    if x.size and x.min() < 0:  # spins {-1, +1} -> {0, 1}
        if not np.isin(x, (-1, 1)).all():
            raise ValueError("negative values must be spins in {-1, +1}")
        x = (x + 1) // 2
    k = int(x.max()) + 1 if num_states is None else int(num_states)
    if x.size and x.max() >= k:
        raise ValueError(f"values reach {int(x.max())}; num_states={k}")
    return x.astype(np.int64), max(k, 2)


def moments(x, num_states: int, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """``(f (L, k), C (L(L-1)/2, k, k))`` of integer states ``(N, L)`` (see the module)."""
    N, L = x.shape
    onehot = np.zeros((N, L * num_states), np.float32)
    onehot[np.arange(N)[:, None], np.arange(L)[None, :] * num_states + x] = 1.0
    w = np.ones(N, np.float32) if weights is None else np.asarray(weights, np.float32)
    if w.shape != (N,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be {N} finite non-negative numbers, not all zero")
    w = w / w.sum()
    f = w @ onehot
    f2 = (onehot * w[:, None]).T @ onehot
    c = (f2 - np.outer(f, f)).reshape(L, num_states, L, num_states)
    i, j = np.triu_indices(L, 1)
    return f.reshape(L, num_states), c[i, :, j, :]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denom) if denom > 0 else float("nan")


def moment_match(data, samples, *, num_states: int | None = None, weights=None,
                 sample_weights=None) -> MomentMatch:
    """Pearson correlations between the single-site frequencies and the connected pair
    correlations of ``data`` and of model ``samples`` (integer arrays ``(N, L)``: categorical
    states, binary values or spins; samples may be ``(chains, draws, L)``).

    Args:
        data, samples: the two sets of sequences.
        num_states: ``k`` (default: one more than the largest state in either).
        weights: per-example weights of ``data`` (e.g. sequence reweighting).
        sample_weights: per-sample weights of ``samples``.
    """
    samples = np.asarray(samples)
    samples = samples.reshape(-1, samples.shape[-1])
    x, k1 = _states(data, num_states)
    y, k2 = _states(samples, num_states)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"data have {x.shape[1]} sites, samples {y.shape[1]}")
    k = max(k1, k2) if num_states is None else int(num_states)
    fd, cd = moments(x, k, weights)
    fs, cs = moments(y, k, sample_weights)
    return MomentMatch(_pearson(fd, fs), _pearson(cd, cs), (fd, fs), (cd, cs))
