"""Contrastive maximum-likelihood learning with a sampler as the negative phase.

For visible data ``v`` and latent groups ``h`` the average negative log-likelihood is
``L(θ) = mean_data F(v) + log Z`` with ``F(v) = -log Σ_h exp(-E(v, h))``, and

    ∇L = mean_data ∇F(v) - E_model[∇E(x)]                                    (1)

* **Positive phase.** Where the latent groups are conditionally independent given the
  data (an RBM's hidden layer), ``F`` is computed in closed form and ``∇F`` is exact
  (autodiff of the free energy). Otherwise the latents are filled in by ``k_positive``
  sweeps of block Gibbs with the data clamped and ``∇E`` of that sample is used.
* **Negative phase.** The sampler's chains — persistent across minibatches (PCD), or
  restarted from each minibatch (CD-k) — estimate the model expectation. With
  conditionally independent latents the chains' visible states are Rao-Blackwellised:
  ``E_model[∇E] = E_v[∇F(v)]``.

The surrogate ``mean F(v_data) - mean F(v_chains)`` has gradient (1) and is reported as
``free_energy_gap``. One epoch — shuffle, every minibatch's two phases, sampler
transitions and optax update — is one compiled program; the host is touched once per epoch.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _xla
from ..diagnostics import recording as _rec
from ..graph.data import as_dataset
from ..graph.model import Model, as_key
from ..samplers.base import Sampler, resolve_sampler
from ..samplers.gibbs import BlockGibbs
from ..samplers.rng import split
from ..sharding import (
    check_divisible,
    constrain_chains,
    constrain_replicated,
    put_chains,
    put_replicated,
    resolve_mesh,
    to_host,
)
from .checkpoint import Checkpointer, InterruptGuard, resume_state
from .randomness import (
    epoch_randomness,
    host_key,
    host_random_blocked,
    host_rng,
    random_blocked,
)
from .soft_data import as_training_data

Array = jax.Array


class LearnerState(NamedTuple):
    """Everything a fit needs to continue: a pytree, so it can be saved and restored."""

    params: dict
    opt_state: Any
    chains: Any
    key: Array
    epoch: Array


@dataclass
class FitResult:
    """What :meth:`ContrastiveLearner.fit` returns.

    Attributes:
        params: fitted parameters.
        history: per-epoch metrics, ``dict[str, ndarray (num_epochs,)]``: ``epoch``,
            ``time`` (seconds since ``fit`` was called, initialisation and compilation
            included, validation excluded), ``free_energy_gap``, ``recon_error`` (models
            with latent groups; reconstruction from the latents' conditional means where
            they are conditionally independent binary/spin units (PCD), else from a sample) or
            ``pseudo_log_likelihood`` (fully visible models), and ``val_log_likelihood``
            where a validation set was given (NaN on epochs without an evaluation).
        chains: the persistent fantasy particles, ``dict[group, int8 ndarray (num_chains, n)]``
            (NumPy, user order).
        state: the complete learner state; pass it as ``fit(..., resume=result)``.
        recording: the chain statistics recorded during the fit (``None`` when
            ``record_every=0``); see :meth:`diagnostics`.
    """

    params: dict
    history: dict[str, np.ndarray]
    chains: dict
    state: LearnerState
    learner: Any = field(repr=False)
    recording: Any = field(default=None, repr=False)

    def diagnostics(self):
        """The fantasy chains recorded during learning as an ArviZ ``xarray.DataTree``:
        ``posterior`` holds ``energy``, ``mean_<group>`` and ``logodds_<group>`` with
        dimensions ``(chain, draw, ...)`` (chain = particle, draw = recording step);
        ``sample_stats`` the sampler's per-chain statistics where it has any."""
        if self.recording is None:
            raise ValueError("this fit recorded no chain statistics (record_every=0)")
        return self.recording.to_datatree()


def data_bias_init(model: Model, params: dict, ds: dict[str, np.ndarray]) -> dict:
    """Set the biases of observed groups to the maximum-likelihood values of an independent
    model of the data (Hinton, 2010, "A practical guide to training RBMs", §8)."""
    return {**params, **data_bias_values(model, ds)}


def data_bias_values(model: Model, ds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The values :func:`data_bias_init` assigns, computed on the host: ``dict[name, array]``
    for every untied bias of an observed group."""
    out = {}
    for f in model.factors:
        if f.kind != "bias" or f.tied or f.group.name not in ds:
            continue
        x = ds[f.group.name].astype(np.float64)
        g = f.group
        if g.is_categorical:
            freq = np.stack([(x == c).mean(0) for c in range(g.num_states)], axis=1)
            logf = np.log(np.clip(freq, 1e-3, 1.0))
            value = logf - logf.mean(axis=1, keepdims=True)
        elif g.kind == "spin":
            value = np.arctanh(np.clip(x.mean(0), -0.998, 0.998))
        else:
            p = np.clip(x.mean(0), 1e-3, 1 - 1e-3)
            value = np.log(p / (1 - p))
        out[f.name] = value.astype(np.float32)
    return out


class ContrastiveLearner:
    """Learner whose negative phase is a pcdppl sampler (see the module docstring).

    Args:
        model: compiled model.
        sampler: negative-phase sampler built for ``model`` (default :class:`BlockGibbs`).
        num_chains: persistent chains (ignored for CD-k, which uses one per example).
        k: sampler transitions per minibatch.
        optimizer: an optax ``GradientTransformation`` (default ``optax.sgd(0.05)``).
        batch_size: examples per minibatch. The remainder of each shuffled epoch is skipped.
        persistent: ``True`` for PCD, ``False`` for CD-k (chains restart from the data).
        k_positive: clamped Gibbs sweeps filling in latents that are not conditionally
            independent given the data (unused otherwise).
        data_init: initialise visible biases from the data marginals on a fresh fit.
        mesh: a :class:`jax.sharding.Mesh` to split the persistent chains and each
            minibatch over along their chain axis (default: the sampler's mesh, if any);
            gradients are averaged across devices inside the compiled epoch. ``num_chains``
            (PCD) and ``batch_size`` must be multiples of the device count.
        devices: shortcut for ``mesh``: an int, ``"all"`` or a list of devices.
    """

    name = "contrastive"

    def __init__(self, model: Model, *, sampler: Sampler | None = None, num_chains: int = 100,
                 k: int = 1, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, persistent: bool = True, k_positive: int = 10,
                 data_init: bool = True, mesh=None, devices=None):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        sampler = resolve_sampler(model, sampler, "learner")
        for nm, v in (("num_chains", num_chains), ("k", k), ("batch_size", batch_size),
                      ("k_positive", k_positive)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{nm} must be a positive int, got {v!r}")
        if optimizer is None:
            optimizer = optax.sgd(0.05)
        if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
            raise TypeError("optimizer must be an optax GradientTransformation")
        self.model, self.sampler, self.optimizer = model, sampler, optimizer
        self.num_chains, self.k, self.batch_size = int(num_chains), int(k), int(batch_size)
        self.persistent, self.k_positive, self.data_init = bool(persistent), int(k_positive), data_init
        self.mesh = resolve_mesh(mesh, devices) or sampler.mesh
        if self.persistent:
            check_divisible(self.num_chains, self.mesh, "num_chains")
        check_divisible(self.batch_size, self.mesh, "batch_size")
        self._epoch_cache: dict = {}
        self._recorders: dict = {}  # recording plan -> the ChainRecorder its epochs pack with
        self._init_fn = None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sampler={type(self.sampler).__name__}, "
                f"num_chains={self.num_chains}, k={self.k}, batch_size={self.batch_size}, "
                f"persistent={self.persistent})")

    # ------------------------------------------------------------------ state
    def init_state(self, key, data, init_params=None) -> LearnerState:
        """Fresh learner state: parameters, optimiser state, chains and key."""
        ds = as_training_data(self.model.groups, data)
        if init_params is None:
            fixed = data_bias_values(self.model, ds) if self.data_init else {}
        else:
            self.model.check_params(init_params)
            fixed = {n: np.asarray(p, np.float32) for n, p in init_params.items()}
        C = self.num_chains if self.persistent else self.batch_size
        key = as_key(key)
        state = self._host_init(key, fixed, C)
        if state is None:
            if self._init_fn is None:
                self._init_fn = _xla.jit(self._init_impl, mesh=self.mesh, once=True,
                                         model=self.model, static_argnums=(2,))
            state = self._init_fn(key, fixed, C)
        self.model.check_params(state.params)
        return state

    def _host_init(self, key, fixed, num_chains) -> LearnerState | None:
        """The initial state computed on the host (NumPy, seeded from ``key``), where every
        parameter initializer has a host form, the sampler's state is just the values and the
        optimiser state holds no arrays; ``None`` otherwise. Nothing is compiled."""
        factors = self.model.factors
        # the flag must come from the class that defines ``_init`` (a subclass overriding
        # ``_init`` of block Gibbs builds other state)
        owner = next(c for c in type(self.sampler).__mro__ if "_init" in c.__dict__)
        if not owner.__dict__.get("_init_wraps_values", False) or not all(
                f.name in fixed or hasattr(f.init, "host") for f in factors):
            return None
        shapes = {f.name: jax.ShapeDtypeStruct(f.shape, jnp.float32) for f in factors}
        if jax.tree.leaves(jax.eval_shape(self.optimizer.init, shapes)):
            return None
        rng = host_rng(key)
        params = {f.name: np.asarray(fixed[f.name], np.float32) if f.name in fixed
                  else f.init.host(rng, f.shape) for f in factors}
        xb = host_random_blocked(rng, self.model.groups.values(), num_chains)
        if self.mesh is None:
            params, xb = jax.device_put((params, xb))
        else:
            params, xb = put_replicated(params, self.mesh), put_chains(xb, self.mesh, num_chains)
        new_key = put_replicated({"k": host_key(rng, key)}, self.mesh)["k"]
        return LearnerState(params, self.optimizer.init(params), self.sampler._init(None, None, xb),
                            new_key, jax.device_put(np.zeros((), np.int32)))

    def _init_impl(self, key, fixed, num_chains):
        """Parameters (the model's initializers, overridden by ``fixed``), optimiser state and
        random chains: one compiled program."""
        factors = self.model.factors
        ks = split(key, len(factors) + 3)  # few random call sites: see randomness.py
        params = {f.name: jnp.asarray(fixed[f.name] if f.name in fixed
                                      else f.init(k, f.shape, jnp.float32), jnp.float32)
                  for f, k in zip(factors, ks, strict=False)}
        xb = constrain_chains(random_blocked(ks[-3], self.model.groups.values(), num_chains),
                              self.mesh, num_chains)
        chains = self.sampler._init(ks[-2], self.model.blocked_params(params), xb)
        chains = constrain_chains(chains, self.mesh, num_chains)
        params = constrain_replicated(params, self.mesh)
        return LearnerState(params, constrain_replicated(self.optimizer.init(params), self.mesh),
                            chains, ks[-1], jnp.zeros((), jnp.int32))

    def _result(self, state: LearnerState, history: dict, recording=None) -> FitResult:
        return FitResult(params=state.params,
                         history={m: np.asarray(v) for m, v in history.items()},
                         chains=self.model.from_blocked(to_host(state.chains.x)), state=state,
                         learner=self, recording=recording)

    def _result_from_checkpoint(self, path, data) -> FitResult:
        """The :class:`FitResult` of a finished run saved at ``path`` (nothing is trained;
        used to skip the finished layers of a resumed :class:`~pcdppl.DBN` fit)."""
        return self._result(*resume_state(self, path, as_training_data(self.model.groups, data)))

    def _clamped_sampler(self, visible: tuple) -> Sampler:
        """The sampler that fills in latent groups with ``visible`` clamped (positive phase)."""
        return BlockGibbs(self.model, clamp=visible)

    # ------------------------------------------------------------------ one epoch
    def _epoch_fn(self, visible: tuple, num_examples: int, plan=None):
        cache_key = (visible, num_examples, plan)
        if cache_key not in self._epoch_cache:
            units = sum(g.size for g in self.model.groups.values())
            C = self.num_chains if self.persistent else self.batch_size
            self._epoch_cache[cache_key] = _xla.jit(
                self._make_epoch(visible, num_examples, plan), mesh=self.mesh,
                size=units * (C + self.batch_size), model=self.model, donate_argnums=(0,))
        return self._epoch_cache[cache_key]

    def _recorder(self, plan):
        """The recorder (and recorded rows) of a plan, one per plan: an epoch program and
        the :class:`~pcdppl.diagnostics.recording.Recording` that unpacks its output share
        it."""
        if plan not in self._recorders:
            self._recorders[plan] = _rec.make_recorder(self.model, plan)
        return self._recorders[plan]

    def _make_epoch(self, visible: tuple, N: int, plan=None):
        model, sampler, opt = self.model, self.sampler, self.optimizer
        latent = tuple(g for g in model.groups if g not in visible)
        exact = model.conditionally_independent(latent)
        clamped = self._clamped_sampler(visible)
        B, nb = self.batch_size, N // self.batch_size
        persistent, k, k_pos_sweeps = self.persistent, self.k, self.k_positive
        recorder, rec_rows = self._recorder(plan)
        rec_flags = np.isin(np.arange(nb), rec_rows if rec_rows else ())
        mesh = self.mesh
        C = self.num_chains if persistent else B

        def shard(tree, n=C):  # split the chain axis over the mesh (no-op without one)
            return constrain_chains(tree, mesh, n)

        def fill_latents(key, bp, vis, sweeps):
            """Latents drawn by clamped Gibbs sweeps from the reference state (exact after
            one sweep when they are conditionally independent given ``vis``)."""
            C = next(iter(vis.values())).shape[1]
            x = dict(vis)
            for g in latent:
                grp = model.groups[g]
                x[g] = jnp.full((grp.size, C), grp.reference_value(), jnp.int8)
            return clamped._run_b(key, bp, clamped._init(key, bp, x), 1.0, sweeps).x

        def free_energy(bp, x, sum_out):
            return model._free_energy_b(bp, x, sum_out) if sum_out else model._energy_b(bp, x)

        # With conditionally independent binary/spin latents whose factors are linear in
        # their values (bias, dense, Ising pairwise), the monitor of PCD reconstructs the data
        # from the latents' conditional means: no random numbers, no extra Gibbs fill. (CD-k
        # needs the sampled fill anyway: its chains start from it.)
        mean_field = persistent and exact and latent and all(
            not model.groups[g].is_categorical
            and all(f.kind in ("bias", "dense") or (f.kind == "pairwise" and not f.potts)
                    for f in model._touching[g])
            for g in latent)

        def latent_means(bp, vis):
            C = next(iter(vis.values())).shape[1]
            x = dict(vis)
            for g in latent:
                x[g] = jnp.full((model.groups[g].size, C), 0, jnp.float32)
            out = dict(vis)
            for g in latent:
                loc = model._local_b(bp, x, g, slice(None))
                grp = model.groups[g]
                out[g] = jax.nn.sigmoid(loc) if grp.kind == "binary" else jnp.tanh(loc / 2)
            return out

        def monitor(bp, vis, pos_x):
            if latent:  # reconstruction of binary/spin visible units from the latents
                errs = []
                for g in visible:
                    grp = model.groups[g]
                    if grp.is_categorical:
                        continue
                    loc = model._local_b(bp, pos_x, g, slice(None))
                    mean = jax.nn.sigmoid(loc) if grp.kind == "binary" else jnp.tanh(loc / 2)
                    errs.append(jnp.mean(jnp.sum((vis[g] - mean) ** 2, axis=0)))
                return {"recon_error": sum(errs) if errs else jnp.nan}
            pll = 0.0
            for g in visible:
                grp = model.groups[g]
                loc = model._local_b(bp, vis, g, slice(None))
                if grp.is_categorical:
                    logp = jax.nn.log_softmax(loc, axis=1)
                    lp = jnp.take_along_axis(logp, vis[g][:, None, :].astype(jnp.int32), 1)[:, 0]
                else:
                    on = (vis[g] > 0).astype(jnp.float32)
                    lp = jax.nn.log_sigmoid((2 * on - 1) * loc)
                pll = pll + jnp.sum(lp, axis=0)
            return {"pseudo_log_likelihood": jnp.mean(pll)}

        def epoch(state: LearnerState, data):
            def batch_step(carry, inp):
                params, opt_state, chains = carry
                idx, keys, rec_flag = inp
                k_pos, k_neg, k_init = keys
                vis = shard({g: data[g][idx].T for g in visible}, B)  # (n, B)
                bp = model.blocked_params(params)
                if exact:
                    pos_x, pos_sum = vis, latent
                    if mean_field:
                        filled = latent_means(bp, vis)
                    else:
                        filled = fill_latents(k_pos, bp, vis, 1) if latent else vis
                else:
                    pos_x, pos_sum = fill_latents(k_pos, bp, vis, k_pos_sweeps), ()
                    filled = pos_x
                if not persistent:
                    chains = sampler._init(k_init, bp, filled)
                chains = shard(sampler._run_b(k_neg, bp, shard(chains), 1.0, k))
                if exact:
                    neg_x, neg_sum = {g: chains.x[g] for g in visible}, latent
                else:
                    neg_x, neg_sum = chains.x, ()

                def surrogate(p):
                    bpp = model.blocked_params(p)
                    return (jnp.mean(free_energy(bpp, pos_x, pos_sum))
                            - jnp.mean(free_energy(bpp, neg_x, neg_sum)))

                gap, grads = jax.value_and_grad(surrogate)(params)
                updates, opt_state = opt.update(grads, opt_state, params)
                params = constrain_replicated(optax.apply_updates(params, updates), mesh)
                opt_state = constrain_replicated(opt_state, mesh)
                metrics = {"free_energy_gap": gap, **monitor(bp, vis, filled), **sampler._stats(chains)}
                if recorder is not None:  # chain statistics, on recorded steps only
                    metrics["_record"] = _rec.record_step(recorder, rec_flag, bp, chains)
                return (params, opt_state, chains), metrics

            key, order, step_keys = epoch_randomness(state.key, N, nb, B, 3)
            (params, opt_state, chains), metrics = jax.lax.scan(
                batch_step, (state.params, state.opt_state, shard(state.chains)),
                (order, step_keys, jnp.asarray(rec_flags)))
            records = metrics.pop("_record", None)
            if records is not None:
                records = _rec.gather_records(records, rec_rows)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p))
                                        for p in jax.tree.leaves(params)]))
            new = LearnerState(params, opt_state, chains, key, state.epoch + 1)
            # a diverged epoch returns the state it started from (the input is donated)
            new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, state)
            return new, {m: jnp.mean(v) for m, v in metrics.items()}, finite, records

        return epoch

    # ------------------------------------------------------------------ fit
    def fit(self, data, num_epochs: int, key=0, *, validation=None, eval_every: int | None = None,
            progress: bool = True, init_params=None, resume=None, checkpoint_dir=None,
            checkpoint_every: int | None = None, record_every: int | None = None,
            track_units=3, mixing_warnings: bool = True) -> FitResult:
        """Fit the model to ``data``.

        Args:
            data: ``(N, n_v)`` array for the default visible group, or ``dict[group, (N, n)]``;
                groups absent from the data are latent.
            num_epochs: passes over the data.
            key: PRNG key or int seed (ignored when resuming).
            validation: held-out data; its exact log-likelihood is recorded every
                ``eval_every`` epochs (default: about 10 evaluations) and after the last.
            progress: show a progress bar with the current metrics.
            init_params: starting parameters (default: the model's initialisation).
            resume: a :class:`FitResult` or :class:`LearnerState` to continue from for
                ``num_epochs`` more epochs, or a checkpoint file or folder
                (:mod:`pcdppl.learn.checkpoint`) to continue until epoch ``num_epochs`` in
                total, as the interrupted run would have. A result or state resumed from
                is copied, not consumed: it can be resumed from again.
            checkpoint_dir: folder for checkpoints of the whole learner state, written every
                ``checkpoint_every`` epochs and after the last. While checkpointing, Ctrl-C
                finishes the running epoch, saves it and raises
                :class:`~pcdppl.learn.checkpoint.TrainingInterrupted` (a ``KeyboardInterrupt``).
            record_every: minibatch steps between recordings of the chain statistics
                (:meth:`FitResult.diagnostics`), counted within each epoch; default about
                10 per epoch; 0 records nothing. Recording happens inside the compiled epoch.
            track_units: log-odds units recorded per group: an int (evenly spaced units) or
                ``dict[group, unit indices]``.
            mixing_warnings: at the end of the fit, warn (:class:`MixingWarning`) naming every
                statistic whose chains look stuck, whose R-hat exceeds 1.1 or whose ESS per
                chain falls below 1 over the last half of the recording.

        Returns:
            a :class:`FitResult`.
        """
        if not isinstance(num_epochs, (int, np.integer)) or num_epochs < 1:
            raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
        ds = as_training_data(self.model.groups, data)
        visible = tuple(g for g in self.model.groups if g in ds)
        N = next(iter(ds.values())).shape[0]
        if N < self.batch_size:
            raise ValueError(f"batch_size={self.batch_size} exceeds the {N} examples in data")
        val = None
        if validation is not None:
            val = as_dataset(self.model.groups, validation, what="validation")
            if tuple(g for g in self.model.groups if g in val) != visible:
                raise ValueError(f"validation has groups {sorted(val)}; data has {list(visible)}")
            eval_every = eval_every or max(1, num_epochs // 10)
        t_start = time.perf_counter()
        history: dict[str, list] = {"epoch": [], "time": []}
        if isinstance(resume, (str, os.PathLike)):
            state, history = resume_state(self, resume, ds)
            num_epochs -= int(state.epoch)
            if num_epochs < 1:
                raise ValueError(f"the checkpoint is at epoch {int(state.epoch)}: nothing left "
                                 f"to do for num_epochs={num_epochs + int(state.epoch)}")
        elif resume is not None:
            state = resume.state if isinstance(resume, FitResult) else resume
            if not isinstance(state, LearnerState):
                raise TypeError("resume must be a FitResult or a LearnerState")
            self.model.check_params(state.params)
            # the epoch program donates its input state: continue from a copy, so that the
            # FitResult resumed from keeps its parameters and can be resumed from again
            state = jax.device_put(state, may_alias=False)
        else:
            with _xla.gc_paused():
                state = self.init_state(key, data, init_params)
        data_b = {}
        for g in visible:
            lay = self.model.layouts[g]
            # device_put, not jnp.asarray: the latter compiles a copy program
            data_b[g] = jax.device_put(np.ascontiguousarray(ds[g] if lay.identity
                                                            else ds[g][:, lay.perm]))
        data_b = put_replicated(data_b, self.mesh)  # every device gathers its own minibatch
        if self.mesh is not None:  # a resumed state may come from elsewhere: place it
            C = next(iter(state.chains.x.values())).shape[1]
            check_divisible(C, self.mesh)
            state = state._replace(chains=put_chains(state.chains, self.mesh, C),
                                   **put_replicated(state._asdict(), self.mesh,
                                                    skip=("chains",)))
        plan = _rec.record_plan(self.model, N // self.batch_size, record_every, track_units)
        epoch_fn = self._epoch_fn(visible, N, plan)
        recording = None if plan is None else _rec.Recording.start(
            self._recorder(plan)[0],
            {"record_every": record_every or max(1, N // self.batch_size // 10),
             "minibatches_per_epoch": N // self.batch_size,
             "recorded_steps_per_epoch": len(plan[0])},
            getattr(resume, "recording", None))
        ckpt = None if checkpoint_dir is None else Checkpointer(checkpoint_dir, checkpoint_every)
        guard = InterruptGuard(enabled=ckpt is not None).__enter__()
        bar = _progress(num_epochs, type(self).__name__, progress)
        t_train = time.perf_counter() - t_start  # initialisation counts as training time
        t_train += history["time"][-1] if history["time"] else 0.0
        evaluate = _Evaluator(self.model, val)
        try:
            for _ in range(num_epochs):
                t0 = time.perf_counter()
                if _ == 0:  # traced and compiled now
                    with _xla.gc_paused():
                        state, metrics, finite, records = epoch_fn(state, data_b)
                else:
                    state, metrics, finite, records = epoch_fn(state, data_b)
                if recording is not None:
                    recording.append(records)
                metrics, finite, epoch = jax.device_get((metrics, finite, state.epoch))
                t_train += time.perf_counter() - t0
                epoch = int(epoch)
                if not finite:
                    raise FloatingPointError(
                        f"parameters became NaN or infinite in epoch {epoch + 1}; lower the "
                        f"learning rate. The last finite parameters are in this error's "
                        f"`last_params` attribute (the learner state in `state`).")
                history["epoch"].append(epoch)
                history["time"].append(t_train)
                for m, v in metrics.items():
                    history.setdefault(m, []).append(float(v))
                if val is not None:
                    ll = np.nan
                    if epoch % eval_every == 0 or _ == num_epochs - 1:
                        ll = evaluate(state.params)
                    history.setdefault("val_log_likelihood", []).append(ll)
                bar.update({m: v[-1] for m, v in history.items() if m not in ("epoch", "time")})
                if ckpt is not None:
                    ckpt.after_epoch(state, history, final=_ == num_epochs - 1, guard=guard)
        except FloatingPointError as err:
            err.last_params, err.state = state.params, state
            raise
        finally:
            bar.close()
            guard.__exit__()
        if recording is not None:
            recording.finish()
            if mixing_warnings:
                _rec.warn_mixing(recording)
        return self._result(state, history, recording)


class _Evaluator:
    """Exact validation log-likelihood; warns once and stops if the model is too large."""

    def __init__(self, model: Model, val):
        self.model, self.val, self.enabled = model, val, val is not None

    def __call__(self, params) -> float:
        from ..evaluate.exact import IntractableError, log_likelihood

        if not self.enabled:
            return np.nan
        try:
            return float(log_likelihood(self.model, params, self.val, method="exact"))
        except IntractableError as err:
            warnings.warn(f"validation log-likelihood skipped: {err}", stacklevel=3)
            self.enabled = False
            return np.nan


class _progress:
    """A tqdm bar over epochs showing the latest metrics (a no-op when disabled)."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="epoch", dynamic_ncols=True)

    def update(self, metrics: dict) -> None:
        if self.bar is not None:
            shown = {k: f"{v:.4g}" for k, v in metrics.items() if np.isfinite(v)}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
