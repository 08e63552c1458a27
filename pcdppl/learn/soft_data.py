"""Real-valued ("soft") training data for binary visible units.

Greedy training of a deep belief network may feed the next layer the hidden *probabilities*
of the layer below rather than binary samples (Hinton, Osindero and Teh, 2006). The free
energy of an RBM is defined for ``v ∈ [0, 1]^n`` and the contrastive gradient
``mean ∇F(v_data) − E_model[∇F(v)]`` then fits the model to the mean-field data. Wrapping an
array in :class:`SoftData` tells :meth:`ContrastiveLearner.fit` to keep it as ``float32``
instead of validating it as binary.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..graph.data import as_dataset, default_visible


class SoftData:
    """Probabilities in [0, 1] for binary groups: ``SoftData(array)`` (the default visible
    group) or ``SoftData({group: array})``."""

    def __init__(self, data):
        self.data = data


def as_training_data(groups: Mapping, data) -> dict[str, np.ndarray]:
    """``as_dataset`` for ordinary data; ``float32`` arrays checked to lie in [0, 1] (binary
    groups only) for :class:`SoftData`."""
    if not isinstance(data, SoftData):
        return as_dataset(groups, data)
    d = data.data if isinstance(data.data, Mapping) else {default_visible(groups): data.data}
    out, n = {}, None
    for g, x in d.items():
        if g not in groups:
            raise KeyError(f"unknown group {g!r} in data; the model's groups are {list(groups)}")
        grp = groups[g]
        if grp.kind != "binary":
            raise ValueError(f"SoftData needs binary units; group {g!r} is {grp.kind}")
        a = np.asarray(x, dtype=np.float32)
        if a.ndim != 2 or a.shape[1] != grp.size or a.shape[0] == 0:
            raise ValueError(f"data[{g!r}] must have shape (num_examples, {grp.size}), got "
                             f"{a.shape}")
        if not np.all((a >= 0) & (a <= 1)):
            raise ValueError(f"data[{g!r}]: probabilities must lie in [0, 1] (no NaN)")
        if n is not None and a.shape[0] != n:
            raise ValueError("data: groups have different numbers of examples")
        n = a.shape[0]
        out[g] = a
    return out
