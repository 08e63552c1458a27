"""Recorded chain statistics as ArviZ objects, summary tables and mixing warnings.

ArviZ ≥ 1.0 represents MCMC output as an ``xarray.DataTree`` with groups ``posterior`` and
``sample_stats``; every variable has dimensions ``(chain, draw, ...)``. pcdppl puts the
tracked statistics of :mod:`pcdppl.diagnostics.statistics` in ``posterior`` (chain = particle,
draw = recording) and the sampler's own per-chain statistics in ``sample_stats``.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import convergence

__all__ = ["to_datatree", "summary", "mixing_problems", "MixingWarning"]


class MixingWarning(UserWarning):
    """Chains that do not mix: R-hat above threshold, collapsed ESS, or frozen chains."""


def to_datatree(posterior: dict, sample_stats: dict | None = None, *, dims=None, coords=None,
                attrs: dict | None = None):
    """Build an ArviZ DataTree from ``dict[name, array (chain, draw, ...)]``.

    A sampler statistic called ``energy`` is stored as ``sampler_energy``: ArviZ reads
    ``sample_stats.energy`` as the energy of Hamiltonian Monte Carlo (for BFMI)."""
    import arviz as az

    post = {k: np.asarray(v) for k, v in posterior.items()}
    if not post:
        raise ValueError("no statistics to convert")
    data = {"posterior": post}
    stats = {("sampler_energy" if k == "energy" else k): np.asarray(v)
             for k, v in (sample_stats or {}).items()}
    if stats:
        data["sample_stats"] = stats
    group_attrs = {"/": dict(attrs)} if attrs else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return az.from_dict(data, dims=dims or {}, coords=coords or {}, attrs=group_attrs)


def _posterior_arrays(idata) -> dict[str, np.ndarray]:
    if isinstance(idata, dict):  # already (chain, draw, ...) arrays
        return {k: np.asarray(v, dtype=np.float64) for k, v in idata.items()}
    try:
        ds = idata["posterior"]
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise TypeError("expected an ArviZ DataTree with a 'posterior' group (e.g. from "
                        "fit.diagnostics() or pp.diagnostics.mixing(...).idata)") from err
    out = {}
    for name, da in ds.data_vars.items():
        dims = list(da.dims)
        if dims[:2] != ["chain", "draw"]:
            da = da.transpose("chain", "draw", ...)
        out[name] = np.asarray(da.values, dtype=np.float64)
    return out


def summary(idata, *, var_names=None, use_arviz: bool = True):
    """A pandas table of the tracked statistics: mean, sd, ESS (bulk, tail), R-hat, MCSE.

    Args:
        idata: a DataTree from :meth:`FitResult.diagnostics` or :func:`mixing`.
        var_names: restrict to these variables.
        use_arviz: compute through ``arviz.summary`` (default); ``False`` uses pcdppl's own
            estimators (same values, fewer columns, no ArviZ call).

    Returns:
        ``pandas.DataFrame`` indexed by statistic (``logodds_v[3]`` style labels), with
        columns ``ess_bulk``, ``ess_tail``, ``r_hat``, ``mcse_mean`` among others.
    """
    import pandas as pd

    if use_arviz:
        import arviz as az

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return az.summary(idata, var_names=var_names, kind="all")
    rows, index = [], []
    for name, x in _posterior_arrays(idata).items():
        if var_names is not None and name not in var_names:
            continue
        cols = {
            "mean": x.mean(axis=(0, 1)), "sd": x.std(axis=(0, 1), ddof=1),
            "mcse_mean": convergence.mcse(x), "ess_bulk": convergence.ess(x, "bulk"),
            "ess_tail": convergence.ess(x, "tail"), "r_hat": convergence.rhat(x),
        }
        for idx in np.ndindex(x.shape[2:]):
            index.append(name + (f"[{', '.join(map(str, idx))}]" if idx else ""))
            rows.append({k: float(np.asarray(v)[idx]) for k, v in cols.items()})
    return pd.DataFrame(rows, index=index)


def mixing_problems(idata, *, rhat_threshold: float = 1.1, min_ess_per_chain: float = 1.0,
                    window: float = 0.5, split: bool = True,
                    max_draws: int | None = None) -> list[str]:
    """Statistics whose chains did not mix, each as a sentence naming the statistic.

    Looks at the last ``window`` fraction of draws and flags (1) chains frozen at one value
    of a statistic that varies across chains, (2) rank-normalised R-hat above
    ``rhat_threshold``, (3) bulk ESS per chain below ``min_ess_per_chain``.
    ``split=False`` computes R-hat without splitting chains (for chains recorded while the
    parameters change, whose shared drift is not a mixing failure).
    ``max_draws``: R-hat and ESS use at most this many draws per chain, evenly thinned from
    the window (the frozen-chain check always sees every draw); ``None`` uses them all. Rank
    normalisation sorts every draw of every chain, so for a recording of thousands of draws
    thinning makes the check many times cheaper while the draws it drops, a few minibatch
    steps apart, are strongly correlated with the ones it keeps.
    """
    if not 0 < window <= 1:
        raise ValueError(f"window must be in (0, 1], got {window}")
    if max_draws is not None and (not isinstance(max_draws, (int, np.integer)) or max_draws < 4):
        raise ValueError(f"max_draws must be an int >= 4 or None, got {max_draws!r}")
    problems = []
    for name, x in _posterior_arrays(idata).items():
        C, D = x.shape[:2]
        x = x[:, D - max(4, int(round(window * D))):]
        if x.shape[1] < 4 or C < 2:
            continue
        flat = x.reshape(C, x.shape[1], -1)
        frozen = np.ptp(flat, axis=1) == 0  # (C, E)
        moving = np.ptp(flat.reshape(-1, flat.shape[-1]), axis=0) > 0
        stuck = frozen & moving[None, :]
        D = x.shape[1]
        over = f"the last {D} draws"
        if max_draws is not None and D > max_draws:  # evenly spaced, ending at the last draw
            step = -(-D // max_draws)
            x = x[:, (D - 1) % step::step]
            over += f" (thinned by {step})"
        r = np.atleast_1d(convergence.rhat(x, split=split)).ravel()
        e = np.atleast_1d(convergence.ess(x, "bulk")).ravel() / C
        for j in range(flat.shape[-1]):
            label = name if flat.shape[-1] == 1 else f"{name}[{j}]"
            if stuck[:, j].any():
                chains = np.flatnonzero(stuck[:, j])
                problems.append(f"{label}: {len(chains)} of {C} chains frozen over the last "
                                f"{D} draws (chains {chains[:5].tolist()}"
                                f"{'...' if len(chains) > 5 else ''})")
            elif np.isfinite(r[j]) and r[j] > rhat_threshold:
                problems.append(f"{label}: R-hat {r[j]:.3f} > {rhat_threshold}")
            elif np.isfinite(e[j]) and e[j] < min_ess_per_chain:
                problems.append(f"{label}: ESS per chain {e[j]:.2f} < {min_ess_per_chain} over "
                                f"{over}")
    return problems
