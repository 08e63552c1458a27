"""pcdppl's own plots: grids of samples for image-shaped groups, learning curves.

matplotlib is an optional dependency (``pip install 'pcdppl[plot]'``); it is imported when
a plot is made, with the Agg backend when no display is available.
"""

from __future__ import annotations

import math

import numpy as np


def pyplot():
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'pcdppl[plot]'") from err
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def plot_samples(samples, shape: tuple[int, int] | None = None, *, path=None, ncols: int | None = None,
                 title: str | None = None, max_images: int = 100):
    """A grid of samples, one image per example.

    Args:
        samples: ``(N, n)`` values of one group (binary, spin or categorical); at most
            ``max_images`` are shown.
        shape: the image shape ``(rows, cols)`` of one example (default: the nearest square).
        path: write the figure there (PNG by extension) and close it; otherwise return it.
        ncols: images per row (default: about square grid).
        title: figure title.

    Returns:
        the matplotlib figure (``None`` when written to ``path``).
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"plot_samples expects (N, n) samples, got shape {x.shape}")
    x = x[:max_images]
    n = x.shape[1]
    if shape is None:
        side = math.isqrt(n)
        shape = (side, n // side) if side * (n // side) == n else (1, n)
    if math.prod(shape) != n:
        raise ValueError(f"image shape {tuple(shape)} does not hold {n} units")
    N = len(x)
    ncols = ncols or math.ceil(math.sqrt(N))
    nrows = math.ceil(N / ncols)
    pad = np.full((nrows * ncols - N, n), np.nan, np.float32)
    tiles = np.concatenate([x, pad]).reshape(nrows, ncols, *shape)
    # one image with 1-pixel gutters, cheaper to draw than nrows × ncols axes
    r, c = shape
    canvas = np.full((nrows * (r + 1) + 1, ncols * (c + 1) + 1), np.nan, np.float32)
    for i in range(nrows):
        for j in range(ncols):
            canvas[1 + i * (r + 1): 1 + i * (r + 1) + r, 1 + j * (c + 1): 1 + j * (c + 1) + c] = tiles[i, j]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(3.0, ncols * (c + 1) * 0.07 + 0.4),
                                    max(2.0, nrows * (r + 1) * 0.07 + 0.6)))
    cmap = plt.get_cmap("gray_r").with_extremes(bad="#d0d7de")
    ax.imshow(canvas, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def plot_history(history: dict, *, path=None, metrics=None, x: str = "epoch"):
    """Learning curves: one panel per metric of ``fit.history`` against ``x``.

    Args:
        history: ``fit.history`` (``dict[str, array]``).
        path: write the figure there and close it; otherwise return it.
        metrics: which metrics (default: all but ``epoch`` and ``time``).
        x: ``"epoch"`` or ``"time"`` (seconds, compilation included).
    """
    if x not in history:
        raise KeyError(f"history has no {x!r}; it has {sorted(history)}")
    metrics = metrics or [m for m in history if m not in ("epoch", "time")]
    unknown = [m for m in metrics if m not in history]
    if unknown:
        raise KeyError(f"history has no metric {unknown[0]!r}; it has {sorted(history)}")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 2.8), squeeze=False)
    xs = np.asarray(history[x])
    for ax, m in zip(axes[0], metrics, strict=True):
        y = np.asarray(history[m], dtype=float)
        keep = np.isfinite(y)
        ax.plot(xs[keep], y[keep], marker="o" if keep.sum() < 30 else None, ms=3)
        ax.set_xlabel("seconds" if x == "time" else x)
        ax.set_title(m.replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finish(fig, path)


def _finish(fig, path):
    if path is None:
        return fig
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
