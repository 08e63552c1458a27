"""Does mixing-aware k buy an equilibrium model? PCD(k="auto") against PCD-1: cost and verdict.

For each task and seed, ``pp.PCD(k=1)`` and ``pp.PCD(k="auto", k_target=--k-target,
k_max=--k-max)`` (block-Gibbs chains; after every epoch ``k`` becomes ``k_target`` times the
integrated autocorrelation time of the chains' energy) fit the same data with the same
optimiser, chains and seed. Reported per fit:

* training cost: wall seconds of ``fit`` (compilation included) and sampler transitions
  per chain (``Σ_epochs k · updates per epoch``), the final ``k`` and the chains' energy IAT
  (``history["iat"]``, in transitions) of the last epoch;
* quality: the exact test log-likelihood (RBM tasks) or the RMSE of the couplings against the
  truth (Ising tasks);
* the **equilibrium test** of the final model: ``pp.diagnostics.mixing(model, params, key,
  data=train)`` runs block-Gibbs chains from training examples and from random states on the
  frozen parameters (``--mix-chains`` per start, ``--mix-warmup`` sweeps of warm-up,
  ``--mix-samples`` draws) and fails when some statistic's two averages differ beyond a
  Bonferroni-corrected 1 % level; the table gives the verdict, the smallest p-value and the
  number of failing statistics, and the energy's IAT (in sweeps) on the final model.

Tasks (``--tasks``): ``digits<H>`` — RBM 64×H on ``pp.data.load_digits(threshold=8)``, batch 20,
``sgd(0.1)``, 100 chains; ``ising<σ>`` — the lattice task of ``ising_learning.py`` (L =
``--side``, true couplings σ, 5,000 states, Adam 0.02 → 0.002, batch 100, 100 chains;
``ising0.4`` is close to the critical coupling 0.4407). Default: ``digits16 digits25 ising0.2
ising0.4``.

    flock /tmp/pcdppl-bench.lock timeout 2400 python benchmarks/auto_k_equilibrium.py
    flock /tmp/pcdppl-bench.lock timeout 600 python benchmarks/auto_k_equilibrium.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np
import optax

import pcdppl as pp

sys.path.insert(0, str(Path(__file__).parent))


def make_task(task: str, args):
    """``(model, train, test_or_truth, optimizer, batch, kind)``."""
    if task.startswith("digits"):
        ds = pp.data.load_digits(threshold=8)
        return (pp.models.rbm(64, int(task[6:])), ds.train, ds.test, lambda: optax.sgd(0.1), 20,
                "rbm")
    from ising_learning import make_data

    sigma = float(task[5:])
    a = SimpleNamespace(sigma=sigma, num_data=args.ising_data, data_chains=200,
                        data_warmup=args.ising_warmup, data_thin=50, seed=0)
    model, truth, data = make_data(args.side, a)
    updates = args.epochs * (len(data) // 100)
    return (model, data, truth, lambda: optax.adam(optax.linear_schedule(0.02, 0.002, updates)),
            100, "ising")


def fit_one(model, train, opt, batch, k, args, seed):
    kw = dict(num_chains=100, optimizer=opt(), batch_size=batch)
    learner = (pp.PCD(model, k="auto", k_target=args.k_target, k_max=args.k_max, **kw)
               if k == "auto" else pp.PCD(model, k=1, **kw))
    t0 = time.perf_counter()
    fit = learner.fit(train, args.epochs, key=seed, progress=False, mixing_warnings=False)
    jax.block_until_ready(fit.params)
    seconds = time.perf_counter() - t0
    updates = len(train) // batch
    ks = np.asarray(fit.history["k"]) if "k" in fit.history else np.ones(args.epochs)
    iat = float(fit.history["iat"][-1]) if "iat" in fit.history else float("nan")
    return fit, {"seconds": seconds, "transitions": float(ks.sum() * updates),
                 "k_final": float(ks[-1]), "iat_learning": iat}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one seed, 30 epochs, a shorter mixing check (about 2 minutes)")
    ap.add_argument("--tasks", nargs="+", help="digits<H> and/or ising<sigma> (default "
                    "digits16 digits25 ising0.2 ising0.4; quick digits16 ising0.2)")
    ap.add_argument("--seeds", type=int, help="seeds per task (default 3; quick 1)")
    ap.add_argument("--epochs", type=int, help="epochs per fit (default 100; quick 30)")
    ap.add_argument("--k-target", type=float, default=1.0)
    ap.add_argument("--k-max", type=int, default=100)
    ap.add_argument("--side", type=int, default=10, help="lattice side of the Ising tasks")
    ap.add_argument("--ising-data", type=int, default=5000)
    ap.add_argument("--ising-warmup", type=int, default=1000)
    ap.add_argument("--mix-chains", type=int, default=16, help="chains per start")
    ap.add_argument("--mix-samples", type=int, help="recorded sweeps (default 2000; quick 500)")
    ap.add_argument("--mix-warmup", type=int, default=100)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "auto_k_equilibrium")
    args = ap.parse_args()
    q = args.quick
    args.seeds = args.seeds or (1 if q else 3)
    args.tasks = args.tasks or (["digits16", "ising0.2"] if q else
                                ["digits16", "digits25", "ising0.2", "ising0.4"])
    args.epochs = args.epochs or (30 if q else 100)
    args.mix_samples = args.mix_samples or (500 if q else 2000)
    if q and args.out.name == "auto_k_equilibrium":
        args.out = args.out.with_name("auto_k_equilibrium_quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=pp.diagnostics.MixingWarning)

    rows = []
    for task in args.tasks:
        model, train, ref, opt, batch, kind = make_task(task, args)
        for seed in range(args.seeds):
            for k in (1, "auto"):
                fit, cost = fit_one(model, train, opt, batch, k, args, seed)
                if kind == "rbm":
                    quality = float(pp.evaluate.log_likelihood(model, fit.params, ref))
                else:
                    quality = float(np.sqrt(np.mean((np.asarray(fit.params["J"]) - ref["J"]) ** 2)))
                t0 = time.perf_counter()
                rep = pp.diagnostics.mixing(model, fit.params, seed + 100, data=train,
                                            num_chains=args.mix_chains,
                                            num_samples=args.mix_samples,
                                            num_warmup=args.mix_warmup)
                n_fail = int(np.sum(rep.table["p_value"] < 0.01 / len(rep.table)))
                row = {"task": task, "seed": seed, "k": str(k), "quality": quality,
                       "equilibrium": bool(rep.equilibrium),
                       "min_p": float(rep.table["p_value"].min()), "failing": n_fail,
                       "stats": len(rep.table), "iat_model": rep.iat_energy,
                       "mix_s": time.perf_counter() - t0, **cost}
                rows.append(row)
                print(f"[{task} seed {seed}] PCD k={k}: {cost['seconds']:.1f} s, "
                      f"{cost['transitions']:.0f} transitions/chain, final k {cost['k_final']:g}; "
                      f"{'test LL' if kind == 'rbm' else 'RMSE'} {quality:.4f}; equilibrium "
                      f"{'passed' if rep.equilibrium else 'FAILED'} (min p {row['min_p']:.2g}, "
                      f"{n_fail}/{len(rep.table)} failing)", flush=True)

    lines = ["(--quick configuration; shared 2-core machine, timings noisy)"] if q else []
    lines += [f"PCD-1 vs PCD(k='auto', k_target={args.k_target}, k_max={args.k_max}), "
              f"{args.epochs} epochs, 100 chains; equilibrium test: {args.mix_chains} chains "
              f"per start, {args.mix_warmup} warm-up + {args.mix_samples} sweeps, alpha 0.01 "
              f"(Bonferroni); jax {jax.__version__} on {jax.devices()[0].platform}", ""]
    head = (f"{'task':9s} {'seed':>4s} {'k':>4s} {'fit s':>6s} {'transitions':>11s} "
            f"{'final k':>7s} {'IAT (learn)':>11s} {'quality':>9s} {'equilibrium':>11s} "
            f"{'min p':>8s} {'failing':>7s} {'IAT (model)':>11s}")
    lines += [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['task']:9s} {r['seed']:4d} {r['k']:>4s} {r['seconds']:6.1f} "
                     f"{r['transitions']:11.0f} {r['k_final']:7g} {r['iat_learning']:11.2f} "
                     f"{r['quality']:9.4f} {'passed' if r['equilibrium'] else 'FAILED':>11s} "
                     f"{r['min_p']:8.2g} {r['failing']:3d}/{r['stats']:<3d} {r['iat_model']:11.2f}")
    lines += ["", "quality: exact test log-likelihood (digits, nats, higher is better) or RMSE of "
              "the couplings (ising, lower is better); IAT (model): energy IAT in sweeps of "
              "block Gibbs on the final model.", ""]
    for task in args.tasks:
        a = [r for r in rows if r["task"] == task and r["k"] == "1"]
        b = [r for r in rows if r["task"] == task and r["k"] == "auto"]
        med = lambda rs, key: float(np.median([r[key] for r in rs]))  # noqa: E731
        lines.append(
            f"{task}: equilibrium passed PCD-1 {sum(r['equilibrium'] for r in a)}/{len(a)}, "
            f"PCD-auto {sum(r['equilibrium'] for r in b)}/{len(b)}; median cost auto / PCD-1: "
            f"{med(b, 'seconds') / med(a, 'seconds'):.2f}× seconds, "
            f"{med(b, 'transitions') / med(a, 'transitions'):.2f}× transitions; median quality "
            f"PCD-1 {med(a, 'quality'):.4f}, auto {med(b, 'quality'):.4f}")
    text = "\n".join(lines)
    print("\n" + text)
    args.out.with_suffix(".txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
