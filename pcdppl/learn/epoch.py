"""A learner's compiled programs: the initial state and one epoch, each one program.

:func:`run_epoch` is a pure function of a static :class:`EpochSpec` and of pytree arguments —
the model, the negative-phase sampler, the clamped sampler of the positive phase, the
learner state, the data and the example weights — so the graph structure reaches the
program as arguments and two learners of the same configuration share one compiled program.
One epoch shuffles the data, and for every minibatch runs both phases
(:mod:`pcdppl.learn.estimators`), the sampler's transitions, the optax update and the
extensions' hooks (:mod:`pcdppl.learn.extensions`), all inside one ``lax.scan``, then the
progress monitor once on a sample of the data; the host is touched once per epoch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import _compile
from ..sharding import constrain_chains, constrain_replicated
from . import estimators as est
from .extensions import AutoK, integrated_time, keeps_chains
from .recording import RecordPlan, gather_records, record_step
from .state import LearnerState

MONITOR_EXAMPLES = 256  # examples the end-of-epoch monitor (recon_error, PLL) looks at


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
    extensions: tuple = ()
    auto_k: AutoK | None = None


class InitSpec(NamedTuple):
    """Static configuration of the initial-state program (hashable)."""

    optimizer: Any
    num_chains: int
    initializers: tuple  # ((name, shape, initializer), ...)
    mesh: Any


def initial_extra(extensions, auto_k, key, model, params, chains) -> tuple[dict, Any]:
    """``(extra, chains)`` of a fresh fit: each extension's state (an extension may also
    redraw the initial chains), and ``k`` when adaptive."""
    states = []
    keys = jax.random.split(key, len(extensions)) if extensions else ()
    for e, k in zip(extensions, keys, strict=True):
        x, chains = e.init(k, model, params, chains)
        states.append(x)
    extra = {"ext": tuple(states)}
    if auto_k is not None:
        extra["k"] = jnp.asarray(auto_k.k_init, jnp.int32)
    return extra, chains


def initial_state(spec: InitSpec, model, sampler, key, fixed: dict) -> LearnerState:
    """Parameters (the initializers, overridden by ``fixed``), optimiser state and uniformly
    random chains: one compiled program (extensions' state is added by the learner)."""
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


def _transitions(sampler, key, model, bp, chains, k):
    """``k`` transitions; ``k`` an int (one ``lax.scan``) or a traced count (a loop)."""
    if isinstance(k, int):
        return sampler.transitions(key, model, bp, chains, 1.0, k)
    _, info0 = jax.eval_shape(lambda: sampler.transition(key, model, bp, chains, 1.0))
    zero = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), info0)

    def body(i, carry):
        s, acc = carry
        s, info = sampler.transition(jax.random.fold_in(key, i), model, bp, s, 1.0)
        return s, jax.tree.map(lambda a, v: a + v.astype(jnp.float32), acc, info)

    chains, acc = jax.lax.fori_loop(0, k, body, (chains, zero))
    return chains, jax.tree.map(lambda a: a / k, acc)


def _chain_weights(exts, ext_states):
    """The chains' weights of the negative phase (the last extension that has any), or None."""
    neg_w = None
    for e, x in zip(exts, ext_states, strict=True):
        w = e.chain_weights(x)
        neg_w = w if w is not None else neg_w
    return neg_w


def run_epoch(spec: EpochSpec, model, sampler, clamped, state: LearnerState, data: dict,
              weights=None):
    """One epoch: returns ``(state, metrics, finite, records)``; a diverged epoch (non-finite
    parameters) returns the state it started from with ``finite`` false. ``weights``:
    per-example weights ``(N,)`` of the positive phase, or ``None``."""
    B, N, C, mesh = spec.batch_size, spec.num_examples, spec.num_chains, spec.mesh
    nb = N // B
    phases, plan, exts = spec.phases, spec.plan, spec.extensions
    move_after_update = any(e.move_after_update for e in exts)
    # the chains are final before the optimiser step: record them then (see batch_step)
    records_first = plan is not None and not move_after_update and all(map(keeps_chains, exts))
    k = spec.k if spec.auto_k is None else state.extra["k"]
    rec_flags = jnp.zeros((nb,), bool)
    if plan is not None:
        rec_flags = rec_flags.at[jnp.asarray(plan.rows, jnp.int32)].set(True)

    def shard(tree, n=C):
        return constrain_chains(tree, mesh, n)

    def batch_step(carry, inp):
        params, opt_state, chains, ext = carry
        idx, keys, rec_flag = inp
        k_pos, k_neg, k_init = keys[0], keys[1], keys[2]
        # materialised in the blocked layout (n, B): XLA would otherwise fold the transpose
        # into the positive phase's product, a dot with both operands transposed
        vis = shard({g: jax.lax.optimization_barrier(data[g][idx].T) for g in phases.visible},
                    B)  # (n, B)
        bp = model.blocked.params(params)
        pos_x, pos_sum, filled = est.positive_phase(phases, clamped, k_pos, model, bp, vis,
                                                    spec.k_positive)
        chain_params = params
        for e, x in zip(exts, ext, strict=True):
            chain_params = e.chain_params(chain_params, x)
        bp_chains = bp if chain_params is params else model.blocked.params(chain_params)
        if not spec.persistent:
            chains = sampler.init_state(k_init, model, bp_chains, filled)
        if not move_after_update:
            chains, info = _transitions(sampler, k_neg, model, bp_chains, shard(chains), k)
            chains = shard(chains)
        neg_w = _chain_weights(exts, ext)
        pos_w = None if weights is None else weights[idx]
        grads = est.gradient(model, params, (pos_x, pos_sum),
                                  est.negative_phase(phases, chains.x), pos_w, neg_w)
        ext = list(ext)
        for i, e in enumerate(exts):
            grads, ext[i] = e.transform_grads(model, grads, ext[i], filled, pos_w)
        records = None
        if records_first:
            # the chains are final here: record them before the update, and let the update
            # read the parameters only after the records have, so that XLA updates them in
            # place (otherwise it copies every parameter once per step to keep the old
            # values for the records: 1.5 MB per step for a 784x500 RBM)
            records = record_step(plan, rec_flag, model, bp_chains, chains, info)
            records, params = jax.lax.optimization_barrier((records, params))
        updates, opt_state = spec.optimizer.update(grads, opt_state, params)
        new_params = constrain_replicated(optax.apply_updates(params, updates), mesh)
        opt_state = constrain_replicated(opt_state, mesh)
        if move_after_update:  # the chains the gradient used move on before the extensions see them
            chains, info = _transitions(sampler, k_neg, model, bp_chains, shard(chains), k)
            chains = shard(chains)
        metrics = est.summarize_info(info)
        new_ext = []
        # the extensions' keys come from the (persistent chains': unused) restart key, so that
        # extensions without randomness leave the random streams of plain PCD unchanged
        ext_keys = jax.random.split(jax.random.fold_in(k_init, 1), len(exts)) if exts else ()
        for e, x, kk in zip(exts, ext, ext_keys, strict=True):
            chains, x, m = e.after_update(kk, model, params, new_params, chains, x, grads)
            new_ext.append(x)
            metrics.update(m)
        chains = shard(chains)
        out = {"metrics": metrics}
        if spec.auto_k is not None:  # the chains' energy after every update (for their IAT)
            out["energy"] = model.blocked.energy(bp_chains, chains.x)
        if plan is not None:  # chain statistics, on recorded steps only
            out["records"] = records if records is not None else record_step(
                plan, rec_flag, model, bp_chains, chains, info)
        return (new_params, opt_state, chains, tuple(new_ext)), out

    key, order, step_keys = _compile.epoch_randomness(state.key, N, nb, B, 3)
    # every device holds the whole (small) shuffle, so that slicing minibatches and the
    # monitor's examples out of it needs no collective
    order = constrain_replicated(order, mesh)
    ext0 = state.extra["ext"] if exts else ()
    (params, opt_state, chains, ext), out = jax.lax.scan(
        batch_step, (state.params, state.opt_state, shard(state.chains), ext0),
        (order, step_keys, rec_flags))
    metrics = {m: jnp.mean(v) for m, v in out["metrics"].items()}
    # the progress monitor: once per epoch, with the parameters it ends with, on a sample of
    # its examples (per minibatch it would cost a quarter of an RBM's matmuls)
    M = min(nb * B, max(B, MONITOR_EXAMPLES))
    idx = order.reshape(-1)[:M]
    vis = shard({g: data[g][idx].T for g in phases.visible}, M)
    bp = model.blocked.params(params)
    pos_x, pos_sum, filled = est.positive_phase(phases, clamped, jax.random.fold_in(key, 1),
                                                model, bp, vis, spec.k_positive)
    metrics["free_energy_gap"] = est.surrogate(
        model, params, (pos_x, pos_sum), est.negative_phase(phases, chains.x),
        None if weights is None else weights[idx], _chain_weights(exts, ext))
    metrics.update(est.monitor(phases, model, bp, vis, filled))
    extra = dict(state.extra or {})
    if exts:
        extra["ext"] = ext
        for e, x in zip(exts, ext, strict=True):
            metrics.update(e.epoch_metrics(x))
    if spec.auto_k is not None:
        tau_u, tau = integrated_time(out["energy"], k)
        metrics.update(k=jnp.asarray(k, jnp.float32), iat=tau, iat_updates=tau_u)
        extra["k"] = spec.auto_k.next_k(tau)
    records = gather_records(out["records"], plan) if plan is not None else None
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    new = LearnerState(params, opt_state, chains, key, state.epoch + 1, extra)
    # a diverged epoch returns the state it started from (the input is donated)
    new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, state)
    return new, metrics, finite, records


def _epoch_context(spec, model, *args, **kwargs):
    units = sum(g.size for g in model.groups.values())
    return spec.mesh, units * (spec.num_chains + spec.batch_size)


def describe_spec(spec, state: LearnerState) -> str:
    """The static configuration of an epoch program for the program store
    (:mod:`pcdppl._compile.store`): the spec (a NamedTuple with an ``optimizer`` field),
    with the optimiser — a user's function — described by the jaxpr of its update."""
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (
        state.params, state.opt_state))
    params, opt_state = abstract
    update = _compile.function_digest(spec.optimizer.update, params, opt_state, params)
    return f"{_compile.describe(spec._replace(optimizer=None))} optimizer.update {update}"


def _describe_epoch(spec, model, sampler, clamped, state, data, weights=None) -> str:
    return describe_spec(spec, state)


epoch_program = _compile.jit(run_epoch, static_argnums=(0,), donate_argnums=(4,),
                             context=_epoch_context, store=_describe_epoch)
init_program = _compile.jit(initial_state, static_argnums=(0,), once=True,
                            context=lambda spec, *a: (spec.mesh, None))
