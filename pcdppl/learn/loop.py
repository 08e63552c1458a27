"""The host loop of every learner's ``fit``: data, resume, progress, validation, checkpoints.

The loop is the only part of learning that runs on the host. It calls the learner's compiled
epoch once per epoch and reads its metrics and finite flag in one transfer, while the next
epoch already runs (except where validation, a checkpoint or the end needs the state on the
host); everything numerical happens in the learner's programs. A learner
supplies ``model``, ``batch_size``, ``mesh``, ``records_chains``, ``fingerprint()``,
``init_state(key, data, init_params)``, ``run_epoch(state, data, visible, num_examples, plan,
weights)`` and ``result(state, history, recording)``.
"""

from __future__ import annotations

import os
import time
import warnings

import jax
import numpy as np

from ..evaluate.exact import IntractableError
from ..evaluate.likelihood import log_likelihood
from ..graph.data import as_dataset
from ..samplers.base import num_chains_of
from ..sharding import check_divisible, put_chains, put_replicated
from .checkpoint import Checkpointer, InterruptGuard, resume_state
from .recording import Recording, record_plan, warn_mixing
from .soft_data import as_training_data
from .state import FitResult, LearnerState


def fit(learner, data, num_epochs: int, key=0, *, weights=None, validation=None,
        eval_every: int | None = None, progress: bool = True, init_params=None, resume=None,
        checkpoint_dir=None, checkpoint_every: int | None = None, record_every: int | None = None,
        track_units=3, mixing_warnings: bool = True) -> FitResult:
    """Fit ``learner.model`` to ``data`` (see :meth:`ContrastiveLearner.fit` for the
    arguments)."""
    model = learner.model
    if not isinstance(num_epochs, (int, np.integer)) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    ds = as_training_data(model.groups, data)
    visible = tuple(g for g in model.groups if g in ds)
    N = next(iter(ds.values())).shape[0]
    if N < learner.batch_size:
        raise ValueError(f"batch_size={learner.batch_size} exceeds the {N} examples in data")
    w = None if weights is None else jax.device_put(check_weights(weights, N))
    val = None
    if validation is not None:
        val = as_dataset(model.groups, validation, what="validation")
        if tuple(g for g in model.groups if g in val) != visible:
            raise ValueError(f"validation has groups {sorted(val)}; data has {list(visible)}")
        eval_every = eval_every or max(1, num_epochs // 10)
    t_start = time.perf_counter()
    history: dict[str, list] = {"epoch": [], "time": []}
    if isinstance(resume, (str, os.PathLike)):
        state, history = resume_state(learner, resume, ds, key)
        num_epochs -= int(state.epoch)
        if num_epochs < 1:
            raise ValueError(f"the checkpoint is at epoch {int(state.epoch)}: nothing left "
                             f"to do for num_epochs={num_epochs + int(state.epoch)}")
    elif resume is not None:
        state = resume.state if isinstance(resume, FitResult) else resume
        if not isinstance(state, LearnerState):
            raise TypeError("resume must be a FitResult or a LearnerState")
        model.check_params(state.params)
        # the epoch program donates its input state: continue from a copy, so that the
        # FitResult resumed from keeps its parameters and can be resumed from again
        state = jax.device_put(state, may_alias=False)
    else:
        state = learner.init_state(key, data, init_params)
    data_b = blocked_data(model, ds, visible, learner.mesh)
    if learner.mesh is not None and w is not None:
        w = put_replicated({"w": w}, learner.mesh)["w"]
    if learner.mesh is not None and state.chains is not None:  # a resumed state: place it
        C = num_chains_of(state.chains)
        check_divisible(C, learner.mesh)
        state = state._replace(chains=put_chains(state.chains, learner.mesh, C),
                               **put_replicated(state._asdict(), learner.mesh, skip=("chains",)))
    nb = N // learner.batch_size
    plan = record_plan(model, nb, record_every, track_units) if learner.records_chains else None
    recording = None if plan is None else Recording.start(
        plan, {"record_every": record_every or max(1, nb // 10), "minibatches_per_epoch": nb,
         "recorded_steps_per_epoch": len(plan.rows)}, getattr(resume, "recording", None))
    ckpt = None if checkpoint_dir is None else Checkpointer(checkpoint_dir, checkpoint_every,
                                                            info=learner.fingerprint(state.key))
    guard = InterruptGuard(enabled=ckpt is not None).__enter__()
    bar = Progress(num_epochs, type(learner).__name__, progress)
    t_train = time.perf_counter() - t_start  # initialisation counts as training time
    t_train += history["time"][-1] if history["time"] else 0.0
    evaluate = Validation(model, val)
    first = int(jax.device_get(state.epoch))  # the epoch counter before this fit

    def host_reads_state(i: int) -> bool:
        """Whether epoch ``i``'s state must reach the host before epoch ``i + 1`` starts
        (validation, checkpoints, the end); otherwise epoch ``i + 1`` is dispatched first
        and the host reads epoch ``i``'s metrics while it runs."""
        return (ckpt is not None or i == num_epochs - 1
                or (val is not None and (first + i + 1) % eval_every == 0))

    def finish(i: int, metrics, finite, records) -> None:
        nonlocal t_train, t_zero
        if recording is not None:
            recording.append(records)
        metrics, finite = jax.device_get((metrics, finite))
        t_train = time.perf_counter() - t_zero
        epoch = first + i + 1
        if not finite:  # a diverged epoch returned the state it started from
            raise FloatingPointError(
                f"parameters became NaN or infinite in epoch {epoch}; lower the "
                f"learning rate. The last finite parameters are in this error's "
                f"`last_params` attribute (the learner state in `state`).")
        history["epoch"].append(epoch)
        history["time"].append(t_train)
        for m, v in metrics.items():
            history.setdefault(m, []).append(float(v))
        if val is not None:
            ll = np.nan
            if epoch % eval_every == 0 or i == num_epochs - 1:
                ll = evaluate(state.params)  # never a pipelined epoch: state is epoch i's
            history.setdefault("val_log_likelihood", []).append(ll)
        bar.update({m: v[-1] for m, v in history.items() if m not in ("epoch", "time")})
        if ckpt is not None:
            ckpt.after_epoch(state, history, final=i == num_epochs - 1, guard=guard)
        t_zero = time.perf_counter() - t_train  # validation and checkpoints are not training

    t_zero = time.perf_counter() - t_train  # the clock of history["time"]
    pending = None
    try:
        for i in range(num_epochs):
            state, *out = learner.run_epoch(state, data_b, visible, N, plan, w)
            if pending is not None:  # the previous epoch, read while this one runs
                finish(i - 1, *pending)
            pending = out
            if host_reads_state(i):
                finish(i, *pending)
                pending = None
    except FloatingPointError as err:
        # a diverged epoch leaves the state unchanged, and so does the (deterministic) epoch
        # dispatched after it from that same state: ``state`` is the last finite one
        err.last_params, err.state = state.params, state
        raise
    finally:
        bar.close()
        guard.__exit__()
    if recording is not None:
        recording.finish()
        if mixing_warnings:
            warn_mixing(recording)
    return learner.result(state, history, recording)


def check_weights(weights, num_examples: int) -> np.ndarray:
    """Per-example weights as ``float32 (N,)``: finite, non-negative, not all zero."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (num_examples,):
        raise ValueError(f"weights must have shape ({num_examples},), one per example, got "
                         f"{w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if not w.sum() > 0:
        raise ValueError("weights are all zero")
    return w.astype(np.float32)


def blocked_data(model, ds: dict, visible, mesh) -> dict:
    """Training data in the blocked unit order, on the device (replicated over ``mesh``)."""
    out = {}
    for g in visible:
        lay = model.layouts[g]
        x = ds[g] if lay.identity else ds[g][:, lay.host_perm()]
        out[g] = jax.device_put(np.ascontiguousarray(x))  # device_put: no copy program
    return put_replicated(out, mesh)  # every device gathers its own minibatch


class Validation:
    """Exact validation log-likelihood; warns once and stops if the model is too large."""

    def __init__(self, model, val):
        self.model, self.val, self.enabled = model, val, val is not None

    def __call__(self, params) -> float:
        if not self.enabled:
            return np.nan
        try:
            return float(log_likelihood(self.model, params, self.val, method="exact"))
        except IntractableError as err:
            warnings.warn(f"validation log-likelihood skipped: {err}", stacklevel=3)
            self.enabled = False
            return np.nan


class Progress:
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
