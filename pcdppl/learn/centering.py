"""Centered gradients for dense couplings (Melchior, Fischer & Wiskott, JMLR 2016).

A centered Boltzmann machine writes a dense coupling between groups ``a`` and ``b`` around
offsets ``μ`` and ``λ`` (mean features of each group):

    -E ∋ (f_a − μ)ᵀ W (f_b − λ) + (f_a − μ)ᵀ b_a + (f_b − λ)ᵀ b_b,

the same family of models as the uncentered one (``b_a`` and ``b_b`` absorb the offsets), but
the gradient in the centered parameters is better conditioned. In pcdppl's (uncentered)
parameters the centered update of the negative log-likelihood gradient ``g`` is

    g_W ← g_W − μ g_bᵀ − g_a λᵀ,   g_a ← g_a − g_W λ,   g_b ← g_b − g_Wᵀ μ

(``g_a``, ``g_b`` the bias gradients, ``g_W`` the new coupling gradient), applied before the
optimiser. ``μ`` and ``λ`` are exponential moving averages (rate ``offset_rate``, bias-
corrected) of the minibatch means of each group's features — the data for observed groups,
the latents' conditional means (or samples) for latent ones. With offsets that stay zero the
update is exactly the uncentered one. Features: values for binary/spin units, one-hot
states for categorical units.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from ..graph.dense import features, zero_sum
from .extensions import Extension


def _centered_pairs(model) -> tuple:
    """``((dense name, group a, bias of a, group b, bias of b), ...)``: the dense couplings
    whose two groups both have an untied bias (centering needs the biases to absorb the
    offsets)."""
    biases = {}
    for f in model.factors:
        if f.kind == "bias" and not f.tied:
            biases.setdefault(f.group.name, f.name)
    return tuple((f.name, f.a.name, biases[f.a.name], f.b.name, biases[f.b.name])
                 for f in model.factors
                 if f.kind == "dense" and f.a.name in biases and f.b.name in biases)


def _user_mean(model, group: str, x, weights):
    """Weighted mean feature of blocked values ``(n, B)``, user order: ``(n·k,)`` or ``(n,)``."""
    grp = model.groups[group]
    f = features(grp, x)  # (n·k, B)
    w = jnp.ones((f.shape[1],), jnp.float32) if weights is None else weights
    mean = (f @ w) / jnp.sum(w)
    lay = model.layouts[group]
    if lay.identity:
        return mean
    k = grp.num_states if grp.is_categorical else 1
    return mean.reshape(grp.size, k)[lay.inv].reshape(-1)


@dataclass(frozen=True)
class Centering(Extension):
    """Centered gradients of every dense coupling whose groups have untied biases (see the
    module docstring). ``offset_rate``: the moving average's rate ``ν`` per update."""

    offset_rate: float

    def init(self, key, model, params, chains):
        offsets = {}
        for _, a, _, b, _ in _centered_pairs(model):
            for g in (a, b):
                grp = model.groups[g]
                n = grp.size * (grp.num_states if grp.is_categorical else 1)
                offsets[g] = jnp.zeros((n,), jnp.float32)
        return {"sum": offsets, "steps": jnp.zeros((), jnp.int32)}, chains

    @staticmethod
    def offsets(extra, rate: float) -> dict:
        """The bias-corrected offsets ``μ`` per group (zeros before the first update)."""
        norm = 1.0 - (1.0 - rate) ** extra["steps"].astype(jnp.float32)
        return {g: jnp.where(norm > 0, s / jnp.maximum(norm, 1e-30), 0.0)
                for g, s in extra["sum"].items()}

    def transform_grads(self, model, grads, extra, data, weights):
        nu = self.offset_rate
        sums = {g: (1.0 - nu) * s + nu * _user_mean(model, g, data[g], weights)
                for g, s in extra["sum"].items()}
        extra = {"sum": sums, "steps": extra["steps"] + 1}
        mu = self.offsets(extra, nu)
        grads = dict(grads)
        for w_name, a, ba, b, bb in _centered_pairs(model):
            gW = grads[w_name]
            shape = gW.shape
            Wm = gW.reshape(mu[a].shape[0], mu[b].shape[0])
            g_a, g_b = grads[ba].reshape(-1), grads[bb].reshape(-1)
            Wm = Wm - jnp.outer(mu[a], g_b) - jnp.outer(g_a, mu[b])
            ka, kb = (model.groups[g].num_states if model.groups[g].is_categorical else 1
                      for g in (a, b))
            if ka > 1 or kb > 1:  # keep to the zero-sum gauge the energy sees
                axes = tuple(ax for ax, k in ((1, ka), (3, kb)) if k > 1)
                W4 = zero_sum(Wm.reshape(model.groups[a].size, ka, model.groups[b].size, kb),
                              axes)
                Wm = W4.reshape(Wm.shape)
            grads[w_name] = Wm.reshape(shape)
            grads[ba] = (g_a - Wm @ mu[b]).reshape(grads[ba].shape)
            grads[bb] = (g_b - Wm.T @ mu[a]).reshape(grads[bb].shape)
        return grads, extra


__all__ = ["Centering"]
