"""Learning the couplings of a lattice Ising model (the task of Grathwohl et al., 2021, §6.1).

Ground truth: an Ising model on a periodic L×L lattice with every coupling equal to
``--sigma`` (default 0.2) and no field. Training data: ``--num-data`` states drawn from it by
long block-Gibbs runs (``--data-chains`` chains, ``--data-warmup`` sweeps of warm-up, then one
draw every ``--data-thin`` sweeps). Each method then learns one coupling per lattice edge
(initialised at N(0, 0.01²)) with Adam (learning rate decaying linearly to a tenth), and we
record the RMSE of the learned couplings against the truth as a function of wall-clock time
(compilation included).

Methods (a list; add a learner by appending one entry to ``METHODS``):

* ``PCD-Gibbs``  — persistent chains, one block-Gibbs sweep per update;
* ``MH-flip``    — persistent Metropolis chains, one color-scan sweep of flips per update;
* ``MH-GWG``     — persistent Gibbs-with-Gradients chains, ``--gwg-proposals`` proposals per
  update (default: L, i.e. a fraction 1/L of a sweep's worth of changes at about L times a
  sweep's cost);
* ``PMP``        — perturb-and-max-product, included automatically when this pcdppl has
  ``pp.PerturbAndMaxProductLearner``;
* ``PL``         — ``pp.PseudoLikelihood``: maximum pseudo-likelihood, exact gradient, no
  chains (consistent for this fully visible model);
* ``PCD-auto``   — ``pp.PCD(k="auto")``: block-Gibbs chains whose ``k`` adapts after every
  epoch to the chains' energy autocorrelation time (``k_target`` 1, ``k_max`` 100);
* ``PCD-DLP``    — ``pp.PCD`` with ``pp.samplers.DiscreteLangevin(step_size=--dlp-step,
  adjusted=True)`` as its sampler, ``--dlp-k`` transitions per update.

``--methods`` picks a subset. The table also gives each method's sampler transitions per
chain over the whole fit (``k`` × updates; the final ``k`` for ``PCD-auto``).

Differences from the paper: there the model has a coupling for *every* pair of sites
(learned with an L1 penalty) and samplers are compared per step on a GPU; here the lattice
structure is given and the comparison is per second of CPU time.

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/ising_learning.py
    flock /tmp/pcdppl-bench.lock timeout 600 python benchmarks/ising_learning.py --quick
    flock /tmp/pcdppl-bench.lock timeout 3600 python benchmarks/ising_learning.py --sizes 10 25
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp


@dataclass
class Method:
    name: str
    make: Callable  # (model, args, L) -> learner with .fit(data, num_epochs, key, resume=...)


def _optimizer(args):
    """Adam with a learning rate decaying linearly to a tenth over the planned updates."""
    updates = args.epochs * (args.num_data // args.batch_size)
    return optax.adam(optax.linear_schedule(args.lr, 0.1 * args.lr, updates))


def _pmp(model, args, L):
    opt = _optimizer(args)
    try:
        return pp.PerturbAndMaxProductLearner(model, num_chains=args.chains, optimizer=opt,
                                       batch_size=args.batch_size)
    except TypeError:  # a different signature: fall back to its defaults
        return pp.PerturbAndMaxProductLearner(model)


def _pl(model, args, L):
    return pp.PseudoLikelihood(model, optimizer=_optimizer(args), batch_size=args.batch_size)


def _auto(model, args, L):
    return pp.PCD(model, num_chains=args.chains, k="auto", k_target=1.0, k_max=100,
                  optimizer=_optimizer(args), batch_size=args.batch_size)


def _dlp(model, args, L):
    sampler = pp.samplers.DiscreteLangevin(model, args.dlp_step, adjusted=True)
    return pp.PCD(model, sampler=sampler, num_chains=args.chains, k=args.dlp_k,
                  optimizer=_optimizer(args), batch_size=args.batch_size)


METHODS = [
    Method("PCD-Gibbs", lambda m, a, L: pp.PCD(m, num_chains=a.chains, k=1,
                                                optimizer=_optimizer(a),
                                                batch_size=a.batch_size)),
    Method("MH-flip", lambda m, a, L: pp.MetropolisHastings(m, proposal="flip",
                                                            num_chains=a.chains, k=1,
                                                            optimizer=_optimizer(a),
                                                            batch_size=a.batch_size)),
    Method("MH-GWG", lambda m, a, L: pp.MetropolisHastings(m, proposal="gwg",
                                                           num_chains=a.chains, k=1,
                                                           num_proposals=a.gwg_proposals or L,
                                                           optimizer=_optimizer(a),
                                                           batch_size=a.batch_size)),
]
if hasattr(pp, "PerturbAndMaxProductLearner"):
    METHODS.append(Method("PMP", _pmp))
METHODS += [Method("PL", _pl), Method("PCD-auto", _auto), Method("PCD-DLP", _dlp)]
FIXED_K = {"PCD-Gibbs": 1, "MH-flip": 1, "MH-GWG": 1, "PMP": 1}


def make_data(L: int, args) -> tuple[pp.Model, dict, np.ndarray]:
    model = pp.models.ising((L, L), field=None)
    truth = {"J": np.full(model.param_shapes["J"], args.sigma, np.float32)}
    per_chain = -(-args.num_data // args.data_chains)
    draws = pp.sample(jax.random.key(args.seed + 1000 + L), model, truth,
                      num_chains=args.data_chains, num_samples=per_chain,
                      num_warmup=args.data_warmup, thin=args.data_thin)
    data = np.asarray(draws["s"]).reshape(-1, L * L)[: args.num_data]
    return model, truth, data


curve_extra: list = []  # (method, L, {"accept_rate": ...}) of each run


def learn_curve(method: Method, model, truth, data, L, args) -> list[tuple[float, float, int]]:
    """(seconds, RMSE, epoch) after every ``--eval-every`` epochs, wall clock cumulative."""
    learner = method.make(model, args, L)
    rmse = lambda p: float(np.sqrt(np.mean((np.asarray(p["J"]) - truth["J"]) ** 2)))  # noqa: E731
    t0 = time.perf_counter()
    fit = learner.fit(data, num_epochs=args.eval_every, key=args.seed, progress=False)
    elapsed = time.perf_counter() - t0
    curve = [(elapsed, rmse(fit.params), args.eval_every)]
    k_sum = float(np.sum(fit.history.get("k", 0.0)))  # a resumed fit's history is its own
    while curve[-1][2] < args.epochs and elapsed < args.time_limit:
        t0 = time.perf_counter()
        fit = learner.fit(data, num_epochs=args.eval_every, resume=fit, progress=False)
        jax.block_until_ready(fit.params)
        elapsed += time.perf_counter() - t0
        curve.append((elapsed, rmse(fit.params), curve[-1][2] + args.eval_every))
        k_sum += float(np.sum(fit.history.get("k", 0.0)))
    extra = {k: float(np.mean(v[-args.eval_every:])) for k, v in fit.history.items()
             if k in ("accept_rate", "change_rate")}
    updates = args.num_data // args.batch_size
    if "k" in fit.history:  # adaptive k: the k of every epoch
        extra["k"] = float(fit.history["k"][-1])
        extra["transitions"] = k_sum * updates
    elif method.name == "PCD-DLP":
        extra["k"], extra["transitions"] = args.dlp_k, args.dlp_k * updates * curve[-1][2]
    elif method.name in FIXED_K:
        extra["k"], extra["transitions"] = FIXED_K[method.name], updates * curve[-1][2]
    curve_extra.append((method.name, L, extra))
    return curve



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="L=10, 2000 training states, 30 epochs, 15 s per method; results in "
                         "ising_learning_quick.*")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10], help="lattice sides L")
    ap.add_argument("--sigma", type=float, default=0.2, help="true coupling strength")
    ap.add_argument("--num-data", type=int, default=5000)
    ap.add_argument("--data-chains", type=int, default=200)
    ap.add_argument("--data-warmup", type=int, default=1000)
    ap.add_argument("--data-thin", type=int, default=50)
    ap.add_argument("--chains", type=int, default=100, help="persistent chains per learner")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=2, help="epochs between RMSE readings")
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="stop a method after this many seconds (per size)")
    ap.add_argument("--gwg-proposals", type=int, default=0, help="GWG proposals per update (0: L)")
    ap.add_argument("--dlp-step", type=float, default=0.75,
                    help="DiscreteLangevin step size of PCD-DLP")
    ap.add_argument("--dlp-k", type=int, default=1, help="DiscreteLangevin transitions per "
                    "update of PCD-DLP")
    ap.add_argument("--methods", nargs="+", default=None,
                    help=f"subset of {[m.name for m in METHODS]} (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ising_learning")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=pp.diagnostics.MixingWarning)
    if args.quick:
        args.sizes, args.num_data, args.epochs, args.time_limit = [10], 2000, 30, 15.0
        if args.out.name == "ising_learning":
            args.out = args.out.with_name("ising_learning_quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    methods = [m for m in METHODS if args.methods is None or m.name in args.methods]
    if args.methods and "PCD-Gibbs" not in args.methods:
        raise SystemExit("--methods must include PCD-Gibbs (the baseline of the ratios)")

    results = {}
    for L in args.sizes:
        t0 = time.perf_counter()
        model, truth, data = make_data(L, args)
        print(f"L={L}: {len(data)} training states from block Gibbs "
              f"({time.perf_counter() - t0:.1f} s); mean |magnetisation| "
              f"{np.abs(data.mean(1)).mean():.3f}", flush=True)
        for m in methods:
            results[(L, m.name)] = learn_curve(m, model, truth, data, L, args)
            s, r, e = results[(L, m.name)][-1]
            print(f"  {m.name:10s} {e:4d} epochs {s:7.1f} s  RMSE {r:.4f}", flush=True)

    lines = ["(--quick configuration; shared 2-core machine, timings noisy)"] if args.quick else []
    lines += [f"Lattice Ising learning, sigma={args.sigma}, {args.num_data} training states, "
             f"{args.chains} chains, batch {args.batch_size}, Adam lr {args.lr} -> {args.lr / 10:g}; "
             f"jax {jax.__version__} on {jax.devices()[0].platform}", ""]
    checkpoints = (10.0, 20.0, 30.0, 60.0)
    head = (f"{'L':>3s} {'method':10s} {'epochs':>6s} {'seconds':>8s} {'final RMSE':>10s} "
            + " ".join(f"{f'RMSE@{c:g}s':>9s}" for c in checkpoints) + f" {'accept':>7s}"
            + f" {'k':>5s} {'transitions':>11s}")
    lines += [head, "-" * len(head)]
    extras = {(L, n): e for n, L, e in curve_extra}
    for (L, name), curve in results.items():
        t, r, e = zip(*curve, strict=True)
        at = []
        for c in checkpoints:
            i = np.searchsorted(t, c, side="right") - 1
            at.append(f"{r[i]:9.4f}" if i >= 0 else f"{'-':>9s}")
        ex = extras.get((L, name), {})
        acc = ex.get("accept_rate", np.nan)
        k = f"{ex['k']:5g}" if "k" in ex else f"{'-':>5s}"
        tr = f"{ex['transitions']:11.0f}" if "transitions" in ex else f"{'-':>11s}"
        lines.append(f"{L:3d} {name:10s} {e[-1]:6d} {t[-1]:8.1f} {r[-1]:10.4f} "
                     + " ".join(at) + f" {acc:7.3f} {k} {tr}")
    for L in args.sizes:
        # a level every method should reach: 1.25 × the best final RMSE at this size
        level = 1.25 * min(results[(L, m.name)][-1][1] for m in methods)
        hits = {m.name: next((s for s, r, _ in results[(L, m.name)] if r <= level), None)
                for m in methods}
        base = hits["PCD-Gibbs"]
        lines.append(f"L={L}: seconds to reach RMSE ≤ {level:.4f} (1.25 × best final): "
                     + ", ".join(f"{n} {'-' if h is None else f'{h:.1f}'}"
                                 + ("" if h is None or base is None or n == "PCD-Gibbs"
                                    else f" ({h / base:.2f}× PCD-Gibbs)")
                                 for n, h in hits.items()))
    text = "\n".join(lines)
    print("\n" + text)
    args.out.with_suffix(".txt").write_text(text + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.sizes), figsize=(5 * len(args.sizes), 3.8), squeeze=False)
    for ax, L in zip(axes[0], args.sizes, strict=True):
        for m in methods:
            t, r, _ = zip(*results[(L, m.name)], strict=True)
            ax.plot(t, r, marker=".", label=m.name)
        ax.set(xlabel="wall-clock seconds (CPU)", ylabel="RMSE of couplings", yscale="log",
               title=f"{L}×{L} periodic lattice, σ = {args.sigma}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)
    print(f"wrote {args.out.with_suffix('.png')} and {args.out.with_suffix('.txt')}")


if __name__ == "__main__":
    main()
