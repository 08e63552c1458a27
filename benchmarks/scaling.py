"""Scaling of pcdppl: spin updates/s against chains and lattice size, learner steps/s against
devices, and the memory of a 784x500 RBM trained with 20,000 persistent chains.

* Block Gibbs on a periodic L x L Ising lattice (one process, default devices): spin
  updates per second ``L^2 * num_chains * sweeps / seconds``, against the number of chains
  at fixed L and against L at fixed chains. The ratio column is the throughput relative to
  the smallest configuration (how throughput grows with the work).
* PCD on an RBM, data sharded over 1, 2, 4 forced host CPU devices (one subprocess each,
  ``XLA_FLAGS=--xla_force_host_platform_device_count=D``): parameter updates per second
  and the ratio to one device; scikit-learn's ``BernoulliRBM`` (PCD-1, NumPy) on the same
  RBM, batch and chain count is the peer, timed in the same run.
* Memory: a 784 x 500 RBM with 20,000 persistent chains: the compiled epoch's
  ``memory_analysis()`` and the process's peak resident memory after training.

Writes ``docs/scaling.png`` and replaces the tables between the markers in
``docs/scaling.md``. Run it under the shared benchmark lock::

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _block(x):
    import jax

    jax.block_until_ready(x)
    return x


def _best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call that compiles)."""
    _block(fn())
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(fn())
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------- block Gibbs spin updates
def spin_updates(L: int, chains: int, work: float, repeats: int) -> float:
    """Spin updates per second; ``work`` spin updates per timed call (sweeps scale with it)."""
    import networkx as nx

    import pcdppl as pp

    model = pp.models.ising(nx.grid_2d_graph(L, L, periodic=True))
    params = model.init_params(0)
    params = {**params, "J": params["J"] * 0 + 0.4, "h": params["h"] * 0}
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(0, params, chains)
    sweeps = max(5, round(work / (L * L * chains)))
    t = _best(lambda: sampler.run(1, params, state, sweeps), repeats)
    return L * L * chains * sweeps / t


# ---------------------------------------------------------------- learner vs devices (child)
def learner_child(args) -> None:
    import jax
    import optax

    import pcdppl as pp
    from pcdppl.learn.epoch import epoch_program
    from pcdppl.sharding import put_replicated

    n_v, n_h, C, B, N = args.n_visible, args.n_hidden, args.chains, args.batch, args.examples
    rng = np.random.default_rng(0)
    data = (rng.random((N, n_v)) < 0.2).astype(np.int8)
    model = pp.models.rbm(n_visible=n_v, n_hidden=n_h)
    devices = None if args.devices == 1 else args.devices
    learner = pp.PCD(model, num_chains=C, batch_size=B, k=1, optimizer=optax.sgd(0.01),
                     devices=devices)
    state = learner.init_state(0, data)
    data_b = put_replicated({"v": jax.numpy.asarray(data)}, learner.mesh)
    args_ = (learner.epoch_spec(("v",), N, None), model, learner.sampler,
             learner.clamped_sampler(("v",)))
    compiled = epoch_program.lower(*args_, state, data_b).compile()
    mem = compiled.memory_analysis()
    out = {"devices": jax.device_count(), "steps_per_epoch": N // B}
    if mem is not None:
        out["temp_bytes"] = int(mem.temp_size_in_bytes)
        out["argument_bytes"] = int(mem.argument_size_in_bytes)
        out["output_bytes"] = int(mem.output_size_in_bytes)
    holder = {"s": state}

    def one():
        holder["s"], metrics, _, _ = learner.run_epoch(holder["s"], data_b, ("v",), N, None)
        return metrics

    t = _best(one, args.repeats)
    out["epoch_s"] = t
    out["steps_per_s"] = (N // B) / t
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps(out), flush=True)


def run_child(devices: int, **kw) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, "--child", "--devices", str(devices)]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    if r.returncode or not line:
        raise RuntimeError(f"child failed ({devices} devices):\n{r.stdout[-3000:]}\n"
                           f"{r.stderr[-3000:]}")
    return json.loads(line[-1][len("RESULT "):])


def sklearn_steps_per_s(n_v, n_h, B, N, repeats) -> float:
    from sklearn.neural_network import BernoulliRBM

    rng = np.random.default_rng(0)
    data = (rng.random((N, n_v)) < 0.2).astype(np.float64)
    rbm = BernoulliRBM(n_components=n_h, batch_size=B, learning_rate=0.01, n_iter=1,
                       random_state=0)
    rbm.partial_fit(data[:B])
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(N // B):
            rbm.partial_fit(data[i * B:(i + 1) * B])
        best = min(best, time.perf_counter() - t0)
    return (N // B) / best


# ---------------------------------------------------------------- report
def md_table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write_docs(tables: str, fig_path: Path) -> None:
    page = ROOT / "docs" / "scaling.md"
    start, end = "<!-- scaling-tables:start -->", "<!-- scaling-tables:end -->"
    text = page.read_text() if page.exists() else f"# Scaling\n\n{start}\n{end}\n"
    block = f"{start}\n{tables}\n\n![scaling](scaling.png)\n{end}"
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    page.write_text(text)
    print(f"wrote {page} and {fig_path}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--n-visible", type=int, default=784)
    ap.add_argument("--n-hidden", type=int, default=256)
    ap.add_argument("--chains", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--examples", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.child:
        learner_child(args)
        return 0

    import jax

    q = args.quick
    rep = 2 if q else 3
    print(f"jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s), "
          f"{os.cpu_count()} CPU cores")

    # 1. spin updates vs chains (L fixed) and vs lattice size (chains fixed)
    L0, C0, work = 32, 64, (5e6 if q else 3e7)
    chain_grid = [1, 4, 16, 64, 256] if q else [1, 4, 16, 64, 256, 1024, 4096]
    size_grid = [8, 16, 32, 64] if q else [8, 16, 32, 64, 128, 256]
    by_chains = [(c, spin_updates(L0, c, work, rep)) for c in chain_grid]
    by_size = [(L, spin_updates(L, C0, work, rep)) for L in size_grid]
    t1 = md_table(["chains (L=32)", "spin updates/s", "ratio to 1 chain"],
                  [(c, f"{u:.3g}", f"{u / by_chains[0][1]:.1f}x") for c, u in by_chains])
    t2 = md_table([f"lattice L x L ({C0} chains)", "spin updates/s", "ratio to L=8"],
                  [(f"{L}x{L}", f"{u:.3g}", f"{u / by_size[0][1]:.1f}x") for L, u in by_size])
    print(t1, "\n", t2, sep="\n")

    # 2. learner steps/s vs devices, and the sklearn peer on the same problem
    lk = dict(n_visible=784, n_hidden=64 if q else 256, chains=1024 if q else 2048,
              batch=256, examples=2048 if q else 4096, repeats=rep)
    dev_rows = []
    for d in [1, 2, 4]:
        r = run_child(d, **lk)
        dev_rows.append(r)
        print(f"{d} device(s): {r['steps_per_s']:.1f} steps/s", flush=True)
    sk = sklearn_steps_per_s(lk["n_visible"], lk["n_hidden"], lk["batch"], lk["examples"], rep)
    base = dev_rows[0]["steps_per_s"]
    rows = [(r["devices"], f"{r['steps_per_s']:.1f}", f"{r['steps_per_s'] / base:.2f}x",
             f"{r['steps_per_s'] / sk:.2f}x", f"{r.get('temp_bytes', 0) / 2**20:.0f}")
            for r in dev_rows]
    rows.append(("sklearn BernoulliRBM (peer, chains = batch)", f"{sk:.1f}", "", "1.00x", ""))
    t3 = md_table([f"devices (RBM {lk['n_visible']}x{lk['n_hidden']}, {lk['chains']} chains, "
                   f"batch {lk['batch']})", "PCD steps/s", "ratio to 1 device",
                   "ratio to sklearn", "compiled temp MiB"], rows)
    print(t3)

    # 3. memory: 784 x 500 RBM, 20,000 persistent chains
    mk = dict(n_visible=784, n_hidden=500, chains=20000, batch=100,
              examples=1000 if q else 5000, repeats=1)
    m = run_child(1, **mk)
    t4 = md_table(["RBM 784x500, 20,000 chains, batch 100", "value"], [
        ("compiled epoch: arguments (params, opt state, chains, data)",
         f"{m['argument_bytes'] / 2**20:.1f} MiB"),
        ("compiled epoch: temporaries", f"{m['temp_bytes'] / 2**20:.1f} MiB"),
        ("compiled epoch: outputs", f"{m['output_bytes'] / 2**20:.1f} MiB"),
        ("peak resident memory of the process", f"{m['peak_rss_bytes'] / 2**30:.2f} GiB"),
        ("PCD steps/s (one device)", f"{m['steps_per_s']:.1f}"),
    ])
    print(t4)
    print(f"compiled step memory: args {m['argument_bytes'] / 2**20:.1f} MiB, temp "
          f"{m['temp_bytes'] / 2**20:.1f} MiB, out {m['output_bytes'] / 2**20:.1f} MiB; "
          f"peak RSS {m['peak_rss_bytes'] / 2**30:.2f} GiB")

    if args.no_docs:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].loglog([c for c, _ in by_chains], [u for _, u in by_chains], "o-")
    ax[0].set(xlabel="chains (32x32 Ising)", ylabel="spin updates / s", title="vs chains")
    ax[1].loglog([L * L for L, _ in by_size], [u for _, u in by_size], "o-")
    ax[1].set(xlabel=f"spins per lattice ({C0} chains)", ylabel="spin updates / s",
              title="vs lattice size")
    ax[2].plot([r["devices"] for r in dev_rows], [r["steps_per_s"] for r in dev_rows], "o-",
               label="pcdppl PCD")
    ax[2].axhline(sk, color="gray", ls="--", label="sklearn BernoulliRBM")
    ax[2].set(xlabel="forced host CPU devices", ylabel="PCD steps / s",
              title=f"RBM {lk['n_visible']}x{lk['n_hidden']}", xticks=[1, 2, 4])
    ax[2].legend()
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig_path = ROOT / "docs" / "scaling.png"
    fig.savefig(fig_path, dpi=110)
    header = (f"Measured with `python benchmarks/scaling.py` on {os.cpu_count()} CPU cores "
              f"(jax {jax.__version__}, {jax.devices()[0].platform}); absolute numbers drift "
              f"on shared machines, ratios are from the same run.")
    write_docs("\n\n".join([header, "### Block Gibbs: spin updates per second", t1, t2,
                            "### PCD: parameter updates per second against devices", t3,
                            "### Memory: 784x500 RBM with 20,000 persistent chains", t4]),
               fig_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
