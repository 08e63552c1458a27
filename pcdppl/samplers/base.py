"""The sampler protocol shared by every kernel, and :func:`sample`.

A sampler is a thin object over pure functions, in the style of blackjax:

* ``state = sampler.init(key, params, num_chains)`` — random initial states, or
  ``init(key, params, values=...)`` to start from given states;
* ``state = sampler.step(key, params, state, beta=1.0)`` — one transition (for Gibbs one
  sweep), pure and jit-able; ``beta`` is an inverse temperature, a scalar or one per chain;
* ``state = sampler.run(key, params, state, num_steps)`` — ``num_steps`` transitions in one
  compiled loop;
* ``sampler.values(state)`` — the states as ``dict[group, (num_chains, n)]``.

Every state is a NamedTuple whose field ``x`` holds the values in the blocked layout
(``dict[group, int8 (n_g, num_chains)]``, see :mod:`pcdppl.graph.layout`). Subclasses
implement ``_init(key, bp, xb)`` and ``_step(key, bp, state, beta)`` on blocked parameters
``bp = model.blocked_params(params)``, which the public methods compute once per call.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from .._xla import compiler_options, gc_paused
from ..graph.groups import VariableGroup
from ..graph.model import Model, as_key, structured_jit
from ..sharding import check_divisible, constrain_chains, put_chains, resolve_mesh

Array = jax.Array


def sample_units(group: VariableGroup, loc: Array, beta, u: Array) -> Array:
    """Draw units from their local log-potentials at inverse temperature ``beta``.

    Args:
        group: the units' group.
        loc: binary/spin: log-odds of "on", ``(r, C)``; categorical: ``(r, k, C)``.
        beta: scalar or ``(C,)``.
        u: uniforms in [0, 1), ``(r, C)``: one per unit (callers draw the uniforms of a
            whole sweep at once — every random-number call site adds compile time).

    Returns:
        ``int8`` values ``(r, C)``. Binary/spin units are on iff ``u·(1 + e^{-βΔ}) < 1``;
        categorical units take the inverse CDF of the softmax at ``u``.
    """
    if group.is_categorical:
        p = jax.nn.softmax(beta * loc, axis=1)
        cdf = jnp.cumsum(p, axis=1)[:, :-1]  # (r, k-1, C)
        return jnp.sum(u[:, None, :] > cdf, axis=1).astype(jnp.int8)
    on = u * (1.0 + jnp.exp(-beta * loc)) < 1.0
    if group.kind == "spin":
        return (2 * on.astype(jnp.int8) - 1).astype(jnp.int8)
    return on.astype(jnp.int8)


def random_values(key, group: VariableGroup, num_chains: int) -> Array:
    """Uniformly random values in the blocked layout: ``int8 (n, num_chains)``."""
    shape = (group.size, num_chains)
    if group.kind == "spin":
        return (2 * jax.random.bernoulli(key, 0.5, shape).astype(jnp.int8) - 1).astype(jnp.int8)
    return jax.random.randint(key, shape, 0, group.num_states, dtype=jnp.int8)


def clamped_groups(model: Model, clamp) -> tuple[str, ...]:
    """Normalise a sampler's ``clamp`` argument (a group name or names) and check the names."""
    clamp = (clamp,) if isinstance(clamp, str) else tuple(clamp)
    unknown = [g for g in clamp if g not in model.groups]
    if unknown:
        raise KeyError(f"cannot clamp unknown group {unknown[0]!r}; the model's groups are "
                       f"{list(model.groups)}")
    return clamp


def resolve_sampler(model: Model, sampler, owner: str) -> Sampler:
    """``sampler``, or block Gibbs on ``model`` when it is ``None``; an error naming the problem
    when it is not a pcdppl sampler or was built for another model (``owner`` names the
    object the sampler is given to, e.g. ``"learner"``)."""
    if sampler is None:
        from .gibbs import BlockGibbs

        return BlockGibbs(model)
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a pcdppl sampler, got {type(sampler).__name__}")
    if sampler.model is not model:
        raise ValueError(f"the sampler was built for another model; build it with this "
                         f"{owner}'s model")
    return sampler


def check_beta(beta) -> None:
    """Reject concrete inverse temperatures that are not positive and finite."""
    try:
        import numpy as np

        b = np.asarray(beta, dtype=float)
    except (TypeError, jax.errors.TracerArrayConversionError):
        return
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"inverse temperature beta must be positive and finite, got {beta}")


def _accept_mesh(init):
    """Wrap a subclass ``__init__`` so that every sampler takes ``mesh=``/``devices=``."""

    @functools.wraps(init)
    def wrapped(self, *args, mesh=None, devices=None, **kwargs):
        init(self, *args, **kwargs)
        if mesh is not None or devices is not None:
            self.mesh = resolve_mesh(mesh, devices)

    return wrapped


class Sampler:
    """Base class of pcdppl samplers (see module docstring for the protocol).

    Every sampler accepts ``mesh=`` (a :class:`jax.sharding.Mesh`) or ``devices=`` (an int,
    ``"all"`` or a list of devices): its chains are then split along the chain axis over
    those devices (see :mod:`pcdppl.sharding`); ``num_chains`` must be a multiple of the
    device count.
    """

    model: Model
    mesh = None
    # True where ``_init`` only wraps the values (uses neither key nor parameters): learners
    # may then build the initial state on the host, without compiling a program
    _init_wraps_values = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _accept_mesh(cls.__dict__["__init__"])

    def __init__(self, model: Model, *, mesh=None, devices=None):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}; "
                            f"call FactorGraph.compile() first")
        self.model = model
        self.mesh = resolve_mesh(mesh, devices)
        self._programs: dict = {}  # see _program

    # ------------------------------------------------------------ to implement
    def _init(self, key, bp, xb):  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, key, bp, state, beta):  # pragma: no cover - abstract
        raise NotImplementedError

    def _stats(self, state) -> dict:
        """Scalar statistics of a state worth recording in a learner's history (e.g. an
        acceptance rate); traced, so cheap to compute inside a compiled epoch."""
        return {}

    # ------------------------------------------------------------ public protocol
    def init(self, key, params, num_chains: int | None = None, *, values=None):
        """Initial state: ``num_chains`` uniformly random states, or the given ``values``
        (``dict[group, (num_chains, n_g)]``)."""
        key = as_key(key)
        self.model.check_params(params)
        xb = None
        if values is not None:
            xb, batch = self.model.to_blocked(values)
            C = math.prod(batch)
            if num_chains is not None and num_chains != C:
                raise ValueError(f"num_chains={num_chains} but values hold {C} states")
        else:
            if num_chains is None:
                raise ValueError("init needs num_chains (or values)")
            if not isinstance(num_chains, int) or num_chains < 1:
                raise ValueError(f"num_chains must be a positive int, got {num_chains!r}")
            C = num_chains
        check_divisible(C, self.mesh)
        with gc_paused():
            state = self._program("init", (key, params, xb))(key, params, xb, num_chains=C)
        return put_chains(state, self.mesh, C)

    def step(self, key, params, state, beta=1.0):
        """One transition of every chain. Pure and jit-able."""
        self.model.check_params(params, check_finite=False)
        self._check_state(state)
        check_beta(beta)
        key = as_key(key)
        return self._program("step", (key, params, state, beta), state)(key, params, state, beta)

    def run(self, key, params, state, num_steps: int, beta=1.0):
        """``num_steps`` transitions in one compiled loop; returns the final state."""
        self.model.check_params(params, check_finite=False)
        self._check_state(state)
        check_beta(beta)
        key = as_key(key)
        return self._program("run", (key, params, state, beta), state)(
            key, params, state, beta, num_steps=int(num_steps))

    def values(self, state) -> dict[str, Array]:
        """The chains' current values, ``dict[group, int8 (num_chains, n)]``, user order."""
        return self.model.from_blocked(state.x)

    # ------------------------------------------------------------ internals
    def _program(self, name: str, args, state=None):
        """The compiled ``init``, ``step`` or ``run`` for a call with ``args``. Called at top
        level they compile with :func:`pcdppl._xla.compiler_options` (``init`` runs once:
        for compile speed; ``step``/``run`` by the size of the state); called inside a
        caller's ``jit``, where compiler options are refused, as a plain ``jax.jit``. One
        program per (name, context, size class): parameter values never recompile."""
        opts = _call_options(self.mesh, args, state, once=name == "init")
        cache_key = (name, tuple(sorted(opts.items())) if opts else None)
        if cache_key not in self._programs:
            fun, static = {"init": (self._init_user, ("num_chains",)),
                           "step": (self._step_user, ()),
                           "run": (self._run_user, ("num_steps",))}[name]
            self._programs[cache_key] = structured_jit(self.model, fun, static_argnames=static,
                                                       compiler_options=opts)
        return self._programs[cache_key]

    def _init_user(self, key, params, xb, *, num_chains):
        """:meth:`init` as one program: random states where ``xb`` is ``None``."""
        k_rand, k_init = jax.random.split(key)
        if xb is None:
            keys = jax.random.split(k_rand, len(self.model.groups))
            xb = {g.name: random_values(k, g, num_chains)
                  for g, k in zip(self.model.groups.values(), keys, strict=True)}
        return self._init(k_init, self.model.blocked_params(params), xb)

    def _step_user(self, key, params, state, beta):
        state = self._shard(state)
        return self._shard(self._step(key, self.model.blocked_params(params), state, beta))

    def _run_user(self, key, params, state, beta, *, num_steps):
        state = self._shard(state)
        return self._shard(self._run_b(key, self.model.blocked_params(params), state, beta,
                                       num_steps))

    def _shard(self, state, mesh=None):
        """Constrain ``state`` (inside jit) to be split along its chain axis over ``mesh``
        (default: this sampler's mesh)."""
        mesh = self.mesh if mesh is None else mesh
        if mesh is None:
            return state
        return constrain_chains(state, mesh, next(iter(state.x.values())).shape[1])

    def _run_b(self, key, bp, state, beta, num_steps: int):
        if num_steps == 1:
            return self._step(key, bp, state, beta)

        def body(s, k):
            return self._step(k, bp, s, beta), None

        state, _ = jax.lax.scan(body, state, jax.random.split(key, num_steps))
        return state

    def _check_state(self, state) -> None:
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
        check_divisible(next(iter(x.values())).shape[1], self.mesh)


@functools.cache
def _sample_program(platform_options):
    """The compiled ``pp.sample`` program for one set of compiler options."""
    return jax.jit(_sample_impl, static_argnames=("sampler", "num_warmup", "num_samples", "thin",
                                                  "mesh"),
                   compiler_options=dict(platform_options) if platform_options else None)


def _call_options(mesh, args, state=None, *, once: bool = False) -> dict | None:
    """Compiler options for a call of a pcdppl program with ``args``: ``None`` inside a
    caller's ``jit`` (options are allowed on top-level programs only), else
    :func:`pcdppl._xla.compiler_options` for ``mesh`` and the size of ``state`` (chains x
    units, which picks the vector width)."""
    if any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(args)):
        return None
    x = getattr(state, "x", None)
    size = sum(math.prod(v.shape) for v in x.values()) if isinstance(x, dict) else None
    return compiler_options(mesh, once=once, size=size)


def _sample_jit(sampler, key, params, state, beta, num_warmup, num_samples, thin, mesh=None):
    opts = _call_options(mesh if mesh is not None else sampler.mesh,
                         (key, params, state, beta), state)
    return _sample_program(tuple(sorted(opts.items())) if opts else None)(
        sampler, key, params, state, beta, num_warmup, num_samples, thin, mesh,
        structure=sampler.model.structure())


def _sample_impl(sampler, key, params, state, beta, num_warmup, num_samples, thin, mesh=None,
                 structure=()):
    with sampler.model.bind_structure(structure):  # an argument, not embedded constants
        return _sample_body(sampler, key, params, state, beta, num_warmup, num_samples, thin,
                            mesh)


def _sample_body(sampler, key, params, state, beta, num_warmup, num_samples, thin, mesh):
    bp = sampler.model.blocked_params(params)
    state = sampler._shard(state, mesh)
    k_warm, k_draw = jax.random.split(key)
    if num_warmup:
        state = sampler._run_b(k_warm, bp, state, beta, num_warmup)

    def draw(s, k):
        s = sampler._run_b(k, bp, s, beta, thin)
        return s, sampler.model.from_blocked(s.x)

    state, draws = jax.lax.scan(draw, state, jax.random.split(k_draw, num_samples))
    draws = {g: jnp.swapaxes(d, 0, 1) for g, d in draws.items()}
    if mesh is not None:  # (chain, draw, n): chain axis first in the user layout
        draws = {g: jnp.moveaxis(constrain_chains(jnp.moveaxis(d, 0, -1), mesh, d.shape[0]),
                                 -1, 0) for g, d in draws.items()}
    return sampler._shard(state, mesh), draws


def sample(key, model: Model, params, *, sampler: Sampler | None = None, num_chains: int = 4,
           num_samples: int = 1000, num_warmup: int = 100, thin: int = 1, init=None,
           beta=1.0, return_state: bool = False, mesh=None, devices=None):
    """Draw samples from ``model`` with ``sampler`` (default :class:`BlockGibbs`).

    Args:
        key: PRNG key or int seed.
        model: the compiled model.
        params: its parameters.
        sampler: any pcdppl sampler built for ``model``.
        num_chains: independent chains.
        num_samples: draws kept per chain.
        num_warmup: transitions discarded first.
        thin: transitions between kept draws.
        init: optional initial values ``dict[group, (num_chains, n)]``.
        beta: inverse temperature (scalar or one per chain).
        return_state: also return the final sampler state (to continue sampling).
        mesh: split the chains over this :class:`jax.sharding.Mesh` (default: the
            sampler's mesh, if any); ``num_chains`` must be a multiple of its size.
        devices: shortcut for ``mesh``: an int, ``"all"`` or a list of devices.

    Returns:
        ``dict[group, int8 array (num_chains, num_samples, n)]`` (and the state); with a
        mesh, both are sharded along the chain axis.
    """
    sampler = resolve_sampler(model, sampler, "call")
    for name, v in (("num_samples", num_samples), ("thin", thin)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(num_warmup, int) or num_warmup < 0:
        raise ValueError(f"num_warmup must be a non-negative int, got {num_warmup!r}")
    check_beta(beta)
    mesh = resolve_mesh(mesh, devices) or sampler.mesh
    with gc_paused():  # tracing and compiling
        k_init, k_run = jax.random.split(as_key(key))
        state = sampler.init(k_init, params, None if init is not None else num_chains,
                             values=init)
        if mesh is not None:
            C = next(iter(state.x.values())).shape[1]
            check_divisible(C, mesh)
            state = put_chains(state, mesh, C)
        state, draws = _sample_jit(sampler, k_run, params, state, beta, num_warmup,
                                   num_samples, thin, mesh)
    return (draws, state) if return_state else draws
