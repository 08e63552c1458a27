"""Continuous functionals of chain states, tracked to judge mixing (jit-able, blocked layout).

Binary units make poor mixing statistics (a stuck unit has ESS = N and R-hat NaN in ArviZ),
so pcdppl tracks continuous functionals of each chain ``c``:

* ``energy``: ``E(x_c)``;
* ``mean_<group>``: the mean activation ``(1/n) Σ_i x_{c,i}`` of a binary group, the
  magnetisation of a spin group, or the fraction of units in each state of a categorical
  group (a vector over ``<group>_state``);
* ``logodds_<group>``: the log-odds of a few chosen units given the rest of the chain,
  ``Δ_i = -E(x_i = on) + E(x_i = off)`` (for categorical units the log-odds of state 0).

:class:`ChainRecorder` evaluates them inside compiled code (the learner's epoch scan, the
:func:`~pcdppl.diagnostics.mixing` run); the sampler's own statistics come from the ``info``
its transitions return. A recorder is hashable configuration (no arrays): compiled programs
take it as a static argument and the model as an ordinary one.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.model import Model

Array = jax.Array


def default_units(model: Model, per_group: int = 3) -> dict[str, np.ndarray]:
    """Evenly spaced units of every group (user order): ``dict[group, int array]``."""
    if not isinstance(per_group, (int, np.integer)) or per_group < 0:
        raise ValueError(f"track_units must be a non-negative int or a dict of unit indices, "
                         f"got {per_group!r}")
    out = {}
    for g, grp in model.groups.items():
        k = min(int(per_group), grp.size)
        out[g] = np.unique(np.linspace(0, grp.size - 1, k).round().astype(np.int64)) if k else \
            np.zeros((0,), np.int64)
    return out


def resolve_units(model: Model, units) -> dict[str, np.ndarray]:
    """``units``: an int (that many evenly spaced units per group) or ``dict[group, indices]``."""
    if isinstance(units, Mapping):
        unknown = [g for g in units if g not in model.groups]
        if unknown:
            raise KeyError(f"track_units names unknown group {unknown[0]!r}; the model's groups "
                           f"are {list(model.groups)}")
        out = {g: np.zeros((0,), np.int64) for g in model.groups}
        for g, idx in units.items():
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            n = model.groups[g].size
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"track_units[{g!r}] has indices outside 0..{n - 1}")
            out[g] = idx
        return out
    return default_units(model, units)


class ChainRecorder:
    """Computes the tracked statistics of a batch of chains.

    Args:
        model: the compiled model.
        units: log-odds units per group, as :func:`resolve_units` accepts (default 3 each).

    ``recorder.statistics(model, bparams, x)`` returns ``dict[name, array]`` with the chain
    axis first (``(C,)`` or ``(C, k)``), ready to stack along draws.
    """

    def __init__(self, model: Model, units=3):
        resolved = resolve_units(model, units)
        self.groups = tuple(model.groups.values())
        self.units = tuple((g, tuple(int(i) for i in idx)) for g, idx in resolved.items())
        # blocked row of every tracked unit: user unit i sits at row inv[i]
        self.rows = tuple((g, tuple(int(r) for r in model.layouts[g].host_inv()[list(idx)]))
                          for g, idx in self.units)

    def _key(self):
        return (self.groups, self.units, self.rows)

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return isinstance(other, ChainRecorder) and self._key() == other._key()

    def statistics(self, model: Model, bparams, x) -> dict[str, Array]:
        """``energy`` ``(C,)``, ``mean_<g>`` ``(C,)`` or ``(C, k)``, ``logodds_<g>`` ``(C, r)``."""
        out = {"energy": model.blocked.energy(bparams, x)}
        for g, grp in model.groups.items():
            v = x[g]
            if grp.is_categorical:
                states = jnp.arange(grp.num_states, dtype=v.dtype)
                out[f"mean_{g}"] = (v[:, :, None] == states).astype(jnp.float32).mean(axis=0)
            else:
                out[f"mean_{g}"] = v.astype(jnp.float32).mean(axis=0)
        for g, rows in self.rows:
            if not rows:
                continue
            loc = model.blocked.local_logits(bparams, x, g, np.asarray(rows, np.int32))
            if model.groups[g].is_categorical:  # log-odds of state 0 against the rest
                loc = loc[:, 0] - jax.nn.logsumexp(loc[:, 1:], axis=1)
            out[f"logodds_{g}"] = loc.T  # (C, r)
        return out

    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """``((name, per-chain shape), ...)`` of :meth:`statistics`, in its order."""
        out = [("energy", ())]
        out += [(f"mean_{g.name}", (g.num_states,) if g.is_categorical else ())
                for g in self.groups]
        out += [(f"logodds_{g}", (len(rows),)) for g, rows in self.rows if rows]
        return tuple(out)

    def dims(self) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
        """ArviZ ``dims`` and ``coords`` of the non-scalar statistics."""
        dims, coords = {}, {}
        units = dict(self.units)
        for grp in self.groups:
            g = grp.name
            if grp.is_categorical:
                dims[f"mean_{g}"] = [f"{g}_state"]
                coords[f"{g}_state"] = np.arange(grp.num_states)
            if units[g]:
                dims[f"logodds_{g}"] = [f"{g}_unit"]
                coords[f"{g}_unit"] = np.asarray(units[g], np.int64)
        return dims, coords
