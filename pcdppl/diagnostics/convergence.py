"""Convergence statistics of MCMC draws: ESS, rank-normalised split R-hat, MCSE, IAT.

Arrays are ``(chain, draw, *event)`` — the layout of an ArviZ ``posterior`` variable — and
every function returns one value per event element. The estimators are those of Vehtari,
Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
localization: an improved R-hat", as ArviZ implements them; they are vectorised over the
event elements (no Python loop over lags), and agree with ``arviz.ess`` / ``arviz.rhat`` on
the same arrays (tests check this).

With ``M`` chains of ``N`` draws, within-chain variance ``W``, chain means ``θ̄_m``, and

    var⁺ = (N-1)/N · W + Var_m(θ̄_m),         ρ̂_t = 1 - (W - mean_m γ̂_{m,t}) / var⁺,

the effective sample size is ``ESS = M N / τ̂`` with ``τ̂ = -1 + 2 Σ_{t≤2K+1} ρ̂_t`` summed
over Geyer's initial positive (and monotone) sequence of pairs ``ρ̂_{2k} + ρ̂_{2k+1}``.
``R̂ = sqrt(((N-1)/N · W + B/N) / W)`` on the chains split in halves; the rank-normalised
version takes the larger of R̂ of the normal scores of the draws and of their folded values
``|θ - median θ|``. Bulk ESS is the ESS of the normal scores; tail ESS the smaller ESS of the
indicators ``θ ≤ q_{0.11}`` and ``θ ≤ q_{0.89}`` (ArviZ 1.x's default quantiles).
"""

from __future__ import annotations

import numpy as np
from scipy.fft import next_fast_len
from scipy.special import ndtri

__all__ = ["ess", "rhat", "mcse", "autocorrelation", "integrated_autocorr_time"]


def _as_chains(x) -> tuple[np.ndarray, tuple]:
    """``(chain, draw, *event)`` -> ``(E, chain, draw)`` float64 and the event shape."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"draws must be (chain, draw, ...); got shape {x.shape}")
    event = x.shape[2:]
    return np.moveaxis(x.reshape(x.shape[0], x.shape[1], -1), 2, 0), event


def _split(x: np.ndarray) -> np.ndarray:
    """Split every chain in two halves (the middle draw of an odd chain is dropped)."""
    half = x.shape[-1] // 2
    return np.concatenate([x[..., :half], x[..., x.shape[-1] - half:]], axis=-2)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (average ranks for ties, Blom's offset 3/8)."""
    flat = x.reshape(x.shape[0], -1)
    u = (average_ranks(flat) - 0.375) / (flat.shape[-1] + 0.25)
    return ndtri(u).reshape(x.shape)


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks ``1..n`` along the last axis, tied values sharing the mean of their ranks
    (``scipy.stats.rankdata(a, "average", axis=-1)`` for NaN-free ``a``; importing
    ``scipy.stats`` would add ~1 s to every ``import pcdppl``)."""
    a = np.asarray(a)
    n = a.shape[-1]
    order = np.argsort(a, axis=-1, kind="stable")
    s = np.take_along_axis(a, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), s.shape)
    differs = s[..., 1:] != s[..., :-1]
    first = np.concatenate([np.ones(s.shape[:-1] + (1,), bool), differs], axis=-1)
    last = np.concatenate([differs, np.ones(s.shape[:-1] + (1,), bool)], axis=-1)
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)  # of each run of ties
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n - 1), -1), axis=-1), -1)
    ranks = np.empty(s.shape, np.float64)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=-1)
    return ranks


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain at every lag (biased, divided by N), by FFT."""
    n = x.shape[-1]
    m = next_fast_len(2 * n)
    xc = x - x.mean(axis=-1, keepdims=True)
    f = np.fft.rfft(xc, n=m, axis=-1)
    return np.fft.irfft(f * np.conjugate(f), n=m, axis=-1)[..., :n] / n


def _rho(x: np.ndarray) -> np.ndarray:
    """Combined-chain autocorrelation estimate ``ρ̂_t`` of ``(E, M, N)`` draws: ``(E, N)``."""
    _, M, N = x.shape
    acov = _autocov(x)
    mean_var = acov[..., 0].mean(axis=-1) * N / (N - 1.0)
    var_plus = mean_var * (N - 1.0) / N
    if M > 1:
        var_plus = var_plus + np.var(x.mean(axis=-1), axis=-1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0
    return rho


def _ess_raw(x: np.ndarray, relative: bool = False) -> np.ndarray:
    """ESS of ``(E, M, N)`` draws (Geyer's initial monotone sequence): ``(E,)``."""
    E, M, N = x.shape
    total = M * N
    out = np.full(E, np.nan)
    const = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    out[const] = 1.0 if relative else float(total)  # ArviZ's convention for constant draws
    live = ~const
    if not live.any():
        return out
    rho = _rho(x[live])
    npairs = (N + 1) // 2
    rho_pad = np.concatenate([rho, np.zeros((rho.shape[0], 2 * npairs - N))], axis=1)
    pairs = rho_pad[:, 0::2] + rho_pad[:, 1::2]  # P_k = ρ_{2k} + ρ_{2k+1}
    # pair k (k >= 1) is reached when 2k-1 < N-3 and every earlier pair was positive
    k = np.arange(1, npairs)
    reach = (2 * k - 1 < N - 3)[None, :] & (pairs[:, :-1] > 0)
    m = np.cumprod(reach, axis=1).sum(axis=1)  # index of the last pair computed
    rows = np.arange(rho.shape[0])
    mono = np.minimum.accumulate(pairs, axis=1)  # Geyer's monotone sequence
    cum = np.concatenate([np.zeros((rho.shape[0], 1)), np.cumsum(mono, axis=1)], axis=1)
    head = cum[rows, m]  # Σ over pairs 0..m-1
    even, pm = rho_pad[rows, 2 * m], pairs[rows, m]
    last = np.where((even > 0) | (pm >= 0) | (m == 0), even, 0.0)
    tau = -1.0 + 2.0 * head + last
    tau = np.maximum(tau, 1.0 / np.log10(total))
    ess_live = (1.0 if relative else total) / tau
    ess_live[np.isnan(rho).any(axis=1)] = np.nan
    out[live] = ess_live
    return out


def _check(x: np.ndarray, min_chains: int) -> np.ndarray:
    """Elements whose draws are valid (no NaN, ≥ 4 draws, enough chains)."""
    _, M, N = x.shape
    ok = ~np.isnan(x).any(axis=(1, 2))
    if N < 4 or M < min_chains:
        ok[:] = False
    return ok


def _quantile_indicator(x: np.ndarray, prob: float) -> np.ndarray:
    q = np.quantile(x.reshape(x.shape[0], -1), prob, axis=-1)
    return (x <= q[:, None, None]).astype(np.float64)


def ess(x, method: str = "bulk", *, relative: bool = False, prob=0.89) -> np.ndarray:
    """Effective sample size of ``(chain, draw, *event)`` draws, per event element.

    Args:
        x: the draws.
        method: ``"bulk"`` (ESS of the rank-normalised split chains), ``"tail"`` (the
            smaller ESS of the indicators of the ``prob`` quantiles), ``"mean"`` (split
            chains, raw values) or ``"identity"`` (unsplit, raw values).
        relative: divide by the number of draws.
        prob: the tail quantiles ``(lo, hi)``, or ``p`` for ``(1-p, p)``; the default 0.89
            gives ArviZ 1.x's (``rcParams["stats.ci_prob"]``) quantiles 0.11 and 0.89.

    Returns:
        ``float64`` array of the event shape (a scalar for scalar draws). NaN where the
        draws hold NaN or fewer than 4 per chain; ``chain·draw`` where they are constant.
    """
    xe, event = _as_chains(x)
    ok = _check(xe, 1)
    out = np.full(xe.shape[0], np.nan)
    if ok.any():
        v = xe[ok]
        if method == "bulk":
            out[ok] = _ess_raw(_z_scale(_split(v)), relative)
        elif method == "tail":
            lo, hi = sorted(prob) if np.ndim(prob) else sorted((prob, 1 - prob))
            out[ok] = np.minimum(_ess_raw(_split(_quantile_indicator(v, lo)), relative),
                                 _ess_raw(_split(_quantile_indicator(v, hi)), relative))
        elif method == "mean":
            out[ok] = _ess_raw(_split(v), relative)
        elif method == "identity":
            out[ok] = _ess_raw(v, relative)
        else:
            raise ValueError(f"unknown ESS method {method!r}; use 'bulk', 'tail', 'mean' or "
                             f"'identity'")
    return out.reshape(event)


def _rhat_raw(x: np.ndarray) -> np.ndarray:
    _, _, N = x.shape
    within = np.var(x, axis=-1, ddof=1).mean(axis=-1)
    between = N * np.var(x.mean(axis=-1), axis=-1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + N - 1) / N)


def rhat(x, *, split: bool = True) -> np.ndarray:
    """Rank-normalised (split) R-hat of ``(chain, draw, *event)`` draws, per event element.

    ``max(R̂(z(θ)), R̂(z(|θ - median θ|)))`` with ``z`` the pooled normal scores. With
    ``split=False`` the chains are not split in halves: a drift that every chain shares (as
    while the parameters are being learned) then does not count as non-convergence, while
    chains that disagree with each other still do.

    Returns NaN where there are fewer than 2 chains or 4 draws, or the draws hold NaN.
    """
    xe, event = _as_chains(x)
    ok = _check(xe, 2)
    out = np.full(xe.shape[0], np.nan)
    if ok.any():
        v = _split(xe[ok]) if split else xe[ok]
        folded = np.abs(v - np.median(v.reshape(v.shape[0], -1), axis=1)[:, None, None])
        out[ok] = np.maximum(_rhat_raw(_z_scale(v)), _rhat_raw(_z_scale(folded)))
    return out.reshape(event)


def mcse(x) -> np.ndarray:
    """Monte Carlo standard error of the mean: ``sd / sqrt(ESS_mean)``, per event element."""
    xe, event = _as_chains(x)
    ok = _check(xe, 1)
    out = np.full(xe.shape[0], np.nan)
    if ok.any():
        v = xe[ok]
        sd = np.std(v.reshape(v.shape[0], -1), axis=-1, ddof=1)
        out[ok] = sd / np.sqrt(_ess_raw(_split(v)))
    return out.reshape(event)


def autocorrelation(x, max_lag: int | None = None) -> np.ndarray:
    """Autocorrelation of each chain, averaged over chains: ``(max_lag+1, *event)``."""
    xe, event = _as_chains(x)
    acov = _autocov(xe)
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = (acov / acov[..., :1]).mean(axis=1)
    n = acf.shape[-1] if max_lag is None else min(int(max_lag) + 1, acf.shape[-1])
    return np.moveaxis(acf[:, :n], 0, -1).reshape((n, *event))


def integrated_autocorr_time(x) -> np.ndarray:
    """Integrated autocorrelation time in draws, ``τ = chain·draw / ESS_mean`` (1 for
    independent draws), per event element."""
    xe, _ = _as_chains(x)
    return xe.shape[1] * xe.shape[2] / ess(x, "mean")
