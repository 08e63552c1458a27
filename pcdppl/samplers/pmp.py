"""Perturb-and-max-product (Lázaro-Gredilla, Dedieu & George, NeurIPS 2021).

A sample is the MAP state of a randomly perturbed model:

    x* = argmax_x  [-β E(x) + Σ_i g_i(x_i)],      g_i(c) ~ Gumbel(0, s) i.i.d.

found approximately by max-product belief propagation (:mod:`pcdppl.bp`). With Gumbel
noise on *every* joint state the argmax would be an exact sample (the Gumbel-max trick);
perturbing only the unary terms — the default, as in the paper — is the tractable
approximation, exact for independent units and biased otherwise (see docs/samplers/pmp.md).
``perturb_factors=True`` also adds Gumbel noise to every entry of every factor table.

Each :meth:`step` draws fresh noise and returns ``num_chains`` *independent* samples: there
is no Markov chain. The messages are kept in the state, so ``warm_start=True`` starts the
next step's BP from them (useful in learning, where parameters move little between steps).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..bp.loopy import BeliefPropagation
from ..graph.model import Model
from .base import Sampler, clamped_groups

# Unary log-odds pinning a clamped unit. Max-product messages out of a pinned unit are
# then exact up to float32 rounding at this magnitude (about 1e-3), for couplings far below it.
CLAMP = 1e4


class PMPState(NamedTuple):
    """PMP samples and BP messages.

    Attributes:
        x: ``dict[group, int8 (n_g, num_chains)]`` the latest samples (blocked layout).
        messages: the BP messages of the latest step (see :mod:`pcdppl.bp.kernels`).
        residual: ``(num_chains,)`` last-iteration residual of each sample's BP; a sample
            whose BP did not converge (residual above ``tol``) is less trustworthy.
    """

    x: dict
    messages: dict
    residual: jax.Array


class PerturbAndMaxProduct(Sampler):
    """Perturb-and-max-product sampler.

    Args:
        model: the compiled model.
        num_iters: max-product iterations per sample batch.
        damping: BP damping (weight of the old message).
        noise: scale ``s`` of the Gumbel perturbation (1 = the standard Gumbel).
        perturb_factors: also perturb every entry of the pairwise/dense/table factors.
        warm_start: start each step's BP from the previous step's messages instead of
            uniform messages.
        tol: BP convergence threshold reported through ``state.residual``.
        clamp: groups held fixed at their values in the state (conditioned on): their
            units get unary log-odds ``±CLAMP`` (a one-hot ``CLAMP`` for categorical units),
            which pins them in max-product, and their values are copied through.

    ``step(key, params, state, beta)`` ignores the previous samples and returns a fresh
    batch; ``beta`` scales every log-potential before the perturbation.
    """

    def __init__(self, model: Model, *, num_iters: int = 100, damping: float = 0.5,
                 noise: float = 1.0, perturb_factors: bool = False, warm_start: bool = False,
                 tol: float = 1e-3, clamp=()):
        super().__init__(model)
        clamp = clamped_groups(model, clamp)
        self.clamp = clamp
        noise = float(noise)
        if not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise (the Gumbel scale) must be finite and ≥ 0, got {noise}")
        self.bp = BeliefPropagation(model, temperature=0.0, damping=damping,
                                    num_iters=num_iters, tol=tol)
        self.num_iters, self.damping, self.noise = self.bp.num_iters, self.bp.damping, noise
        self.perturb_factors, self.warm_start = bool(perturb_factors), bool(warm_start)

    def __repr__(self) -> str:
        return (f"PerturbAndMaxProduct(num_iters={self.num_iters}, damping={self.damping}, "
                f"noise={self.noise}, perturb_factors={self.perturb_factors}, "
                f"warm_start={self.warm_start}, clamp={self.clamp})")

    def _init(self, key, bp, xb):
        C = next(iter(xb.values())).shape[1]
        return PMPState(x=dict(xb), messages=self.bp._zeros(C),
                        residual=jax.numpy.full((C,), jax.numpy.inf, jax.numpy.float32))

    def _step(self, key, bp, state, beta):
        C = next(iter(state.x.values())).shape[1]
        pot = self.bp._potentials(bp, beta)
        pot = self.bp._perturb(key, pot, C, self.noise, self.perturb_factors)
        for g in self.clamp:
            grp, xg = self.model.groups[g], state.x[g]
            if grp.is_categorical:
                ev = CLAMP * jax.nn.one_hot(xg, grp.num_states, axis=1, dtype=jnp.float32)
            else:
                ev = jnp.where(xg == grp.values[1], CLAMP, -CLAMP).astype(jnp.float32)
            pot["unary"][g] = ev
        msgs = state.messages if self.warm_start else self.bp._zeros(C)
        msgs, residual = self.bp._iterate(pot, msgs, C, self.num_iters)
        x = self.bp._decode_b(self.model, self.bp._beliefs(pot, msgs, C))
        x = {**x, **{g: state.x[g] for g in self.clamp}}
        return PMPState(x=x, messages=msgs, residual=residual)

    def converged(self, state: PMPState) -> jax.Array:
        """``(num_chains,)`` bool: whether each sample's BP met the tolerance."""
        return state.residual <= self.bp.tol

    def _stats(self, state: PMPState) -> dict:
        """``bp_converged``: the fraction of samples whose BP met the tolerance (a learner's
        history shows it per epoch, averaged over the minibatch updates)."""
        return {"bp_converged": jnp.mean(self.converged(state).astype(jnp.float32))}
