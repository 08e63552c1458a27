"""Block Gibbs sampling over the color classes of the model's graph.

Units of one color class share no factor, so given everything else they are independent
and are drawn together:

    p(x_i = on | x_rest) = σ(β Δ_i),     Δ_i = -E(x_i = on) + E(x_i = off)     (binary, spin)
    p(x_i = c  | x_rest) = softmax_c(β l_i)[c]                                  (categorical)

One transition is one sweep: every free block, group by group in declaration order and color
by color within a group. The coloring comes from networkx at compile time (an RBM has one
block per layer, a periodic lattice of even side two). ``info`` is empty.
"""

from __future__ import annotations

import jax

from .. import _compile
from ..graph.model import Model
from .base import ChainState, Sampler, clamped_groups, num_chains_of
from .units import sample_units

GibbsState = ChainState  # block Gibbs keeps nothing but the values


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
        self.sweep_blocks = tuple(b for b in model.blocks if b[0] not in clamp)

    def __repr__(self) -> str:
        return f"BlockGibbs({len(self.sweep_blocks)} blocks, clamp={self.clamp})"

    @property
    def products(self) -> bool:
        """Whether some free block's local fields are products (dense layers)."""
        return any(f.kind == "dense" for g, _, _ in self.sweep_blocks
                   for f in self.model.factors_of(g))

    def transition(self, key, model, bparams, state, beta):
        return ChainState(x=self.sweep(key, model, bparams, state.x, beta)), {}

    def sweep(self, key, model, bparams, x, beta):
        """One sweep over the free blocks of blocked values ``x``; returns the new values."""
        C = num_chains_of(x)
        rows = sum(e - s for _, s, e in self.sweep_blocks)
        # one draw for the whole sweep
        u = _compile.uniform(key, (rows, C), after_product=self.products)
        offset = 0
        for g, s, e in self.sweep_blocks:
            loc = model.blocked.local_logits(bparams, x, g, slice(s, e))
            new = sample_units(model.groups[g], loc, beta, u[offset:offset + e - s])
            # materialised once: otherwise XLA copies the whole draw (threefry hash
            # included) into every consumer's fusion, which costs compile time, not speed
            new = jax.lax.optimization_barrier(new)
            offset += e - s
            x = {**x, g: x[g].at[s:e].set(new)}
        return x
