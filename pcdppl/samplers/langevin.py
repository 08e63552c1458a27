"""The discrete Langevin proposal (Zhang, Liu & Liu, ICML 2022, "A Langevin-like sampler for
discrete distributions").

Every unit proposes a new value in parallel, independently, from a factorised proposal
built from the gradient of the log-density ``f = -βE`` with respect to the units:

    q(x'_i | x) ∝ exp( ½ ∇_i f(x) · (x'_i − x_i) − ‖x'_i − x_i‖² / (2α) ),

with ``x_i`` the unit's value (binary ``{0,1}``, spin ``{−1,+1}``) or its one-hot vector
(categorical), ``α`` the step size. pcdppl energies are multilinear in the units'
indicators, so ``∇_i f(x) · (v − x_i)`` is exactly the change of ``f`` when unit ``i`` alone
moves to ``v``: the local log-odds for binary and spin units, the local log-potentials for
categorical ones (``model.blocked.local_logits``), for all units in one pass over the
factors. ``‖v − x_i‖²`` is 1 for a binary flip, 4 for a spin flip and 2 for a categorical
change.

``adjusted=True`` accepts the joint proposal with the Metropolis–Hastings ratio
``exp(f(x') − f(x)) q(x | x') / q(x' | x)`` (exact: the chain leaves ``π_β`` invariant);
``adjusted=False`` always accepts (the unadjusted variant, biased for any ``α > 0``).
``info`` reports ``accept_rate`` (1 or 0 per chain; always 1 unadjusted) and
``change_rate``, the fraction of the free units a transition changed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.model import Model
from .base import ChainState, Sampler, clamped_groups, num_chains_of
from .mh import accept, select
from .units import is_on, log_density_change

Array = jax.Array


def _sq_distance(group) -> float:
    return {"binary": 1.0, "spin": 4.0, "categorical": 2.0}[group.kind]


class DiscreteLangevin(Sampler):
    """Discrete Langevin proposals, Metropolis-adjusted or not.

    Args:
        model: the compiled model.
        step_size: ``α`` (> 0): larger values change more units per transition.
        adjusted: add the Metropolis–Hastings correction (exact); ``False``: the unadjusted
            sampler.
        clamp: groups held fixed.
    """

    def __init__(self, model: Model, step_size: float = 0.2, *, adjusted: bool = True,
                 clamp=()):
        super().__init__(model)
        step_size = float(step_size)
        if not np.isfinite(step_size) or step_size <= 0:
            raise ValueError(f"step_size must be positive and finite, got {step_size}")
        clamp = clamped_groups(model, clamp)
        free = tuple(g for g in model.groups if g not in clamp)
        if not free:
            raise ValueError("every group is clamped; nothing to sample")
        self.step_size, self.adjusted, self.clamp, self.free = step_size, bool(adjusted), clamp, free

    def proposal_logits(self, model, bparams, x, beta) -> dict[str, Array]:
        """Per free group, the proposal's log-weights of every move of every unit relative
        to staying: ``(n, C)`` for flips of binary/spin units, ``(n, k, C)`` for the values of
        categorical units (the current value's entry is 0)."""
        out = {}
        for g in self.free:
            grp = model.groups[g]
            loc = model.blocked.local_logits(bparams, x, g)
            pen = _sq_distance(grp) / (2.0 * self.step_size)
            if grp.is_categorical:
                cur = x[g].astype(jnp.int32)[:, None, :]
                d = loc - jnp.take_along_axis(loc, cur, axis=1)
                here = jnp.arange(grp.num_states)[None, :, None] == cur
                out[g] = jnp.where(here, 0.0, 0.5 * beta * d - pen)
            else:
                out[g] = 0.5 * beta * log_density_change(grp, loc, x[g], None) - pen
        return out

    @staticmethod
    def log_prob(group, logits: Array, cur: Array, new: Array) -> Array:
        """``Σ_i log q(new_i | cur)``: ``(C,)`` from a group's proposal log-weights."""
        if group.is_categorical:
            logp = jax.nn.log_softmax(logits, axis=1)
            return jnp.sum(jnp.take_along_axis(logp, new.astype(jnp.int32)[:, None, :],
                                               axis=1)[:, 0], axis=0)
        moved = new != cur
        return jnp.sum(jax.nn.log_sigmoid(jnp.where(moved, logits, -logits)), axis=0)

    def transition(self, key, model, bparams, state, beta):
        x = state.x
        C = num_chains_of(x)
        beta = jnp.asarray(beta, jnp.float32)
        logits = self.proposal_logits(model, bparams, x, beta)
        keys = jax.random.split(key, len(self.free) + 1)
        new = dict(x)
        for g, k in zip(self.free, keys[1:], strict=True):
            grp = model.groups[g]
            if grp.is_categorical:
                new[g] = jax.random.categorical(k, logits[g], axis=1).astype(jnp.int8)
            else:
                flip = jax.random.uniform(k, x[g].shape) < jax.nn.sigmoid(logits[g])
                flipped = jnp.where(is_on(grp, x[g]), grp.values[0], grp.values[1])
                new[g] = jnp.where(flip, flipped, x[g]).astype(jnp.int8)
        changed = sum(jnp.sum(new[g] != x[g], axis=0) for g in self.free)
        units = sum(model.groups[g].size for g in self.free)
        if not self.adjusted:
            info = {"accept_rate": jnp.ones((C,), jnp.float32),
                    "change_rate": changed.astype(jnp.float32) / units}
            return ChainState(x=new), info
        back = self.proposal_logits(model, bparams, new, beta)
        log_fwd = sum(self.log_prob(model.groups[g], logits[g], x[g], new[g]) for g in self.free)
        log_rev = sum(self.log_prob(model.groups[g], back[g], new[g], x[g]) for g in self.free)
        gain = -beta * (model.blocked.energy(bparams, new) - model.blocked.energy(bparams, x))
        acc = accept(jax.random.uniform(keys[0], (C,)), gain + log_rev - log_fwd)
        out = {g: select(acc[None, :], new[g], v) for g, v in x.items()}
        info = {"accept_rate": acc.astype(jnp.float32),
                "change_rate": jnp.where(acc, changed, 0).astype(jnp.float32) / units}
        return ChainState(x=out), info
