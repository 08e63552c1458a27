"""RBM on binarised digits: pcdppl PCD against scikit-learn's BernoulliRBM.

Data: ``pp.data.load_digits(threshold=8)`` (pixels > 8; 80/20 split,
``train_test_split(test_size=0.2, random_state=0)``: 1,437 training, 360 test images).
Model: 64 visible, 16 hidden binary units. Quality: the exact test log-likelihood
(``pp.evaluate.log_likelihood``, 2^16 hidden states summed), for both libraries.

* scikit-learn: ``BernoulliRBM(n_components=16, batch_size=20, learning_rate=0.1,
  n_iter=500, random_state=0)`` (PCD-1 with 20 persistent chains). Its time is that of a
  plain ``fit``; its learning curve comes from replaying the same ``fit`` loop (same
  random stream, same ``_fit`` minibatch updates) in chunks of epochs, timing only the
  training.
* pcdppl: ``pp.PCD(model, num_chains=100, k=1, batch_size=20, optimizer=optax.sgd(0.1))``,
  each run in a fresh process (cold: no compilation cache). Run A records the test
  log-likelihood after every epoch against ``history["time"]`` (initialisation and
  compilation included, evaluation excluded). Run B repeats the fit for exactly the
  epochs run A needed to reach the target, without validation, timing wall and CPU.

Target: pcdppl reaches scikit-learn's final test log-likelihood in under half of
scikit-learn's time. Exact-gradient maximum likelihood reaches about -18.4 here.

Run (from the repository root)::

    PYTHONPATH=. python benchmarks/rbm_vs_sklearn.py [--plot benchmarks/rbm_vs_sklearn.png]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CEILING = -18.4  # exact-gradient ML on this split
ISSUE_TARGET = -18.9  # the value quoted in issue #2

PCDPPL_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np, optax
    import pcdppl as pp
    t_import = time.perf_counter() - t0
    epochs, validate, lr = int(sys.argv[1]), sys.argv[2] == "1", float(sys.argv[3])
    record_every = None if sys.argv[4] == "default" else int(sys.argv[4])
    data = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(64, 16)
    learner = pp.PCD(model, num_chains=100, k=1, batch_size=20, optimizer=optax.sgd(lr))
    w, c = time.perf_counter(), time.process_time()
    fit = learner.fit(data.train, epochs, key=0, progress=False,
                      validation=data.test if validate else None, eval_every=1,
                      record_every=record_every)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    h = fit.history
    out = {"import_s": t_import, "fit_wall_s": wall, "fit_cpu_s": cpu,
           "time": h["time"].tolist(), "epoch": h["epoch"].tolist(),
           "final_test_ll": float(pp.evaluate.log_likelihood(model, fit.params, data.test))}
    if validate:
        out["test_ll"] = h["val_log_likelihood"].tolist()
    print(json.dumps(out))
""")


RECORD_EVERY = "default"  # set from --record-every in main()


def run_pcdppl(epochs: int, validate: bool, lr: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # cold: no persistent compilation cache
    out = subprocess.run([sys.executable, "-c", PCDPPL_SCRIPT, str(epochs), str(int(validate)),
                          str(lr), RECORD_EVERY], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"pcdppl subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def sklearn_params(rbm) -> dict:
    return {"W": rbm.components_.T.astype(np.float32),
            "b_v": rbm.intercept_visible_.astype(np.float32),
            "b_h": rbm.intercept_hidden_.astype(np.float32)}


def run_sklearn(train, test, model, epochs: int, chunk: int) -> dict:
    from sklearn.neural_network import BernoulliRBM
    from sklearn.utils import check_random_state, gen_even_slices

    import pcdppl as pp

    X = train.astype(np.float64)
    kw = dict(n_components=16, batch_size=20, learning_rate=0.1, random_state=0)
    rbm = BernoulliRBM(n_iter=epochs, **kw)
    w, c = time.perf_counter(), time.process_time()
    rbm.fit(X)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    final = float(pp.evaluate.log_likelihood(model, sklearn_params(rbm), test))

    # the same fit, replayed in chunks (mirrors BernoulliRBM.fit of scikit-learn 1.x)
    r = BernoulliRBM(n_iter=epochs, **kw)
    rng = check_random_state(0)
    r.components_ = np.asarray(rng.normal(0, 0.01, (16, X.shape[1])), order="F")
    r.intercept_hidden_, r.intercept_visible_ = np.zeros(16), np.zeros(X.shape[1])
    r.h_samples_ = np.zeros((20, 16))
    nb = int(np.ceil(len(X) / 20))
    slices = list(gen_even_slices(nb * 20, nb, n_samples=len(X)))
    t, curve = 0.0, []
    for ep in range(1, epochs + 1):
        s = time.perf_counter()
        for sl in slices:
            r._fit(X[sl], rng)
        t += time.perf_counter() - s
        if ep % chunk == 0 or ep == epochs:
            curve.append((ep, t, float(pp.evaluate.log_likelihood(model, sklearn_params(r), test))))
    replay_same = bool(np.allclose(r.components_, rbm.components_))
    return {"wall_s": wall, "cpu_s": cpu, "final_test_ll": final, "curve": curve,
            "replay_identical": replay_same, "version": __import__("sklearn").__version__}


def first_reach(times, lls, target):
    lls = np.asarray(lls, dtype=float)
    hit = np.where(np.nan_to_num(lls, nan=-np.inf) >= target)[0]
    return (int(hit[0]), float(times[hit[0]])) if len(hit) else (None, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=150, help="pcdppl epochs in run A")
    ap.add_argument("--lr", type=float, default=0.1, help="pcdppl SGD learning rate")
    ap.add_argument("--sklearn-epochs", type=int, default=500)
    ap.add_argument("--record-every", default="default",
                    help="fit(record_every=...) for pcdppl: 'default' (diagnostics recording on, "
                         "about 10 recordings per epoch) or an int; 0 turns recording off")
    ap.add_argument("--plot", default=str(ROOT / "benchmarks" / "rbm_vs_sklearn.png"))
    args = ap.parse_args()
    global RECORD_EVERY
    RECORD_EVERY = args.record_every
    print(f"pcdppl fit(record_every={args.record_every})")

    import pcdppl as pp

    data = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(64, 16)
    sk = run_sklearn(data.train, data.test, model, args.sklearn_epochs, chunk=10)
    target = sk["final_test_ll"]
    a = run_pcdppl(args.epochs, True, args.lr)
    i, t_a = first_reach(a["time"], a["test_ll"], target)
    j, t_a_issue = first_reach(a["time"], a["test_ll"], ISSUE_TARGET)
    b = run_pcdppl(a["epoch"][i], False, args.lr) if i is not None else None
    c = run_pcdppl(a["epoch"][j], False, args.lr) if j is not None else None

    print(f"\nRBM 64x16 on digits > 8 (1437 train / 360 test), exact test log-likelihood "
          f"(nats per image); scikit-learn {sk['version']}, CPU")
    print(f"{'':<44} {'test LL':>9} {'epochs':>7} {'wall s':>8} {'CPU s':>7}")
    print(f"{'scikit-learn BernoulliRBM, fit':<44} {target:>9.3f} {args.sklearn_epochs:>7} "
          f"{sk['wall_s']:>8.2f} {sk['cpu_s']:>7.2f}")
    best_sk = max(x[2] for x in sk["curve"])
    print(f"{'  (its best test LL on the 10-epoch curve)':<44} {best_sk:>9.3f}")
    ll_a = np.asarray(a["test_ll"])
    print(f"{'pcdppl PCD, run A (' + str(args.epochs) + ' epochs, history time)':<44} "
          f"{ll_a[-1]:>9.3f} {args.epochs:>7} {a['time'][-1]:>8.2f} {'':>7}")
    print(f"{'  first epoch (init + compile + epoch)':<44} {ll_a[0]:>9.3f} {1:>7} "
          f"{a['time'][0]:>8.2f}")
    rows = [("reach scikit-learn's final LL", i, t_a, b, target),
            ("reach -18.9 (issue's figure)", j, t_a_issue, c, ISSUE_TARGET)]
    for name, k, t_hist, run, tgt in rows:
        if k is None:
            print(f"pcdppl never reached {tgt:.3f} in {args.epochs} epochs")
            continue
        print(f"{'pcdppl ' + name + ', run A':<44} {ll_a[k]:>9.3f} {a['epoch'][k]:>7} "
              f"{t_hist:>8.2f}")
        print(f"{'pcdppl ' + name + ', run B (fit only)':<44} {run['final_test_ll']:>9.3f} "
              f"{a['epoch'][k]:>7} {run['fit_wall_s']:>8.2f} {run['fit_cpu_s']:>7.2f}")
    print(f"{'exact-gradient ML (ceiling)':<44} {CEILING:>9.1f}")
    if i is not None:
        print(f"\nratio pcdppl / scikit-learn time to scikit-learn's final test LL {target:.3f}: "
              f"wall {t_a / sk['wall_s']:.2f} (run A), {b['fit_wall_s'] / sk['wall_s']:.2f} "
              f"(run B); CPU {b['fit_cpu_s'] / sk['cpu_s']:.2f} (run B)  [target < 0.5]")
    if j is not None:
        print(f"ratio to -18.9: wall {t_a_issue / sk['wall_s']:.2f} (run A), "
              f"{c['fit_wall_s'] / sk['wall_s']:.2f} (run B); CPU "
              f"{c['fit_cpu_s'] / sk['cpu_s']:.2f} (run B)")
    print(f"(pcdppl import {a['import_s']:.2f} s, not counted; the scikit-learn replay "
          f"{'matches' if sk['replay_identical'] else 'DIFFERS FROM'} its fit)")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.2))
        ep, ts, lls = zip(*sk["curve"], strict=True)
        ax.plot(ts, lls, "o-", ms=3, label="scikit-learn BernoulliRBM (lr 0.1, every 10 epochs)")
        ax.plot(a["time"], a["test_ll"], ".-", ms=3,
                label=f"pcdppl PCD (sgd {args.lr}, every epoch, compile included)")
        ax.axhline(target, color="gray", ls="--", lw=1,
                   label=f"scikit-learn after {args.sklearn_epochs} epochs")
        ax.axhline(CEILING, color="k", ls=":", lw=1, label="exact-gradient ML")
        ax.set_xlabel("training time, s (wall)")
        ax.set_ylabel("exact test log-likelihood, nats")
        ax.set_ylim(-26, -18)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("RBM 64×16, digits > 8")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
