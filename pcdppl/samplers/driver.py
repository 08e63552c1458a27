"""Running samplers: :func:`sample`, and the default sampler (block Gibbs).

Sits above the kernels: it knows :class:`~pcdppl.samplers.gibbs.BlockGibbs` as the default
and drives any sampler through the public protocol of :mod:`pcdppl.samplers.base`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _compile
from ..graph.model import Model
from ..sharding import check_divisible, constrain_chains, put_chains, resolve_mesh
from .base import Sampler, check_beta, check_beta_shape, num_chains_of, state_size
from .gibbs import BlockGibbs

Array = jax.Array


def resolve_sampler(model: Model, sampler, owner: str) -> Sampler:
    """``sampler``, or block Gibbs on ``model`` when it is ``None``; an error naming the problem
    when it is not a pcdppl sampler or was built for another model (``owner`` names the
    object the sampler is given to, e.g. ``"learner"``)."""
    if sampler is None:
        return BlockGibbs(model)
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a pcdppl sampler, got {type(sampler).__name__}")
    if sampler.model is not model:
        raise ValueError(f"the sampler was built for another model; build it with this "
                         f"{owner}'s model")
    return sampler


def check_count(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int, or an error naming ``name`` when it is not an int ``>= minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _step_keys(k_warm, k_draw, num_warmup: int, num_samples: int, thin: int):
    """The key of every transition, in order: the warm-up's (``num_warmup`` keys split from
    ``k_warm``, or ``k_warm`` itself for one) then each draw's (``thin`` keys split from the
    draw's key, or that key itself for ``thin == 1``)."""
    parts = []
    if num_warmup == 1:
        parts.append(k_warm[None])
    elif num_warmup > 1:
        parts.append(jax.random.split(k_warm, num_warmup))
    per_draw = jax.random.split(k_draw, num_samples)
    if thin > 1:
        per_draw = jax.vmap(lambda k: jax.random.split(k, thin))(per_draw).reshape(-1)
    parts.append(per_draw)
    return jnp.concatenate(parts) if len(parts) > 1 else parts[0]


def _sample_impl(sampler, key, params, state, beta, mesh, *, num_warmup, num_samples, thin):
    model = sampler.model
    bp = model.blocked.params(params)
    state = sampler.shard(state, mesh)
    k_warm, k_draw = jax.random.split(key)
    keys = _step_keys(k_warm, k_draw, num_warmup, num_samples, thin)
    # one loop body holds the sampler's transition (the first draw's loop also runs the
    # warm-up): the program compiles the transition once, not once for warm-up and once more
    # for the draws
    info_shape = jax.eval_shape(lambda s: sampler.transition(keys[0], model, bp, s, beta)[1],
                                state)
    no_info = jax.tree.map(lambda a: jnp.zeros(a.shape, jnp.float32), info_shape)

    def transition(i, carry):
        s, acc = carry
        s, info = sampler.transition(keys[i], model, bp, s, beta)
        kept = i >= num_warmup  # a draw's statistics average its own ``thin`` transitions
        acc = jax.tree.map(lambda a, v: a + jnp.where(kept, v.astype(jnp.float32), 0.0),
                           acc, info)
        return s, acc

    def draw(s, j):
        start = jnp.where(j == 0, 0, num_warmup + j * thin)
        s, acc = jax.lax.fori_loop(start, num_warmup + (j + 1) * thin, transition,
                                   (s, no_info))
        return s, (model.blocked.to_values(s.x), jax.tree.map(lambda a: a / thin, acc))

    state, (draws, info) = jax.lax.scan(draw, state, jnp.arange(num_samples))
    draws = {g: jnp.swapaxes(d, 0, 1) for g, d in draws.items()}
    info = jax.tree.map(lambda v: jnp.swapaxes(v, 0, 1), info)
    if mesh is not None:  # (chain, draw, n): chain axis first in the user layout
        draws = {g: jnp.moveaxis(constrain_chains(jnp.moveaxis(d, 0, -1), mesh, d.shape[0]),
                                 -1, 0) for g, d in draws.items()}
    return sampler.shard(state, mesh), draws, info


_sample_program = _compile.jit(
    _sample_impl, static_argnames=("mesh", "num_warmup", "num_samples", "thin"),
    context=lambda s, k, p, state, b, mesh=None, **kw: (mesh if mesh is not None else s.mesh,
                                                         state_size(state)),
    store=_compile.by_structure)


def sample(key, model: Model, params, *, sampler: Sampler | None = None, num_chains: int = 4,
           num_samples: int = 1000, num_warmup: int = 100, thin: int = 1, init=None,
           beta=1.0, return_state: bool = False, return_info: bool = False, mesh=None,
           devices=None):
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
        return_info: also return the sampler's statistics, ``dict[name, (num_chains,
            num_samples, ...)]``, each averaged over the ``thin`` transitions of a draw.
        mesh: split the chains over this :class:`jax.sharding.Mesh` (default: the
            sampler's mesh, else the CPU's cores, see :func:`pcdppl.sharding.auto_mesh`);
            ``num_chains`` must be a multiple of its size.
        devices: shortcut for ``mesh``: an int, ``"all"`` or a list of devices.

    Returns:
        ``dict[group, int8 array (num_chains, num_samples, n)]``, followed by the state and
        the statistics where asked for; with a mesh, all are sharded along the chain axis.
    """
    sampler = resolve_sampler(model, sampler, "call")
    num_samples, thin = check_count("num_samples", num_samples), check_count("thin", thin)
    num_warmup = check_count("num_warmup", num_warmup, 0)
    check_beta(beta)
    model.check_params(params)
    mesh = resolve_mesh(mesh, devices) or sampler.mesh
    k_init, k_run = jax.random.split(_compile.as_key(key))
    state = sampler.init(k_init, params, None if init is not None else num_chains, values=init)
    C = num_chains_of(state)
    check_beta_shape(beta, C)
    mesh = mesh if mesh is not None else sampler.execution_mesh(C)
    if mesh is not None:
        check_divisible(C, mesh)
        state = put_chains(state, mesh, C)
    state, draws, info = _sample_program(sampler, k_run, params, state, beta, mesh,
                                         num_warmup=num_warmup, num_samples=num_samples,
                                         thin=thin)
    out = (draws,) + ((state,) if return_state else ()) + ((info,) if return_info else ())
    return out[0] if len(out) == 1 else out
