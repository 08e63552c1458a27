"""FPCD and JarzynskiPCD against PCD-1 at equal wall-clock time: test log-likelihood and chain ESS/s.

Tasks (``--tasks``, default all three):

* ``digits16`` / ``digits25``: RBM 64×16 / 64×25 on ``pp.data.load_digits(threshold=8)``
  (1,437 train / 360 test images), batch 20, ``sgd(--digits-lr)`` (default 0.1), 100 chains;
  the **exact** test log-likelihood (``pp.evaluate.log_likelihood``, 2^16 / 2^25 hidden states
  enumerated);
* ``mnist500``: RBM 784×500 on ``pp.data.load_mnist_5k()`` (4,000 train / 1,000 test, pixels >
  127), batch 20, ``sgd(--mnist-lr)`` (default 0.05), 100 chains; the test log-likelihood with
  ``log Z`` from **AIS** (``--ais-chains`` runs × ``--ais-betas`` temperatures, base-rate model
  from the training data; the same key for every method).

Methods, all with ``k = 1`` block-Gibbs sweep per update and the same chains, batch and rate:
``pp.PCD`` (PCD-1), ``pp.FPCD`` (fast weights, ``fast_lr`` = the learning rate unless
``--fast-lr``, ``fast_decay`` ``--fast-decay``), ``pp.JarzynskiPCD`` (``resample_threshold``
``--threshold``).

**Equal wall time.** Each learner is first compiled by an untimed one-epoch fit; then a fresh
fit (same seed for every method) runs in chunks of epochs (``fit(..., resume=...)``, chunk
length adapted to about ``budget / 40``) until its training time reaches the budget
(``--digits-budget`` / ``--mnist-budget`` seconds; evaluation and compilation excluded). The
parameters are kept at ``--evals`` evenly spaced times and evaluated after training, so the
table shows the test log-likelihood each method had reached at the same times, the final one,
and the mean over the second half of the evaluation times ("late mean"; a single value of
PCD's test log-likelihood swings by about a nat between epochs).

**Chain ESS per second**, two measurements per method:

* *during learning*: ``--ess-epochs`` more epochs from the final state, recording the
  chains' energy after every update (``record_every=1``); the bulk ESS of the energy with
  the mean over chains at each update removed (it carries the drift of the parameters),
  divided by those epochs' wall time. For JarzynskiPCD also multiplied by the weights'
  mean ESS fraction (``history["ess_fraction"]``): its chains count only through their
  weights;
* *final model*: block Gibbs from the learner's final persistent chains on its final
  parameters (frozen), ``--ess-sweeps`` sweeps, energy after every sweep; bulk ESS of the
  energy (first tenth dropped) per second of sampling. This compares how easily the
  *models* each method learned can be sampled.

Timings are wall clock on a shared machine: the ratios matter, not the seconds.

    flock /tmp/pcdppl-bench.lock timeout 3600 python benchmarks/fpcd_jarzynski.py
    flock /tmp/pcdppl-bench.lock timeout 900 python benchmarks/fpcd_jarzynski.py --quick
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp

sys.path.insert(0, str(Path(__file__).parent))
from _chains import energy_ess, energy_trace  # noqa: E402

FIT = {"progress": False, "record_every": 0, "mixing_warnings": False}
METHODS = ("PCD-1", "FPCD", "JarzynskiPCD")


def make_learner(name: str, model, lr: float, args):
    common = dict(num_chains=args.chains, k=1, batch_size=args.batch_size,
                  optimizer=optax.sgd(lr))
    if name == "PCD-1":
        return pp.PCD(model, **common)
    if name == "FPCD":
        return pp.FPCD(model, fast_lr=args.fast_lr or lr, fast_decay=args.fast_decay, **common)
    if name == "JarzynskiPCD":
        return pp.JarzynskiPCD(model, resample_threshold=args.threshold, **common)
    raise ValueError(name)


def train_for(learner, train, budget: float, evals: int, seed: int) -> dict:
    """Train until ``budget`` seconds of training (compilation excluded); parameters kept at
    ``budget · i / evals``."""
    t0 = time.perf_counter()
    learner.fit(train, 1, key=seed + 12345, **FIT)  # compiles the epoch (and the host init)
    compile_s = time.perf_counter() - t0
    marks = [budget * (i + 1) / evals for i in range(evals)]
    snaps, elapsed, epochs, fit, chunk = [], 0.0, 0, None, 1
    while elapsed < budget:
        t0 = time.perf_counter()
        fit = (learner.fit(train, chunk, key=seed, **FIT) if fit is None
               else learner.fit(train, chunk, resume=fit, **FIT))
        jax.block_until_ready(fit.params)
        dt = time.perf_counter() - t0
        elapsed += dt
        epochs += chunk
        while marks and elapsed >= marks[0]:
            marks.pop(0)
            snaps.append((elapsed, epochs, jax.device_get(fit.params)))
        per_epoch = dt / chunk
        remaining = budget - elapsed
        chunk = max(1, min(int(budget / 40 / per_epoch), math.ceil(remaining / per_epoch)))
    return {"fit": fit, "snaps": snaps, "seconds": elapsed, "epochs": epochs,
            "compile_s": compile_s}


def learning_ess(learner, fit, train, epochs: int) -> dict:
    """Chains' energy ESS per second over ``epochs`` more epochs (recorded every update)."""
    opts = dict(progress=False, record_every=1, mixing_warnings=False)
    learner.fit(train, epochs, resume=fit, **opts)  # compiles the recording epoch
    t0 = time.perf_counter()
    more = learner.fit(train, epochs, resume=fit, **opts)
    seconds = time.perf_counter() - t0
    e = np.asarray(more.diagnostics()["posterior"]["energy"].values, np.float64)  # (C, draws)
    e = e[:, -epochs * (len(train) // learner.batch_size):]
    resid = e - e.mean(axis=0, keepdims=True)
    ess = energy_ess(resid)
    frac = float(np.mean(more.history["ess_fraction"][-epochs:])) \
        if "ess_fraction" in more.history else 1.0
    return {"ess_per_s": ess / seconds, "weighted_ess_per_s": ess * frac / seconds,
            "ess_fraction": frac, "seconds": seconds}


def final_model_ess(model, params, chains: dict, sweeps: int, seed: int) -> dict:
    out = energy_trace(pp.samplers.BlockGibbs(model), params, seed, sweeps,
                       values={"v": chains["v"], "h": chains["h"]})
    return {"ess_per_s": energy_ess(out["energy"], 0.1) / out["seconds"],
            "ess": energy_ess(out["energy"], 0.1), "seconds": out["seconds"]}


def evaluate(model, params, test, train, task, args) -> tuple[float, float]:
    if task.startswith("digits"):
        return float(pp.evaluate.log_likelihood(model, params, test, method="exact")), 0.0
    ll, info = pp.evaluate.log_likelihood(
        model, params, test, method="ais", key=args.seed + 7, return_info=True,
        ais_options={"num_chains": args.ais_chains, "betas": args.ais_betas, "data": train})
    return float(ll), float(info["log_z_stderr"])


def late_mean(curve) -> float:
    """Mean test log-likelihood over the second half of the evaluation times (PCD's test
    log-likelihood swings by about a nat between epochs: one value is noisy)."""
    lls = [c[2] for c in curve]
    return float(np.mean(lls[len(lls) // 2:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="5 s (digits) / 15 s (MNIST) budgets, 400 AIS temperatures x 50 "
                         "runs, short ESS runs (a few minutes in all)")
    ap.add_argument("--tasks", nargs="+", default=["digits16", "digits25", "mnist500"],
                    choices=["digits16", "digits25", "mnist500"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--digits-budget", type=float, help="training seconds per method on "
                    "digits (default 30; quick 5)")
    ap.add_argument("--mnist-budget", type=float, help="training seconds per method on "
                    "MNIST-5k (default 180; quick 15)")
    ap.add_argument("--evals", type=int, help="evaluation times per digits run (default 6, "
                    "quick 3; MNIST: 1, at the end)")
    ap.add_argument("--digits-lr", type=float, default=0.1)
    ap.add_argument("--mnist-lr", type=float, default=0.05)
    ap.add_argument("--fast-lr", type=float, default=None,
                    help="FPCD fast learning rate (default: the learning rate)")
    ap.add_argument("--fast-decay", type=float, default=0.95)
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="JarzynskiPCD resample_threshold")
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--ais-betas", type=int, help="AIS temperatures (default 14500; quick 400)")
    ap.add_argument("--ais-chains", type=int, help="AIS runs (default 100; quick 50)")
    ap.add_argument("--ess-epochs", type=int, help="recorded epochs for the during-learning "
                    "ESS (default 10 digits / 2 MNIST; quick 3 / 1)")
    ap.add_argument("--ess-sweeps", type=int, help="block-Gibbs sweeps on the final model "
                    "(default 4000; quick 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "fpcd_jarzynski")
    args = ap.parse_args()
    q = args.quick
    args.digits_budget = args.digits_budget or (5.0 if q else 30.0)
    args.mnist_budget = args.mnist_budget or (15.0 if q else 180.0)
    args.ais_betas = args.ais_betas or (400 if q else 14_500)
    args.ais_chains = args.ais_chains or (50 if q else 100)
    args.ess_sweeps = args.ess_sweeps or (300 if q else 4000)
    if q and args.out.name == "fpcd_jarzynski":
        args.out = args.out.with_name("fpcd_jarzynski_quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=pp.diagnostics.MixingWarning)

    results = {}
    for task in args.tasks:
        if task.startswith("digits"):
            ds, n_h, lr, budget = pp.data.load_digits(threshold=8), int(task[6:]), \
                args.digits_lr, args.digits_budget
            evals = args.evals or (3 if q else 6)
            ess_epochs = args.ess_epochs or (3 if q else 10)
        else:
            ds, n_h, lr, budget = pp.data.load_mnist_5k(), 500, args.mnist_lr, args.mnist_budget
            evals = 1
            ess_epochs = args.ess_epochs or (1 if q else 2)
        train, test = ds.train, ds.test
        model = pp.models.rbm(train.shape[1], n_h)
        for name in args.methods:
            learner = make_learner(name, model, lr, args)
            r = train_for(learner, train, budget, evals, args.seed)
            print(f"[{task}] {name}: {r['epochs']} epochs in {r['seconds']:.1f} s "
                  f"(compile {r['compile_s']:.1f} s)", flush=True)
            t0 = time.perf_counter()
            r["curve"] = [(t, ep, *evaluate(model, p, test, train, task, args))
                          for t, ep, p in r["snaps"]]
            r["eval_s"] = time.perf_counter() - t0
            r["learn_ess"] = learning_ess(learner, r["fit"], train, ess_epochs)
            r["final_ess"] = final_model_ess(model, r["fit"].params, r["fit"].chains,
                                             args.ess_sweeps, args.seed + 3)
            t, ep, ll, se = r["curve"][-1]
            print(f"[{task}] {name}: test LL {ll:.3f}" + (f" ± {se:.3f}" if se else "")
                  + f" (eval {r['eval_s']:.1f} s); chain ESS/s during learning "
                  f"{r['learn_ess']['ess_per_s']:.1f}, final-model Gibbs ESS/s "
                  f"{r['final_ess']['ess_per_s']:.1f}", flush=True)
            r.pop("fit")
            r.pop("snaps")
            results[(task, name)] = r

    lines = ["(--quick configuration; shared 2-core machine, timings noisy)"] if q else []
    lines += [f"FPCD / JarzynskiPCD / PCD-1 at equal training time; {args.chains} chains, k=1, "
              f"batch {args.batch_size}; digits sgd({args.digits_lr}) {args.digits_budget:g} s, "
              f"MNIST-5k sgd({args.mnist_lr}) {args.mnist_budget:g} s per method; FPCD fast_lr "
              f"{args.fast_lr or 'lr'}, fast_decay {args.fast_decay}; Jarzynski threshold "
              f"{args.threshold}; AIS {args.ais_chains} x {args.ais_betas}; "
              f"jax {jax.__version__} on {jax.devices()[0].platform}", ""]
    for task in args.tasks:
        names = [m for m in args.methods if (task, m) in results]
        times = [t for t, *_ in results[(task, names[0])]["curve"]]
        head = (f"{'task':9s} {'method':13s} {'epochs':>7s} {'train s':>7s} "
                + " ".join(f"{f'LL@{t:.1f}s':>8s}" for t in times)
                + f" {'final test LL':>15s} {'Δ vs PCD':>8s} {'late mean':>9s} {'Δ':>7s} {'ESS/s learn':>11s} "
                  f"{'(weighted)':>10s} {'ESS/s final':>11s}")
        lines += [head, "-" * len(head)]
        base = results.get((task, "PCD-1"))
        for name in names:
            r = results[(task, name)]
            lls = " ".join(f"{ll:8.3f}" for _, _, ll, _ in r["curve"])
            ll, se = r["curve"][-1][2:]
            final = f"{ll:.3f}" + (f" ± {se:.2f}" if se else "")
            delta = f"{ll - base['curve'][-1][2]:+8.3f}" if base else f"{'-':>8s}"
            late = late_mean(r["curve"])
            delta_late = f"{late - late_mean(base['curve']):+7.3f}" if base else f"{'-':>7s}"
            le, fe = r["learn_ess"], r["final_ess"]
            lines.append(f"{task:9s} {name:13s} {r['epochs']:7d} {r['seconds']:7.1f} {lls} "
                         f"{final:>15s} {delta} {late:9.3f} {delta_late} {le['ess_per_s']:11.1f} "
                         f"{le['weighted_ess_per_s']:10.1f} {fe['ess_per_s']:11.1f}")
        if base:
            for name in names:
                if name == "PCD-1":
                    continue
                r = results[(task, name)]
                lines.append(
                    f"  {name} / PCD-1: epochs in the budget {r['epochs'] / base['epochs']:.2f}×, "
                    f"ESS/s during learning {r['learn_ess']['ess_per_s'] / base['learn_ess']['ess_per_s']:.2f}× "
                    f"(weighted {r['learn_ess']['weighted_ess_per_s'] / base['learn_ess']['ess_per_s']:.2f}×), "
                    f"final-model ESS/s {r['final_ess']['ess_per_s'] / base['final_ess']['ess_per_s']:.2f}×")
        lines.append("")
    text = "\n".join(lines)
    print("\n" + text)
    args.out.with_suffix(".txt").write_text(text + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.tasks), figsize=(4.5 * len(args.tasks), 3.6),
                             squeeze=False)
    for ax, task in zip(axes[0], args.tasks, strict=True):
        for name in args.methods:
            if (task, name) not in results:
                continue
            c = results[(task, name)]["curve"]
            ax.errorbar([x[0] for x in c], [x[2] for x in c], yerr=[x[3] for x in c],
                        marker="o", label=name, capsize=2)
        ax.set(xlabel="training seconds", ylabel="test log-likelihood (nats)", title=task)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    print(f"wrote {args.out.with_suffix('.txt')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
