"""A variational lower bound on a deep belief network's log-likelihood.

Salakhutdinov and Murray (2008), §4. With the factorial recognition distribution
``Q(h_{1:L-1} | v) = Π_l Q(h_l | h_{l-1})`` of the up-pass (``h_0 = v``),

    log p(v) ≥ E_Q[ Σ_{l=0}^{L-2} log p(h_l | h_{l+1}) − F_top(h_{L-1})
                    − Σ_{l=1}^{L-1} log Q(h_l | h_{l-1}) ] − log Z_top,

where ``F_top`` is the free energy of the top RBM (its hidden layer summed out) and
``Z_top`` its partition function — exact by enumeration where feasible, else estimated by
annealed importance sampling (:func:`pcdppl.evaluate.ais`, base-rate model fitted to the
samples of ``h_{L-1}``). The expectation is estimated with ``num_samples`` draws of ``Q``
per example (an unbiased estimate of the bound). For one layer the bound is the exact
log-likelihood of that RBM.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import as_key
from ..evaluate.exact import DEFAULT_MAX_STATES
from ..evaluate.likelihood import log_partition_auto
from ..graph.data import as_dataset
from .structure import DeepBeliefNet, down_logits, up_logits


def _log_bernoulli(x, logits):
    """``Σ_i log Bernoulli(x_i; σ(logits_i))`` over the last axis."""
    return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


@partial(jax.jit, static_argnums=(3,))
def _bound_terms(params, v, key, num_samples: int):
    """``(N,)`` Monte Carlo estimate of the bound without ``- log Z_top``, and the samples of
    ``h_{L-1}`` ``(N * num_samples, n_{L-1})``."""
    L = len(params)
    N = v.shape[0]
    h = jnp.repeat(jnp.asarray(v, jnp.float32), num_samples, axis=0)  # (N*S, n_0)
    total = jnp.zeros((N * num_samples,), jnp.float32)
    keys = jax.random.split(key, max(L - 1, 1))
    for l in range(L - 1):
        q_logits = up_logits(params[l], h)
        nxt = (jax.random.uniform(keys[l], q_logits.shape) < jax.nn.sigmoid(q_logits)).astype(
            jnp.float32)
        total = total - _log_bernoulli(nxt, q_logits)                # - log Q(h_{l+1} | h_l)
        total = total + _log_bernoulli(h, down_logits(params[l], nxt))  # log p(h_l | h_{l+1})
        h = nxt
    top = params[-1]
    free = -(h @ top["b_v"]) - jnp.sum(jax.nn.softplus(up_logits(top, h)), axis=-1)
    total = total - free
    return total.reshape(N, num_samples).mean(axis=1), h


def log_likelihood_bound(dbn: DeepBeliefNet, params, data, key=0, *, num_samples: int = 10,
                             log_z_top=None, per_example: bool = False, method: str = "auto",
                             **ais_options):
    """Lower bound on the mean log-likelihood (nats per example) of ``data`` under a DBN.

    Args:
        dbn: the structure (:func:`pcdppl.models.dbn`).
        params: per-layer parameter dicts (or a :class:`~pcdppl.learn.dbn.DBNFit`).
        data: ``(N, n_visible)`` binary examples.
        key: PRNG key or int seed (samples of ``Q`` and AIS).
        num_samples: draws of the recognition distribution per example.
        log_z_top: a known ``log Z`` of the top RBM (computed if omitted).
        per_example: return the ``(N,)`` bounds instead of their mean.
        method: ``"auto"``, ``"exact"`` or ``"ais"``: how ``log Z_top`` is obtained.
        **ais_options: arguments of :func:`pcdppl.evaluate.ais` (``num_chains``, ``betas``).

    Returns:
        ``(bound, info)`` with ``info = {"method", "log_z_top", "log_z_stderr"}``; the bound
        is uncertain by about ``log_z_stderr`` where AIS was used.
    """
    params = getattr(params, "params", params)
    dbn.check_params(params)
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    v = as_dataset(dbn.layers[0].groups, data)["v"]
    k_q, k_ais = jax.random.split(as_key(key))
    terms, h_top = _bound_terms(list(params), v, k_q, num_samples)
    if log_z_top is None:
        h_data = np.asarray(h_top, np.int8)
        lz, info = log_partition_auto(dbn.top, params[-1], {"v": h_data}, method,
                                      ais_options.pop("max_states", DEFAULT_MAX_STATES), k_ais,
                                      ais_options)
    else:
        lz, info = log_z_top, {"method": "given", "log_z": float(log_z_top), "log_z_stderr": 0.0}
    bound = np.asarray(terms, np.float64) - float(lz)
    info = {"method": info["method"], "log_z_top": info["log_z"],
            "log_z_stderr": info["log_z_stderr"]}
    return (bound if per_example else float(bound.mean())), info
