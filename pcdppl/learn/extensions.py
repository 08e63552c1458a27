"""Pieces a contrastive learner adds to the plain PCD update, composed in the epoch.

Each extension is hashable configuration with pure hooks, called by
:func:`pcdppl.learn.epoch.run_epoch` at fixed points of every minibatch update:

* ``init(key, model, params, chains)`` — ``(its state, chains)``: the state is kept in
  ``LearnerState.extra`` (checkpointed); the initial chains may be redrawn;
* ``chain_params(params, extra)`` — the parameters the negative-phase chains run on;
* ``chain_weights(extra)`` — per-chain weights of the negative phase (``None``: uniform);
* ``transform_grads(model, grads, extra, data, weights)`` — the gradient (of the negative
  log-likelihood, user layout) before the optimiser step, from the minibatch with its
  latents filled in (``data``, blocked);
* ``after_update(key, model, old, new, chains, extra, grads)`` — after the optimiser step:
  new chains and state, and per-update metrics (an extension whose ``after_update``
  returns the chains it is given declares ``keeps_chains = True``; see :func:`keeps_chains`);
* ``epoch_metrics(extra)`` — metrics read at the end of an epoch.

:class:`FastWeights` is fast-weights PCD (Tieleman & Hinton, 2009); :class:`Jarzynski` is
importance-weighted persistent chains (Carbone, Hua, Coste & Biroli, 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..samplers.base import num_chains_of, select_chains
from ..samplers.units import is_on, sample_units

Array = jax.Array


class Extension:
    """No-op hooks (see the module docstring). ``move_after_update``: the chains' transitions
    of an update run after the optimiser step (with the parameters before it) instead of
    before the gradient, so that the chains an extension sees are not those the gradient
    was computed from."""

    move_after_update = False
    keeps_chains = False  # after_update returns the chains unchanged (see keeps_chains())

    def init(self, key, model, params, chains):
        return (), chains

    def chain_params(self, params, extra):
        return params

    def chain_weights(self, extra):
        return None

    def transform_grads(self, model, grads, extra, data, weights):
        return grads, extra

    def after_update(self, key, model, old_params, new_params, chains, extra, grads):
        return chains, extra, {}

    def epoch_metrics(self, extra) -> dict:
        return {}


@dataclass(frozen=True)
class FastWeights(Extension):
    """Fast weights: the chains run on ``θ + θ_fast``; after each update
    ``θ_fast ← fast_decay · θ_fast − fast_lr · ∇``, the same gradient as the regular
    parameters with a large learning rate and a fast decay (Tieleman & Hinton, 2009:
    decay 19/20 per update). With ``fast_lr = 0`` the fast weights stay 0: plain PCD."""

    fast_lr: float
    fast_decay: float
    keeps_chains = True

    def init(self, key, model, params, chains):
        return jax.tree.map(jnp.zeros_like, params), chains

    def chain_params(self, params, extra):
        return jax.tree.map(jnp.add, params, extra)

    def after_update(self, key, model, old_params, new_params, chains, extra, grads):
        fast = jax.tree.map(lambda f, g: self.fast_decay * f - self.fast_lr * g, extra, grads)
        return chains, fast, {}


def keeps_chains(extension) -> bool:
    """Whether ``extension.after_update`` returns the chains it is given: it does not override
    the no-op, or declares ``keeps_chains = True``. The epoch then records the chains before
    the optimiser step, so that the parameters are updated in place."""
    return extension.keeps_chains or type(extension).after_update is Extension.after_update


def log_mean_exp(log_w: Array) -> Array:
    return jax.nn.logsumexp(log_w) - jnp.log(log_w.shape[0])


def effective_fraction(log_w: Array) -> Array:
    """``ESS / C = (Σw)² / (C Σw²)`` of log-weights ``(C,)``."""
    return jnp.exp(2 * jax.nn.logsumexp(log_w) - jax.nn.logsumexp(2 * log_w)) / log_w.shape[0]


def systematic_resample(key, log_w: Array) -> Array:
    """Indices ``(C,)`` of a systematic resampling of ``C`` particles with log-weights."""
    C = log_w.shape[0]
    cdf = jnp.cumsum(jax.nn.softmax(log_w))
    positions = (jnp.arange(C) + jax.random.uniform(key)) / C
    return jnp.minimum(jnp.searchsorted(cdf, positions), C - 1).astype(jnp.int32)


@dataclass(frozen=True)
class Jarzynski(Extension):
    """Importance-weighted persistent chains (Jarzynski's equality).

    Each update computes the gradient from the weighted chains, takes the optimiser step,
    then moves the chains with a kernel invariant for the parameters before the step and
    reweights them at their new state: the increments are then evaluated at states the
    step did not depend on (evaluating them at the chains the gradient used biases the
    ``log Z`` estimate by O(learning rate / chains) per update).

    The chains start as exact draws of the units' biases alone (independent units, ``q``)
    with log-weights ``-E_θ0(x) - log q(x)``, so that from the start the weighted chains
    represent ``p_θ0`` and ``logmeanexp(log_w)`` estimates ``log Z_θ0``. After an update
    ``θ → θ'`` each chain's log-weight gains ``-(E_θ'(x) - E_θ(x))`` at its current state, then
    the chains move with a kernel invariant for ``θ'``. The negative phase is the weighted
    average, and the weighted chains estimate ``log Z_θ`` as ``log_z + logmeanexp(log_w)``:
    ``log Z_θ0`` plus the accumulated differences. When the effective fraction of chains
    falls below ``resample_threshold`` they are resampled (systematic resampling), the log
    mean weight moves into ``log_z`` and the weights reset.
    """

    resample_threshold: float
    move_after_update = True  # weights from chains the update did not see (no bias)

    def init(self, key, model, params, chains):
        C = num_chains_of(chains)
        bp = model.blocked.params(params)
        x, log_q = sample_biases(key, model, bp, C)
        chains = chains._replace(x={**chains.x, **x})
        log_w = -model.blocked.energy(bp, chains.x) - log_q
        return {"log_w": log_w, "log_z": jnp.zeros((), jnp.float32)}, chains

    def chain_weights(self, extra):
        return jax.nn.softmax(extra["log_w"])

    def after_update(self, key, model, old_params, new_params, chains, extra, grads):
        # the energy is linear in the parameters: E_θ'(x) - E_θ(x) = E_{θ'-θ}(x), one evaluation
        step = model.blocked.params(jax.tree.map(jnp.subtract, new_params, old_params))
        log_w = extra["log_w"] - model.blocked.energy(step, chains.x)
        frac = effective_fraction(log_w)
        resample = frac < self.resample_threshold
        idx = systematic_resample(key, log_w)
        chains = jax.tree.map(lambda new, old: jnp.where(resample, new, old),
                              select_chains(chains, idx), chains)
        log_z = jnp.where(resample, extra["log_z"] + log_mean_exp(log_w), extra["log_z"])
        log_w = jnp.where(resample, jnp.zeros_like(log_w), log_w)
        metrics = {"ess_fraction": frac, "resampled": resample.astype(jnp.float32)}
        return chains, {"log_w": log_w, "log_z": log_z}, metrics

    def epoch_metrics(self, extra) -> dict:
        return {"log_z": extra["log_z"] + log_mean_exp(extra["log_w"])}


def sample_biases(key, model, bparams, num_chains: int) -> tuple[dict, Array]:
    """``(x, log q(x))``: ``num_chains`` exact draws of every unit independently from its
    biases alone (the model without its couplings; units without a bias are uniform)."""
    x, log_q = {}, jnp.zeros((num_chains,), jnp.float32)
    keys = jax.random.split(key, len(model.groups))
    for (g, grp), k in zip(model.groups.items(), keys, strict=True):
        shape = (grp.size, grp.num_states, 1) if grp.is_categorical else (grp.size, 1)
        loc = jnp.zeros(shape, jnp.float32)
        for f in model.factors_of(g):
            if f.kind == "bias":
                loc = loc + f.local(bparams[f.name], {}, g, slice(None))
        loc = jnp.broadcast_to(loc, shape[:-1] + (num_chains,))
        x[g] = sample_units(grp, loc, 1.0, jax.random.uniform(k, (grp.size, num_chains)))
        if grp.is_categorical:
            logp = jax.nn.log_softmax(loc, axis=1)
            lp = jnp.take_along_axis(logp, x[g].astype(jnp.int32)[:, None, :], axis=1)[:, 0]
        else:
            lp = jax.nn.log_sigmoid(jnp.where(is_on(grp, x[g]), loc, -loc))
        log_q = log_q + jnp.sum(lp, axis=0)
    return x, log_q


@dataclass(frozen=True)
class AutoK:
    """Mixing-aware ``k``: after every epoch, ``k ← clip(ceil(target · τ), 1, k_max)`` with
    ``τ`` the integrated autocorrelation time of the chains' energy, in transitions, under the
    parameters of that epoch (:func:`integrated_time`); ``k`` starts at ``k_init``."""

    target: float
    k_init: int
    k_max: int

    def next_k(self, tau: Array) -> Array:
        k = jnp.ceil(self.target * tau)
        return jnp.clip(jnp.where(jnp.isfinite(k), k, self.k_max), 1, self.k_max).astype(jnp.int32)


def integrated_time(energy: Array, k) -> tuple[Array, Array]:
    """``(τ_updates, τ_transitions)``: integrated autocorrelation times of the chains' energy
    recorded after every update, ``energy (T, C)``, with ``k`` transitions per update.

    The mean over chains at every update is subtracted first (it carries the slow drift of
    the parameters, common to all chains). ``τ_updates`` is Geyer's initial-positive-sequence
    estimate over the updates; ``τ_transitions`` converts it to transitions through the
    AR(1) process with the same ``τ`` (lag-one correlation ``ρ = (τ-1)/(τ+1)`` per update,
    ``ρ^{1/k}`` per transition), which resolves times shorter than one update.
    """
    T = energy.shape[0]
    z = energy - jnp.mean(energy, axis=1, keepdims=True)
    z = z - jnp.mean(z, axis=0, keepdims=True)
    n = 2 * T
    f = jnp.fft.rfft(z, n=n, axis=0)
    acov = jnp.fft.irfft(f * jnp.conj(f), n=n, axis=0)[:T].mean(axis=1) / T
    rho = acov / jnp.maximum(acov[0], 1e-30)
    m = T // 2
    pairs = rho[0:2 * m:2] + rho[1:2 * m:2]
    positive = jnp.cumprod(pairs > 0)
    pairs = jax.lax.cummin(jnp.where(positive > 0, pairs, 0.0))
    tau_u = jnp.maximum(-1.0 + 2.0 * jnp.sum(pairs * positive), 1.0)
    rho_u = (tau_u - 1.0) / (tau_u + 1.0)
    rho_t = rho_u ** (1.0 / jnp.asarray(k, jnp.float32))
    return tau_u, (1.0 + rho_t) / jnp.maximum(1.0 - rho_t, 1e-6)
