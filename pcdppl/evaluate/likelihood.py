"""Log-likelihood of data: exact where enumeration is feasible, annealed importance sampling
where it is not (the one place that decides between them)."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from ..graph.data import as_dataset
from ..graph.model import Model
from .ais import ais, split_groups
from .exact import (
    DEFAULT_MAX_STATES,
    IntractableError,
    analytic_split,
    log_partition,
    log_sum_exp_states,
)


class AISEstimateWarning(UserWarning):
    """Issued when a log-likelihood uses an AIS estimate of ``log Z`` instead of the exact
    value (the model is too large to enumerate)."""


def log_partition_auto(model: Model, params, ds: dict, method: str, max_states: int, key,
                       ais_options: dict | None) -> tuple[float, dict]:
    """``log Z`` for :func:`~pcdppl.evaluate.log_likelihood`: exact where feasible, else (or
    with ``method="ais"``) AIS with a base-rate model fitted to ``ds``. Returns the value and
    ``{"method", "log_z", "log_z_stderr"}``."""
    if method not in ("auto", "exact", "ais"):
        raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}")
    if method != "ais":
        try:
            lz = log_partition(model, params, max_states=max_states)
            return lz, {"method": "exact", "log_z": float(lz), "log_z_stderr": 0.0}
        except IntractableError:
            if method == "exact":
                raise
    opts = dict(ais_options or {})
    sampled, _ = split_groups(model, opts.get("visible"))
    if "data" not in opts and "base_logits" not in opts and any(g in ds for g in sampled):
        opts["data"] = {g: ds[g] for g in sampled if g in ds}
    res = ais(model, params, key, **opts)
    if method == "auto":
        warnings.warn(f"log Z estimated by annealed importance sampling ({res.num_chains} runs, "
                      f"{res.num_betas} temperatures): {res.log_z:.3f} ± {res.stderr:.3f} "
                      f"(exact enumeration infeasible)", AISEstimateWarning, stacklevel=3)
    return jnp.float32(res.log_z), {"method": "ais", "log_z": res.log_z,
                                    "log_z_stderr": res.stderr}


def log_likelihood(model: Model, params, data, *, weights=None, log_z=None,
                   per_example: bool = False, max_states: int = DEFAULT_MAX_STATES,
                   batch_size: int = 4096, method: str = "auto", key=0,
                   ais_options: dict | None = None, return_info: bool = False):
    """Log-likelihood ``log p(v) = log Σ_h exp(-E(v, h)) - log Z`` of data.

    ``log Z`` is exact (enumeration) where at most ``max_states`` states must be enumerated.
    Where it is not, ``method="auto"`` estimates it by annealed importance sampling
    (:func:`pcdppl.evaluate.ais`, base-rate model fitted to ``data``; any model) and
    says so with an :class:`AISEstimateWarning`; ``method="exact"``
    raises :class:`IntractableError` instead and ``method="ais"`` always uses AIS.

    Args:
        model, params: the model.
        data: ``(N, n_v)`` array for the default visible group or ``dict[group, (N, n)]``;
            groups not in ``data`` are latent and summed out (analytically where they are
            conditionally independent given the data, else by enumeration).
        weights: per-example weights ``(N,)`` (e.g. sequence reweighting): the mean is the
            weighted mean ``Σ w log p / Σ w``.
        log_z: a precomputed :func:`log_partition` (computed if omitted).
        per_example: return the ``(N,)`` array instead of its mean.
        max_states: enumeration limit.
        batch_size: examples per compiled call.
        method: ``"auto"``, ``"exact"`` or ``"ais"`` (how ``log Z`` is obtained).
        key, ais_options: PRNG key and keyword arguments of :func:`~pcdppl.evaluate.ais`.
        return_info: also return a dict ``{"method", "log_z", "log_z_stderr"}``.

    Returns:
        the mean log-likelihood per example in nats (or per-example values), and the info
        dict when ``return_info``.
    """
    model.check_params(params)
    ds = as_dataset(model.groups, data)
    if weights is not None:
        N = next(iter(ds.values())).shape[0]
        w = np.asarray(weights, np.float64)
        if w.shape != (N,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"weights must be {N} finite non-negative numbers, not all zero "
                             f"(one per example), got shape {w.shape}")
        w = jnp.asarray(w, jnp.float32)
    if log_z is None:
        log_z, info = log_partition_auto(model, params, ds, method, max_states, key,
                                         ais_options)
    else:
        info = {"method": "given", "log_z": float(log_z), "log_z_stderr": 0.0}
    latent = [g for g in model.groups if g not in ds]
    if model.conditionally_independent(latent):
        enum, sum_out = [], latent
    else:
        enum, sum_out = analytic_split(model, latent)
    N = next(iter(ds.values())).shape[0]
    B = min(batch_size, N)
    out = []
    for start in range(0, N, B):
        part = {g: x[start:start + B] for g, x in ds.items()}
        n = next(iter(part.values())).shape[0]
        if n < B:  # pad so every call has the same shape (one compilation)
            part = {g: np.concatenate([x, np.repeat(x[-1:], B - n, 0)]) for g, x in part.items()}
        xb, _ = model.to_blocked(part, required=list(part))
        out.append(log_sum_exp_states(model, params, xb, enum, sum_out, B, max_states,
                                      "log_likelihood")[:n])
    ll = jnp.concatenate(out) - log_z
    if per_example:
        pass
    elif weights is None:
        ll = jnp.mean(ll)
    else:
        ll = jnp.sum(w * ll) / jnp.sum(w)
    return (ll, info) if return_info else ll
