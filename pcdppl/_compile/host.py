"""Keys and initial values built on the host, without compiling a program.

Rule: an int seed becomes a key without running JAX's seeding program, and a learner whose
initial state needs no compiled computation (built-in initializers, a sampler state that is
just the values, an optimiser state without arrays) draws it with NumPy seeded from the key.
Measurements: ``docs/performance.md``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.init import Constant, FromArray, Normal, Zeros


def as_key(key) -> jax.Array:
    """A typed JAX key from an int seed, a typed key or a raw ``uint32 (2,)`` key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        seed = int(key)
        if 0 <= seed < 2**31 and jax.config.jax_default_prng_impl == "threefry2x32":
            # what jax.random.key(seed) holds, without compiling its seeding program
            return jax.random.wrap_key_data(np.array([0, seed], np.uint32), impl="threefry2x32")
        return jax.random.key(seed)
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))
    raise TypeError(f"expected a JAX PRNG key or an int seed, got {type(key).__name__}")


def host_rng(key) -> np.random.Generator:
    """A NumPy generator seeded from the data of a JAX key: the same key, the same stream."""
    words = np.asarray(jax.random.key_data(key), np.uint32).reshape(-1)
    return np.random.default_rng([int(w) for w in words] + [0x70636470])


def host_key(rng: np.random.Generator, like) -> jax.Array:
    """A fresh JAX key (of the implementation of ``like``) drawn from ``rng``."""
    impl = jax.random.key_impl(like)
    shape = jax.random.key_data(like).shape
    return jax.random.wrap_key_data(rng.integers(0, 2**32, size=shape, dtype=np.uint32),
                                    impl=impl)


def _host_draw(init, rng: np.random.Generator, shape) -> np.ndarray | None:
    if isinstance(init, Normal):
        return (init.std * rng.standard_normal(shape)).astype(np.float32)
    if isinstance(init, Zeros):
        return np.zeros(shape, np.float32)
    if isinstance(init, Constant):
        return np.full(shape, init.value, np.float32)
    if isinstance(init, FromArray):
        return np.array(init.array, np.float32)
    return None


def host_initial_state(key, initializers: dict, shapes: dict, fixed: dict, groups,
                       num_chains: int, optimizer):
    """A learner's initial state drawn on the host, without compiling a program:
    ``(params, chains, opt_state, next_key)`` — parameters (``fixed`` where given, else the
    initializers), uniformly random chains ``dict[group, int8 (n, num_chains)]`` (NumPy),
    the optimiser state and the next key — or ``None`` when that is not possible (an
    initializer without a host form, such as a user's callable, or an optimiser whose state
    holds arrays)."""
    abstract = {n: jax.ShapeDtypeStruct(s, jnp.float32) for n, s in shapes.items()}
    if jax.tree.leaves(jax.eval_shape(optimizer.init, abstract)):
        return None
    rng = host_rng(key)
    drawn = host_initial_values(rng, initializers, shapes, fixed, groups, num_chains)
    if drawn is None:
        return None
    params, chains = drawn
    return params, chains, optimizer.init(params), host_key(rng, key)


def host_initial_values(rng: np.random.Generator, initializers: dict, shapes: dict, fixed: dict,
                        groups, num_chains: int) -> tuple[dict, dict] | None:
    """Parameters (``fixed`` where given, else the initializers) and uniformly random chains
    ``dict[group, int8 (n, num_chains)]``, drawn with NumPy; ``None`` when some initializer
    has no host form (a user's callable)."""
    params = {}
    for name, init in initializers.items():
        if name in fixed:
            params[name] = np.asarray(fixed[name], np.float32)
            continue
        value = _host_draw(init, rng, shapes[name])
        if value is None:
            return None
        params[name] = value
    chains = {}
    for g in groups:
        idx = rng.integers(0, g.num_states, size=(g.size, num_chains), dtype=np.int8)
        chains[g.name] = (2 * idx - 1).astype(np.int8) if g.kind == "spin" else idx
    return params, chains
