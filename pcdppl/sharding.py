"""Sharding chains and minibatches across devices (and hosts) with :mod:`jax.sharding`.

pcdppl keeps every per-chain quantity with the chain axis **last** (blocked states are
``int8 (n_g, num_chains)``), so data parallelism is one rule: an array whose last axis has
length ``num_chains`` is split along that axis over all devices of a one-dimensional mesh;
everything else (parameters, optimiser state, keys, scalars) is replicated. The rule is
applied with :func:`jax.lax.with_sharding_constraint` inside the compiled programs and
XLA's SPMD partitioner (GSPMD) does the rest: each device advances its own chains, and
the parameter gradient — a mean over chains and examples — becomes a per-device partial
sum followed by one all-reduce, inside the compiled step (no host round-trip).

Random numbers do not depend on the partitioning (``jax_threefry_partitionable`` is on by
default), so a sharded run draws the very same uniforms as the single-device run: states
agree exactly and learned parameters up to the order of floating-point reductions.

The mesh axes use :attr:`jax.sharding.AxisType.Auto` (sharding propagated by the compiler),
whatever the types of a mesh passed in (``jax.make_mesh`` defaults to ``Explicit`` axes,
which would require every operation to state its output sharding).

Multi-host: call :func:`jax.distributed.initialize` in every process first; ``jax.devices()``
then lists the devices of all processes and ``devices="all"`` (or a mesh over them) spans
the hosts. See ``docs/scaling.md`` and ``examples/multihost.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

CHAIN_AXIS = "chains"

__all__ = ["CHAIN_AXIS", "resolve_mesh", "auto_mesh", "num_shards", "check_divisible", "chain_spec",
           "constrain_chains", "constrain_replicated", "put_chains", "put_replicated"]


def resolve_mesh(mesh=None, devices=None) -> Mesh | None:
    """The mesh chains are sharded over, from a ``mesh=`` or a ``devices=`` argument.

    Args:
        mesh: a :class:`jax.sharding.Mesh` (chains are split over all of its axes, in
            order), or ``None``.
        devices: shortcut for a one-axis mesh: an int ``n`` (the first ``n`` of
            ``jax.devices()``), ``"all"`` (every device of every process), or a sequence
            of :class:`jax.Device`.

    Returns:
        a mesh with ``Auto`` axis types, or ``None`` (no sharding) when both are ``None``.
    """
    if mesh is not None and devices is not None:
        raise ValueError("pass either mesh= or devices=, not both")
    if mesh is None and devices is None:
        return None
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
        if all(t == AxisType.Auto for t in mesh.axis_types):
            return mesh
        return Mesh(mesh.devices, mesh.axis_names,
                    axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    all_devices = jax.devices()
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"devices must be an int, 'all' or a sequence of devices, got "
                             f"{devices!r}")
        devs = all_devices
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(all_devices):
            raise ValueError(f"devices={devices} but JAX sees {len(all_devices)} device(s) "
                             f"({all_devices[0].platform}); on the CPU, set XLA_FLAGS="
                             f"--xla_force_host_platform_device_count=N before JAX starts")
        devs = all_devices[: int(devices)]
    elif isinstance(devices, Sequence) and devices and all(
            isinstance(d, jax.Device) for d in devices):
        devs = list(devices)
        if len(set(devs)) != len(devs):
            raise ValueError("devices lists a device twice")
    else:
        raise TypeError(f"devices must be an int, 'all' or a non-empty sequence of "
                        f"jax.Device, got {devices!r}")
    return jax.make_mesh((len(devs),), (CHAIN_AXIS,), axis_types=(AxisType.Auto,),
                         devices=devs)


def auto_mesh(num_chains: int) -> Mesh | None:
    """The default mesh of chain-parallel work: on a CPU-only process with several CPU
    devices (one per core, see ``PCDPPL_CPU_DEVICES``), the most local devices whose number
    divides ``num_chains``; ``None`` (one device) otherwise. Draws do not depend on it."""
    if jax.default_backend() != "cpu" or jax.process_count() > 1:
        return None
    devs = jax.local_devices(backend="cpu")
    d = max((k for k in range(1, len(devs) + 1) if num_chains % k == 0), default=1)
    if d < 2:
        return None
    return _cpu_mesh(tuple(devs[:d]))


@functools.cache
def _cpu_mesh(devices: tuple) -> Mesh:
    return jax.make_mesh((len(devices),), (CHAIN_AXIS,), axis_types=(AxisType.Auto,),
                         devices=devices)


def num_shards(mesh: Mesh | None) -> int:
    """Number of devices the chain axis is split over (1 without a mesh)."""
    return 1 if mesh is None else int(mesh.size)


def check_divisible(n: int, mesh: Mesh | None, what: str = "num_chains") -> None:
    """Chains and minibatches are split evenly: ``n`` must be a multiple of the device count."""
    d = num_shards(mesh)
    if n % d:
        lo, hi = (n // d) * d, (n // d + 1) * d
        raise ValueError(f"{what}={n} is not divisible by the {d} devices of the mesh; "
                         f"chains and minibatches are split evenly across devices, so use a "
                         f"multiple of {d} (e.g. {lo or hi} or {hi})")


def chain_spec(mesh: Mesh, ndim: int, axis: int = -1) -> NamedSharding:
    """Sharding of an ``ndim``-array split along ``axis`` over all mesh axes."""
    spec = [None] * ndim
    spec[axis] = tuple(mesh.axis_names)
    return NamedSharding(mesh, P(*spec))


def _is_chain_leaf(x, num_chains: int) -> bool:
    return (hasattr(x, "shape") and len(x.shape) >= 1 and x.shape[-1] == num_chains
            and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key))


def constrain_chains(tree, mesh: Mesh | None, num_chains: int):
    """Inside ``jit``: split every leaf whose last axis has length ``num_chains`` along it
    over ``mesh``; replicate the other leaves. A no-op without a mesh."""
    if mesh is None:
        return tree
    rep = NamedSharding(mesh, P())

    def one(x):
        if _is_chain_leaf(x, num_chains):
            return jax.lax.with_sharding_constraint(x, chain_spec(mesh, x.ndim))
        if hasattr(x, "shape") and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.lax.with_sharding_constraint(x, rep)
        return x

    return jax.tree.map(one, tree)


def constrain_replicated(tree, mesh: Mesh | None):
    """Inside ``jit``: replicate every array leaf over ``mesh`` (parameters, metrics)."""
    if mesh is None:
        return tree
    rep = NamedSharding(mesh, P())
    return jax.tree.map(
        lambda x: x if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
        else jax.lax.with_sharding_constraint(x, rep), tree)


def _put(x, sharding: NamedSharding):
    if jax.dtypes.issubdtype(getattr(x, "dtype", np.float32), jax.dtypes.prng_key):
        if sharding.is_fully_addressable:
            return jax.device_put(x, sharding)
        data = _put(jax.random.key_data(x), NamedSharding(sharding.mesh, P()))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    if isinstance(x, jax.Array) and x.sharding == sharding:
        return x
    # Multi-process: every process holds the same value; each places its own shards.
    arr = np.asarray(x)
    return jax.make_array_from_callback(arr.shape, sharding, lambda idx: arr[idx])


def put_chains(tree, mesh: Mesh | None, num_chains: int):
    """Outside ``jit``: place a pytree like :func:`constrain_chains` would shard it.

    Works across processes as long as every process passes the same values."""
    if mesh is None:
        return tree
    rep = NamedSharding(mesh, P())
    return jax.tree.map(
        lambda x: _put(x, chain_spec(mesh, np.ndim(x)) if _is_chain_leaf(x, num_chains)
                       else rep), tree)


def put_replicated(tree, mesh: Mesh | None, skip=()):
    """Outside ``jit``: replicate a pytree of arrays over ``mesh`` (for a dict, the entries
    named in ``skip`` are left out of the result)."""
    if mesh is None:
        return {k: v for k, v in tree.items() if k not in skip} if skip else tree
    if skip:
        tree = {k: v for k, v in tree.items() if k not in skip}
    rep = NamedSharding(mesh, P())
    return jax.tree.map(lambda x: _put(x, rep), tree)


def to_host(tree):
    """Fetch a pytree of arrays to host NumPy arrays, gathering arrays that span devices of
    other processes (multi-host runs) with ``process_allgather``."""
    from jax.experimental import multihost_utils

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(one, tree)
