"""What a fit carries and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

Array = jax.Array


class LearnerState(NamedTuple):
    """Everything a fit needs to continue: a pytree, so it can be saved and restored.

    Attributes:
        params: the model's parameters.
        opt_state: the optax optimiser state.
        chains: the negative-phase sampler's state (blocked layout).
        key: the PRNG key of the next epoch.
        epoch: epochs done.
        extra: learner-specific state: ``{"ext": the extensions' states (fast weights, chain
            log-weights, ...), "k": transitions per update when adaptive}``, or ``None``.
    """

    params: dict
    opt_state: Any
    chains: Any
    key: Array
    epoch: Array
    extra: Any = None


@dataclass
class FitResult:
    """What a learner's ``fit`` returns.

    Attributes:
        params: fitted parameters.
        history: per-epoch metrics, ``dict[str, ndarray (num_epochs,)]``: ``epoch``,
            ``time`` (seconds since ``fit`` was called, initialisation and compilation
            included, validation excluded), ``free_energy_gap``, ``recon_error`` (models
            with latent groups) or ``pseudo_log_likelihood`` (fully visible models), all
            three under the parameters the epoch ends with on up to 256 of its examples, the
            means of the sampler's per-chain statistics (``info``; for a vector-valued one
            also ``<name>_min``, its smallest entry), what the learner's extensions add
            (``k="auto"``: ``k``, ``iat``, ``iat_updates``; :class:`~pcdppl.JarzynskiPCD`:
            ``ess_fraction``, ``resampled``, ``log_z``), and ``val_log_likelihood`` where a
            validation set was given (NaN on epochs without an evaluation).
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
        ``sample_stats`` the sampler's per-chain statistics (its ``info``)."""
        if self.recording is None:
            raise ValueError("this fit recorded no chain statistics (record_every=0)")
        return self.recording.to_datatree()
