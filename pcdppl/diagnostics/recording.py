"""Recording the fantasy chains while a learner runs, without leaving compiled code.

The learner's epoch is one ``lax.scan`` over minibatches. :func:`record_plan` fixes, at
trace time, which minibatch steps of an epoch are recorded; :func:`record_step` evaluates
the tracked statistics under ``lax.cond`` (nothing is computed on other steps) and packs
them into one ``(C, F)`` array, and the epoch gathers the recorded rows, so each epoch
returns a single ``(num_records, C, F)`` device array. (One array rather than one per
statistic: every array the scan stacks and gathers is a kernel XLA compiles, and compile
time is most of a short fit's time.) :class:`Recording` keeps those arrays on the device
and unpacks them once, at the end of ``fit``, into per-statistic arrays for an ArviZ
DataTree (chain = particle, draw = recording).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .statistics import ChainRecorder, resolve_units


def record_plan(model, num_batches: int, record_every, track_units=3):
    """Static recording plan of one epoch: ``None`` (no recording) or a hashable
    ``(rows, units)`` with the recorded minibatch indices and the log-odds units.

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
    units = resolve_units(model, track_units)
    return rows, tuple((g, tuple(int(i) for i in idx)) for g, idx in units.items())


def make_recorder(model, plan):
    """The :class:`ChainRecorder` and per-minibatch flags of a plan (``None`` if none)."""
    if plan is None:
        return None, None
    rows, units = plan
    return ChainRecorder(model, {g: np.asarray(i, np.int64) for g, i in units}), rows


def _layout(shapes) -> tuple:
    """``(part, name, per-chain shape, dtype)`` of every statistic in the packed order."""
    return tuple((part, name, tuple(s.shape[1:]), np.dtype(s.dtype))
                 for part, stats in enumerate(shapes) for name, s in stats.items())


def record_step(recorder, flag, bp, state):
    """Tracked statistics of ``state`` packed into one ``(C, F)`` array when ``flag`` is
    true, zeros otherwise (one ``lax.cond``: nothing is evaluated on steps that are not
    recorded). Sets ``recorder.layout``, which :meth:`Recording.finish` unpacks with."""
    shapes = jax.eval_shape(recorder, bp, state)
    layout = recorder.layout = _layout(shapes)
    C = next(iter(state.x.values())).shape[1]
    dtype = jnp.result_type(*(d for *_, d in layout)) if layout else jnp.float32
    width = sum(int(np.prod(shape)) for _, _, shape, _ in layout)

    def packed():
        stats = recorder(bp, state)
        return jnp.concatenate([stats[part][name].reshape(C, -1).astype(dtype)
                                for part, name, *_ in layout], axis=1)

    return jax.lax.cond(flag, packed, lambda: jnp.zeros((C, width), dtype))


def gather_records(records, rows):
    """Keep the recorded minibatch steps of an epoch's scan output."""
    return records[np.asarray(rows, np.int32)]


def unpack(packed: np.ndarray, layout) -> tuple[dict, dict]:
    """``(C, D, F)`` packed records -> ``(posterior, sample_stats)`` dicts of
    ``(C, D, ...)`` arrays in their own dtypes."""
    C, D = packed.shape[:2]
    parts: tuple[dict, dict] = ({}, {})
    start = 0
    for part, name, shape, dtype in layout:
        size = int(np.prod(shape))
        parts[part][name] = packed[:, :, start:start + size].reshape(C, D, *shape).astype(dtype)
        start += size
    return parts


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
    posterior: dict = field(default_factory=dict)
    sample_stats: dict = field(default_factory=dict)
    _pending: list = field(default_factory=list, repr=False)
    _recorder: ChainRecorder | None = field(default=None, repr=False)

    @classmethod
    def start(cls, recorder: ChainRecorder, attrs: dict, previous: Recording | None = None):
        """A recording of the packed records that ``recorder`` (the one the epoch program
        was traced with: its ``layout`` unpacks them) produces."""
        dims, coords = recorder.dims()
        rec = cls(dims=dims, coords=coords, attrs=dict(attrs), _recorder=recorder)
        if previous is not None and previous.dims == dims and previous.posterior:
            rec.posterior = dict(previous.posterior)  # copies: the earlier fit keeps its own
            rec.sample_stats = dict(previous.sample_stats)
        return rec

    def append(self, epoch_records) -> None:
        """Add one epoch's packed ``(R, C, F)`` device array."""
        self._pending.append(epoch_records)

    def finish(self) -> Recording:
        """Move the pending records to the host (one transfer for the whole fit) and unpack
        them into per-statistic arrays."""
        if self._pending:
            from ..sharding import to_host

            packed = np.concatenate(to_host(self._pending))  # (draws, C, F)
            self._pending = []
            new = unpack(np.swapaxes(packed, 0, 1), self._recorder.layout)
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
        from .idata import to_datatree

        self.finish()
        if not self.posterior:
            raise ValueError("nothing was recorded; fit with record_every > 0")
        return to_datatree(self.posterior, self.sample_stats, dims=self.dims,
                           coords=self.coords, attrs=self.attrs)


def warn_mixing(recording: Recording, *, min_draws: int = 20, stacklevel: int = 3, **kw) -> list:
    """Warn (:class:`~pcdppl.diagnostics.MixingWarning`) about every recorded statistic whose
    chains did not mix over the last half of the recording; returns the messages.

    R-hat is computed without splitting chains here: the parameters move during learning and
    every chain drifts with them, which is not a mixing failure. R-hat and ESS use at most
    ``max_draws`` (default 256) evenly thinned draws per chain, so that the check stays a
    small part of a long fit (see :func:`~pcdppl.diagnostics.mixing_problems`).
    """
    import warnings

    from .idata import MixingWarning, mixing_problems

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
