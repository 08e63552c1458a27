"""Deep belief networks: a stack of RBM layers (Hinton, Osindero and Teh, 2006).

A DBN over layers ``h_0 = v, h_1, …, h_L`` of binary units has an undirected top RBM over
``(h_{L-1}, h_L)`` and directed, top-down connections below it:

    p(v, h_1, …, h_L) = p(v | h_1) ⋯ p(h_{L-2} | h_{L-1}) · p_top(h_{L-1}, h_L),
    p(h_{l} | h_{l+1}) = Π_i σ(±(b^{(l)} + W^{(l)} h_{l+1})_i),

where layer ``l`` is an RBM with visible bias ``b^{(l)} = b_v``, hidden bias ``c^{(l)} = b_h``
and weights ``W^{(l)}`` (``n_l × n_{l+1}``). Its up-pass ``Q(h_{l+1} | h_l) = σ(c^{(l)} +
W^{(l)ᵀ} h_l)`` is the recognition model of greedy training. Parameters of a DBN are a list
of per-layer RBM parameter dicts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._compile import as_key
from ..graph.model import Model
from ..models.presets import rbm


class DeepBeliefNet:
    """The structure of a DBN: layer sizes and one RBM :class:`~pcdppl.Model` per layer.

    Attributes:
        sizes: ``(n_visible, n_hidden_1, …, n_hidden_L)``.
        layers: ``L`` RBMs; ``layers[l]`` has groups ``"v"`` (``n_l`` units) and ``"h"``
            (``n_{l+1}``) and parameters ``"W"``, ``"b_v"``, ``"b_h"``.
        shape: the display shape of the visible layer (e.g. ``(28, 28)``) or ``None``.
    """

    def __init__(self, sizes, shape=None):
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"a DBN needs at least two layer sizes, positive ints, got "
                             f"{list(sizes)}")
        self.sizes, self.shape = sizes, tuple(shape) if shape is not None else None
        vis0 = self.shape if self.shape is not None else sizes[0]
        self.layers: tuple[Model, ...] = tuple(
            rbm(vis0 if i == 0 else sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))

    def __repr__(self) -> str:
        return f"DeepBeliefNet(sizes={list(self.sizes)})"

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def top(self) -> Model:
        """The top RBM (the only undirected layer)."""
        return self.layers[-1]

    def init_params(self, key=0) -> list[dict]:
        """Initial parameters of every layer (see :meth:`pcdppl.Model.init_params`)."""
        keys = jax.random.split(as_key(key), len(self.layers))
        return [m.init_params(k) for m, k in zip(self.layers, keys, strict=True)]

    def check_params(self, params) -> None:
        if not isinstance(params, (list, tuple)) or len(params) != len(self.layers):
            raise ValueError(f"DBN parameters must be a list of {len(self.layers)} per-layer "
                             f"dicts, got {type(params).__name__}"
                             f"{f' of length {len(params)}' if hasattr(params, '__len__') else ''}")
        for i, (m, p) in enumerate(zip(self.layers, params, strict=True)):
            try:
                m.check_params(p)
            except (ValueError, KeyError, TypeError) as err:
                raise type(err)(f"layer {i}: {err}") from None


def up_logits(p: dict, x) -> jax.Array:
    """Log-odds of ``Q(h = 1 | v = x)`` for one layer: ``c + xWᵀ``… i.e. ``b_h + x @ W``,
    ``x`` of shape ``(N, n_v)`` (binary or probabilities) -> ``(N, n_h)``."""
    return p["b_h"] + jnp.asarray(x, jnp.float32) @ p["W"]


def down_logits(p: dict, h) -> jax.Array:
    """Log-odds of ``p(v = 1 | h)`` for one layer: ``b_v + h @ Wᵀ`` -> ``(N, n_v)``."""
    return p["b_v"] + jnp.asarray(h, jnp.float32) @ p["W"].T


def dbn(sizes, *, shape=None) -> DeepBeliefNet:
    """A deep belief network of binary units with layer sizes
    ``[n_visible, n_hidden_1, …, n_hidden_L]`` (``shape``: the visible image shape).

    Train it with :class:`pcdppl.DBN` (greedy, layer by layer)."""
    return DeepBeliefNet(sizes, shape)
