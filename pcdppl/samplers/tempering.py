"""Replica exchange (parallel tempering) over a ladder of inverse temperatures.

Replica ``r`` of every chain targets ``π_r(x) ∝ exp(-β_r E(x))`` on a ladder
``β_0 < β_1 < … < β_{R-1} = 1``. One step

1. advances every replica with the inner sampler at its own inverse temperature (all
   ``R × C`` replicas in one call: the inner kernel receives one β per chain), then
2. proposes to swap the states of neighboring replicas, first the pairs ``(0,1), (2,3), …``
   then ``(1,2), (3,4), …``, each accepted with probability

       α = min(1, exp((β_r - β_{r+1}) (E(x_r) - E(x_{r+1})))),

   which leaves the product ``Π_r π_r`` invariant. Hot replicas cross energy barriers; the
   swaps carry their states down the ladder to the target replica ``β = 1``.

The state's ``x`` holds the ``β = 1`` replica, ``dict[group, int8 (n_g, C)]``, so a
learner's negative phase and :func:`pcdppl.sample` read the target chains as from any
other sampler; the whole ladder lives in ``state.inner`` (the inner sampler's state over
``R·C`` chains, replica-major: chain ``r·C + c`` is replica ``r`` of chain ``c``).

``info`` holds the inner sampler's statistics averaged over the replicas of each chain, and
``swap_rate`` ``(C, R-1)``: 1 where chain ``c``'s replicas ``r`` and ``r+1`` swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.model import Model
from .base import Sampler, num_chains_of
from .gibbs import BlockGibbs
from .mh import accept

Array = jax.Array


class ReplicaState(NamedTuple):
    """Replica-exchange chains.

    Attributes:
        x: the ``β = 1`` replicas, ``dict[group, int8 (n_g, C)]``.
        inner: the inner sampler's state over all ``R·C`` replicas (replica-major).
    """

    x: dict
    inner: Any


def check_ladder(betas) -> np.ndarray:
    """Validate an inverse-temperature ladder; returns it in increasing order."""
    try:
        b = np.asarray(betas, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"betas must be a sequence of numbers, got {betas!r}") from err
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"the temperature ladder betas must be a non-empty 1-D sequence, got "
                         f"{betas!r}")
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"every inverse temperature in betas must be positive and finite "
                         f"(β ≤ 0 is not a temperature), got {b.tolist()}")
    d = np.diff(b)
    if b.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError(f"the temperature ladder betas must be sorted (strictly increasing or "
                         f"strictly decreasing, no repeats), got {b.tolist()}")
    b = np.sort(b)
    if b[-1] != 1.0:
        raise ValueError(f"the temperature ladder must end at the target β = 1 (its largest "
                         f"value), got largest {b[-1]}")
    return b


class ReplicaExchange(Sampler):
    """Parallel tempering: an inner sampler on every rung of a β ladder, plus swaps.

    Args:
        model: the compiled model.
        inner: the sampler run on every replica (e.g. :class:`BlockGibbs` or
            :class:`Metropolis`), built for the same ``model``.
        betas: the ladder of inverse temperatures, sorted (either direction), all positive,
            largest exactly 1 (the target). E.g. ``np.geomspace(0.1, 1, 8)``.

    ``info["swap_rate"]`` (``(C, R-1)``) reports the swaps of each neighboring pair (a
    learner's history shows their mean and, as ``swap_rate_min``, the rate of the pair that
    swaps least). The ``beta`` argument of ``step``/``run`` scales the whole ladder.
    """

    def __init__(self, model: Model, inner: Sampler | None = None,
                 betas: Sequence[float] | np.ndarray = (0.25, 0.5, 1.0)):
        super().__init__(model)
        if inner is None:
            inner = BlockGibbs(model)
        if not isinstance(inner, Sampler):
            raise TypeError(f"inner must be a pcdppl sampler, got {type(inner).__name__}")
        if inner.model is not model:
            raise ValueError("the inner sampler was built for another model; build it with the "
                             "model given to ReplicaExchange")
        self.inner = inner
        self.betas = tuple(float(b) for b in check_ladder(betas))

    def __repr__(self) -> str:
        return f"ReplicaExchange(inner={self.inner!r}, betas={list(self.betas)})"

    @property
    def num_replicas(self) -> int:
        return len(self.betas)

    def init_state(self, key, model, bparams, x):
        R = self.num_replicas
        ladder = {g: jnp.tile(v, (1, R)) for g, v in x.items()}
        return ReplicaState(x=dict(x), inner=self.inner.init_state(key, model, bparams, ladder))

    def transition(self, key, model, bparams, state, beta):
        R = self.num_replicas
        C = num_chains_of(state)
        betas = jnp.asarray(self.betas, jnp.float32)[:, None] * jnp.broadcast_to(
            jnp.asarray(beta, jnp.float32), (C,))[None, :]  # (R, C)
        k_inner, k_swap = jax.random.split(key)
        inner, inner_info = self.inner.transition(k_inner, model, bparams, state.inner,
                                                  betas.reshape(R * C))
        info = {k: jnp.mean(v.astype(jnp.float32).reshape(R, C, *v.shape[1:]), axis=0)
                for k, v in inner_info.items()}
        if R > 1:
            energy = model.blocked.energy(bparams, inner.x).reshape(R, C)
            u = jax.random.uniform(k_swap, (R - 1, C))
            src = jnp.broadcast_to(jnp.arange(R)[:, None], (R, C))  # replica held at each rung
            swapped = jnp.zeros((R - 1, C), bool)
            for parity in (0, 1):
                lo = np.arange(parity, R - 1, 2)
                if lo.size == 0:
                    continue
                e = jnp.take_along_axis(energy, src, axis=0)
                acc = accept(u[lo], (betas[lo] - betas[lo + 1]) * (e[lo] - e[lo + 1]))
                new_src = src.at[lo].set(jnp.where(acc, src[lo + 1], src[lo]))
                new_src = new_src.at[lo + 1].set(jnp.where(acc, src[lo], src[lo + 1]))
                src, swapped = new_src, swapped.at[lo].set(acc)
            info["swap_rate"] = swapped.T.astype(jnp.float32)  # (C, R-1)
            perm = (src * C + jnp.arange(C)[None, :]).reshape(R * C)
            inner = jax.tree.map(lambda a: self._permute(a, perm, R * C), inner)
        x = {g: v[:, (R - 1) * C:] for g, v in inner.x.items()}
        return ReplicaState(x=x, inner=inner), info

    @staticmethod
    def _permute(a, perm, n):
        """Reorder the chain axis (the last, by convention) of a state leaf."""
        if hasattr(a, "shape") and a.ndim >= 1 and a.shape[-1] == n:
            return jnp.take(a, perm, axis=-1)
        return a
