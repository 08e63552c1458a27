"""Uniform random numbers for the samplers' hot loops, bit-identical to ``jax.random.uniform``.

On the CPU, JAX lowers the Threefry-2x32 hash as a rolled loop of five iterations (to keep
compile times short), which reads and writes the whole counter array ten times and copies it
between iterations; for the million uniforms of a lattice sweep that is most of the sweep's
time. :func:`uniform` computes the very same numbers — the same counters, the same hash, the
same mantissa trick — with the hash unrolled, so XLA fuses the whole draw into one
elementwise loop (and compiles it faster than the rolled loop). :func:`split` does the same
for ``jax.random.split``. It applies to the default configuration (``threefry2x32`` keys with
``jax_threefry_partitionable``, the default since JAX 0.5); any other key implementation or
setting falls back to :func:`jax.random.uniform`. Either way the values do not depend on how
the array is sharded.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


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


def uniform(key, shape: tuple[int, ...]) -> jax.Array:
    """``float32`` uniforms in [0, 1) of ``shape``; equal bit for bit to
    ``jax.random.uniform(key, shape)``."""
    shape = tuple(int(s) for s in shape)
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
    """``num`` new keys; equal to ``jax.random.split(key, num)`` (with
    ``jax_threefry_partitionable``, the hash of the counters ``0 .. num-1``), the hash
    unrolled."""
    num = int(num)
    if not _fast_path(key) or num >= 2**32:
        return jax.random.split(key, num)
    k = jax.random.key_data(key)
    b1, b2 = threefry2x32(k[0], k[1], jnp.zeros((num,), jnp.uint32),
                          lax.iota(jnp.uint32, num))
    return jax.random.wrap_key_data(jnp.stack([b1, b2], axis=1), impl=jax.random.key_impl(key))
