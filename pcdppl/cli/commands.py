"""The commands of ``pcdppl``: ``demo``, ``fit``, ``sample``, ``evaluate``, ``diagnose``.

``fit | sample | evaluate | diagnose`` work on run folders (:mod:`pcdppl.cli.run_folder`);
configuration comes from a TOML file (``--config``), overridden by flags (see
``docs/guide/cli.md``). ``demo`` trains an RBM on scikit-learn's digits and writes samples,
learning curves, chain-mixing diagnostics and parameters.
"""

from __future__ import annotations

import json
import os
import time
import warnings

import jax
import numpy as np
import optax

import pcdppl as pp

from ..diagnostics import plot_history, plot_mixing, plot_samples
from .config import apply_flags, load_config
from .inputs import build_model, describe, display_shape, load_data, load_weights
from .learners import build_learner
from .run_folder import (
    draw_samples,
    load_run,
    run_diagnostics,
    save_params,
    try_plot,
    write_history,
)


def cmd_demo(args) -> int:
    """Train an RBM on the digits; print the exact test log-likelihood; write results."""
    os.makedirs(args.out, exist_ok=True)
    data = pp.data.load_digits(threshold=8)
    print(f"data: {data.name}: {len(data.train)} train / {len(data.test)} test images "
          f"of {data.shape[0]}x{data.shape[1]} pixels")
    model = pp.models.rbm(data.shape, args.hidden)
    steps = args.epochs * (len(data.train) // args.batch_size)
    learning_rate = optax.linear_schedule(args.learning_rate, 0.0, steps)  # decays to 0
    learner = pp.PCD(model, num_chains=args.chains, k=args.k, batch_size=args.batch_size,
                     optimizer=optax.sgd(learning_rate))
    print(f"model: RBM {model.groups['v'].size} visible x {args.hidden} hidden; learner: "
          f"{learner}")
    t0 = time.perf_counter()
    fit = learner.fit(data.train, num_epochs=args.epochs, key=args.seed, validation=data.test,
                      progress=not args.quiet)
    seconds = time.perf_counter() - t0
    test_ll = float(pp.evaluate.log_likelihood(model, fit.params, data.test))
    train_ll = float(pp.evaluate.log_likelihood(model, fit.params, data.train))
    print(f"exact log-likelihood per image: test {test_ll:.3f} nats, train {train_ll:.3f} nats "
          f"(hidden units summed out, log Z by enumerating 2^{args.hidden} hidden states)")
    print(f"training time: {seconds:.2f} s for {args.epochs} epochs (compilation included)")

    samples = pp.sample(jax.random.key(args.seed + 1), model, fit.params, num_chains=64,
                        num_samples=1, num_warmup=1000)["v"][:, -1]
    plot_samples(samples, data.shape, path=os.path.join(args.out, "samples.png"),
                 title="RBM samples (1000 Gibbs sweeps from noise)")
    plot_samples(fit.chains["v"], data.shape, path=os.path.join(args.out, "chains.png"),
                 title="persistent chains at the end of training", max_images=64)
    plot_history(fit.history, path=os.path.join(args.out, "history.png"))
    idata = fit.diagnostics()  # the persistent chains, recorded during training
    pp.diagnostics.summary(idata).to_csv(os.path.join(args.out, "mixing_summary.csv"))
    mixing_pngs = plot_mixing(idata, args.out, prefix="mixing_",
                              var_names=["energy", "mean_v", "mean_h"])
    np.savez(os.path.join(args.out, "params.npz"),
             **{k: np.asarray(v) for k, v in fit.params.items()})
    write_history(os.path.join(args.out, "history.csv"), fit.history)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump({"test_log_likelihood": test_ll, "train_log_likelihood": train_ll,
                   "seconds": seconds, "epochs": args.epochs, "hidden": args.hidden,
                   "seed": args.seed}, f, indent=2)
    print(f"wrote samples.png, chains.png, history.png, "
          f"{', '.join(os.path.basename(p) for p in mixing_pngs)}, mixing_summary.csv, "
          f"params.npz, history.csv, result.json to {args.out}/")
    return 0


# ----------------------------------------------------------------------------- commands
PATH_SETTINGS = (("data", "source"), ("data", "weights"), ("model", "edges"))


def absolute_paths(cfg: dict) -> dict:
    """``cfg`` with the files it names made absolute, so that ``sample``, ``evaluate`` and
    ``diagnose`` find them from any folder."""
    for sec, key in PATH_SETTINGS:
        v = cfg[sec][key]
        if isinstance(v, str) and os.path.exists(v):
            cfg[sec][key] = os.path.abspath(v)
    return cfg


def cmd_fit(args) -> int:
    """Fit an RBM, a DBN, an Ising or a Potts model with any learner; write a run folder."""
    cfg = absolute_paths(apply_flags(load_config(args.config), args))
    out = cfg["out"]
    data = load_data(cfg)
    kind, model = build_model(cfg, data)
    weights = load_weights(cfg, data)
    learner = build_learner(cfg, kind, model)
    os.makedirs(out, exist_ok=True)
    print(f"data: {data.name}: {len(data.train)} train / {len(data.test)} test examples of "
          f"{data.train.shape[1]} units" + ("" if weights is None else
                                            f", weighted ({cfg['data']['weights']})"))
    print(f"model: {describe(kind, model)}; learner"
          f"{' per layer' if kind == 'dbn' else ''}: "
          f"{learner.learners[0] if kind == 'dbn' else learner}")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ckpt_dir = os.path.join(out, "checkpoints")
    # always checkpointing: after the last epoch, every N epochs if asked, and on Ctrl-C
    kw = {"progress": not args.quiet, "key": cfg["seed"], "checkpoint_dir": ckpt_dir,
          "checkpoint_every": cfg["fit"]["checkpoint_every"], "resume": args.resume}
    if weights is not None:
        kw["weights"] = weights
    t0 = time.perf_counter()
    try:
        fit = learner.fit(data.train, cfg["fit"]["epochs"], **kw)
    except pp.learn.TrainingInterrupted as err:
        again = ckpt_dir if kind == "dbn" else err.checkpoint  # a DBN resumes layer by layer
        print(f"\ninterrupted: state of epoch {err.epoch} saved to {err.checkpoint}; continue "
              f"with: pcdppl fit ... --resume {again}")
        raise
    seconds = time.perf_counter() - t0
    params, histories = (fit.params, fit.histories) if kind == "dbn" else (fit.params,
                                                                          [fit.history])
    save_params(os.path.join(out, "params.npz"), kind, params)
    written = ["config.json", "params.npz"]
    for i, h in enumerate(histories):
        name = "history.csv" if len(histories) == 1 else f"history-layer{i}.csv"
        write_history(os.path.join(out, name), h)
        written.append(name)
        png = name.replace(".csv", ".png")
        if try_plot(plot_history, h, path=os.path.join(out, png)):
            written.append(png)
    shape = display_shape(cfg, data)
    if shape is not None:
        x = draw_samples(kind, model, params, seed=cfg["seed"] + 1, num_samples=64, warmup=1000)
        if try_plot(plot_samples, x, shape, path=os.path.join(out, "samples.png"),
                    title="samples (1000 Gibbs sweeps)"):
            written.append("samples.png")
    summary = run_diagnostics(out, kind, model, params, chains=4, draws=500, warmup=100,
                              seed=cfg["seed"] + 2)
    written += ["diagnostics.nc", "diagnostics.json"]
    result = {"seconds": seconds, "epochs": cfg["fit"]["epochs"],
              "model": describe(kind, model),
              "learner": repr(learner.learners[0] if kind == "dbn" else learner),
              "diagnostics": summary}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    written.append("result.json")
    print(f"trained in {seconds:.2f} s; chain-energy ESS {summary['ess_bulk']:.0f}, R-hat "
          f"{summary['r_hat']:.3f}")
    print(f"wrote {', '.join(written)} to {out}/")
    return 0


def cmd_sample(args) -> int:
    """Draw samples from a fitted run."""
    cfg, kind, model, params, data = load_run(args.run)
    x = draw_samples(kind, model, params, seed=args.seed, num_samples=args.num_samples,
                     warmup=args.warmup)
    out = args.out or os.path.join(args.run, "samples.npz")
    np.savez(out, samples=x)
    what = {"ising": "spin configurations", "potts": "Potts states"}.get(kind, "samples")
    msg = f"wrote {x.shape[0]} {what} of {x.shape[1]} units to {out}"
    shape = display_shape(cfg, data)
    if shape is not None:
        png = os.path.splitext(out)[0] + ".png"
        if try_plot(plot_samples, x, shape, path=png,
                    title=f"samples ({args.warmup} Gibbs sweeps)"):
            msg += f" and {png}"
    print(msg)
    return 0


def log_z_note(info: dict) -> str:
    """How log Z was obtained: ``exact log Z 12.345`` or ``AIS log Z 12.345 ± 0.012`` (a
    DBN: the log Z of its top RBM)."""
    name, lz = ("log Z", info["log_z"]) if "log_z" in info else ("top-RBM log Z",
                                                                 info["log_z_top"])
    if info["method"] == "ais":
        return f"AIS {name} {lz:.3f} ± {info['log_z_stderr']:.3f}"
    return f"{info['method']} {name} {lz:.3f}"


def cmd_evaluate(args) -> int:
    """Log-likelihood (or a DBN's bound) of a fitted run; writes evaluation.json."""
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
            print(f"{split}: {what} {float(ll):.3f} nats per example ({log_z_note(info)})")
            if kind != "dbn" and any(g.is_categorical for g in model.groups.values()):
                res[split].update(moment_report(model, params, x, split, args.seed))
    with open(os.path.join(args.run, "evaluation.json"), "w") as f:
        json.dump(res, f, indent=2)
    return 0


def moment_report(model, params, x, split: str, seed: int) -> dict:
    """Pearson correlations of single-site frequencies and connected pair correlations of
    the data against 2,000 model samples (categorical data: the measure of the DCA
    literature); printed and returned for evaluation.json."""
    group = next(g for g, grp in model.groups.items() if grp.is_categorical)
    draws = pp.sample(seed + 7, model, params, num_chains=20, num_samples=100, num_warmup=500,
                      thin=10)[group]
    m = pp.evaluate.moment_match(np.asarray(x), np.asarray(draws),
                                 num_states=model.groups[group].num_states)
    print(f"{split}: moments of 2000 model samples against the data: single-site frequencies "
          f"r = {m.single_site:.3f}, connected pair correlations r = {m.pair:.3f}")
    return {"single_site_r": m.single_site, "pair_r": m.pair}


def cmd_diagnose(args) -> int:
    """Energy ESS and R-hat of fresh chains on a fitted run."""
    cfg, kind, model, params, data = load_run(args.run)
    s = run_diagnostics(args.run, kind, model, params, chains=args.chains, draws=args.draws,
                        warmup=args.warmup, seed=args.seed)
    print(f"chain energy over {args.chains} chains x {args.draws} draws: ESS bulk "
          f"{s['ess_bulk']:.1f}, ESS tail {s['ess_tail']:.1f}, R-hat {s['r_hat']:.4f}")
    print(f"wrote diagnostics.nc, diagnostics.json, trace.png to {args.run}/")
    return 0
