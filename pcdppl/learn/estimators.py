"""The contrastive gradient estimator: positive phase, negative phase, surrogate, monitors.

For visible data ``v`` and latent groups ``h`` the average negative log-likelihood is
``L(θ) = mean_data F(v) + log Z`` with ``F(v) = -log Σ_h exp(-E(v, h))``, and

    ∇L = mean_data ∇F(v) - E_model[∇E(x)]                                    (1)

* **Positive phase.** Where the latent groups are conditionally independent given the
  data (an RBM's hidden layer), ``F`` is computed in closed form and ``∇F`` is exact
  (autodiff of the free energy). Otherwise the latents are filled in by ``k_positive``
  sweeps of a clamped sampler and ``∇E`` of that sample is used.
* **Negative phase.** A sampler's chains estimate the model expectation. With conditionally
  independent latents the chains' visible states are Rao-Blackwellised:
  ``E_model[∇E] = E_v[∇F(v)]``.

The surrogate ``mean_w F(v_data) - mean_u F(v_chains)`` (weighted means) has gradient (1);
the learners report it once per epoch as ``free_energy_gap``. Everything here is a pure function of the model (a
pytree argument), blocked parameters and blocked states.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..graph.model import Model
from ..samplers.base import Sampler, num_chains_of

Array = jax.Array


class Phases(NamedTuple):
    """How the two phases are computed for a given split of the groups (static).

    Attributes:
        visible: groups observed in the data.
        latent: the other groups.
        exact: the latents are conditionally independent given the data (summed exactly).
        mean_field: the monitor reconstructs from the latents' conditional means (binary or
            spin latents touched only by linear factors, persistent chains).
    """

    visible: tuple[str, ...]
    latent: tuple[str, ...]
    exact: bool
    mean_field: bool

    @classmethod
    def of(cls, model: Model, visible: tuple[str, ...], persistent: bool) -> Phases:
        latent = tuple(g for g in model.groups if g not in visible)
        exact = model.conditionally_independent(latent)
        mean_field = persistent and exact and bool(latent) and all(
            not model.groups[g].is_categorical
            and all(f.kind in ("bias", "dense") or (f.kind == "pairwise" and not f.potts)
                    for f in model.factors_of(g))
            for g in latent)
        return cls(tuple(visible), latent, exact, mean_field)


def free_energy(model: Model, bparams, x, sum_out) -> Array:
    """``F`` of blocked states with ``sum_out`` groups summed analytically (``E`` if none)."""
    if sum_out:
        return model.blocked.free_energy(bparams, x, sum_out)
    return model.blocked.energy(bparams, x)


def fill_latents(sampler: Sampler, key, model: Model, bparams, vis: dict, latent, sweeps: int):
    """Latents drawn by ``sweeps`` transitions of ``sampler`` (which clamps the visible
    groups) from the reference state; returns the blocked values of every group."""
    C = num_chains_of(vis)
    x = dict(vis)
    for g in latent:
        grp = model.groups[g]
        x[g] = jnp.full((grp.size, C), grp.reference_value(), jnp.int8)
    state = sampler.init_state(key, model, bparams, x)
    state, _ = sampler.transitions(key, model, bparams, state, 1.0, sweeps)
    return state.x


def latent_means(model: Model, bparams, vis: dict, latent) -> dict:
    """The visible values with every latent unit replaced by its conditional mean
    (probability of 1 for binary units, magnetisation for spins)."""
    C = num_chains_of(vis)
    x = dict(vis)
    for g in latent:
        x[g] = jnp.zeros((model.groups[g].size, C), jnp.float32)
    out = dict(vis)
    for g in latent:
        loc = model.blocked.local_logits(bparams, x, g)
        out[g] = jax.nn.sigmoid(loc) if model.groups[g].kind == "binary" else jnp.tanh(loc / 2)
    return out


def positive_phase(phases: Phases, sampler: Sampler, key, model: Model, bparams, vis: dict,
                   k_positive: int):
    """``(pos_x, pos_sum, filled)``: the states and summed-out groups of the data term, and
    the data with latents filled in (what the monitor reconstructs from and what CD chains
    start from)."""
    if phases.exact:
        if phases.mean_field:
            filled = latent_means(model, bparams, vis, phases.latent)
        elif phases.latent:
            filled = fill_latents(sampler, key, model, bparams, vis, phases.latent, 1)
        else:
            filled = vis
        return vis, phases.latent, filled
    filled = fill_latents(sampler, key, model, bparams, vis, phases.latent, k_positive)
    return filled, (), filled


def negative_phase(phases: Phases, chains_x: dict):
    """``(neg_x, neg_sum)``: the chains' states entering the model term."""
    if phases.exact:
        return {g: chains_x[g] for g in phases.visible}, phases.latent
    return chains_x, ()


def weighted_mean(values: Array, weights: Array | None) -> Array:
    """``Σ w v / Σ w`` (the plain mean when ``weights`` is ``None``)."""
    if weights is None:
        return jnp.mean(values)
    return jnp.sum(weights * values) / jnp.sum(weights)


def surrogate(model: Model, params, pos, neg, pos_weights=None, neg_weights=None) -> Array:
    """``mean F(pos) - mean F(neg)``, the surrogate whose gradient is (1) of the module
    docstring (reported as ``free_energy_gap``). ``pos``/``neg``: ``(x, sum_out)`` pairs;
    the weights (per column, ``(C,)``) default to uniform."""
    bp = model.blocked.params(params)
    return (weighted_mean(free_energy(model, bp, *pos), pos_weights)
            - weighted_mean(free_energy(model, bp, *neg), neg_weights))


def gradient(model: Model, params, pos, neg, pos_weights=None, neg_weights=None):
    """The gradient (1) of the module docstring with respect to ``params``: that of
    :func:`surrogate` (its value is not computed)."""
    return jax.grad(surrogate, argnums=1)(model, params, pos, neg, pos_weights, neg_weights)


def monitor(phases: Phases, model: Model, bparams, vis: dict, filled: dict) -> dict:
    """Cheap progress metrics: for models with latents ``recon_error``, the squared error of
    the visible units' conditional means given the filled-in latents (for categorical units
    ``1 - p(x_i | latents)``, the squared error of the one-hot vector's mean at the data's
    state, halved), summed over units and averaged over examples; for fully visible models the
    ``pseudo_log_likelihood`` of the data."""
    if phases.latent:
        err = 0.0
        for g in phases.visible:
            grp = model.groups[g]
            loc = model.blocked.local_logits(bparams, filled, g)
            if grp.is_categorical:
                p = jax.nn.softmax(loc, axis=1)
                hit = jnp.take_along_axis(p, vis[g][:, None, :].astype(jnp.int32), axis=1)[:, 0]
                err = err + jnp.mean(jnp.sum(1.0 - hit, axis=0))
            else:
                mean = jax.nn.sigmoid(loc) if grp.kind == "binary" else jnp.tanh(loc / 2)
                err = err + jnp.mean(jnp.sum((vis[g] - mean) ** 2, axis=0))
        return {"recon_error": jnp.asarray(err, jnp.float32)}
    return {"pseudo_log_likelihood": jnp.mean(pseudo_log_likelihood(model, bparams, vis))}


def pseudo_log_likelihood(model: Model, bparams, x: dict, groups=None) -> Array:
    """``Σ_i log p(x_i | x_rest)`` over the units of ``groups`` (default: all in ``x``),
    per column: ``(C,)``."""
    pll = 0.0
    for g in (x if groups is None else groups):
        grp = model.groups[g]
        loc = model.blocked.local_logits(bparams, x, g)
        if grp.is_categorical:
            logp = jax.nn.log_softmax(loc, axis=1)
            lp = jnp.take_along_axis(logp, x[g][:, None, :].astype(jnp.int32), 1)[:, 0]
        else:
            on = (x[g] > 0).astype(jnp.float32)
            lp = jax.nn.log_sigmoid((2 * on - 1) * loc)
        pll = pll + jnp.sum(lp, axis=0)
    return pll


def summarize_info(info: dict) -> dict:
    """Scalar history entries of a sampler's per-chain statistics: the mean of each, and for
    vector-valued ones (``(C, m)``) also ``<name>_min``, the smallest of the ``m`` chain means."""
    out = {}
    for k, v in info.items():
        v = v.astype(jnp.float32)
        out[k] = jnp.mean(v)
        if v.ndim > 1:
            out[f"{k}_min"] = jnp.min(jnp.mean(v, axis=0))
    return out
