"""Random numbers for hot loops, bit-identical to ``jax.random``, at few call sites.

Rule: sampler sweeps draw their uniforms with :func:`uniform`, keys are split with
:func:`split` (both equal bit for bit to ``jax.random.uniform`` / ``split``, the Threefry hash
unrolled so XLA fuses it), and a learner's epoch draws all its randomness from one split
(:func:`epoch_randomness`). Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
SMALL_DRAW = 2**13  # see uniform(after_product=True)


def _rotl(x, r: int):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 hash (20 rounds), unrolled; all operands ``uint32``."""
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = _rotl(x2, r) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _fast_path(key) -> bool:
    return (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
            and key.shape == () and str(jax.random.key_impl(key)) == "threefry2x32"
            and jax.config.jax_threefry_partitionable)


def uniform(key, shape: tuple[int, ...], *, after_product: bool = False) -> jax.Array:
    """``float32`` uniforms in [0, 1) of ``shape``; equal bit for bit to
    ``jax.random.uniform(key, shape)``.

    ``after_product``: the draw is compared with the output of a product (a dense layer's
    local fields). A small such draw (< ``SMALL_DRAW`` numbers) is materialised: fused into
    the product's consumer XLA does not vectorise the hash, alone it is a loop over an iota
    (the digits RBM's epoch ~19 % faster). Large ones stay fused (a 784x500 RBM's epoch,
    whose fusions XLA splits over the cores, was slower materialised), and so do the draws
    of sparse sweeps (a 64x64 lattice's sweep was ~25 % slower materialised)."""
    shape = tuple(int(s) for s in shape)
    u = _uniform(key, shape)
    if after_product and math.prod(shape) < SMALL_DRAW:
        u = lax.optimization_barrier(u)
    return u


def _uniform(key, shape: tuple[int, ...]) -> jax.Array:
    if not _fast_path(key) or math.prod(shape) >= 2**32 or not shape:
        return jax.random.uniform(key, shape)
    k = jax.random.key_data(key)
    # counter = row-major flat index (< 2**32: the high word is 0), built from broadcasted
    # iotas so the SPMD partitioner can split it like any elementwise array
    strides = np.cumprod((1,) + shape[:0:-1])[::-1]
    lo = sum(lax.broadcasted_iota(jnp.uint32, shape, d) * np.uint32(s)
             for d, s in enumerate(strides))
    b1, b2 = threefry2x32(k[0], k[1], jnp.zeros(shape, jnp.uint32), lo)
    bits = b1 ^ b2
    floats = lax.bitcast_convert_type((bits >> np.uint32(9)) | np.uint32(0x3F800000),
                                      jnp.float32) - np.float32(1.0)
    return lax.max(np.float32(0.0), floats)


def split(key, num: int) -> jax.Array:
    """``num`` new keys; equal to ``jax.random.split(key, num)``, the hash unrolled."""
    num = int(num)
    if not _fast_path(key) or num >= 2**32:
        return jax.random.split(key, num)
    k = jax.random.key_data(key)
    b1, b2 = threefry2x32(k[0], k[1], jnp.zeros((num,), jnp.uint32),
                          lax.iota(jnp.uint32, num))
    return jax.random.wrap_key_data(jnp.stack([b1, b2], axis=1), impl=jax.random.key_impl(key))


def epoch_randomness(key, num_examples: int, num_batches: int, batch_size: int,
                     keys_per_step: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One split giving everything an epoch needs.

    Returns ``(next_key, order, step_keys)``: the key of the next epoch, the example indices
    of each minibatch ``int (num_batches, batch_size)`` (a uniformly random permutation — the
    argsort of random key words —, its remainder dropped) and the minibatches' keys
    ``(num_batches, keys_per_step)``.
    """
    n_steps = num_batches * keys_per_step
    words = math.prod(jax.random.key_data(key).shape) or 1
    n_perm = -(-num_examples // words)
    ks = split(key, 1 + n_steps + n_perm)
    bits = jax.random.key_data(ks[1 + n_steps:]).reshape(-1)[:num_examples]
    order = jnp.argsort(bits)[: num_batches * batch_size].reshape(num_batches, batch_size)
    return ks[0], order, ks[1:1 + n_steps].reshape(num_batches, keys_per_step)


def random_blocked(key, groups, num_chains: int) -> dict[str, jax.Array]:
    """Uniformly random values of every group from one uniform draw, blocked layout:
    ``dict[name, int8 (n_g, num_chains)]``."""
    groups = list(groups)
    sizes = [g.size for g in groups]
    u = uniform(key, (sum(sizes), num_chains))
    out, start = {}, 0
    for g, n in zip(groups, sizes, strict=True):
        idx = jnp.floor(u[start:start + n] * g.num_states).astype(jnp.int8)  # state index
        idx = jnp.minimum(idx, g.num_states - 1).astype(jnp.int8)
        out[g.name] = (2 * idx - 1).astype(jnp.int8) if g.kind == "spin" else idx
        start += n
    return out
