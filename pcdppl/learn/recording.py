"""Recording the fantasy chains while a learner runs, without leaving compiled code.

The learner's epoch is one ``lax.scan`` over minibatches. A :class:`RecordPlan` fixes, before
tracing, which minibatch steps of an epoch are recorded; :func:`record_step` evaluates the
tracked statistics (:class:`~pcdppl.diagnostics.ChainRecorder`) and the sampler's ``info``
under ``lax.cond`` (nothing is computed on other steps); the statistics are packed into one
``(C, F)`` array in the order of :meth:`~pcdppl.diagnostics.ChainRecorder.layout`, and the
epoch gathers the recorded rows, so it returns one ``(R, C, F)`` array plus the ``info``
fields. (One array rather than one per statistic: every array the scan stacks and gathers
is a kernel XLA compiles, and compile time is most of a short fit's time.)
:class:`Recording` keeps those arrays on the device and unpacks them once, at the end of
``fit``, into ``(chain, draw, ...)`` arrays for an ArviZ DataTree.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..diagnostics import ChainRecorder, MixingWarning, mixing_problems, to_datatree
from ..sharding import to_host


class RecordPlan(NamedTuple):
    """Static recording plan of one epoch: the recorded minibatch indices and the recorder."""

    rows: tuple[int, ...]
    recorder: ChainRecorder


def record_plan(model, num_batches: int, record_every, track_units=3) -> RecordPlan | None:
    """The plan of an epoch of ``num_batches`` minibatches, or ``None`` (no recording).

    ``record_every``: minibatch steps between recordings, counted from the start of each
    epoch; ``None`` records about 10 times per epoch; ``0`` or ``False`` disables
    recording. A value above the number of minibatches records the last one of each epoch.
    """
    if record_every is None:
        record_every = max(1, num_batches // 10)
    if record_every is False or record_every == 0:
        return None
    if not isinstance(record_every, (int, np.integer)) or record_every < 0:
        raise ValueError(f"record_every must be a non-negative int (minibatch steps) or None, "
                         f"got {record_every!r}")
    r = int(record_every)
    rows = tuple(range(r - 1, num_batches, r)) if r <= num_batches else (num_batches - 1,)
    return RecordPlan(rows, ChainRecorder(model, track_units))


def record_step(plan: RecordPlan, flag, model, bparams, state, info) -> tuple:
    """``(packed statistics float32 (C, F), info as float32)`` of ``state`` where ``flag`` is
    true, zeros otherwise (one ``lax.cond``)."""
    C = next(iter(state.x.values())).shape[1]
    layout = plan.recorder.layout()
    width = sum(int(np.prod(shape)) for _, shape in layout)

    def recorded():
        stats = plan.recorder.statistics(model, bparams, state.x)
        packed = jnp.concatenate([stats[name].reshape(C, -1).astype(jnp.float32)
                                  for name, _ in layout], axis=1)
        return packed, {k: v.astype(jnp.float32) for k, v in info.items()}

    def zeros():
        return (jnp.zeros((C, width), jnp.float32),
                {k: jnp.zeros(v.shape, jnp.float32) for k, v in info.items()})

    return jax.lax.cond(flag, recorded, zeros)


def gather_records(records, plan: RecordPlan):
    """Keep the recorded minibatch steps of an epoch's scan output."""
    rows = np.asarray(plan.rows, np.int32)
    return jax.tree.map(lambda v: v[rows], records)


def unpack(packed: np.ndarray, layout) -> dict:
    """``(C, D, F)`` packed statistics -> ``dict[name, (C, D, ...)]``."""
    C, D = packed.shape[:2]
    out, start = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        out[name] = packed[:, :, start:start + size].reshape(C, D, *shape)
        start += size
    return out


@dataclass
class Recording:
    """Chain statistics recorded during a fit (kept on the device until :meth:`finish`).

    Attributes:
        posterior, sample_stats: ``dict[name, ndarray (chain, draw, ...)]`` once finished.
        dims, coords: ArviZ dimension names and coordinates of the non-scalar statistics.
        attrs: ``record_every`` and minibatches per epoch.
    """

    dims: dict
    coords: dict
    attrs: dict
    layout: tuple = ()  # of the packed statistics (ChainRecorder.layout)
    posterior: dict = field(default_factory=dict)
    sample_stats: dict = field(default_factory=dict)
    pending: list = field(default_factory=list, repr=False)

    @classmethod
    def start(cls, plan: RecordPlan, attrs: dict, previous: Recording | None = None):
        """A recording for epochs recorded with ``plan``, continuing ``previous``."""
        dims, coords = plan.recorder.dims()
        rec = cls(dims=dims, coords=coords, attrs=dict(attrs), layout=plan.recorder.layout())
        if previous is not None and previous.dims == dims and previous.posterior:
            rec.posterior = dict(previous.posterior)  # copies: the earlier fit keeps its own
            rec.sample_stats = dict(previous.sample_stats)
        return rec

    def append(self, epoch_records) -> None:
        """Add one epoch's records: the packed ``(R, C, F)`` statistics and the info."""
        self.pending.append(epoch_records)

    def finish(self) -> Recording:
        """Move the pending records to the host (one transfer) and unpack them into
        ``(chain, draw, ...)`` arrays."""
        if self.pending:
            host = to_host(self.pending)
            self.pending = []
            packed = np.concatenate([h[0] for h in host])  # (draws, C, F)
            new = (unpack(np.swapaxes(packed, 0, 1), self.layout),
                   {k: np.swapaxes(np.concatenate([h[1][k] for h in host]), 0, 1)
                    for k in host[0][1]})
            for part, target in zip(new, (self.posterior, self.sample_stats), strict=True):
                for k, v in part.items():
                    old = target.get(k)
                    target[k] = v if old is None or old.shape[0] != v.shape[0] else \
                        np.concatenate([old, v], axis=1)
        return self

    @property
    def num_draws(self) -> int:
        return next(iter(self.posterior.values())).shape[1] if self.posterior else 0

    def to_datatree(self):
        """The recording as an ArviZ ``xarray.DataTree``."""
        self.finish()
        if not self.posterior:
            raise ValueError("nothing was recorded; fit with record_every > 0")
        return to_datatree(self.posterior, self.sample_stats, dims=self.dims, coords=self.coords,
                           attrs=self.attrs)


def warn_mixing(recording: Recording, *, min_draws: int = 20, stacklevel: int = 3, **kw) -> list:
    """Warn (:class:`~pcdppl.diagnostics.MixingWarning`) about every recorded statistic whose
    chains did not mix over the last half of the recording; returns the messages.

    R-hat is computed without splitting chains here: the parameters move during learning and
    every chain drifts with them, which is not a mixing failure. R-hat and ESS use at most
    ``max_draws`` (default 256) evenly thinned draws per chain, so that the check stays a
    small part of a long fit (see :func:`~pcdppl.diagnostics.mixing_problems`).
    """
    if recording.num_draws < min_draws:
        return []
    kw.setdefault("split", False)
    kw.setdefault("max_draws", 256)
    problems = mixing_problems(recording.posterior, **kw)
    problems.sort(key=lambda p: ("frozen" not in p, "R-hat" not in p))  # the clearest first
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8
                                           else "")
        warnings.warn(f"the fantasy chains did not mix: {shown}. The gradient's negative phase "
                      f"is biased; use more sampler steps per update (k), more chains, a "
                      f"smaller learning rate, or a better-mixing sampler. See "
                      f"fit.diagnostics().", MixingWarning, stacklevel=stacklevel)
    return problems
