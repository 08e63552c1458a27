"""Mixing plots through ArviZ's plotting (``arviz_plots``, matplotlib backend).

Each function takes the DataTree of :meth:`FitResult.diagnostics` or
:func:`~pcdppl.diagnostics.mixing` and returns ArviZ's ``PlotCollection`` (or saves it to
``path``): the trace of every tracked statistic, rank plots (uniform ranks per chain when the
chains mix), the autocorrelation, and the evolution of bulk and tail ESS with the number of
draws (it grows linearly when the chains mix).
"""

from __future__ import annotations

import os
import warnings

__all__ = ["plot_trace", "plot_rank", "plot_autocorr", "plot_ess_evolution", "plot_mixing"]


def _select(idata, var_names, max_chains):
    import numpy as np

    coords = None
    C = idata["posterior"].sizes["chain"]
    if max_chains is not None and C > max_chains:  # evenly spaced chains keep plots legible
        coords = {"chain": idata["posterior"]["chain"].values[
            np.linspace(0, C - 1, max_chains).round().astype(int)]}
    return {"var_names": var_names, "coords": coords}


def _backend():
    from .plots import pyplot

    pyplot()  # selects Agg without a display
    return "matplotlib"


def _save(pc, path):
    if path is None:
        return pc
    pc.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close("all")
    return None


def _call(fn_name, idata, path, var_names, max_chains, **kw):
    import arviz as az

    backend = _backend()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = getattr(az, fn_name)(idata, backend=backend, **_select(idata, var_names, max_chains),
                                  **kw)
    return _save(pc, path)


def plot_trace(idata, *, path=None, var_names=None, max_chains: int | None = 8):
    """Trace of each statistic over draws, one line per chain (at most ``max_chains``)."""
    return _call("plot_trace", idata, path, var_names, max_chains)


def plot_rank(idata, *, path=None, var_names=None, max_chains: int | None = 8):
    """Rank plots: the pooled ranks of each chain's draws, uniform when chains mix."""
    return _call("plot_rank", idata, path, var_names, max_chains)


def plot_autocorr(idata, *, path=None, var_names=None, max_chains: int | None = 8):
    """Autocorrelation of each statistic against the lag (in recorded draws)."""
    return _call("plot_autocorr", idata, path, var_names, max_chains)


def plot_ess_evolution(idata, *, path=None, var_names=None, max_chains: int | None = None):
    """Bulk and tail ESS as the number of draws grows (linear growth when chains mix)."""
    return _call("plot_ess_evolution", idata, path, var_names, max_chains)


def plot_mixing(idata, out_dir: str, *, prefix: str = "", var_names=None) -> list[str]:
    """Write ``trace.png``, ``rank.png``, ``autocorr.png`` and ``ess_evolution.png`` (each
    name preceded by ``prefix``) to ``out_dir``; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, fn in (("trace", plot_trace), ("rank", plot_rank), ("autocorr", plot_autocorr),
                     ("ess_evolution", plot_ess_evolution)):
        path = os.path.join(out_dir, f"{prefix}{name}.png")
        fn(idata, path=path, var_names=var_names)
        paths.append(path)
    return paths
