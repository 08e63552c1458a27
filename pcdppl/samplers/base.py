"""The sampler protocol: what every sampler, built-in or a user's, implements.

A sampler is immutable configuration over two pure functions of the **blocked layout**
(``x[group]`` is ``int8 (n_g, C)``, rows in color-blocked order, chains last; see
:class:`pcdppl.graph.blocked.Blocked`), in the style of blackjax:

* ``init_state(key, model, bparams, x) -> state`` — a NamedTuple whose field ``x`` holds the
  values (the default returns :class:`ChainState`);
* ``transition(key, model, bparams, state, beta) -> (state, info)`` — one transition of every
  chain at inverse temperature ``beta`` (a scalar or one per chain). ``info`` is a dict of
  per-chain arrays ``(C,)`` (or ``(C, ...)``): the one channel for sampler statistics
  (learners' ``fit.history``, ``sample_stats`` of ``fit.diagnostics()``).

``model`` is an ordinary pytree argument and ``bparams = model.blocked.params(params)``. The
base class supplies the user-facing methods — :meth:`Sampler.init`, :meth:`Sampler.step`,
:meth:`Sampler.run`, :meth:`Sampler.values` — as compiled programs, ``mesh=``/``devices=`` to
split the chains over devices, and :meth:`Sampler.replace`. Samplers are pytrees (the model
and inner samplers are children, the settings static), so a compiled program takes them as
arguments too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node

from .. import _compile
from ..frozen import Frozen
from ..graph.model import Model
from ..sharding import auto_mesh, check_divisible, constrain_chains, put_chains, resolve_mesh
from .units import random_values

Array = jax.Array


class ChainState(NamedTuple):
    """Chains of a sampler that keeps nothing but the values: ``x[group]`` is
    ``int8 (n_g, num_chains)`` in blocked order."""

    x: dict


def check_beta(beta, num_chains: int | None = None) -> None:
    """Reject inverse temperatures that are not a scalar or one per chain (when
    ``num_chains`` is given; a shape check, no transfer) or, where concrete, not positive and
    finite."""
    if num_chains is not None:
        check_beta_shape(beta, num_chains)
    if isinstance(beta, str):
        raise TypeError(f"inverse temperature beta must be a number or an array of numbers, "
                        f"got {beta!r}")
    try:
        b = np.asarray(beta, dtype=float)
    except (TypeError, jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"inverse temperature beta must be positive and finite, got {beta}")


def check_beta_shape(beta, num_chains: int) -> None:
    """``beta`` must be a scalar or one value per chain, shape ``(num_chains,)``."""
    shape = tuple(np.shape(beta))
    if shape not in ((), (num_chains,)):
        raise ValueError(f"inverse temperature beta must be a scalar or one value per chain, "
                         f"shape ({num_chains},); got shape {shape}")


def clamped_groups(model: Model, clamp) -> tuple[str, ...]:
    """Normalise a sampler's ``clamp`` argument (a group name or names) and check the names."""
    clamp = (clamp,) if isinstance(clamp, str) else tuple(clamp)
    unknown = [g for g in clamp if g not in model.groups]
    if unknown:
        raise KeyError(f"cannot clamp unknown group {unknown[0]!r}; the model's groups are "
                       f"{list(model.groups)}")
    return clamp


def num_chains_of(state) -> int:
    """The number of chains of a sampler state or of its blocked values ``x``."""
    x = state if isinstance(state, Mapping) else state.x
    return next(iter(x.values())).shape[1]


def select_chains(state, idx):
    """The chains ``idx`` (``(C',)`` ints) of a sampler state: every leaf whose last axis
    has the state's chain count is indexed along it (the chain axis is last by convention)."""
    C = num_chains_of(state)

    def pick(a):
        if hasattr(a, "shape") and a.ndim >= 1 and a.shape[-1] == C:
            return jnp.take(a, idx, axis=-1)
        return a

    return jax.tree.map(pick, state)


def _is_child(v) -> bool:
    return isinstance(v, (Model, Sampler, jax.Array, np.ndarray))


_SKIP = ("_init_args", "_frozen")


def _flatten(s):
    items = sorted((k, v) for k, v in vars(s).items() if k not in _SKIP)
    names = tuple(k for k, v in items if _is_child(v))
    static = tuple((k, v) for k, v in items if not _is_child(v))
    return tuple(getattr(s, k) for k in names), (type(s), names, static)


def _unflatten(aux, children):
    cls, names, static = aux
    obj = object.__new__(cls)
    obj.__dict__.update(static)
    obj.__dict__.update(zip(names, children, strict=True))
    obj.__dict__.update(_frozen=True, _init_args=None)
    return obj


class Sampler(Frozen):
    """Base class of pcdppl samplers (see the module docstring for the protocol).

    Args:
        model: the compiled model.
        mesh: a :class:`jax.sharding.Mesh` to split the chains over (along the chain axis).
        devices: shortcut for ``mesh``: an int, ``"all"`` or a list of devices.

    ``num_chains`` must be a multiple of the device count. Without a mesh the chains are
    split over the CPU's cores (one CPU device per core, see
    :func:`pcdppl.sharding.auto_mesh`); ``devices=1`` keeps them on one device. The draws are
    the same either way.
    """

    BASE_KWARGS = ("mesh", "devices")
    mesh = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, _flatten, _unflatten)

    def __init__(self, model: Model):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}; "
                            f"call FactorGraph.compile() first")
        self.model = model

    def _configure_base(self, mesh=None, devices=None) -> None:
        object.__setattr__(self, "mesh", resolve_mesh(mesh, devices))

    def _check_config(self) -> None:
        for k, v in vars(self).items():
            if k in _SKIP or _is_child(v):
                continue
            try:
                hash(v)
            except TypeError:
                raise TypeError(f"{type(self).__name__}.{k} = {type(v).__name__} is not hashable: "
                                f"a sampler's settings must be hashable (use a tuple for a "
                                f"sequence) or arrays") from None

    # ------------------------------------------------------------ to implement
    def init_state(self, key, model: Model, bparams, x: dict):
        """The sampler state of chains at values ``x`` (blocked layout). Default:
        :class:`ChainState` ``(x)``."""
        return ChainState(x=dict(x))

    def transition(self, key, model: Model, bparams, state, beta):  # pragma: no cover
        """One transition of every chain: returns ``(state, info)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement transition(key, model, "
                                  f"bparams, state, beta) -> (state, info)")

    # ------------------------------------------------------------ pure helpers
    def transitions(self, key, model: Model, bparams, state, beta, num_steps: int):
        """``num_steps`` transitions (one ``lax.scan``); returns the final state and the
        mean of every ``info`` field over the steps (``float32``)."""
        if num_steps == 1:
            state, info = self.transition(key, model, bparams, state, beta)
            return state, mean_info([info])

        def body(s, k):
            s, info = self.transition(k, model, bparams, s, beta)
            return s, info

        state, infos = jax.lax.scan(body, state, jax.random.split(key, num_steps))
        return state, jax.tree.map(lambda v: jnp.mean(v.astype(jnp.float32), axis=0), infos)

    def shard(self, state, mesh=None):
        """Inside ``jit``: constrain ``state`` to be split along its chain axis over ``mesh``
        (default: this sampler's mesh; a no-op without one)."""
        mesh = self.mesh if mesh is None else mesh
        if mesh is None:
            return state
        return constrain_chains(state, mesh, num_chains_of(state))

    def execution_mesh(self, num_chains: int):
        """The mesh ``num_chains`` chains run on: the sampler's, else the default CPU split
        (:func:`pcdppl.sharding.auto_mesh`)."""
        return self.mesh if self.mesh is not None else auto_mesh(num_chains)

    # ------------------------------------------------------------ user-facing methods
    def init(self, key, params, num_chains: int | None = None, *, values=None):
        """Initial state: ``num_chains`` uniformly random states, or the given ``values``
        (``dict[group, (num_chains, n_g)]``)."""
        key = _compile.as_key(key)
        self.model.check_params(params)
        x = None
        if values is not None:
            x, batch = self.model.to_blocked(values)
            C = math.prod(batch)
            if num_chains is not None and num_chains != C:
                raise ValueError(f"num_chains={num_chains} but values hold {C} states")
        else:
            if num_chains is None:
                raise ValueError("init needs num_chains (or values)")
            if not isinstance(num_chains, (int, np.integer)) or isinstance(num_chains, bool) \
                    or num_chains < 1:
                raise ValueError(f"num_chains must be a positive int, got {num_chains!r}")
            C = int(num_chains)
        check_divisible(C, self.mesh)
        mesh = self.execution_mesh(C)
        state = _init_program(self, key, params, x, num_chains=C, mesh=mesh)
        return put_chains(state, mesh, C)

    def step(self, key, params, state, beta=1.0):
        """One transition of every chain; returns ``(state, info)``. Pure and jit-able."""
        self._check_call(params, state, beta)
        mesh = self.execution_mesh(num_chains_of(state))
        return _step_program(self, _compile.as_key(key), params, state, beta, mesh=mesh)

    def run(self, key, params, state, num_steps: int, beta=1.0):
        """``num_steps`` transitions in one compiled loop; returns ``(state, info)`` with
        ``info`` averaged over the steps."""
        if not isinstance(num_steps, (int, np.integer)) or isinstance(num_steps, bool) \
                or num_steps < 1:
            raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
        self._check_call(params, state, beta)
        mesh = self.execution_mesh(num_chains_of(state))
        return _run_program(self, _compile.as_key(key), params, state, beta,
                            num_steps=int(num_steps), mesh=mesh)

    def values(self, state) -> dict[str, Array]:
        """The chains' current values, ``dict[group, int8 (num_chains, n)]``, user order."""
        return self.model.blocked.to_values(state.x)

    def _check_call(self, params, state, beta) -> None:
        self.model.check_params(params, check_finite=False)
        x = getattr(state, "x", None)
        if not isinstance(x, dict) or set(x) != set(self.model.groups):
            raise ValueError(f"{type(self).__name__}.step got a state that does not belong to "
                             f"this model (groups {sorted(x) if isinstance(x, dict) else x} vs "
                             f"{sorted(self.model.groups)}); build the state with this "
                             f"sampler's init")
        for g, grp in self.model.groups.items():
            if x[g].ndim != 2 or x[g].shape[0] != grp.size:
                raise ValueError(f"state.x[{g!r}] has shape {tuple(x[g].shape)}; expected "
                                 f"({grp.size}, num_chains) for this model")
        check_divisible(num_chains_of(state), self.mesh)
        check_beta(beta, num_chains_of(state))

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items()
                 if not k.startswith("_") and k not in ("model", "mesh")}
        inner = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({inner})"


register_pytree_node(Sampler, _flatten, _unflatten)


def mean_info(infos: list) -> dict:
    """The mean of ``info`` dicts (``float32``)."""
    return jax.tree.map(lambda *v: sum(a.astype(jnp.float32) for a in v) / len(v), *infos)


def state_size(state) -> int | None:
    """Unit updates per transition of a state: chains × units (picks compiler options)."""
    x = getattr(state, "x", None)
    return sum(math.prod(v.shape) for v in x.values()) if isinstance(x, dict) else None


def _init_impl(sampler, key, params, x, *, num_chains, mesh):
    model = sampler.model
    k_rand, k_init = jax.random.split(key)
    if x is None:
        keys = jax.random.split(k_rand, len(model.groups))
        x = {g.name: random_values(k, g, num_chains)
             for g, k in zip(model.groups.values(), keys, strict=True)}
    state = sampler.init_state(k_init, model, model.blocked.params(params), x)
    return sampler.shard(state, mesh)


def _step_impl(sampler, key, params, state, beta, *, mesh):
    model = sampler.model
    state, info = sampler.transition(key, model, model.blocked.params(params),
                                     sampler.shard(state, mesh), beta)
    return sampler.shard(state, mesh), info


def _run_impl(sampler, key, params, state, beta, *, num_steps, mesh):
    model = sampler.model
    state, info = sampler.transitions(key, model, model.blocked.params(params),
                                      sampler.shard(state, mesh), beta, num_steps)
    return sampler.shard(state, mesh), info


_init_program = _compile.jit(_init_impl, once=True, static_argnames=("num_chains", "mesh"),
                             context=lambda s, *a, num_chains, mesh: (mesh, None))
_step_program = _compile.jit(_step_impl, static_argnames=("mesh",),
                             context=lambda s, k, p, state, b, mesh: (mesh, state_size(state)))
_run_program = _compile.jit(_run_impl, static_argnames=("num_steps", "mesh"),
                            context=lambda s, k, p, state, b, **kw: (kw["mesh"],
                                                                     state_size(state)),
                            store=_compile.by_structure)
