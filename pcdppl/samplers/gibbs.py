"""Block Gibbs sampling over the colour classes of the model's graph.

Units of one colour class share no factor, so given everything else they are independent
and are drawn together:

    p(x_i = on | x_rest) = σ(β Δ_i),     Δ_i = -E(x_i = on) + E(x_i = off)     (binary, spin)
    p(x_i = c  | x_rest) = softmax_c(β l_i)[c]                                  (categorical)

One step is one sweep: every free block, group by group in declaration order and colour
by colour within a group. The colouring comes from networkx at compile time (an RBM has
one block per layer, a periodic lattice of even side two).
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from ..graph.model import Model
from .base import Sampler, clamped_groups, sample_units
from .rng import uniform


class GibbsState(NamedTuple):
    """Block-Gibbs chains: ``x[group]`` is ``int8 (n_g, num_chains)`` in blocked order."""

    x: dict


class BlockGibbs(Sampler):
    """Block Gibbs sampler.

    Args:
        model: the compiled model.
        clamp: groups held fixed (conditioned on); their values stay as initialised.
    """

    def __init__(self, model: Model, *, clamp=()):
        super().__init__(model)
        clamp = clamped_groups(model, clamp)
        self.clamp = clamp
        self._blocks = tuple(b for b in model.blocks if b[0] not in clamp)
        self._rows = sum(e - s for _, s, e in self._blocks)

    def __repr__(self) -> str:
        return f"BlockGibbs({len(self._blocks)} blocks, clamp={self.clamp})"

    _init_wraps_values = True

    def _init(self, key, bp, xb):
        return GibbsState(x=dict(xb))

    def _step(self, key, bp, state, beta):
        return GibbsState(x=self._sweep(key, bp, state.x, beta))

    def _sweep(self, key, bp, x, beta):
        C = next(iter(x.values())).shape[1]
        u = uniform(key, (self._rows, C))  # one draw for the whole sweep (= jax.random.uniform)
        offset = 0
        for g, s, e in self._blocks:
            loc = self.model._local_b(bp, x, g, slice(s, e))
            new = sample_units(self.model.groups[g], loc, beta, u[offset:offset + e - s])
            # materialised once: otherwise XLA copies the whole draw (threefry hash
            # included) into every consumer's fusion, which costs compile time, not speed
            new = jax.lax.optimization_barrier(new)
            offset += e - s
            x = {**x, g: x[g].at[s:e].set(new)}
        return x
