"""The ``fit``, ``sample``, ``evaluate`` and ``diagnose`` commands of ``pcdppl``.

A *run folder* holds everything about one fitted model::

    run/
      config.json        the resolved configuration (data, model, learner, fit)
      params.npz         fitted parameters (DBN: ``layer0/W``, ``layer0/b_v``, ...)
      history.csv        per-epoch metrics (DBN: history-layer0.csv, ...)
      history.png        learning curves
      samples.png        samples from the model (image data)
      checkpoints/       learner checkpoints (last epoch, Ctrl-C, ``--checkpoint-every``)
      evaluation.json    written by ``evaluate``
      diagnostics.nc     written by ``diagnose`` (and ``fit``): ArviZ DataTree as netCDF
      trace.png          chain-energy traces

Configuration comes from a TOML file (``--config``), overridden by command-line flags; see
``docs/cli.md`` for the format.
"""

from __future__ import annotations

import copy
import json
import os
import time

DEFAULTS = {
    "out": "runs/fit",
    "seed": 0,
    "data": {"source": "digits", "threshold": None},
    "model": {"kind": "rbm", "hidden": 16, "layers": None},
    "learner": {"kind": "pcd", "num_chains": 100, "k": 1, "batch_size": 20,
                "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.0,
                "propagate": "probabilities"},
    "fit": {"epochs": 20, "checkpoint_every": None},
}


class UsageError(ValueError):
    """Bad configuration or flags: the command exits with status 2."""


# ----------------------------------------------------------------------------- config
def load_config(path: str | None) -> dict:
    """The defaults updated with a TOML file; unknown sections or keys are usage errors."""
    import tomllib

    cfg = copy.deepcopy(DEFAULTS)
    if path is None:
        return cfg
    try:
        with open(path, "rb") as f:
            user = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"no such config file: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: invalid TOML ({err})") from None
    for key, value in user.items():
        if key not in cfg:
            raise UsageError(f"{path}: unknown setting {key!r}; known: {sorted(cfg)}")
        if isinstance(cfg[key], dict):
            if not isinstance(value, dict):
                raise UsageError(f"{path}: [{key}] must be a table")
            for k, v in value.items():
                if k not in cfg[key]:
                    raise UsageError(f"{path}: unknown setting {key}.{k}; known: "
                                     f"{sorted(cfg[key])}")
                cfg[key][k] = v
        else:
            cfg[key] = value
    return cfg


def apply_flags(cfg: dict, args) -> dict:
    """Flags given on the command line override the config."""
    flags = {("out",): args.out, ("seed",): args.seed, ("data", "source"): args.data,
             ("data", "threshold"): args.threshold, ("model", "kind"): args.model,
             ("model", "hidden"): args.hidden, ("model", "layers"): args.layers,
             ("learner", "kind"): args.learner, ("learner", "num_chains"): args.chains,
             ("learner", "k"): args.k, ("learner", "batch_size"): args.batch_size,
             ("learner", "optimizer"): args.optimizer,
             ("learner", "learning_rate"): args.learning_rate,
             ("learner", "momentum"): args.momentum, ("learner", "propagate"): args.propagate,
             ("fit", "epochs"): args.epochs, ("fit", "checkpoint_every"): args.checkpoint_every}
    for path, value in flags.items():
        if value is not None:
            d = cfg
            for p in path[:-1]:
                d = d[p]
            d[path[-1]] = value
    _check_config(cfg)
    return cfg


def _check_config(cfg: dict) -> None:
    m, lr, f = cfg["model"], cfg["learner"], cfg["fit"]
    if m["kind"] not in ("rbm", "dbn"):
        raise UsageError(f"model.kind must be 'rbm' or 'dbn', got {m['kind']!r}")
    if m["kind"] == "dbn":
        layers = m["layers"]
        if (not isinstance(layers, list) or len(layers) < 2
                or not all(isinstance(n, int) and n > 0 for n in layers)):
            raise UsageError("a DBN needs model.layers = [n_visible, n_hidden_1, ...] "
                             "(positive ints; --layers 64,32,16)")
    elif not isinstance(m["hidden"], int) or m["hidden"] < 1:
        raise UsageError(f"model.hidden must be a positive int, got {m['hidden']!r}")
    if lr["kind"] not in ("pcd", "cd"):
        raise UsageError(f"learner.kind must be 'pcd' or 'cd', got {lr['kind']!r}")
    if lr["optimizer"] not in ("sgd", "adam"):
        raise UsageError(f"learner.optimizer must be 'sgd' or 'adam', got {lr['optimizer']!r}")
    if lr["propagate"] not in ("probabilities", "samples"):
        raise UsageError("learner.propagate must be 'probabilities' or 'samples'")
    for sec, key in (("learner", "num_chains"), ("learner", "k"), ("learner", "batch_size"),
                     ("fit", "epochs")):
        v = cfg[sec][key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise UsageError(f"{sec}.{key} must be a positive int, got {v!r}")
    ce = f["checkpoint_every"]
    if ce is not None and (not isinstance(ce, int) or ce < 1):
        raise UsageError(f"fit.checkpoint_every must be a positive int, got {ce!r}")
    if not isinstance(lr["learning_rate"], (int, float)) or not lr["learning_rate"] > 0:
        raise UsageError(f"learner.learning_rate must be positive, got {lr['learning_rate']!r}")


# ----------------------------------------------------------------------------- pieces
def load_data(cfg: dict):
    import pcdppl as pp

    kwargs = {}
    if cfg["data"]["threshold"] is not None:
        kwargs["threshold"] = cfg["data"]["threshold"]
    return pp.data.load(cfg["data"]["source"], **kwargs)


def build_model(cfg: dict, data):
    """``(kind, model)``: an RBM :class:`~pcdppl.Model` or a DBN structure."""
    import pcdppl as pp

    n_v = data.train.shape[1]
    m = cfg["model"]
    if m["kind"] == "rbm":
        return "rbm", pp.models.rbm(data.shape or n_v, m["hidden"])
    if m["layers"][0] != n_v:
        raise ValueError(f"model.layers starts with {m['layers'][0]} visible units but the data "
                         f"have {n_v}")
    return "dbn", pp.models.dbn(m["layers"], shape=data.shape)


def _optimizer(lr: dict):
    import optax

    if lr["optimizer"] == "adam":
        return optax.adam(lr["learning_rate"])
    return optax.sgd(lr["learning_rate"], momentum=lr["momentum"] or None)


def _learner_kwargs(cfg: dict) -> dict:
    lr = cfg["learner"]
    return {"num_chains": lr["num_chains"], "k": lr["k"], "batch_size": lr["batch_size"],
            "persistent": lr["kind"] == "pcd", "optimizer": _optimizer(lr)}


def save_params(path: str, kind: str, params) -> None:
    import numpy as np

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
    import zipfile

    import jax.numpy as jnp
    import numpy as np

    cfg_path, par_path = os.path.join(folder, "config.json"), os.path.join(folder, "params.npz")
    for p in (cfg_path, par_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{folder} is not a run folder: {os.path.basename(p)} is "
                                    f"missing (run 'pcdppl fit' first)")
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
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


def _write_history(path: str, history: dict) -> None:
    import numpy as np

    cols = list(history)
    table = np.column_stack([np.asarray(history[c], dtype=float) for c in cols])
    np.savetxt(path, table, delimiter=",", header=",".join(cols), comments="", fmt="%.6g")


def _try_plot(fn, *args, **kwargs) -> bool:
    try:
        fn(*args, **kwargs)
        return True
    except ImportError:  # matplotlib is an optional extra
        return False


# ----------------------------------------------------------------------------- diagnostics
def chain_energy_diagnostics(energies):
    """ESS (bulk and tail) and rank-normalised split R-hat of chain energies with ArviZ.

    Args:
        energies: ``(num_chains, num_draws)`` energies ``E(x)`` of the sampled states.

    Returns:
        ``(summary, tree)``: ``summary = {"ess_bulk", "ess_tail", "r_hat"}`` (floats) and the
        ArviZ ``DataTree`` (posterior ``chain_energy``; the name ``energy`` is avoided because
        ArviZ reads it as HMC energy).
    """
    import arviz as az
    import numpy as np

    e = np.asarray(energies, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 4:
        raise ValueError(f"need energies of shape (chains >= 2, draws >= 4), got {e.shape}")
    tree = az.from_dict({"posterior": {"chain_energy": e}})
    summary = {"ess_bulk": float(az.ess(tree, method="bulk")["chain_energy"]),
               "ess_tail": float(az.ess(tree, method="tail")["chain_energy"]),
               "r_hat": float(az.rhat(tree)["chain_energy"])}
    return summary, tree


def run_diagnostics(folder: str, kind: str, model, params, *, chains: int, draws: int,
                    warmup: int, seed: int) -> dict:
    """Sample ``chains`` chains from the model (the top RBM of a DBN), compute the energy
    diagnostics, write ``diagnostics.nc`` and ``trace.png``; return the summary."""
    import jax
    import numpy as np

    import pcdppl as pp

    top, p = (model.top, params[-1]) if kind == "dbn" else (model, params)
    x = pp.sample(jax.random.key(seed), top, p, num_chains=chains, num_samples=draws,
                  num_warmup=warmup)
    e = np.asarray(top.energy(p, x))  # (chains, draws)
    summary, tree = chain_energy_diagnostics(e)
    write_netcdf(tree, os.path.join(folder, "diagnostics.nc"))
    _try_plot(_plot_trace, e, os.path.join(folder, "trace.png"))
    with open(os.path.join(folder, "diagnostics.json"), "w") as f:
        json.dump({**summary, "chains": chains, "draws": draws, "warmup": warmup}, f, indent=2)
    return summary


def write_netcdf(tree, path: str) -> str:
    """Write an ArviZ ``DataTree`` as netCDF: netCDF-4 with its groups where ``h5netcdf`` or
    ``netCDF4`` is installed (the ``netcdf`` extra), else a netCDF-3 file (SciPy) of its
    ``posterior`` group. Returns the format written."""
    import importlib.util

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


def _plot_trace(e, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for c in range(e.shape[0]):
        ax.plot(e[c], lw=0.6)
    ax.set_xlabel("draw")
    ax.set_ylabel("energy E(x)")
    ax.set_title("chain energies")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- commands
def cmd_fit(args) -> int:
    import numpy as np

    import pcdppl as pp
    from pcdppl.diagnostics import plot_history, plot_samples

    cfg = apply_flags(load_config(args.config), args)
    out = cfg["out"]
    os.makedirs(out, exist_ok=True)
    data = load_data(cfg)
    kind, model = build_model(cfg, data)
    print(f"data: {data.name}: {len(data.train)} train / {len(data.test)} test examples of "
          f"{data.train.shape[1]} units")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ckpt_dir = os.path.join(out, "checkpoints")
    # always checkpointing: after the last epoch, every N epochs if asked, and on Ctrl-C
    kw = {"progress": not args.quiet, "key": cfg["seed"], "checkpoint_dir": ckpt_dir,
          "checkpoint_every": cfg["fit"]["checkpoint_every"]}
    t0 = time.perf_counter()
    try:
        if kind == "dbn":
            net = pp.DBN(model, propagate=cfg["learner"]["propagate"], **_learner_kwargs(cfg))
            print(f"model: DBN {list(model.sizes)}; learner per layer: {net.learners[0]}")
            fit = net.fit(data.train, cfg["fit"]["epochs"], resume=args.resume, **kw)
            params, histories = fit.params, fit.histories
        else:
            learner = pp.PCD(model, **_learner_kwargs(cfg))
            print(f"model: RBM {model.groups['v'].size} x {model.groups['h'].size}; learner: "
                  f"{learner}")
            fit = learner.fit(data.train, cfg["fit"]["epochs"], resume=args.resume, **kw)
            params, histories = fit.params, [fit.history]
    except pp.learn.TrainingInterrupted as err:
        again = ckpt_dir if kind == "dbn" else err.checkpoint  # a DBN resumes layer by layer
        print(f"\ninterrupted: state of epoch {err.epoch} saved to {err.checkpoint}; continue "
              f"with: pcdppl fit ... --resume {again}")
        raise
    seconds = time.perf_counter() - t0
    save_params(os.path.join(out, "params.npz"), kind, params)
    written = ["config.json", "params.npz"]
    for i, h in enumerate(histories):
        name = "history.csv" if len(histories) == 1 else f"history-layer{i}.csv"
        _write_history(os.path.join(out, name), h)
        written.append(name)
        png = name.replace(".csv", ".png")
        if _try_plot(plot_history, h, path=os.path.join(out, png)):
            written.append(png)
    if data.shape is not None and len(data.shape) == 2:
        if kind == "dbn":
            x = pp.DBN(model).sample(cfg["seed"] + 1, params, 64, num_gibbs=1000)
        else:
            x = np.asarray(pp.sample(cfg["seed"] + 1, model, params, num_chains=64,
                                     num_samples=1, num_warmup=1000)["v"][:, -1])
        if _try_plot(plot_samples, x, data.shape, path=os.path.join(out, "samples.png"),
                     title="samples (1000 Gibbs sweeps)"):
            written.append("samples.png")
    summary = run_diagnostics(out, kind, model, params, chains=4, draws=500, warmup=100,
                              seed=cfg["seed"] + 2)
    written += ["diagnostics.nc", "diagnostics.json"]
    result = {"seconds": seconds, "epochs": cfg["fit"]["epochs"], "diagnostics": summary}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    written.append("result.json")
    print(f"trained in {seconds:.2f} s; chain-energy ESS {summary['ess_bulk']:.0f}, R-hat "
          f"{summary['r_hat']:.3f}")
    print(f"wrote {', '.join(written)} to {out}/")
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    import pcdppl as pp
    from pcdppl.diagnostics import plot_samples

    cfg, kind, model, params, data = load_run(args.run)
    if kind == "dbn":
        x = pp.DBN(model).sample(args.seed, params, args.num_samples, num_gibbs=args.warmup)
    else:
        x = np.asarray(pp.sample(args.seed, model, params, num_chains=args.num_samples,
                                 num_samples=1, num_warmup=args.warmup)["v"][:, -1])
    out = args.out or os.path.join(args.run, "samples.npz")
    np.savez(out, samples=x)
    msg = f"wrote {x.shape[0]} samples to {out}"
    if data.shape is not None and len(data.shape) == 2:
        png = os.path.splitext(out)[0] + ".png"
        if _try_plot(plot_samples, x, data.shape, path=png,
                     title=f"samples ({args.warmup} Gibbs sweeps)"):
            msg += f" and {png}"
    print(msg)
    return 0


def cmd_evaluate(args) -> int:
    import warnings

    import pcdppl as pp

    cfg, kind, model, params, data = load_run(args.run)
    ais = {"num_chains": args.ais_chains, "betas": args.ais_betas}
    res = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pp.evaluate.AISEstimateWarning)
        for split in args.split:
            x = data.test if split == "test" else data.train
            if kind == "dbn":
                ll, info = pp.evaluate.dbn_log_likelihood_bound(
                    model, params, x, args.seed, method=args.method, **ais)
                res[split] = {"log_likelihood_bound": ll, **info}
                what = "lower bound on the log-likelihood"
            else:
                ll, info = pp.evaluate.log_likelihood(model, params, x, method=args.method,
                                                      key=args.seed, ais_options=ais,
                                                      return_info=True)
                res[split] = {"log_likelihood": float(ll), **info}
                what = "log-likelihood"
            se = info["log_z_stderr"]
            print(f"{split}: {what} {float(ll):.3f} nats per example "
                  f"({info['method']} log Z{f', ± {se:.3f}' if se else ''})")
    with open(os.path.join(args.run, "evaluation.json"), "w") as f:
        json.dump(res, f, indent=2)
    return 0


def cmd_diagnose(args) -> int:
    cfg, kind, model, params, data = load_run(args.run)
    s = run_diagnostics(args.run, kind, model, params, chains=args.chains, draws=args.draws,
                        warmup=args.warmup, seed=args.seed)
    print(f"chain energy over {args.chains} chains x {args.draws} draws: ESS bulk "
          f"{s['ess_bulk']:.1f}, ESS tail {s['ess_tail']:.1f}, R-hat {s['r_hat']:.4f}")
    print(f"wrote diagnostics.nc, diagnostics.json, trace.png to {args.run}/")
    return 0


# ----------------------------------------------------------------------------- parsers
def add_commands(sub, positive) -> None:
    """Register ``fit``, ``sample``, ``evaluate`` and ``diagnose`` on the subparsers."""

    def layers(s: str):
        try:
            return [int(v) for v in s.split(",")]
        except ValueError:
            import argparse

            raise argparse.ArgumentTypeError(
                f"expected sizes like 784,500,500, got {s!r}") from None

    fit = sub.add_parser("fit", help="fit an RBM or a DBN; write a run folder",
                         description="Fit an RBM or a DBN (greedy) with PCD or CD-k. Settings "
                         "come from --config (TOML) and the flags below, which override it. "
                         "Ctrl-C saves a checkpoint of the last finished epoch and exits 130.")
    fit.add_argument("--config", help="TOML configuration file (see docs/cli.md)")
    fit.add_argument("--out", help="run folder (default runs/fit)")
    fit.add_argument("--data", help="digits, mnist5k, a .npz/.npy file, an IDX file or a "
                     "folder of MNIST IDX files (default digits)")
    fit.add_argument("--threshold", type=float, help="binarisation threshold for images")
    fit.add_argument("--model", choices=["rbm", "dbn"], help="model kind (default rbm)")
    fit.add_argument("--hidden", type=positive, help="RBM hidden units (default 16)")
    fit.add_argument("--layers", type=layers, help="DBN layer sizes, e.g. 64,32,16")
    fit.add_argument("--learner", choices=["pcd", "cd"], help="PCD (default) or CD-k")
    fit.add_argument("--chains", type=positive, help="persistent chains (default 100)")
    fit.add_argument("-k", type=positive, help="Gibbs sweeps per update (default 1)")
    fit.add_argument("--batch-size", type=positive, help="minibatch size (default 20)")
    fit.add_argument("--optimizer", choices=["sgd", "adam"], help="optax optimiser")
    fit.add_argument("--learning-rate", type=float, help="step size (default 0.05)")
    fit.add_argument("--momentum", type=float, help="SGD momentum (default 0)")
    fit.add_argument("--propagate", choices=["probabilities", "samples"],
                     help="DBN: what each layer passes up (default probabilities)")
    fit.add_argument("--epochs", type=positive, help="epochs (per layer for a DBN; default 20)")
    fit.add_argument("--seed", type=int, help="random seed (default 0)")
    fit.add_argument("--checkpoint-every", type=positive,
                     help="save the learner state to OUT/checkpoints every N epochs")
    fit.add_argument("--resume", help="checkpoint file or folder to continue from; training "
                     "continues to --epochs in total (a DBN: OUT/checkpoints; finished layers "
                     "are loaded, the interrupted one continues)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(run=cmd_fit)

    smp = sub.add_parser("sample", help="draw samples from a fitted run",
                         description="Draw samples from the model in a run folder (block "
                         "Gibbs; for a DBN, Gibbs in the top RBM then a down-pass).")
    smp.add_argument("run", help="run folder written by 'pcdppl fit'")
    smp.add_argument("--num-samples", type=positive, default=64, help="samples (default 64)")
    smp.add_argument("--warmup", type=positive, default=1000,
                     help="Gibbs sweeps before the sample is taken (default 1000)")
    smp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    smp.add_argument("--out", help="output .npz (default RUN/samples.npz; a .png beside it)")
    smp.set_defaults(run_cmd=cmd_sample)

    ev = sub.add_parser("evaluate", help="log-likelihood of a fitted run",
                        description="Mean log-likelihood per example (exact where log Z can "
                        "be enumerated, else AIS with a standard error; a DBN's variational "
                        "lower bound). Writes RUN/evaluation.json.")
    ev.add_argument("run", help="run folder written by 'pcdppl fit'")
    ev.add_argument("--method", choices=["auto", "exact", "ais"], default="auto",
                    help="how log Z is obtained (default auto)")
    ev.add_argument("--split", nargs="+", choices=["train", "test"], default=["test"],
                    help="which data (default test)")
    ev.add_argument("--ais-chains", type=positive, default=100, help="AIS runs (default 100)")
    ev.add_argument("--ais-betas", type=positive, default=14_500,
                    help="AIS temperatures (default 14500, as Salakhutdinov & Murray 2008)")
    ev.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ev.set_defaults(run_cmd=cmd_evaluate)

    dg = sub.add_parser("diagnose", help="mixing diagnostics of a fitted run",
                        description="Run several Gibbs chains on the fitted model and report "
                        "ESS and R-hat of their energies (ArviZ); writes diagnostics.nc "
                        "(netCDF), diagnostics.json and trace.png into the run folder.")
    dg.add_argument("run", help="run folder written by 'pcdppl fit'")
    dg.add_argument("--chains", type=positive, default=4, help="chains (default 4)")
    dg.add_argument("--draws", type=positive, default=1000, help="draws per chain (default 1000)")
    dg.add_argument("--warmup", type=positive, default=100, help="warm-up sweeps (default 100)")
    dg.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dg.set_defaults(run_cmd=cmd_diagnose)
