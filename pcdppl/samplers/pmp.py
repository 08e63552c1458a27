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
``info["bp_converged"]`` is 1 for a sample whose BP met the tolerance, else 0.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import bp
from ..graph.model import Model
from .base import Sampler, clamped_groups, num_chains_of

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
        _, self.damping, self.num_iters, self.tol = bp.check_settings(0.0, damping, num_iters,
                                                                      tol)
        self.noise = noise
        self.perturb_factors, self.warm_start = bool(perturb_factors), bool(warm_start)

    def __repr__(self) -> str:
        return (f"PerturbAndMaxProduct(num_iters={self.num_iters}, damping={self.damping}, "
                f"noise={self.noise}, perturb_factors={self.perturb_factors}, "
                f"warm_start={self.warm_start}, clamp={self.clamp})")

    def init_state(self, key, model, bparams, x):
        C = num_chains_of(x)
        return PMPState(x=dict(x), messages=bp.init_messages(model, C),
                        residual=jnp.full((C,), jnp.inf, jnp.float32))

    def transition(self, key, model, bparams, state, beta):
        C = num_chains_of(state)
        pot = bp.potentials(model, bparams, beta)
        pot = bp.perturb(key, model, pot, C, self.noise, self.perturb_factors)
        for g in self.clamp:
            grp, xg = model.groups[g], state.x[g]
            if grp.is_categorical:
                ev = CLAMP * jax.nn.one_hot(xg, grp.num_states, axis=1, dtype=jnp.float32)
            else:
                ev = jnp.where(xg == grp.values[1], CLAMP, -CLAMP).astype(jnp.float32)
            pot["unary"][g] = ev
        msgs = state.messages if self.warm_start else bp.init_messages(model, C)
        msgs, residual = bp.iterate(model, pot, msgs, C, self.num_iters, temperature=0.0,
                                    damping=self.damping)
        x = bp.decode(model, bp.beliefs(model, pot, msgs, C))
        x = {**x, **{g: state.x[g] for g in self.clamp}}
        new = PMPState(x=x, messages=msgs, residual=residual)
        return new, {"bp_converged": self.converged(new).astype(jnp.float32)}

    def converged(self, state: PMPState) -> jax.Array:
        """``(num_chains,)`` bool: whether each sample's BP met the tolerance."""
        return state.residual <= self.tol
