"""Random numbers for the learner's compiled programs, drawn at as few call sites as possible.

On the CPU, XLA compiles every threefry call site (each ``jax.random.split``, ``uniform``,
``normal`` ...) into its own loop, and each costs about 0.1–0.3 CPU-seconds of compilation
— more than the rest of a small model's epoch program together. The learner therefore
derives all the randomness of an epoch outside the negative-phase sampler from **one**
``jax.random.split``: the new learner key, every minibatch's keys, and the bits that
shuffle the data (the key data of further split keys are uniformly random words; their
argsort is a uniformly random permutation, ties among 32-bit words aside). The initial
state uses one split for the parameter initializers and one uniform draw for the chains —
or, where every initial value has a host form (:func:`host_rng`), no compiled program at all.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

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


def host_rng(key) -> np.random.Generator:
    """A NumPy generator seeded from the data of a JAX key, for initial values computed on
    the host (no compilation): the same key always gives the same stream."""
    words = np.asarray(jax.random.key_data(key), np.uint32).reshape(-1)
    return np.random.default_rng([int(w) for w in words] + [0x70636470])


def host_random_blocked(rng: np.random.Generator, groups, num_chains: int) -> dict[str, np.ndarray]:
    """Uniformly random values of every group, blocked layout, on the host:
    ``dict[name, int8 ndarray (n_g, num_chains)]``."""
    out = {}
    for g in groups:
        idx = rng.integers(0, g.num_states, size=(g.size, num_chains), dtype=np.int8)
        out[g.name] = (2 * idx - 1).astype(np.int8) if g.kind == "spin" else idx
    return out


def host_key(rng: np.random.Generator, like) -> jax.Array:
    """A fresh JAX key (of the implementation of ``like``) drawn from ``rng``."""
    impl = jax.random.key_impl(like)
    shape = jax.random.key_data(like).shape
    return jax.random.wrap_key_data(rng.integers(0, 2**32, size=shape, dtype=np.uint32),
                                    impl=impl)
