"""Learners: immutable configuration over the pure pieces of :mod:`pcdppl.learn.epoch`.

A learner holds a model, a negative-phase sampler and its settings; ``fit`` runs the host
loop of :mod:`pcdppl.learn.loop` over the learner's compiled epoch. Learners cannot be
changed after construction: ``learner.replace(k=50)`` is a new learner (with its own
compiled program), and every learner takes ``mesh=``/``devices=``.
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _compile
from ..frozen import Frozen
from ..graph.model import Model
from ..samplers.base import Sampler
from ..samplers.driver import resolve_sampler
from ..samplers.gibbs import BlockGibbs
from ..sharding import check_divisible, put_chains, put_replicated, resolve_mesh, to_host
from . import estimators as est
from . import loop
from .centering import Centering
from .checkpoint import resume_state, stable_description
from .epoch import EpochSpec, InitSpec, epoch_program, init_program, initial_extra
from .extensions import AutoK
from .soft_data import as_training_data
from .state import FitResult, LearnerState


def data_bias_values(model: Model, ds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Maximum-likelihood biases of an independent model of the data (Hinton, 2010, "A
    practical guide to training RBMs", §8), computed on the host: ``dict[name, array]`` for
    every untied bias of an observed group."""
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


def data_bias_init(model: Model, params: dict, ds: dict[str, np.ndarray]) -> dict:
    """``params`` with the biases of observed groups set by :func:`data_bias_values`."""
    return {**params, **data_bias_values(model, ds)}


def check_positive(**values) -> None:
    """Each value must be a positive int; an error names the first that is not."""
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def tree_digest(tree) -> str:
    """SHA-256 of a pytree's structure and of its leaves' shapes, dtypes and bytes."""
    leaves, treedef = jax.tree.flatten(tree)
    h = hashlib.sha256(repr(treedef).encode())
    for leaf in leaves:
        a = np.asarray(leaf)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def structure_fingerprint(model: Model) -> str:
    """A digest of a model's structure: groups, factor kinds and shapes, index tables."""
    return tree_digest(model)


def model_fingerprint(model: Model) -> dict[str, str]:
    """The model's part of a learner's fingerprint: its groups, each factor's kind, shape and
    a digest of its index tables (the edges of a pairwise factor), and the whole structure."""
    out = {"model.groups": ", ".join(repr(g) for g in model.groups.values())}
    for f in model.factors:
        out[f"model.factor {f.name}"] = f"{f.kind} {tuple(f.shape)} tables {tree_digest(f)[:16]}"
    out["model.structure"] = structure_fingerprint(model)
    return out


def optimizer_fingerprint(optimizer, param_shapes: dict) -> dict[str, str]:
    """The optimiser's part of a learner's fingerprint, the same in every process: the tree
    structure, shapes and dtypes of its state for these parameters, and a description of its
    transformations and hyperparameters (read from the functions optax builds)."""
    abstract = {n: jax.ShapeDtypeStruct(s, jnp.float32) for n, s in param_shapes.items()}
    shapes = jax.tree.map(lambda a: f"{a.dtype}{list(a.shape)}",
                          jax.eval_shape(optimizer.init, abstract))
    return {"optimizer.state": stable_description(shapes),
            "optimizer": stable_description(getattr(optimizer, "update", optimizer)),
            "optax": optax.__version__}


def sampler_description(sampler: Sampler) -> str:
    """A sampler's class and public settings (inner samplers described alike)."""
    settings = ", ".join(
        f"{k}={sampler_description(v) if isinstance(v, Sampler) else stable_description(v)}"
        for k, v in sorted(vars(sampler).items()) if not k.startswith("_") and k not in
        ("model", "mesh"))
    return f"{type(sampler).__qualname__}({settings})"


class ContrastiveLearner(Frozen):
    """Learner whose negative phase is a pcdppl sampler (see :mod:`pcdppl.learn.estimators`).

    Args:
        model: compiled model.
        sampler: negative-phase sampler built for ``model`` (default :class:`BlockGibbs`).
        num_chains: persistent chains (ignored for CD-k, which uses one per example).
        k: sampler transitions per parameter update, or ``"auto"``: mixing-aware, adapted
            after every epoch to ``k_target`` integrated autocorrelation times of the chains'
            energy (at most ``k_max``; see :class:`~pcdppl.learn.extensions.AutoK`); the
            history then has ``k`` and ``iat`` (in transitions) per epoch.
        optimizer: an optax ``GradientTransformation`` (default ``optax.sgd(0.05)``).
        batch_size: examples per minibatch. The remainder of each shuffled epoch is skipped.
        persistent: ``True`` for PCD, ``False`` for CD-k (chains restart from the data).
        k_positive: clamped transitions filling in latents that are not conditionally
            independent given the data (unused otherwise).
        data_init: initialise visible biases from the data marginals on a fresh fit.
        k_target, k_max: of ``k="auto"``.
        centered: centered gradients for the dense couplings (Melchior, Fischer & Wiskott,
            2016; :mod:`pcdppl.learn.centering`), offsets averaged at ``offset_rate``.
        mesh: a :class:`jax.sharding.Mesh` to split the persistent chains and each
            minibatch over along their chain axis (default: the sampler's mesh, if any);
            gradients are averaged across devices inside the compiled epoch. ``num_chains``
            (PCD) and ``batch_size`` must be multiples of the device count.
        devices: shortcut for ``mesh``: an int, ``"all"`` or a list of devices.

    Immutable: ``learner.replace(k=10)`` returns a changed copy.
    """

    BASE_KWARGS = ("mesh", "devices")
    records_chains = True

    def __init__(self, model: Model, *, sampler: Sampler | None = None, num_chains: int = 100,
                 k: int | str = 1, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, persistent: bool = True, k_positive: int = 10,
                 data_init: bool = True, k_target: float = 1.0, k_max: int = 100,
                 centered: bool = False, offset_rate: float = 0.01):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        sampler = resolve_sampler(model, sampler, "learner")
        self.auto_k = None
        if k == "auto":
            if not persistent:
                raise ValueError("k='auto' needs persistent chains: it adapts k to their "
                                 "autocorrelation time, which CD-k's restarted chains do not have")
            check_positive(k_max=k_max)
            if not (isinstance(k_target, (int, float)) and np.isfinite(k_target) and k_target > 0):
                raise ValueError(f"k_target must be a positive number, got {k_target!r}")
            self.auto_k = AutoK(float(k_target), 1, int(k_max))
            k = 1
        check_positive(num_chains=num_chains, k=k, batch_size=batch_size, k_positive=k_positive)
        if optimizer is None:
            optimizer = optax.sgd(0.05)
        if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
            raise TypeError("optimizer must be an optax GradientTransformation")
        self.model, self.sampler, self.optimizer = model, sampler, optimizer
        self.num_chains, self.k, self.batch_size = int(num_chains), int(k), int(batch_size)
        self.persistent, self.k_positive = bool(persistent), int(k_positive)
        self.data_init = bool(data_init)
        offset_rate = float(offset_rate)
        if not 0 < offset_rate <= 1:
            raise ValueError(f"offset_rate must be in (0, 1], got {offset_rate}")
        self.centered, self.offset_rate = bool(centered), offset_rate

    def _configure_base(self, mesh=None, devices=None) -> None:
        mesh = resolve_mesh(mesh, devices) or self.sampler.mesh
        object.__setattr__(self, "mesh", mesh)
        if self.persistent:
            check_divisible(self.num_chains, mesh, "num_chains")
        check_divisible(self.batch_size, mesh, "batch_size")

    def __repr__(self) -> str:
        k = "auto" if self.auto_k is not None else self.k
        return (f"{type(self).__name__}(sampler={type(self.sampler).__name__}, "
                f"num_chains={self.num_chains}, k={k}, batch_size={self.batch_size}, "
                f"persistent={self.persistent})")

    @property
    def chain_count(self) -> int:
        """Chains of the negative phase: ``num_chains`` (PCD) or ``batch_size`` (CD-k)."""
        return self.num_chains if self.persistent else self.batch_size

    def fingerprint(self, key=None) -> dict:
        """What a checkpoint of this learner records to recognise its model and configuration
        (see :mod:`pcdppl.learn.checkpoint`): a flat dict of JSON values, the same in every
        process. ``key``: the fit's key (its implementation is recorded; omitted if ``None``).
        A subclass with settings of its own adds them to ``super().fingerprint(key)``."""
        fp = {"fingerprint": 2, "learner": type(self).__qualname__,
              **model_fingerprint(self.model), "num_chains": self.chain_count, "k": self.k,
              "batch_size": self.batch_size, "persistent": self.persistent,
              "k_positive": self.k_positive, "sampler": sampler_description(self.sampler),
              **optimizer_fingerprint(self.optimizer, self.model.param_shapes)}
        if self.auto_k is not None:
            fp["k"] = f"auto(target={self.auto_k.target}, k_max={self.auto_k.k_max})"
        for i, e in enumerate(self.extensions()):
            fp[f"extension.{i}"] = repr(e)
        if key is not None:
            fp["key"] = str(jax.random.key_impl(_compile.as_key(key)))
        return fp

    # ------------------------------------------------------------------ pieces
    def clamped_sampler(self, visible: tuple) -> Sampler:
        """The sampler that fills in latent groups with ``visible`` clamped (positive phase)."""
        return BlockGibbs(self.model, clamp=visible)

    def extensions(self) -> tuple:
        """The :mod:`~pcdppl.learn.extensions` this learner adds to the PCD update."""
        return (Centering(self.offset_rate),) if self.centered else ()

    def epoch_spec(self, visible: tuple, num_examples: int, plan) -> EpochSpec:
        return EpochSpec(self.optimizer, self.k, self.k_positive, self.batch_size,
                         self.chain_count, self.persistent,
                         est.Phases.of(self.model, visible, self.persistent), num_examples, plan,
                         self.mesh, self.extensions(), self.auto_k)

    def run_epoch(self, state: LearnerState, data: dict, visible: tuple, num_examples: int,
                  plan, weights=None):
        """One compiled epoch (see :func:`pcdppl.learn.epoch.run_epoch`)."""
        clamped = self.__dict__.setdefault("_clamped", {})  # one object per visible tuple:
        if visible not in clamped:  # the epoch program flattens it once
            clamped[visible] = self.clamped_sampler(visible)
        return epoch_program(self.epoch_spec(visible, num_examples, plan), self.model,
                             self.sampler, clamped[visible], state, data, weights)

    def init_state(self, key, data, init_params=None) -> LearnerState:
        """Fresh learner state: parameters, optimiser state, chains and key."""
        model = self.model
        ds = as_training_data(model.groups, data)
        if init_params is None:
            fixed = data_bias_values(model, ds) if self.data_init else {}
        else:
            model.check_params(init_params)
            fixed = {n: np.asarray(p, np.float32) for n, p in init_params.items()}
        key = _compile.as_key(key)
        state = self._host_initial_state(key, fixed)
        if state is None:
            inits = tuple((f.name, f.shape, model.host.initializers[f.name]) for f in model.factors)
            spec = InitSpec(self.optimizer, self.chain_count, inits, self.mesh)
            state = init_program(spec, model, self.sampler, key, fixed)
        model.check_params(state.params)
        exts = self.extensions()
        ext_key = jax.random.fold_in(key, 0x6578) if exts else None
        extra, chains = initial_extra(exts, self.auto_k, ext_key, model, state.params,
                                      state.chains)
        return state._replace(extra=extra, chains=chains)

    def _host_initial_state(self, key, fixed) -> LearnerState | None:
        """The initial state drawn on the host (no compiled program) where the sampler state
        is just the values (the default ``init_state``); ``None`` otherwise."""
        if type(self.sampler).init_state is not Sampler.init_state:
            return None
        model = self.model
        drawn = _compile.host_initial_state(key, model.host.initializers, model.param_shapes,
                                            fixed, model.groups.values(), self.chain_count,
                                            self.optimizer)
        if drawn is None:
            return None
        params, x, opt_state, new_key = drawn
        if self.mesh is None:
            params, x = jax.device_put((params, x))
        else:
            params, x = put_replicated(params, self.mesh), put_chains(x, self.mesh,
                                                                      self.chain_count)
        new_key = put_replicated({"k": new_key}, self.mesh)["k"]
        chains = self.sampler.init_state(None, model, None, x)
        return LearnerState(params, self.optimizer.init(params), chains, new_key,
                            jax.device_put(np.zeros((), np.int32)))

    def result(self, state: LearnerState, history: dict, recording=None) -> FitResult:
        """The :class:`FitResult` of a state and its history."""
        return FitResult(params=state.params,
                         history={m: np.asarray(v) for m, v in history.items()},
                         chains=self.model.blocked.to_values(to_host(state.chains.x)),
                         state=state, learner=self, recording=recording)

    def result_from_checkpoint(self, path, data) -> FitResult:
        """The :class:`FitResult` of a finished run saved at ``path`` (nothing is trained)."""
        return self.result(*resume_state(self, path, as_training_data(self.model.groups, data)))

    # ------------------------------------------------------------------ fit
    def fit(self, data, num_epochs: int, key=0, **options) -> FitResult:
        """Fit the model to ``data``.

        Args:
            data: ``(N, n_v)`` array for the default visible group, or ``dict[group, (N, n)]``;
                groups absent from the data are latent.
            num_epochs: passes over the data.
            key: PRNG key or int seed. When resuming from a checkpoint its value is ignored,
                but its implementation must be the checkpoint's (an int seed gives JAX's
                default implementation).
            weights: per-example weights ``(N,)`` (finite, non-negative, not all zero), such
                as DCA sequence weights: the positive phase of every minibatch is the
                weighted mean ``Σ w ∇F / Σ w``; default: all examples weigh the same.
            validation: held-out data; its exact log-likelihood is recorded every
                ``eval_every`` epochs (default: about 10 evaluations) and after the last.
            progress: show a progress bar with the current metrics (default ``True``).
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
        return loop.fit(self, data, num_epochs, key, **options)


class PCD(ContrastiveLearner):
    """Persistent contrastive divergence (Tieleman, 2008) and CD-k (Hinton, 2002).

    ``num_chains`` fantasy particles persist across minibatches and advance ``k`` sampler
    transitions (block-Gibbs sweeps by default) per parameter update. ``persistent=False``
    gives CD-k: one chain per example, restarted from the minibatch. Any pcdppl sampler can
    replace block Gibbs via ``sampler=``.

    Example::

        learner = pp.PCD(model, num_chains=100, k=1, optimizer=optax.sgd(0.05), batch_size=20)
        fit = learner.fit(train, num_epochs=100, key=0, validation=test)
        fit.params, fit.history, fit.chains

    See :class:`ContrastiveLearner` for all arguments.
    """
