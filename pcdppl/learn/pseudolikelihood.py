"""Besag's pseudo-likelihood for fully visible models: an exact gradient, no sampling.

    PL(θ) = mean_data Σ_i log p_θ(x_i | x_{-i}),     p_θ(x_i | x_{-i}) = softmax_c(l_i(c))

with ``l_i`` the unit's local log-potentials (``model.blocked.local_logits``). Maximising it
is consistent for fully visible models (Ising, Potts, any factor graph without latent
groups) and needs neither chains nor ``log Z``; its gradient is exact (autodiff). One epoch
is one compiled program, with the same ``fit`` interface, history, checkpoints and
validation as the contrastive learners.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _compile
from ..frozen import Frozen
from ..graph.model import Model
from ..sharding import constrain_replicated, resolve_mesh
from . import loop
from .checkpoint import resume_state
from .epoch import describe_spec
from .estimators import pseudo_log_likelihood, weighted_mean
from .learners import check_positive, data_bias_values, model_fingerprint, optimizer_fingerprint
from .soft_data import as_training_data
from .state import FitResult, LearnerState


class PLSpec(NamedTuple):
    """Static configuration of a pseudo-likelihood epoch."""

    optimizer: Any
    batch_size: int
    num_examples: int
    groups: tuple[str, ...]
    mesh: Any


def run_pl_epoch(spec: PLSpec, model, state: LearnerState, data: dict, weights=None):
    """One epoch of pseudo-likelihood ascent: ``(state, metrics, finite, None)``."""
    B, N = spec.batch_size, spec.num_examples
    nb = N // B

    def batch_step(carry, inp):
        params, opt_state = carry
        idx = inp
        x = {g: data[g][idx].T for g in spec.groups}
        w = None if weights is None else weights[idx]

        def loss(p):
            return -weighted_mean(pseudo_log_likelihood(model, model.blocked.params(p), x), w)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = spec.optimizer.update(grads, opt_state, params)
        params = constrain_replicated(optax.apply_updates(params, updates), spec.mesh)
        return (params, constrain_replicated(opt_state, spec.mesh)), -value

    key, order, _ = _compile.epoch_randomness(state.key, N, nb, B, 1)
    (params, opt_state), pll = jax.lax.scan(batch_step, (state.params, state.opt_state), order)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    new = state._replace(params=params, opt_state=opt_state, key=key, epoch=state.epoch + 1)
    new = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, state)
    return new, {"pseudo_log_likelihood": jnp.mean(pll)}, finite, None


pl_epoch_program = _compile.jit(
    run_pl_epoch, static_argnums=(0,), donate_argnums=(2,),
    context=lambda spec, *a, **k: (spec.mesh, None),
    store=lambda spec, model, state, *a: describe_spec(spec, state))  # see epoch.py


class PseudoLikelihood(Frozen):
    """Maximum pseudo-likelihood (Besag, 1975) for models without latent groups.

    Args:
        model: a compiled model whose every group is observed in the data.
        optimizer: an optax ``GradientTransformation`` (default ``optax.sgd(0.05)``).
        batch_size: examples per minibatch.
        data_init: initialise the biases from the data marginals on a fresh fit.
        mesh, devices: replicate the parameters over devices (there are no chains).

    ``fit`` has the interface of :meth:`pcdppl.learn.ContrastiveLearner.fit`; the history
    holds ``pseudo_log_likelihood`` (per example) and, with ``validation=``, the exact
    validation log-likelihood where the model can be enumerated.
    """

    BASE_KWARGS = ("mesh", "devices")
    records_chains = False

    def __init__(self, model: Model, *, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, data_init: bool = True):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        check_positive(batch_size=batch_size)
        if optimizer is None:
            optimizer = optax.sgd(0.05)
        if not hasattr(optimizer, "init") or not hasattr(optimizer, "update"):
            raise TypeError("optimizer must be an optax GradientTransformation")
        self.model, self.optimizer = model, optimizer
        self.batch_size, self.data_init = int(batch_size), bool(data_init)

    def _configure_base(self, mesh=None, devices=None) -> None:
        object.__setattr__(self, "mesh", resolve_mesh(mesh, devices))

    def __repr__(self) -> str:
        return f"PseudoLikelihood(batch_size={self.batch_size})"

    def fingerprint(self, key=None) -> dict:
        """What a checkpoint records to recognise this learner (see
        :meth:`pcdppl.learn.ContrastiveLearner.fingerprint`)."""
        fp = {"fingerprint": 2, "learner": type(self).__qualname__,
              **model_fingerprint(self.model), "batch_size": self.batch_size,
              **optimizer_fingerprint(self.optimizer, self.model.param_shapes)}
        if key is not None:
            fp["key"] = str(jax.random.key_impl(_compile.as_key(key)))
        return fp

    def _check_visible(self, groups) -> None:
        latent = [g for g in self.model.groups if g not in groups]
        if latent:
            raise ValueError(f"PseudoLikelihood needs a fully visible model: groups {latent} "
                             f"are not in the data (latent); use a contrastive learner "
                             f"(pp.PCD) for models with latent groups")

    def init_state(self, key, data, init_params=None) -> LearnerState:
        """Fresh state: parameters (model initializers, data biases) and optimiser state."""
        ds = as_training_data(self.model.groups, data)
        self._check_visible(ds)
        key = _compile.as_key(key)
        k_params, k_run = jax.random.split(key)
        if init_params is None:
            params = dict(self.model.init_params(k_params))
            if self.data_init:
                params.update({n: jnp.asarray(v) for n, v in
                               data_bias_values(self.model, ds).items()})
        else:
            self.model.check_params(init_params)
            params = {n: jnp.asarray(p, jnp.float32) for n, p in init_params.items()}
        return LearnerState(params, self.optimizer.init(params), None, k_run,
                            jax.device_put(np.zeros((), np.int32)))

    def run_epoch(self, state, data, visible, num_examples, plan, weights=None):
        self._check_visible(visible)
        spec = PLSpec(self.optimizer, self.batch_size, num_examples, tuple(visible), self.mesh)
        return pl_epoch_program(spec, self.model, state, data, weights)

    def result(self, state: LearnerState, history: dict, recording=None) -> FitResult:
        return FitResult(params=state.params,
                         history={m: np.asarray(v) for m, v in history.items()}, chains={},
                         state=state, learner=self, recording=None)

    def result_from_checkpoint(self, path, data) -> FitResult:
        """The :class:`FitResult` of a finished run saved at ``path`` (nothing is trained)."""
        return self.result(*resume_state(self, path, as_training_data(self.model.groups, data)))

    def fit(self, data, num_epochs: int, key=0, **options) -> FitResult:
        """Fit the model to fully observed ``data`` (see :meth:`ContrastiveLearner.fit`)."""
        return loop.fit(self, data, num_epochs, key, **options)

