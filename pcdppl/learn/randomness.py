"""Random numbers for the learner's compiled programs, drawn at as few call sites as possible.

On the CPU, XLA compiles every threefry call site (each ``jax.random.split``, ``uniform``,
``normal`` ...) into its own loop, and each costs about 0.1–0.3 CPU-seconds of compilation
— more than the rest of a small model's epoch program together. The learner therefore
derives all the randomness of an epoch outside the negative-phase sampler from **one**
``jax.random.split``: the new learner key, every minibatch's keys, and the bits that
shuffle the data (the key data of further split keys are uniformly random words; their
argsort is a uniformly random permutation, ties among 32-bit words aside). The initial
state uses one split for the parameter initializers and one uniform draw for the chains.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ..graph.groups import VariableGroup
from ..samplers.rng import split, uniform

Array = jax.Array


def epoch_randomness(key, num_examples: int, num_batches: int, batch_size: int,
                     keys_per_step: int) -> tuple[Array, Array, Array]:
    """One split giving everything an epoch needs.

    Returns:
        ``(next_key, order, step_keys)``: the learner's key for the next epoch, the example
        indices of each minibatch ``int (num_batches, batch_size)`` (a random permutation,
        its remainder dropped) and the minibatches' keys ``(num_batches, keys_per_step)``.
    """
    n_steps = num_batches * keys_per_step
    words = math.prod(jax.random.key_data(key).shape) or 1
    n_perm = -(-num_examples // words)
    ks = split(key, 1 + n_steps + n_perm)
    bits = jax.random.key_data(ks[1 + n_steps:]).reshape(-1)[:num_examples]
    order = jnp.argsort(bits)[: num_batches * batch_size].reshape(num_batches, batch_size)
    return ks[0], order, ks[1:1 + n_steps].reshape(num_batches, keys_per_step)


def random_blocked(key, groups, num_chains: int) -> dict[str, Array]:
    """Uniformly random values of every group from one uniform draw, in the blocked layout:
    ``dict[name, int8 (n_g, num_chains)]``."""
    groups: list[VariableGroup] = list(groups)
    sizes = [g.size for g in groups]
    u = uniform(key, (sum(sizes), num_chains))  # = jax.random.uniform, hash unrolled
    out, start = {}, 0
    for g, n in zip(groups, sizes, strict=True):
        idx = jnp.floor(u[start:start + n] * g.num_states).astype(jnp.int8)  # state index
        idx = jnp.minimum(idx, g.num_states - 1).astype(jnp.int8)
        out[g.name] = (2 * idx - 1).astype(jnp.int8) if g.kind == "spin" else idx
        start += n
    return out
