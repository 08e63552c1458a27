"""A learner's compiled programs: the initial state and one epoch, each one program.

:func:`run_epoch` is a pure function of a static :class:`EpochSpec` and of pytree arguments —
the model, the negative-phase sampler, the clamped sampler of the positive phase, the
learner state and the data — so the graph structure reaches the program as arguments and
two learners of the same configuration share one compiled program. One epoch shuffles the
data, and for every minibatch runs both phases (:mod:`pcdppl.learn.estimators`), the
sampler's transitions and the optax update, all inside one ``lax.scan``; the host is
touched once per epoch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import _compile
from ..sharding import constrain_chains, constrain_replicated
from . import estimators as est
from .recording import RecordPlan, gather_records, record_step
from .state import LearnerState


class EpochSpec(NamedTuple):
    """Static configuration of an epoch program (hashable)."""

    optimizer: Any
    k: int
    k_positive: int
    batch_size: int
    num_chains: int  # chains of the negative phase (the batch size for CD-k)
    persistent: bool
    phases: est.Phases
    num_examples: int
    plan: RecordPlan | None
    mesh: Any


class InitSpec(NamedTuple):
    """Static configuration of the initial-state program (hashable)."""

    optimizer: Any
    num_chains: int
    initializers: tuple  # ((name, shape, initializer), ...)
    mesh: Any


def initial_state(spec: InitSpec, model, sampler, key, fixed: dict) -> LearnerState:
    """Parameters (the initializers, overridden by ``fixed``), optimiser state and uniformly
    random chains: one compiled program."""
    C = spec.num_chains
    ks = _compile.split(key, len(spec.initializers) + 3)  # few random call sites
    params = {name: jnp.asarray(fixed[name] if name in fixed else init(k, shape, jnp.float32),
                                jnp.float32)
              for (name, shape, init), k in zip(spec.initializers, ks, strict=False)}
    x = constrain_chains(_compile.random_blocked(ks[-3], model.groups.values(), C), spec.mesh, C)
    chains = sampler.init_state(ks[-2], model, model.blocked.params(params), x)
    chains = constrain_chains(chains, spec.mesh, C)
    params = constrain_replicated(params, spec.mesh)
    return LearnerState(params, constrain_replicated(spec.optimizer.init(params), spec.mesh),
                        chains, ks[-1], jnp.zeros((), jnp.int32))


def run_epoch(spec: EpochSpec, model, sampler, clamped, state: LearnerState, data: dict):
    """One epoch: returns ``(state, metrics, finite, records)``; a diverged epoch (non-finite
    parameters) returns the state it started from with ``finite`` false."""
    B, N, C, mesh = spec.batch_size, spec.num_examples, spec.num_chains, spec.mesh
    nb = N // B
    phases, plan = spec.phases, spec.plan
    rec_flags = jnp.zeros((nb,), bool)
    if plan is not None:
        rec_flags = rec_flags.at[jnp.asarray(plan.rows, jnp.int32)].set(True)

    def shard(tree, n=C):
        return constrain_chains(tree, mesh, n)

    def batch_step(carry, inp):
        params, opt_state, chains = carry
        idx, keys, rec_flag = inp
        k_pos, k_neg, k_init = keys
        vis = shard({g: data[g][idx].T for g in phases.visible}, B)  # (n, B)
        bp = model.blocked.params(params)
        pos_x, pos_sum, filled = est.positive_phase(phases, clamped, k_pos, model, bp, vis,
                                                    spec.k_positive)
        if not spec.persistent:
            chains = sampler.init_state(k_init, model, bp, filled)
        chains, info = sampler.transitions(k_neg, model, bp, shard(chains), 1.0, spec.k)
        chains = shard(chains)
        neg = est.negative_phase(phases, chains.x)
        gap, grads = est.gradient(model, params, (pos_x, pos_sum), neg)
        updates, opt_state = spec.optimizer.update(grads, opt_state, params)
        params = constrain_replicated(optax.apply_updates(params, updates), mesh)
        opt_state = constrain_replicated(opt_state, mesh)
        metrics = {"free_energy_gap": gap, **est.monitor(phases, model, bp, vis, filled),
                   **est.summarize_info(info)}
        out = (metrics,)
        if plan is not None:  # chain statistics, on recorded steps only
            out += (record_step(plan, rec_flag, model, bp, chains, info),)
        return (params, opt_state, chains), out

    key, order, step_keys = _compile.epoch_randomness(state.key, N, nb, B, 3)
    (params, opt_state, chains), out = jax.lax.scan(
        batch_step, (state.params, state.opt_state, shard(state.chains)),
        (order, step_keys, rec_flags))
    metrics = {m: jnp.mean(v) for m, v in out[0].items()}
    records = gather_records(out[1], plan) if plan is not None else None
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    new = LearnerState(params, opt_state, chains, key, state.epoch + 1, state.extra)
    # a diverged epoch returns the state it started from (the input is donated)
    new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, state)
    return new, metrics, finite, records


def _epoch_context(spec, model, *args, **kwargs):
    units = sum(g.size for g in model.groups.values())
    return spec.mesh, units * (spec.num_chains + spec.batch_size)


epoch_program = _compile.jit(run_epoch, static_argnums=(0,), donate_argnums=(4,),
                             context=_epoch_context)
init_program = _compile.jit(initial_state, static_argnums=(0,), once=True,
                            context=lambda spec, *a: (spec.mesh, None))
