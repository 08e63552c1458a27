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


def worst_z(model, params, draws: dict, exact=None) -> float:
    """The largest ``|z|`` over all statistics (see :func:`z_scores`)."""
    return float(max(np.max(np.abs(v)) for v in z_scores(model, params, draws, exact).values()))


def num_statistics(model, params, exact=None) -> int:
    exact = exact_moments(model, params) if exact is None else exact
    return sum(m.size for m, _ in exact.values())


# ------------------------------------------------------------------ deliberately wrong targets
def scaled(params: dict, beta: float) -> dict:
    """Parameters of ``p_β ∝ exp(-β E)``: the energy is linear in the parameters."""
    return {k: beta * np.asarray(v, np.float32) for k, v in params.items()}


def dropped_coupling(model, params) -> tuple[dict, str]:
    """``params`` with the strongest coupling (the entry of largest magnitude of any pairwise or
    dense factor; all edges of a tied one) set to 0, and its name."""
    best = None
    for f in model.factors:
        if f.kind in ("pairwise", "dense"):
            v = np.abs(np.asarray(params[f.name]))
            if best is None or v.max() > best[0]:
                best = (float(v.max()), f.name, np.unravel_index(np.argmax(v), v.shape))
    if best is None:
        raise ValueError("the model has no pairwise or dense coupling to drop")
    _, name, idx = best
    out = {k: np.array(v, np.float32) for k, v in params.items()}
    out[name][idx] = 0.0
    return out, f"{name}{list(map(int, idx))}"


def spurious_field(model, params, delta: float = 0.1) -> dict:
    """``params`` with ``+delta`` added to the bias of every unit (of every group with a bias
    factor; for categorical units, to the bias of its last state)."""
    out = {k: np.array(v, np.float32) for k, v in params.items()}
    for f in model.factors:
        if f.kind == "bias":
            if model.groups[f.groups[0]].is_categorical:
                out[f.name][..., -1] += delta
            else:
                out[f.name] += delta
    return out


def wrong_targets(model, params) -> dict[str, tuple[dict, float]]:
    """The deliberately wrong samplers' targets, ``{name: (params, beta)}``: the right
    parameters at ``β = 0.95``, the strongest coupling dropped, a spurious +0.1 field."""
    out = {"beta x 0.95": (params, 0.95)}
    if any(f.kind in ("pairwise", "dense") for f in model.factors):
        dropped, what = dropped_coupling(model, params)
        out[f"dropped {what}"] = (dropped, 1.0)
    if any(f.kind == "bias" for f in model.factors):
        out["field +0.1"] = (spurious_field(model, params), 1.0)
    return out


def power(model, params, draw, alpha: float = 1e-3, exact=None) -> dict[str, tuple[bool, str]]:
    """Run ``draw(params, beta) -> draws`` for the right target and for every wrong one of
    :func:`wrong_targets`, and check all draws against the right ``params``.

    Returns ``{"right" | wrong name: (passed, report)}``."""
    exact = exact_moments(model, params) if exact is None else exact
    out = {"right": check(model, params, draw(params, 1.0), alpha, exact)}
    for name, (p, beta) in wrong_targets(model, params).items():
        out[name] = check(model, params, draw(p, beta), alpha, exact)
    return out


def assert_exact_with_power(model, params, draw, alpha: float = 1e-3, exact=None) -> dict:
    """The right sampler passes the calibrated check and every wrong one fails it."""
    res = power(model, params, draw, alpha, exact)
    summary = "\n".join(f"{k}: {'pass' if ok else 'FAIL'} {r}" for k, (ok, r) in res.items())
    print(summary)  # shown with pytest -s: the power of the check
    assert res["right"][0], summary
    for name, (ok, _) in res.items():
        if name != "right":
            assert not ok, f"the check missed the wrong sampler {name!r}:\n{summary}"
    return res


def split_by_beta(draws: dict, betas: np.ndarray) -> dict[float, dict]:
    """Draws ``dict[group, (chain, draw, n)]`` of chains run at per-chain ``betas``, split by
    inverse temperature: ``{beta: draws}``."""
    betas = np.asarray(betas)
    return {float(b): {g: np.asarray(v)[betas == b] for g, v in draws.items()}
            for b in np.unique(betas)}


# ------------------------------------------------------------------ exact rates by enumeration
def _codes(model, values: dict) -> np.ndarray:
    from helpers import state_codes

    return state_codes(model, values)


def single_changes(model, params, beta: float = 1.0, groups=None):
    """Every single-unit change of every state, by enumeration.

    Returns ``(probs, d, dst, rev)``: ``probs (S,)`` of ``p_β``; for state ``s`` and change
    ``m`` (rows ``[group][unit]`` for binary/spin units, a flip; ``[group][unit, value]`` for
    categorical units, ``value`` equal to the current one being no change) ``d[s, m] =
    -β (E(s') - E(s))`` (``-inf`` where no change), ``dst[s, m]`` the code of ``s'`` and
    ``rev[s, m]`` the change leading back. ``E`` comes from ``model.energy``."""
    states, probs = pp.evaluate.exact_probabilities(model, scaled(params, beta))
    states = {g: np.asarray(v) for g, v in states.items()}
    S = len(probs)
    assert np.array_equal(_codes(model, states), np.arange(S))
    E = beta * np.asarray(model.energy(params, states), np.float64)
    rows, start = [], {}
    for g, grp in model.groups.items():
        if groups is not None and g not in groups:
            continue
        start[g] = len(rows)
        for u in range(grp.size):
            rows += [(g, u, c) for c in (grp.values if grp.is_categorical else [None])]
    M = len(rows)
    d = np.full((S, M), -np.inf)
    dst = np.tile(np.arange(S)[:, None], (1, M))
    rev = np.tile(np.arange(M)[None, :], (S, 1))
    for m, (g, u, c) in enumerate(rows):
        grp = model.groups[g]
        new = dict(states)
        x = states[g].copy()
        cur = x[:, u].copy()
        x[:, u] = -cur if grp.kind == "spin" else (1 - cur if c is None else c)
        new[g] = x
        code = _codes(model, new)
        change = code != np.arange(S)
        dst[:, m] = code
        d[change, m] = -(E[code[change]] - E[change])
        if grp.is_categorical:
            rev[:, m] = start[g] + u * grp.num_states + cur
    return probs, d, dst, rev


def flip_acceptance(model, params, beta: float = 1.0) -> float:
    """Expected acceptance rate of single-site proposals (a flip; a uniformly random other
    value for categorical units) at equilibrium: ``Σ_x p(x) mean_i E_c min(1, e^{-βΔE})``."""
    probs, d, _, _ = single_changes(model, params, beta)
    valid = np.isfinite(d)
    a = np.where(valid, np.exp(np.minimum(np.where(valid, d, 0.0), 0.0)), 0.0)
    per_unit, cols = [], 0
    for grp in model.groups.values():
        w = grp.num_states if grp.is_categorical else 1
        for _ in range(grp.size):
            per_unit.append(a[:, cols:cols + w].sum(1) / valid[:, cols:cols + w].sum(1))
            cols += w
    return float(probs @ np.mean(per_unit, axis=0))


def gwg_acceptance(model, params, beta: float = 1.0) -> float:
    """Expected acceptance rate of Gibbs-with-Gradients proposals at equilibrium:
    ``Σ_x p(x) Σ_m q(m|x) α(x, x_m)``, ``q = softmax(d/2)`` over all single changes."""
    from scipy.special import logsumexp

    probs, d, dst, rev = single_changes(model, params, beta)
    valid = np.isfinite(d)
    log_q = 0.5 * d - logsumexp(0.5 * d, axis=1, keepdims=True)
    log_alpha = np.where(valid, np.where(valid, d, 0.0) + log_q[dst, rev]
                         - np.where(valid, log_q, 0.0), -np.inf)
    return float(probs @ np.sum(np.exp(log_q + np.minimum(log_alpha, 0.0)), 1))


def block_acceptance(model, params, block_size: int, beta: float = 1.0) -> float:
    """Expected acceptance rate of ``Metropolis(proposal="block")`` at equilibrium.

    Per group, a block is a uniformly random set of ``m = min(block_size, n)`` sites whose
    first changes and each other with probability 1/2: the changed set ``T`` has ``1 +
    Binomial(m - 1, 1/2)`` sites, uniform given its size; changed categorical units take a
    uniformly random other value. A sweep proposes ``ceil(n / m)`` blocks per group."""
    from itertools import combinations, product
    from math import comb

    states, probs = pp.evaluate.exact_probabilities(model, scaled(params, beta))
    states = {g: np.asarray(v) for g, v in states.items()}
    E = beta * np.asarray(model.energy(params, states), np.float64)
    num, den = 0.0, 0
    for g, grp in model.groups.items():
        n = grp.size
        mg = min(block_size, n)
        blocks = -(-n // mg)
        shifts = range(1, grp.num_states) if grp.is_categorical else [None]
        rate = 0.0
        for t in range(1, mg + 1):
            w_t = comb(mg - 1, t - 1) / 2 ** (mg - 1)
            acc = []
            for T in combinations(range(n), t):
                for shift in product(shifts, repeat=t):
                    x = states[g].copy()
                    for u, sh in zip(T, shift, strict=True):
                        x[:, u] = (-x[:, u] if grp.kind == "spin" else 1 - x[:, u]) \
                            if sh is None else (x[:, u] + sh) % grp.num_states
                    code = _codes(model, {**states, g: x})
                    acc.append(probs @ np.exp(np.minimum(E - E[code], 0.0)))
            rate += w_t * np.mean(acc)
        num += blocks * rate
        den += blocks
    return num / den


def swap_acceptance(model, params, betas) -> np.ndarray:
    """Expected swap rate of each neighboring pair of a replica-exchange ladder at
    equilibrium: ``Σ_{x,y} p_r(x) p_{r+1}(y) min(1, e^{(β_r - β_{r+1})(E(x) - E(y))})``."""
    states, _ = pp.evaluate.exact_probabilities(model, params)
    E = np.asarray(model.energy(params, states), np.float64)
    betas = np.sort(np.asarray(betas, np.float64))
    out = []
    for b0, b1 in zip(betas[:-1], betas[1:], strict=True):
        p0 = np.exp(-b0 * (E - E.min()))
        p0 /= p0.sum()
        p1 = np.exp(-b1 * (E - E.min()))
        p1 /= p1.sum()
        a = np.exp(np.minimum((b0 - b1) * (E[:, None] - E[None, :]), 0.0))
        out.append(float(p0 @ a @ p1))
    return np.array(out)


def rate_z(rates, expected) -> np.ndarray:
    """z-scores of per-draw rates ``(chain, draw, ...)`` against their exact expectation.

    The standard error comes from the chain-averaged series ``(draw, ...)``, its own spread
    and ESS over the draws: chains may share random choices that move their rates together
    (``Metropolis(proposal="block")`` cuts the sites into the same blocks in every chain,
    and a block's acceptance depends on which sites it holds), so the chains' rates are not
    independent even where their states are."""
    r = np.asarray(rates, np.float64).mean(axis=0, keepdims=True)
    n_eff = np.atleast_1d(ess(r, "mean"))
    se = r.std(axis=(0, 1)) / np.sqrt(n_eff)
    return (r.mean(axis=(0, 1)) - np.asarray(expected)) / se
