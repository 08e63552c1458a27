"""Run folders: the data, model and parameters of a fitted run, and the files it holds.

A *run folder* holds everything about one fitted model::

    run/
      config.json        the resolved configuration (data, model, learner, fit)
      params.npz         fitted parameters (DBN: ``layer0/W``, ``layer0/b_v``, ...)
      history.csv        per-epoch metrics (DBN: history-layer0.csv, ...)
      history.png        learning curves
      samples.png        samples from the model (image data, 2-D lattices)
      checkpoints/       learner checkpoints (last epoch, Ctrl-C, ``--checkpoint-every``)
      evaluation.json    written by ``evaluate``
      diagnostics.nc     written by ``diagnose`` (and ``fit``): ArviZ DataTree as netCDF
      trace.png          chain-energy traces
"""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from .. import diagnostics
from ..dbn.training import DBN
from ..diagnostics.plots import pyplot
from ..samplers.driver import sample
from .config import with_defaults
from .inputs import build_model, load_data


def draw_samples(kind: str, model, params, *, seed: int, num_samples: int,
                 warmup: int) -> np.ndarray:
    """``(num_samples, n)`` samples of the visible units (an Ising or Potts model: all
    units): the state of independent chains after ``warmup`` sweeps (a DBN: Gibbs in the
    top RBM, then a down-pass)."""
    if kind == "dbn":
        return np.asarray(DBN(model).sample(seed, params, num_samples, num_gibbs=warmup))
    group = "v" if kind == "rbm" else "s"
    draws = sample(seed, model, params, num_chains=num_samples, num_samples=1,
                   num_warmup=warmup)
    return np.asarray(draws[group][:, -1])


def save_params(path: str, kind: str, params) -> None:
    """Write fitted parameters (atomically) as ``.npz``."""
    if kind == "dbn":
        flat = {f"layer{i}/{n}": np.asarray(v) for i, p in enumerate(params)
                for n, v in p.items()}
    else:
        flat = {n: np.asarray(v) for n, v in params.items()}
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **flat)
    os.replace(tmp, path)


def load_run(folder: str):
    """``(cfg, kind, model, params, data)`` of a run folder written by ``fit``."""
    cfg_path, par_path = os.path.join(folder, "config.json"), os.path.join(folder, "params.npz")
    for p in (cfg_path, par_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{folder} is not a run folder: {os.path.basename(p)} is "
                                    f"missing (run 'pcdppl fit' first)")
    try:
        with open(cfg_path) as f:
            cfg = with_defaults(json.load(f))
    except json.JSONDecodeError as err:
        raise ValueError(f"{cfg_path}: corrupted ({err})") from None
    data = load_data(cfg)
    kind, model = build_model(cfg, data)
    try:
        with np.load(par_path, allow_pickle=False) as f:
            flat = {k: jnp.asarray(f[k]) for k in f.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{par_path}: truncated or corrupted ({err})") from None
    if kind == "dbn":
        params = [{n: flat.get(f"layer{i}/{n}") for n in m.param_shapes}
                  for i, m in enumerate(model.layers)]
        missing = [f"layer{i}/{n}" for i, p in enumerate(params) for n, v in p.items()
                   if v is None]
        if missing:
            raise ValueError(f"{par_path}: missing parameters {missing}")
        model.check_params(params)
    else:
        params = flat
        model.check_params(params)
    return cfg, kind, model, params, data


def write_history(path: str, history: dict) -> None:
    """A fit's history as CSV, one column per metric."""
    cols = list(history)
    table = np.column_stack([np.asarray(history[c], dtype=float) for c in cols])
    np.savetxt(path, table, delimiter=",", header=",".join(cols), comments="", fmt="%.6g")


def try_plot(fn, *args, **kwargs) -> bool:
    try:
        fn(*args, **kwargs)
        return True
    except ImportError:  # matplotlib is an optional extra
        return False


def chain_energy_diagnostics(energies):
    """ESS (bulk and tail) and rank-normalised split R-hat of chain energies
    (:mod:`pcdppl.diagnostics`).

    Args:
        energies: ``(num_chains, num_draws)`` energies ``E(x)`` of the sampled states.

    Returns:
        ``(summary, tree)``: ``summary = {"ess_bulk", "ess_tail", "r_hat"}`` (floats) and the
        ArviZ ``DataTree`` (posterior ``chain_energy``; the name ``energy`` is avoided because
        ArviZ reads it as HMC energy).
    """
    e = np.asarray(energies, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 4:
        raise ValueError(f"need energies of shape (chains >= 2, draws >= 4), got {e.shape}")
    tree = diagnostics.to_datatree({"chain_energy": e})
    table = diagnostics.summary(tree, use_arviz=False)
    row = table.loc["chain_energy"]
    summary = {"ess_bulk": float(row["ess_bulk"]), "ess_tail": float(row["ess_tail"]),
               "r_hat": float(row["r_hat"])}
    return summary, tree


def run_diagnostics(folder: str, kind: str, model, params, *, chains: int, draws: int,
                    warmup: int, seed: int) -> dict:
    """Sample ``chains`` chains from the model (the top RBM of a DBN), compute the energy
    diagnostics, write ``diagnostics.nc`` and ``trace.png``; return the summary."""
    top, p = (model.top, params[-1]) if kind == "dbn" else (model, params)
    x = sample(jax.random.key(seed), top, p, num_chains=chains, num_samples=draws,
                  num_warmup=warmup)
    e = np.asarray(top.energy(p, x))  # (chains, draws)
    summary, tree = chain_energy_diagnostics(e)
    write_netcdf(tree, os.path.join(folder, "diagnostics.nc"))
    try_plot(plot_trace, e, os.path.join(folder, "trace.png"))
    with open(os.path.join(folder, "diagnostics.json"), "w") as f:
        json.dump({**summary, "chains": chains, "draws": draws, "warmup": warmup}, f, indent=2)
    return summary


def write_netcdf(tree, path: str) -> str:
    """Write an ArviZ ``DataTree`` as netCDF: netCDF-4 with its groups where ``h5netcdf`` or
    ``netCDF4`` is installed (the ``netcdf`` extra), else a netCDF-3 file (SciPy) of its
    ``posterior`` group. Returns the format written."""
    tmp = path + ".tmp"
    if any(importlib.util.find_spec(m) for m in ("h5netcdf", "netCDF4")):
        tree.to_netcdf(tmp)
        fmt = "netcdf4"
    else:
        ds = tree["posterior"].to_dataset()
        ds.attrs = {k: (",".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
                    for k, v in ds.attrs.items()}  # netCDF-3 attributes are scalars/strings
        ds.to_netcdf(tmp, engine="scipy")
        fmt = "netcdf3"
    os.replace(tmp, path)
    return fmt


def plot_trace(e, path: str) -> None:
    """Chain energies against draws, one line per chain, saved to ``path``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    for c in range(e.shape[0]):
        ax.plot(e[c], lw=0.6)
    ax.set_xlabel("draw")
    ax.set_ylabel("energy E(x)")
    ax.set_title("chain energies")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


