"""Greedy layer-wise training of deep belief networks (Hinton, Osindero and Teh, 2006).

Layer ``l`` is an RBM fitted, with any pcdppl learner, to the representation of the data
produced by the layers below: the hidden probabilities ``Q(h_l | h_{l-1})`` of the previous
layer (``propagate="probabilities"``, mean-field data, the common choice) or binary samples
from them (``propagate="samples"``, which is what the variational bound of the DBN
rewards exactly). With ``init="transpose"`` a layer whose top size equals the size below the
previous layer starts as that layer turned upside down, where adding it leaves the bound
unchanged, so training it can only improve the bound (Hinton et al., 2006, §4).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import as_key
from ..graph.data import as_dataset
from ..learn.checkpoint import CheckpointError, checkpoint_epoch, latest_checkpoint
from ..learn.learners import PCD, ContrastiveLearner
from ..learn.soft_data import SoftData
from ..learn.state import FitResult
from ..samplers.driver import sample as pp_sample
from .bound import log_likelihood_bound
from .structure import DeepBeliefNet, down_logits, up_logits


@dataclass
class DBNFit:
    """What :meth:`DBN.fit` returns: ``params`` (per-layer dicts), ``histories`` and the
    per-layer :class:`FitResult` objects in ``layers``."""

    params: list
    histories: list
    layers: list = field(repr=False)
    dbn: DeepBeliefNet = field(repr=False, default=None)


def _transform(params, x, key, upto: int, samples: bool):
    h = jnp.asarray(x, jnp.float32)
    keys = jax.random.split(key, max(upto, 1))
    for i in range(upto):
        p = jax.nn.sigmoid(up_logits(params[i], h))
        h = (jax.random.uniform(keys[i], p.shape) < p).astype(jnp.float32) if samples else p
    return h


_transform_jit = jax.jit(_transform, static_argnums=(3, 4))


class DBN:
    """Greedy layer-wise trainer and generative utilities of a deep belief network.

    Args:
        dbn: a :func:`pcdppl.models.dbn` structure, or the list of layer sizes.
        learner: how to train each layer: a :class:`ContrastiveLearner` subclass (default
            :class:`PCD`), a callable ``model -> learner``, or a list of either, one per
            layer. ``learner_kwargs`` go to a class.
        propagate: ``"probabilities"`` (default) or ``"samples"``: what the next layer is
            trained on.
        init: ``"random"`` (each layer's own initialisation) or ``"transpose"`` (a layer
            whose shape is the transpose of the previous layer's starts from it turned upside
            down, Hinton et al. 2006).
        **learner_kwargs: e.g. ``num_chains``, ``k``, ``batch_size``, ``optimizer``.

    Example::

        net = pp.DBN([784, 500, 500], num_chains=100, batch_size=20)
        fit = net.fit(train, num_epochs=20, key=0)
        x = net.sample(jax.random.key(1), fit.params, num_samples=64)
        features = net.transform(fit.params, train)       # (N, 500)
        bound, info = net.log_likelihood_bound(fit.params, test, key=2)
    """

    def __init__(self, dbn, *, learner=None, propagate: str = "probabilities",
                 init: str = "random", **learner_kwargs):
        self.dbn = dbn if isinstance(dbn, DeepBeliefNet) else DeepBeliefNet(dbn)
        if propagate not in ("probabilities", "samples"):
            raise ValueError(f"propagate must be 'probabilities' or 'samples', got "
                             f"{propagate!r}")
        if init not in ("random", "transpose"):
            raise ValueError(f"init must be 'random' or 'transpose', got {init!r}")
        L = len(self.dbn)
        specs = list(learner) if isinstance(learner, (list, tuple)) else [learner] * L
        if len(specs) != L:
            raise ValueError(f"got {len(specs)} learners for {L} layers")
        self.learners = []
        for i, (spec, model) in enumerate(zip(specs, self.dbn.layers, strict=True)):
            spec = PCD if spec is None else spec
            if isinstance(spec, type) and issubclass(spec, ContrastiveLearner):
                lrn = spec(model, **learner_kwargs)
            elif callable(spec):
                lrn = spec(model)
            else:
                raise TypeError(f"learner for layer {i} must be a learner class or a callable "
                                f"model -> learner, got {type(spec).__name__}")
            if not isinstance(lrn, ContrastiveLearner) or lrn.model is not model:
                raise TypeError(f"the learner for layer {i} must be a pcdppl learner built for "
                                f"dbn.layers[{i}]")
            if propagate == "probabilities" and i > 0 and not lrn.persistent:
                raise ValueError("training on probabilities needs persistent chains (PCD); "
                                 "with CD-k use propagate='samples'")
            self.learners.append(lrn)
        self.propagate, self.init = propagate, init

    def __repr__(self) -> str:
        return (f"DBN(sizes={list(self.dbn.sizes)}, propagate={self.propagate!r}, "
                f"learners={self.learners})")

    # ------------------------------------------------------------------ training
    def fit(self, data, num_epochs, key=0, *, progress: bool = True,
            checkpoint_dir=None, resume=None, **fit_kwargs) -> DBNFit:
        """Train the layers bottom-up.

        Args:
            data: ``(N, n_visible)`` binary examples.
            num_epochs: epochs per layer (an int, or a list with one per layer).
            key: PRNG key or int seed.
            checkpoint_dir: checkpoints of layer ``l`` go to ``checkpoint_dir/layer{l}``.
            resume: the ``checkpoint_dir`` of an earlier call that was interrupted (or a
                layer folder or checkpoint file inside it). Layers whose latest checkpoint
                has reached their epoch count are loaded, not trained; the layer that was
                interrupted continues from its latest checkpoint, and the layers above it
                are trained. Pass the same data, structure, learners and ``key`` as the
                interrupted call: the result is then the one it would have given.
            **fit_kwargs: further arguments of :meth:`ContrastiveLearner.fit`.

        Returns:
            a :class:`DBNFit`.
        """
        L = len(self.dbn)
        epochs = list(num_epochs) if isinstance(num_epochs, (list, tuple)) else [num_epochs] * L
        if len(epochs) != L:
            raise ValueError(f"got {len(epochs)} epoch counts for {L} layers")
        if "init_params" in fit_kwargs:
            raise TypeError("DBN.fit sets each layer's init_params itself (see init=)")
        root = None if resume is None else _checkpoint_root(resume)
        x = as_dataset(self.dbn.layers[0].groups, data)["v"]
        keys = jax.random.split(as_key(key), 2 * L)
        fits: list[FitResult] = []
        layer_data = x
        for i, lrn in enumerate(self.learners):
            init_params = self.transposed(fits[-1].params) if (
                self.init == "transpose" and i > 0 and self.dbn.sizes[i + 1] ==
                self.dbn.sizes[i - 1]) else None
            kw = dict(fit_kwargs)
            if checkpoint_dir is not None:
                kw["checkpoint_dir"] = os.path.join(os.fspath(checkpoint_dir), f"layer{i}")
            train = SoftData(layer_data) if layer_data.dtype.kind == "f" else layer_data
            saved = None if root is None else latest_checkpoint(os.path.join(root, f"layer{i}"))
            done = None if saved is None else checkpoint_epoch(saved)
            if done is not None and done > epochs[i]:
                raise CheckpointError(f"{saved}: layer {i} is already at epoch {done}, beyond "
                                      f"its {epochs[i]} epochs; resume with the epoch counts "
                                      f"of the interrupted run")
            if done == epochs[i]:  # finished before the interruption: load it
                fits.append(lrn.result_from_checkpoint(saved, train))
            else:
                fits.append(lrn.fit(train, epochs[i], keys[2 * i], progress=progress,
                                    init_params=init_params, resume=saved, **kw))
            if i < L - 1:
                h = _transform_jit([fits[-1].params], layer_data, keys[2 * i + 1], 1,
                                   self.propagate == "samples")
                h = np.asarray(h)
                layer_data = h.astype(np.int8) if self.propagate == "samples" else h
        return DBNFit([f.params for f in fits], [f.history for f in fits], fits, self.dbn)

    @staticmethod
    def transposed(p: dict) -> dict:
        """An RBM layer's parameters turned upside down (visible and hidden swapped)."""
        return {"W": jnp.asarray(p["W"]).T, "b_v": jnp.asarray(p["b_h"]),
                "b_h": jnp.asarray(p["b_v"])}

    # ------------------------------------------------------------------ using the model
    def transform(self, params, data, *, layer: int | None = None, samples: bool = False,
                  key=0) -> np.ndarray:
        """Features of ``data`` at hidden layer ``layer`` (default: the top): the up-pass
        probabilities ``Q(h_l | h_{l-1})`` (or binary samples with ``samples=True``).
        Returns ``(N, n_layer)``."""
        params = _params(params)
        self.dbn.check_params(params)
        L = len(self.dbn)
        layer = L if layer is None else layer
        if not 1 <= layer <= L:
            raise ValueError(f"layer must be in 1..{L}, got {layer}")
        x = as_dataset(self.dbn.layers[0].groups, data)["v"]
        return np.asarray(_transform_jit(list(params[:layer]), x, as_key(key), layer,
                                         bool(samples)))

    def sample(self, key, params, num_samples: int = 64, *, num_gibbs: int = 1000,
               init=None, probabilities: bool = False) -> np.ndarray:
        """Samples of the visible layer: ``num_gibbs`` block-Gibbs sweeps in the top RBM
        (from random states, or from the up-pass of ``init`` data), then one directed
        down-pass through the lower layers. Returns ``(num_samples, n_visible)`` ``int8``
        (or the last layer's probabilities with ``probabilities=True``)."""
        params = _params(params)
        self.dbn.check_params(params)
        k_top, k_down, k_init = jax.random.split(as_key(key), 3)
        L = len(self.dbn)
        start = None
        if init is not None:
            x = as_dataset(self.dbn.layers[0].groups, init)["v"]
            if len(x) != num_samples:
                raise ValueError(f"init holds {len(x)} examples; num_samples={num_samples}")
            k_below, k_top_h = jax.random.split(k_init)
            hv = _transform_jit(list(params[:L - 1]), x, k_below, L - 1, True)
            top_h = _transform_jit([params[-1]], hv, k_top_h, 1, True)
            start = {"v": np.asarray(hv, np.int8), "h": np.asarray(top_h, np.int8)}
        draws = pp_sample(k_top, self.dbn.top, params[-1], num_chains=num_samples,
                          num_samples=1, num_warmup=num_gibbs, init=start)
        return np.asarray(_down(self.dbn, list(params), draws["v"][:, -1], k_down,
                                bool(probabilities)))

    def log_likelihood_bound(self, params, data, key=0, *, num_samples: int = 10,
                             per_example: bool = False, **ais_options):
        """The variational lower bound of ``log p(v)`` (Salakhutdinov and Murray, 2008); see
        :func:`pcdppl.dbn.log_likelihood_bound`."""
        return log_likelihood_bound(self.dbn, _params(params), data, key,
                                        num_samples=num_samples, per_example=per_example,
                                        **ais_options)


def _checkpoint_root(path) -> str:
    """The DBN checkpoint folder (the one holding ``layer0/``...) from it, a layer folder in
    it or a checkpoint file in one of those."""
    root = os.path.normpath(os.fspath(path))
    if os.path.isfile(root):
        root = os.path.dirname(root)
    if re.fullmatch(r"layer\d+", os.path.basename(root)):
        root = os.path.dirname(root)
    if not os.path.isdir(os.path.join(root, "layer0")):
        raise CheckpointError(f"{os.fspath(path)}: not a DBN checkpoint folder (expected "
                              f"layer0/, layer1/, ... inside, as DBN.fit(checkpoint_dir=...) "
                              f"writes)")
    return root


def _params(params):
    return params.params if isinstance(params, DBNFit) else params


@jax.jit
def _down_step(p, h, u):
    prob = jax.nn.sigmoid(down_logits(p, h))
    return prob, (u < prob).astype(jnp.float32)


def _down(dbn: DeepBeliefNet, params, top_v, key, probabilities: bool):
    """Directed down-pass from the top RBM's visible layer to the data layer."""
    h = jnp.asarray(top_v, jnp.float32)
    prob = h
    for i in range(len(dbn) - 2, -1, -1):
        key, k = jax.random.split(key)
        prob, h = _down_step(params[i], h, jax.random.uniform(k, (h.shape[0],
                                                                  dbn.sizes[i])))
    return prob if probabilities else h.astype(jnp.int8)
