"""Annealed importance sampling (AIS) estimates of ``log Z`` for RBMs.

Salakhutdinov and Murray (2008), "On the quantitative analysis of deep belief networks".
The target is a two-layer model whose layers ``v`` (sampled) and ``h`` (summed out) are each
conditionally independent given the other — an RBM. The base model ``A`` is a product of
independent visible units with log-odds ``a`` (by default the *base-rate* model: ``a`` from
the smoothed marginals of the training data) and free hidden units, so
``log Z_A = Σ_i softplus(a_i) + n_h log 2`` exactly.

The intermediate distributions interpolate the energies, ``p_k ∝ exp(-(1-β_k) E_A - β_k E)``;
with the hidden units summed analytically (Rao–Blackwellised),

    log p*_k(v) = (1-β_k) aᵀ[v=on] - β_k E(v, h_ref) + Σ_j softplus(β_k ℓ_j(v)),

where ``ℓ_j(v)`` is the log-odds of hidden unit ``j`` given ``v`` (one matmul) and
``h_ref`` the reference state of the hidden layer. Each run starts from an exact draw of
``p_A``, accumulates ``w += log p*_k(v) - log p*_{k-1}(v)`` and moves ``v`` by one block-Gibbs
sweep (``h ~ p_k(h|v)``, then ``v ~ p_k(v|h)``) that leaves ``p_k`` invariant. Then

    Ẑ / Z_A = mean_m exp(w_m),        log Ẑ = log Z_A + logmeanexp(w),

an unbiased estimate of ``Z`` (so ``log Ẑ`` is, by Jensen, biased low on average). The
standard error reported is the delta-method error of ``log Ẑ``,
``sd(exp(w)) / (sqrt(M) · mean(exp(w)))``. The whole anneal — every temperature, every
run — is one compiled program (``lax.scan`` over the temperatures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.data import as_dataset
from ..graph.model import Model, as_key
from ..samplers.base import sample_units

Array = jax.Array

#: The schedule of Salakhutdinov and Murray (2008): 500 temperatures in [0, 0.5),
#: 4,000 in [0.5, 0.9) and 10,000 in [0.9, 1] — 14,500 in all.
PAPER_NUM_BETAS = 14_500


def paper_betas(num_betas: int = PAPER_NUM_BETAS) -> np.ndarray:
    """Inverse temperatures ``0 = β_0 < ... < β_K = 1`` spaced like the paper's schedule.

    ``num_betas`` intermediate temperatures (plus ``β_0 = 0``) are split over [0, 0.5),
    [0.5, 0.9) and [0.9, 1] in the paper's proportions 500 : 4,000 : 10,000, each part
    uniformly spaced. ``paper_betas()`` reproduces the paper's 14,500 temperatures.
    """
    if not isinstance(num_betas, (int, np.integer)) or num_betas < 3:
        raise ValueError(f"num_betas must be an int >= 3, got {num_betas!r}")
    n1 = max(1, round(num_betas * 500 / 14_500))
    n2 = max(1, round(num_betas * 4_000 / 14_500))
    n3 = num_betas - n1 - n2
    return np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False),
                           np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3 + 1)])


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate. Unpacks as ``log_z, stderr = result``.

    Attributes:
        log_z: the estimate ``log Ẑ``.
        stderr: its standard error (delta method over the runs).
        log_weights: ``(num_chains,)`` final log importance weights ``w_m``.
        log_z_base: ``log Z_A`` of the base model (visible units with log-odds ``a``, hidden
            units free).
        num_chains: independent annealing runs.
        num_betas: intermediate temperatures (excluding ``β = 0``).
    """

    log_z: float
    stderr: float
    log_weights: np.ndarray = field(repr=False)
    log_z_base: float = 0.0
    num_chains: int = 0
    num_betas: int = 0

    def __iter__(self):
        return iter((self.log_z, self.stderr))

    def __float__(self) -> float:
        return float(self.log_z)


def _layers(model: Model, visible: str | None) -> tuple[str, str]:
    """The (sampled, summed-out) groups of an RBM-shaped model."""
    names = list(model.groups)
    if len(names) != 2:
        raise ValueError(f"ais needs a two-layer model (an RBM); this model has groups {names}")
    for g in names:
        grp = model.groups[g]
        if grp.is_categorical:
            raise ValueError(f"ais supports binary and spin units; group {g!r} is categorical")
        if not model.conditionally_independent([g]):
            raise ValueError(f"ais needs each layer conditionally independent given the other; "
                             f"group {g!r} has couplings within itself")
    if visible is None:
        visible = "v" if "v" in names else names[0]
    if visible not in names:
        raise KeyError(f"visible={visible!r} is not a group of the model ({names})")
    hidden = next(g for g in names if g != visible)
    return visible, hidden


def base_rate_logits(data, *, smoothing: float = 1.0) -> np.ndarray:
    """Log-odds ``a_i`` of the base-rate model: smoothed fractions of examples with unit ``i``
    on, ``p_i = (Σ_n [x_ni = on] + α) / (N + 2α)``, ``a_i = log p_i - log(1 - p_i)``."""
    x = np.asarray(data)
    if x.ndim != 2:
        raise ValueError(f"base-rate data must be 2-D (examples, units), got shape {x.shape}")
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    on = (x > 0).sum(0).astype(np.float64)
    p = (on + smoothing) / (x.shape[0] + 2 * smoothing)
    return np.log(p / (1 - p)).astype(np.float32)


def ais(model: Model, params, key=0, *, num_chains: int = 100, betas=None, data=None,
        base_logits=None, visible: str | None = None, smoothing: float = 1.0) -> AISResult:
    """Estimate ``log Z`` of an RBM by annealed importance sampling.

    Args:
        model: a two-layer model (``pp.models.rbm``): layers conditionally independent.
        params: its parameters.
        key: PRNG key or int seed.
        num_chains: independent annealing runs ``M`` (the paper: 100).
        betas: the inverse temperatures: an increasing array from 0 to 1, or an int number of
            temperatures spaced as the paper's schedule (:func:`paper_betas`). Default: the
            paper's 14,500.
        data: training examples of the ``visible`` group, ``(N, n_v)``; the base model's
            log-odds are their smoothed marginals (:func:`base_rate_logits`). Without data
            (and without ``base_logits``) the base model is uniform.
        base_logits: explicit base-model log-odds ``(n_v,)`` instead of ``data``.
        visible: the group that is sampled (default ``"v"``); the other is summed out.
        smoothing: pseudo-count ``α`` of the base-rate marginals.

    Returns:
        an :class:`AISResult` (``log_z, stderr = ais(...)``).
    """
    model.check_params(params)
    vis, hid = _layers(model, visible)
    n_v = model.groups[vis].size
    if base_logits is not None and data is not None:
        raise ValueError("give either data (for a base-rate model) or base_logits, not both")
    if base_logits is not None:
        a = np.asarray(base_logits, np.float32)
        if a.shape != (n_v,) or not np.all(np.isfinite(a)):
            raise ValueError(f"base_logits must be {n_v} finite values, got shape {a.shape}")
    elif data is not None:
        ds = as_dataset(model.groups, data if isinstance(data, dict) else {vis: data})
        if vis not in ds:
            raise ValueError(f"data for the base-rate model must hold group {vis!r}")
        a = base_rate_logits(ds[vis] == model.groups[vis].values[-1], smoothing=smoothing)
    else:
        a = np.zeros(n_v, np.float32)
    if betas is None:
        betas = PAPER_NUM_BETAS
    b = paper_betas(betas) if isinstance(betas, (int, np.integer)) else np.asarray(betas, float)
    if (b.ndim != 1 or b.size < 2 or b[0] != 0 or b[-1] != 1 or np.any(np.diff(b) <= 0)
            or not np.all(np.isfinite(b))):
        raise ValueError("betas must increase strictly from 0 to 1 (an array, or an int number "
                         "of temperatures)")
    if not isinstance(num_chains, (int, np.integer)) or num_chains < 2:
        raise ValueError(f"num_chains must be an int >= 2, got {num_chains!r}")
    lay = model.layouts[vis]
    a_b = a if lay.identity else a[lay.perm]
    logw = _anneal(model, vis, hid, model.blocked_params(params), jnp.asarray(a_b),
                   jnp.asarray(b, jnp.float32), as_key(key), int(num_chains))
    logw = np.asarray(logw, np.float64)
    # p*_0(v) = exp(aᵀ[v=on]) Σ_h 1: the base model with the hidden layer free
    log_za = (float(np.sum(np.logaddexp(0.0, a.astype(np.float64))))
              + model.groups[hid].size * math.log(2.0))
    m = logw.max()
    r = np.exp(logw - m)
    log_z = log_za + m + math.log(r.mean())
    stderr = float(r.std(ddof=1) / (math.sqrt(len(r)) * r.mean()))
    return AISResult(float(log_z), stderr, logw, log_za, int(num_chains), int(b.size - 1))


@partial(jax.jit, static_argnames=("model", "vis", "hid", "num_chains"))
def _anneal(model: Model, vis: str, hid: str, bp, a, betas, key, num_chains: int) -> Array:
    """Final log-weights ``(num_chains,)`` of the anneal (see the module docstring)."""
    gv, gh = model.groups[vis], model.groups[hid]
    C = num_chains
    on_v = gv.values[-1]
    h_ref = jnp.full((gh.size, C), gh.reference_value(), jnp.int8)
    v_ref = jnp.full((gv.size, 1), gv.reference_value(), jnp.int8)
    # E(v, h_ref) = E(v_ref, h_ref) - c·[v=on]: linear in v, c the log-odds of v at h_ref
    e_ref = model._energy_b(bp, {vis: v_ref, hid: h_ref[:, :1]})[0]
    c = model._local_b(bp, {vis: v_ref, hid: h_ref[:, :1]}, vis, slice(None))[:, 0]

    def log_p_star_parts(v):
        on = (v == on_v).astype(jnp.float32)
        base = a @ on                                   # log p*_A(v) (unnormalised)
        e0 = e_ref - c @ on                             # E(v, h_ref)
        loc_h = model._local_b(bp, {vis: v, hid: h_ref}, hid, slice(None))  # (n_h, C)
        return base, e0, loc_h

    k0, k_run = jax.random.split(key)
    v = (jax.random.uniform(k0, (gv.size, C)) < jax.nn.sigmoid(a)[:, None])
    v = jnp.where(v, on_v, gv.reference_value()).astype(jnp.int8)

    def step(carry, inp):
        v, w = carry
        b_prev, b_next, k = inp
        base, e0, loc_h = log_p_star_parts(v)
        db = b_next - b_prev
        w = w + db * (-base - e0) + jnp.sum(
            jax.nn.softplus(b_next * loc_h) - jax.nn.softplus(b_prev * loc_h), axis=0)
        # one Gibbs sweep leaving p_{k} invariant: h | v, then v | h
        u = jax.random.uniform(k, (gh.size + gv.size, C))
        h = sample_units(gh, loc_h, b_next, u[:gh.size])
        loc_v = model._local_b(bp, {vis: v, hid: h}, vis, slice(None))
        v = sample_units(gv, (1.0 - b_next) * a[:, None] + b_next * loc_v, 1.0, u[gh.size:])
        return (v, w), None

    K = betas.shape[0] - 1
    (v, w), _ = jax.lax.scan(step, (v, jnp.zeros((C,), jnp.float32)),
                             (betas[:-1], betas[1:], jax.random.split(k_run, K)))
    return w


class AISEstimateWarning(UserWarning):
    """Issued when a log-likelihood uses an AIS estimate of ``log Z`` instead of the exact
    value (the model is too large to enumerate)."""


def log_partition_auto(model: Model, params, ds: dict, method: str, max_states: int, key,
                       ais_options: dict | None) -> tuple[float, dict]:
    """``log Z`` for :func:`~pcdppl.evaluate.log_likelihood`: exact where feasible, else (or
    with ``method="ais"``) AIS with a base-rate model fitted to ``ds``. Returns the value and
    ``{"method", "log_z", "log_z_stderr"}``."""
    import warnings

    from .exact import IntractableError, log_partition

    if method not in ("auto", "exact", "ais"):
        raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}")
    if method != "ais":
        try:
            lz = log_partition(model, params, max_states=max_states)
            return lz, {"method": "exact", "log_z": float(lz), "log_z_stderr": 0.0}
        except IntractableError as err:
            if method == "exact":
                raise
            try:
                _layers(model, (ais_options or {}).get("visible"))
            except (ValueError, KeyError):
                raise err from None
    opts = dict(ais_options or {})
    vis, _ = _layers(model, opts.get("visible"))
    if "data" not in opts and "base_logits" not in opts and vis in ds:
        opts["data"] = ds[vis]
    res = ais(model, params, key, **opts)
    if method == "auto":
        warnings.warn(f"log Z estimated by annealed importance sampling ({res.num_chains} runs, "
                      f"{res.num_betas} temperatures): {res.log_z:.3f} ± {res.stderr:.3f} "
                      f"(exact enumeration infeasible)", AISEstimateWarning, stacklevel=3)
    return jnp.float32(res.log_z), {"method": "ais", "log_z": res.log_z,
                                    "log_z_stderr": res.stderr}
