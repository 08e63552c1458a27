"""Centered gradients (``pp.PCD(..., centered=True)``) against plain PCD at equal epochs and rate.

Melchior, Fischer & Wiskott (JMLR 2016) report that centering the dense couplings makes
RBM training reach better log-likelihoods, most clearly at larger learning rates. This script
checks that claim on pcdppl: the same learner, data, seed, minibatches, chains, learning rate
and number of epochs, with and without centering, and the **test** log-likelihood reached.

Tasks (``--tasks``):

* ``digits``: RBM 64×16 on ``pp.data.load_digits(threshold=8)`` (1,437 train / 360 test),
  PCD-1, 100 chains, batch 20, ``sgd(lr)`` for every ``lr`` in ``--digits-lrs``; the **exact**
  test log-likelihood (2^16 hidden states enumerated) after every ``--digits-every`` epochs up
  to ``--digits-epochs``, over the seeds ``--seeds``;
* ``mnist``: RBM 784×500 on ``pp.data.load_mnist_5k()`` (4,000 train / 1,000 test, pixels
  > 127), PCD-1, 100 chains, batch 100, ``sgd(--mnist-lr)``, ``--mnist-epochs`` epochs; the
  test log-likelihood with ``log Z`` from AIS (``--ais-chains`` runs × ``--ais-betas``
  temperatures, base-rate model from the training data, the same AIS key for both).

Printed: per task and learning rate, the test log-likelihood of each variant at each
evaluation point (mean and spread over seeds) and the difference centered − plain. The
claim is *confirmed* at a setting when the centered mean is higher by more than twice the
standard error of the paired differences, *contradicted* when lower by as much, otherwise
*no difference seen*.

    flock /tmp/pcdppl-bench.lock timeout 2400 python benchmarks/centered.py
    flock /tmp/pcdppl-bench.lock timeout 900 python benchmarks/centered.py --quick
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import optax

import pcdppl as pp


def train_and_score(model, data, test, *, centered, lr, batch, epochs, every, seed, score):
    learner = pp.PCD(model, num_chains=100, k=1, batch_size=batch, optimizer=optax.sgd(lr),
                     centered=centered)
    fit, out, done = None, [], 0
    t0 = time.perf_counter()
    while done < epochs:
        n = min(every, epochs - done)
        if fit is None:
            fit = learner.fit(data, n, key=seed, progress=False, mixing_warnings=False,
                              record_every=0)
        else:
            fit = learner.fit(data, n, resume=fit, progress=False, mixing_warnings=False,
                              record_every=0)
        done += n
        out.append((done, score(fit.params)))
    return out, time.perf_counter() - t0


def verdict(diffs):
    d = np.asarray(diffs, float)
    if len(d) < 2:
        return f"{d.mean():+.3f} (one seed)"
    se = d.std(ddof=1) / math.sqrt(len(d))
    word = ("confirmed" if d.mean() > 2 * se else
            "contradicted" if d.mean() < -2 * se else "no difference seen")
    return f"{d.mean():+.3f} ± {se:.3f} (se) -> {word}"


def report(title, rows_by_variant, seeds):
    print(f"\n{title}")
    plain, cent = rows_by_variant[False], rows_by_variant[True]
    print(f"{'epochs':>7s} {'plain (mean, min..max)':>28s} {'centered (mean, min..max)':>30s}  "
          "centered - plain (paired over seeds)")
    for i, (ep, _) in enumerate(plain[seeds[0]]):
        a = np.array([plain[s][i][1] for s in seeds])
        b = np.array([cent[s][i][1] for s in seeds])
        print(f"{ep:7d} {a.mean():10.3f} ({a.min():.2f}..{a.max():.2f})     "
              f"{b.mean():10.3f} ({b.min():.2f}..{b.max():.2f})     {verdict(b - a)}")


def digits(args):
    ds = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(ds.train.shape[1], 16)

    def score(params):
        return float(pp.evaluate.log_likelihood(model, params, ds.test, method="exact"))

    for lr in args.digits_lrs:
        rows = {False: {}, True: {}}
        secs = {False: 0.0, True: 0.0}
        for seed in args.seeds:
            for centered in (False, True):
                rows[centered][seed], t = train_and_score(
                    model, ds.train, ds.test, centered=centered, lr=lr, batch=20,
                    epochs=args.digits_epochs, every=args.digits_every, seed=seed, score=score)
                secs[centered] += t
        report(f"digits RBM 64x16, PCD-1, batch 20, sgd({lr}), exact test log-likelihood "
               f"(nats), seeds {args.seeds}; wall s plain {secs[False]:.1f}, centered "
               f"{secs[True]:.1f}", rows, args.seeds)


def mnist(args):
    ds = pp.data.load_mnist_5k()
    model = pp.models.rbm(ds.train.shape[1], 500)
    betas = np.linspace(0.0, 1.0, args.ais_betas) ** 3  # denser near beta = 0

    def score(params):
        return float(pp.evaluate.log_likelihood(
            model, params, ds.test, method="ais", key=123,
            ais_options=dict(num_chains=args.ais_chains, betas=betas, data=ds.train)))

    rows = {False: {}, True: {}}
    for seed in args.seeds:
        for centered in (False, True):
            rows[centered][seed], t = train_and_score(
                model, ds.train, ds.test, centered=centered, lr=args.mnist_lr, batch=100,
                epochs=args.mnist_epochs, every=args.mnist_epochs, seed=seed, score=score)
            print(f"  mnist seed {seed} centered={centered}: {t:.1f} s, "
                  f"test LL {rows[centered][seed][-1][1]:.2f}", flush=True)
    report(f"MNIST-5k RBM 784x500, PCD-1, batch 100, sgd({args.mnist_lr}), AIS test "
           f"log-likelihood ({args.ais_chains} runs x {args.ais_betas} temperatures)",
           rows, args.seeds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["digits", "mnist"],
                    choices=["digits", "mnist"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--digits-lrs", type=float, nargs="+", default=[0.05, 0.2])
    ap.add_argument("--digits-epochs", type=int, default=100)
    ap.add_argument("--digits-every", type=int, default=25)
    ap.add_argument("--mnist-lr", type=float, default=0.05)
    ap.add_argument("--mnist-epochs", type=int, default=20)
    ap.add_argument("--ais-chains", type=int, default=64)
    ap.add_argument("--ais-betas", type=int, default=5000)
    ap.add_argument("--quick", action="store_true",
                    help="3 seeds, 40 digits epochs, 5 MNIST epochs, 32 x 2000 AIS")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.digits_epochs, args.digits_every = [0, 1, 2], 40, 20
        args.mnist_epochs, args.ais_chains, args.ais_betas = 5, 32, 2000
    print(f"pcdppl {pp.__version__}; centered vs plain PCD-1 at equal epochs and rate")
    if "digits" in args.tasks:
        digits(args)
    if "mnist" in args.tasks:
        mnist(args)


if __name__ == "__main__":
    main()
