"""Calibrated exactness checks of samplers against enumeration.

For a small model every statistic's exact mean and standard deviation come from the full
distribution; a sampler's draws give a sample mean and, from their effective sample size
(``ESS_mean``, which accounts for autocorrelation within chains), its standard error
``sd / sqrt(ESS)``. Each statistic's z-score must stay below the Bonferroni bound for a
family-wise level ``alpha`` over all statistics: the energy, every unit's marginal (each
state's indicator for categorical units) and every coupled pair's correlation (``x_i x_j``
for binary/spin pairs, the joint state indicators otherwise). The tolerance comes from the
sample size, not from a slack factor, so a small bias — a 5 % temperature error, a coupling
dropped, a field of 0.1 — fails with fixed seeds.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

import pcdppl as pp
from pcdppl.diagnostics import ess
from pcdppl.graph.groups import to_state_index


def _pairs(model):
    """``[(group_a, i, group_b, j)]``: every pair of units that share a factor instance."""
    out = set()
    for spec in model.specs:
        if spec.kind == "dense":
            a, b = spec.groups
            out |= {(a, i, b, j) for i in range(model.groups[a].size)
                    for j in range(model.groups[b].size)}
        elif spec.kind == "pairwise":
            a, b = spec.groups
            out |= {(a, int(i), b, int(j)) for i, j in spec.data}
        elif spec.kind == "table":
            m = len(spec.groups)
            for row in spec.data:
                for p in range(m):
                    for q in range(p + 1, m):
                        out.add((spec.groups[p], int(row[p]), spec.groups[q], int(row[q])))
    return sorted(out)


def statistics(model, params, values: dict) -> dict[str, np.ndarray]:
    """Statistics of states ``dict[group, (..., n)]``: ``dict[name, (..., m)]``."""
    batch = np.asarray(next(iter(values.values()))).shape[:-1]
    out = {"energy": np.asarray(model.energy(params, values), np.float64)[..., None]}
    onehot = {}
    for g, grp in model.groups.items():
        x = np.asarray(values[g])
        if grp.is_categorical:
            onehot[g] = (x[..., None] == np.arange(grp.num_states)).astype(np.float64)
            out[f"marginal_{g}"] = onehot[g].reshape(*batch, -1)
        else:
            out[f"marginal_{g}"] = x.astype(np.float64)
            idx = np.asarray(to_state_index(grp, x))
            onehot[g] = (idx[..., None] == np.arange(2)).astype(np.float64)
    cols = []
    for a, i, b, j in _pairs(model):
        ga, gb = model.groups[a], model.groups[b]
        if not ga.is_categorical and not gb.is_categorical:
            cols.append((np.asarray(values[a])[..., i] * np.asarray(values[b])[..., j]
                         ).astype(np.float64)[..., None])
        else:
            joint = onehot[a][..., i, :, None] * onehot[b][..., j, None, :]
            cols.append(joint.reshape(*batch, -1))
    if cols:
        out["pairs"] = np.concatenate(cols, axis=-1)
    return out


def exact_moments(model, params) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (mean, sd)}`` of every statistic under the exact distribution."""
    states, probs = pp.evaluate.exact_probabilities(model, params)
    probs = np.asarray(probs, np.float64)
    out = {}
    for name, s in statistics(model, params, states).items():
        mean = probs @ s
        var = np.maximum(probs @ (s - mean) ** 2, 0.0)
        out[name] = (mean, np.sqrt(var))
    return out


def z_scores(model, params, draws: dict, exact=None) -> dict[str, np.ndarray]:
    """``{name: z}`` of the draws ``dict[group, (chains, draws, n)]`` against ``exact``."""
    exact = exact_moments(model, params) if exact is None else exact
    out = {}
    for name, s in statistics(model, params, draws).items():
        mean, sd = exact[name]
        n_eff = np.atleast_1d(ess(s, "mean"))
        n_eff = np.where(np.isfinite(n_eff), n_eff, s.shape[0] * s.shape[1])
        se = sd / np.sqrt(n_eff)
        diff = s.mean(axis=(0, 1)) - mean
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, diff / np.where(se > 0, se, 1.0),
                         np.where(np.abs(diff) < 1e-9, 0.0, np.inf))
        out[name] = z
    return out


def bound(num_stats: int, alpha: float = 1e-3) -> float:
    """Two-sided Bonferroni bound on ``|z|`` for ``num_stats`` statistics at level ``alpha``."""
    return NormalDist().inv_cdf(1 - alpha / (2 * num_stats))


def check(model, params, draws: dict, alpha: float = 1e-3, exact=None) -> tuple[bool, str]:
    """``(passed, report)``: whether every z-score lies within the Bonferroni bound."""
    z = z_scores(model, params, draws, exact)
    m = sum(v.size for v in z.values())
    b = bound(m, alpha)
    worst = max(((name, int(np.argmax(np.abs(v))), float(np.max(np.abs(v))))
                 for name, v in z.items()), key=lambda t: t[2])
    return worst[2] < b, f"worst |z| = {worst[2]:.2f} ({worst[0]}[{worst[1]}]), bound {b:.2f} " \
                         f"over {m} statistics"
