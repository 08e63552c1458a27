"""Warm starts: a fresh process's first epoch with an empty and with a filled compilation
cache, and equal work on digits against scikit-learn, same run.

Task (equal work): an RBM 64x12 on scikit-learn's digits (pixels > 8, 1,437 training
images), PCD-1, batch 20, 300 epochs, SGD 0.05: pcdppl's ``pp.PCD`` (20 persistent chains:
scikit-learn's ``BernoulliRBM`` keeps one chain per minibatch row) against
``BernoulliRBM(n_components=12, batch_size=20, n_iter=300)``.

Every measurement is a fresh Python process (``python benchmarks/warm_start.py --worker
...``), timed from inside: ``import`` time, ``fit`` time and, for pcdppl, the time to the end
of the first epoch. pcdppl runs with ``PCDPPL_CACHE_DIR`` set to a new empty folder (*cold*:
every program is compiled and written to the cache), then again with the same folder
(*warm*: the programs are read back; ``--repeats`` times). The ratio that matters is warm
pcdppl ``fit`` over scikit-learn's ``fit`` (goal <= 0.5); the cold ratio is reported too,
and the ratios of whole processes (import included).

Run:  PYTHONPATH=. flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/warm_start.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HIDDEN, BATCH, EPOCHS, LR = 12, 20, 300, 0.05


def worker(lib: str, epochs: int) -> dict:
    t0 = time.perf_counter()
    if lib == "pcdppl":
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import optax

        import pcdppl as pp

        data = pp.data.load_digits(threshold=8)
        t1 = time.perf_counter()
        learner = pp.PCD(pp.models.rbm(64, HIDDEN), num_chains=BATCH, k=1, batch_size=BATCH,
                         optimizer=optax.sgd(LR))
        fit = learner.fit(data.train, epochs, key=0, progress=False)
        t2 = time.perf_counter()
        return {"import": t1 - t0, "fit": t2 - t1, "first_epoch": float(fit.history["time"][0])}
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import BernoulliRBM

    x = (load_digits().data > 8).astype(np.float64)
    train, _ = train_test_split(x, test_size=0.2, random_state=0)
    t1 = time.perf_counter()
    BernoulliRBM(n_components=HIDDEN, batch_size=BATCH, learning_rate=LR, n_iter=epochs,
                 random_state=0).fit(train)
    t2 = time.perf_counter()
    return {"import": t1 - t0, "fit": t2 - t1}


def spawn(lib: str, epochs: int, cache: str | None) -> dict:
    env = dict(os.environ)
    if cache is not None:
        env["PCDPPL_CACHE_DIR"] = cache
    t = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", lib,
                          "--epochs", str(epochs)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = wall
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["pcdppl", "sklearn"])
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="30 epochs, 1 repeat")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs)))
        return
    if args.quick:
        args.epochs, args.repeats = 30, 1
    print(f"RBM 64x{HIDDEN} on digits, PCD-1, batch {BATCH}, {args.epochs} epochs; "
          f"each row a fresh process")
    rows = []
    with tempfile.TemporaryDirectory(prefix="pcdppl-cache-") as cache:
        for i in range(args.repeats):
            rows.append(("scikit-learn", spawn("sklearn", args.epochs, None)))
            if i == 0:
                rows.append(("pcdppl cold", spawn("pcdppl", args.epochs, cache)))
            rows.append(("pcdppl warm", spawn("pcdppl", args.epochs, cache)))
        entries = len(os.listdir(cache))
    print(f"{'run':14s} {'import s':>9s} {'first epoch s':>14s} {'fit s':>7s} {'process s':>10s}")
    for name, r in rows:
        first = f"{r['first_epoch']:14.2f}" if "first_epoch" in r else f"{'':14s}"
        print(f"{name:14s} {r['import']:9.2f} {first} {r['fit']:7.2f} {r['process']:10.2f}")
    med = {name: {k: float(np.median([r[k] for n, r in rows if n == name]))
                  for k in ("import", "fit", "process")}
           for name in ("scikit-learn", "pcdppl cold", "pcdppl warm")}
    sk = med["scikit-learn"]
    print(f"\ncompiled programs in the cache after the cold run: {entries}")
    for name in ("pcdppl warm", "pcdppl cold"):
        print(f"{name}: fit {med[name]['fit'] / sk['fit']:.2f}x scikit-learn's fit "
              f"(medians {med[name]['fit']:.2f} s / {sk['fit']:.2f} s); whole process "
              f"{med[name]['process'] / sk['process']:.2f}x")


if __name__ == "__main__":
    main()
