"""Do the chains of a sampler mix on a fitted model? Chains from two starts, one verdict.

:func:`mixing` freezes the parameters and runs ``num_chains`` chains from the data and
``num_chains`` from uniformly random states, recording the tracked statistics of
:mod:`pcdppl.diagnostics.statistics` after every ``thin`` transitions (one compiled scan).
Its verdict has

* bulk and tail ESS and rank-normalised split R-hat of every statistic over all chains;
* the integrated autocorrelation time of the energy, ``τ = M N / ESS`` (in recorded draws);
* the **equilibrium test**: chains started at the data and chains started at random must
  estimate the same expectations. For every statistic ``s``,

      z_s = (s̄_data - s̄_random) / sqrt(MCSE_data² + MCSE_random²)

  is approximately standard normal at equilibrium (each MCSE from that half's own ESS), and
  the test fails when some two-sided p-value falls below ``alpha`` divided by the number of
  statistics (Bonferroni). A model whose chains stay near where they started — the data's
  modes on one side, disordered states on the other — fails it (Decelle, Furtlehner and
  Seoane, 2021, on equilibrium and out-of-equilibrium regimes of learned EBMs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from statistics import NormalDist

import jax
import numpy as np

from .._compile import as_key
from ..graph.data import as_dataset
from ..graph.model import Model
from ..samplers import Sampler, check_beta, random_values, resolve_sampler
from . import convergence
from .idata import to_datatree
from .statistics import ChainRecorder

__all__ = ["mixing", "MixingReport"]


@dataclass
class MixingReport:
    """Result of :func:`mixing`.

    Attributes:
        idata: ArviZ ``xarray.DataTree``; ``posterior`` holds the statistics over chains
            ``0..2C-1`` (the first ``C`` data-started when data was given); the chain
            coordinate ``start`` says which.
        table: ``pandas.DataFrame``, one row per statistic: ``mean``, ``ess_bulk``,
            ``ess_tail``, ``r_hat``, ``mcse_mean`` and, with data, ``mean_data``,
            ``mean_random``, ``z`` and ``p_value`` of the equilibrium test.
        iat_energy: integrated autocorrelation time of the energy, in recorded draws.
        equilibrium: whether the equilibrium test passed (``None`` without data).
        converged: all R-hat below ``rhat_threshold`` and the bulk ESS at least
            ``min_ess`` for every statistic, and the equilibrium test (if any) passed.
        problems: sentences naming each failing statistic.
    """

    idata: object
    table: object
    iat_energy: float
    equilibrium: bool | None
    converged: bool
    problems: list = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        eq = {None: "not run (no data)", True: "passed", False: "FAILED"}[self.equilibrium]
        lines = [f"MixingReport: {'mixing looks fine' if self.converged else 'NOT MIXING'}",
                 f"  equilibrium test (data vs random starts): {eq}",
                 f"  integrated autocorrelation time of the energy: {self.iat_energy:.3g} draws",
                 f"  worst R-hat {np.nanmax(self.table['r_hat']):.4g}, smallest bulk ESS "
                 f"{np.nanmin(self.table['ess_bulk']):.4g}"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@partial(jax.jit, static_argnames=("recorder", "num_warmup", "num_samples", "thin"))
def _run_recorded(sampler, recorder, key, params, x, beta, num_warmup, num_samples, thin):
    """Warm up, then record the statistics every ``thin`` transitions: one compiled program."""
    model = sampler.model
    bp = model.blocked.params(params)
    k_init, k_warm, k_draw = jax.random.split(key, 3)
    state = sampler.init_state(k_init, model, bp, x)
    if num_warmup:
        state, _ = sampler.transitions(k_warm, model, bp, state, beta, num_warmup)

    def draw(s, k):
        s, info = sampler.transitions(k, model, bp, s, beta, thin)
        return s, (recorder.statistics(model, bp, s.x), info)

    return jax.lax.scan(draw, state, jax.random.split(k_draw, num_samples))


def _data_starts(model: Model, data, key, num_chains: int) -> dict:
    """``num_chains`` rows of ``data`` (without replacement when there are enough) in the
    blocked layout; groups missing from the data start uniformly random."""
    ds = as_dataset(model.groups, data)
    N = next(iter(ds.values())).shape[0]
    k_rows, k_rand = jax.random.split(key)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_rows)).ravel())
    rows = rng.choice(N, size=num_chains, replace=N < num_chains)
    keys = jax.random.split(k_rand, len(model.groups))
    xb = {}
    for (g, grp), k in zip(model.groups.items(), keys, strict=True):
        if g in ds:
            vals = np.asarray(ds[g])[rows][:, model.layouts[g].host_perm()]
            xb[g] = jax.numpy.asarray(vals.T, np.int8)
        else:
            xb[g] = random_values(k, grp, num_chains)
    return xb


def mixing(model: Model, params, key, *, sampler: Sampler | None = None, num_chains: int = 16,
           num_samples: int = 1000, num_warmup: int = 100, thin: int = 1, data=None,
           track_units=3, beta=1.0, rhat_threshold: float = 1.01, min_ess: float = 100.0,
           alpha: float = 0.01) -> MixingReport:
    """Freeze ``params``, run chains from the data and from random states, and judge mixing.

    Args:
        model, params: the model and its (fitted) parameters.
        key: PRNG key or int seed.
        sampler: any pcdppl sampler built for ``model`` (default :class:`BlockGibbs`).
        num_chains: chains per start (``2·num_chains`` in all with data, else ``num_chains``).
        num_samples: recorded draws per chain; ``num_warmup`` transitions are discarded first
            and ``thin`` transitions separate recorded draws.
        data: ``(N, n)`` array or ``dict[group, (N, n)]``; its rows start the data chains.
        track_units: log-odds units per group (int or ``dict[group, indices]``).
        beta: inverse temperature.
        rhat_threshold, min_ess: convergence thresholds of the verdict.
        alpha: family-wise level of the equilibrium test.

    Returns:
        a :class:`MixingReport`.
    """
    import pandas as pd

    if not isinstance(model, Model):
        raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
    sampler = resolve_sampler(model, sampler, "mixing check")
    for name, v, lo in (("num_chains", num_chains, 2), ("num_samples", num_samples, 4),
                        ("thin", thin, 1), ("num_warmup", num_warmup, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    check_beta(beta)
    model.check_params(params)
    key = as_key(key)
    k_data, k_rand, k_run = jax.random.split(key, 3)
    keys = jax.random.split(k_rand, len(model.groups))
    xb = {g: random_values(k, grp, num_chains)
          for (g, grp), k in zip(model.groups.items(), keys, strict=True)}
    C_data = 0
    if data is not None:
        starts = _data_starts(model, data, k_data, num_chains)
        xb = {g: jax.numpy.concatenate([starts[g], xb[g]], axis=1) for g in model.groups}
        C_data = num_chains
    recorder = ChainRecorder(model, track_units)
    _, (post, stats) = _run_recorded(sampler, recorder, k_run, params, xb, beta,
                                     int(num_warmup), int(num_samples), int(thin))
    post = {k: np.swapaxes(np.asarray(v), 0, 1) for k, v in jax.device_get(post).items()}
    stats = {k: np.swapaxes(np.asarray(v), 0, 1) for k, v in jax.device_get(stats).items()}

    dims, coords = recorder.dims()
    idata = to_datatree(post, stats, dims=dims, coords=coords,
                        attrs={"num_warmup": int(num_warmup), "thin": int(thin),
                               "data_chains": C_data, "sampler": type(sampler).__name__})
    start = np.array(["data"] * C_data + ["random"] * num_chains)
    try:
        idata["posterior"] = idata["posterior"].to_dataset().assign_coords(start=("chain", start))
    except Exception:  # pragma: no cover - depends on the xarray version
        pass

    rows, index, problems = [], [], []
    for name, x in post.items():
        x = x.astype(np.float64)
        cols = {"mean": x.mean(axis=(0, 1)), "ess_bulk": convergence.ess(x, "bulk"),
                "ess_tail": convergence.ess(x, "tail"), "r_hat": convergence.rhat(x),
                "mcse_mean": convergence.mcse(x)}
        if C_data:
            xd, xr = x[:C_data], x[C_data:]
            md, mr = xd.mean(axis=(0, 1)), xr.mean(axis=(0, 1))
            se = np.sqrt(np.nan_to_num(convergence.mcse(xd)) ** 2
                         + np.nan_to_num(convergence.mcse(xr)) ** 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(se > 0, (md - mr) / np.where(se > 0, se, 1.0),
                             np.where(md == mr, 0.0, np.inf))
            cols.update(mean_data=md, mean_random=mr, z=z,
                        p_value=np.vectorize(lambda v: 2 * (1 - NormalDist().cdf(abs(v))))(z))
        for idx in np.ndindex(x.shape[2:]):
            label = name + (f"[{', '.join(map(str, idx))}]" if idx else "")
            row = {k: float(np.asarray(v)[idx]) for k, v in cols.items()}
            index.append(label)
            rows.append(row)
    table = pd.DataFrame(rows, index=index)
    equilibrium = None
    if C_data:
        level = alpha / len(table)
        failing = table.index[table["p_value"] < level]
        equilibrium = len(failing) == 0
        for label in failing:
            r = table.loc[label]
            problems.append(f"{label}: data-started chains average {r['mean_data']:.4g}, "
                            f"random-started {r['mean_random']:.4g} (z = {r['z']:.3g}, "
                            f"p = {r['p_value']:.2g} < {level:.2g})")
    for label, r in table.iterrows():
        if np.isfinite(r["r_hat"]) and r["r_hat"] > rhat_threshold:
            problems.append(f"{label}: R-hat {r['r_hat']:.4g} > {rhat_threshold}")
        if np.isfinite(r["ess_bulk"]) and r["ess_bulk"] < min_ess:
            problems.append(f"{label}: bulk ESS {r['ess_bulk']:.4g} < {min_ess}")
    iat = float(convergence.integrated_autocorr_time(post["energy"]))
    converged = not problems
    return MixingReport(idata=idata, table=table, iat_energy=iat, equilibrium=equilibrium,
                        converged=converged, problems=problems,
                        thresholds={"rhat": rhat_threshold, "min_ess": min_ess, "alpha": alpha})
