"""Perturb-and-max-product sampling: pcdppl vs PGMax 0.6.1, same task, same run.

Task: periodic 2-D Ising model 32×32 with pairwise log-potentials β·s_i·s_j (β = 0.4),
64 samples per batch, each the MAP of the model with Gumbel-perturbed unary terms, found
by 200 damped (0.5) max-product iterations. Reported: samples per second of each and the
ratio. Both are checked to compute the same thing: on one shared batch of Gumbel noise the
decoded states are compared unit by unit, and the energy / |magnetisation| statistics of
their independent batches are compared.

PGMax needs jax 0.4.30 (it calls ``jax.lib.xla_bridge``, gone from current JAX), so it runs
in its own virtual environment, created on first use in
``~/.cache/pcdppl-bench/pgmax-venv`` (Python 3.12 via pyenv), as a subprocess
(``benchmarks/_pgmax_worker.py``) that prints JSON.

Run:  flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/pmp_vs_pgmax.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pcdppl as pp  # noqa: E402

VENV = Path.home() / ".cache" / "pcdppl-bench" / "pgmax-venv"
# pgmax 0.6.1 is installed with --no-deps: its declared requirements pull in TensorFlow and
# cvxpy for features this benchmark does not touch. What it imports at runtime:
PGMAX_DEPS = ["jax==0.4.30", "jaxlib==0.4.30", "numba"]


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import pgmax, jax; assert jax.__version__ == '0.4.30'"],
        capture_output=True).returncode == 0
    if not ok:
        print(f"creating {VENV} (PGMax 0.6.1, jax 0.4.30) ...", flush=True)
        env = {**os.environ, "PYENV_VERSION": "3.12.1"}
        subprocess.run(["python", "-m", "venv", str(VENV)], check=True, env=env)
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run(pip + PGMAX_DEPS, check=True)
        subprocess.run(pip + ["--no-deps", "pgmax==0.6.1"], check=True)
    return py


def run_pgmax(cfg: dict) -> dict:
    py = ensure_venv()
    worker = Path(__file__).with_name("_pgmax_worker.py")
    out = subprocess.run([str(py), str(worker), json.dumps(cfg)], capture_output=True,
                         text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if out.returncode != 0:
        raise RuntimeError(f"PGMax worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def stats(spins: np.ndarray, L: int, beta: float) -> dict:
    """Per-sample log-potential per spin β·Σ s_i s_j / N and |magnetisation|."""
    s = spins.reshape(-1, L, L).astype(np.float64)
    bonds = s * np.roll(s, 1, 1) + s * np.roll(s, 1, 2)
    return {"logpot_per_spin": beta * bonds.sum((1, 2)) / L**2,
            "abs_magnetisation": np.abs(s.mean((1, 2)))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--beta", type=float, default=0.4)
    ap.add_argument("--num-samples", type=int, default=64)
    ap.add_argument("--num-iters", type=int, default=200)
    ap.add_argument("--damping", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=20, help="timed pcdppl batches")
    ap.add_argument("--pgmax-repeats", type=int, default=3, help="timed PGMax batches")
    args = ap.parse_args()
    L, beta, n = args.size, args.beta, args.num_samples

    model = pp.models.ising((L, L), periodic=True, coupling="tied", field=None)
    params = {"J": jnp.float32(beta)}
    noise = np.random.default_rng(0).gumbel(size=(n, L, L, 2)).astype(np.float32)

    # ---------------------------------------------------------------- pcdppl
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=args.num_iters,
                                               damping=args.damping)
    state = sampler.init(0, params, num_chains=n)
    t0 = time.perf_counter()
    state, _ = sampler.step(jax.random.key(1), params, state)
    jax.block_until_ready(state.x)
    first_pc = time.perf_counter() - t0
    times_pc, draws = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        state, _ = sampler.step(jax.random.key(2 + r), params, state)
        jax.block_until_ready(state.x)
        times_pc.append(time.perf_counter() - t0)
        draws.append(np.asarray(sampler.values(state)["s"]))
    draws_pc = np.concatenate(draws)
    conv_pc = float(np.mean(np.asarray(sampler.converged(state))))
    # shared noise through pp.bp: evidence = log-odds of the perturbation (g_+1 - g_-1)
    bp = pp.bp.BeliefPropagation(model, temperature=0.0, damping=args.damping,
                                 num_iters=args.num_iters)
    res = bp.run(params, evidence={"s": (noise[..., 1] - noise[..., 0]).reshape(n, -1)})
    shared_pc = np.asarray(bp.decode(res)["s"])

    # ---------------------------------------------------------------- PGMax
    with tempfile.TemporaryDirectory() as tmp:
        nf = os.path.join(tmp, "noise.npy")
        np.save(nf, noise)
        pg = run_pgmax({"L": L, "beta": beta, "num_iters": args.num_iters,
                        "damping": args.damping, "num_samples": n, "seed": 1,
                        "repeats": args.pgmax_repeats, "noise_file": nf})
    shared_pg = 2 * np.asarray(pg["shared_states"], np.int8) - 1  # state 1 = spin +1
    draws_pg = 2 * np.asarray(pg["states"], np.int8) - 1

    # ---------------------------------------------------------------- report
    sps_pc = n / float(np.median(times_pc))
    sps_pg = n / float(np.median(pg["times_s"]))
    agree = float(np.mean(shared_pc == shared_pg))
    same = int(np.sum(np.all(shared_pc == shared_pg, axis=1)))
    st_pc, st_pg = stats(draws_pc, L, beta), stats(draws_pg, L, beta)
    sh_pc, sh_pg = stats(shared_pc, L, beta), stats(shared_pg, L, beta)

    print(f"\nPMP on a periodic {L}x{L} Ising model, beta={beta}, {n} samples/batch, "
          f"{args.num_iters} max-product iterations, damping {args.damping}")
    print(f"jax {jax.__version__} (pcdppl) vs jax {pg['jax']} (PGMax 0.6.1); "
          f"{os.cpu_count()} CPU cores\n")
    print(f"{'':28s}{'pcdppl':>14s}{'PGMax 0.6.1':>14s}")
    print(f"{'first call (compile) [s]':28s}{first_pc:14.2f}{pg['first_call_s']:14.2f}")
    print(f"{'median batch time [s]':28s}{np.median(times_pc):14.4f}"
          f"{np.median(pg['times_s']):14.3f}")
    print(f"{'timed batches':28s}{len(times_pc):14d}{len(pg['times_s']):14d}")
    print(f"{'samples / s':28s}{sps_pc:14.1f}{sps_pg:14.2f}")
    for name in ("logpot_per_spin", "abs_magnetisation"):
        a, b = st_pc[name], st_pg[name]
        print(f"{name + ' (mean±se)':28s}{a.mean():8.4f}±{a.std() / np.sqrt(len(a)):.3f}"
              f"{b.mean():8.4f}±{b.std() / np.sqrt(len(b)):.3f}")
    print(f"\nshared noise batch: {agree:.5f} of units decode identically, {same}/{n} samples "
          f"identical; log-potential per spin {sh_pc['logpot_per_spin'].mean():.5f} (pcdppl) "
          f"vs {sh_pg['logpot_per_spin'].mean():.5f} (PGMax)")
    print(f"pcdppl BP converged (residual ≤ {sampler.tol}) in {conv_pc:.0%} of the last "
          f"batch's samples")
    print(f"\nratio (pcdppl / PGMax samples per second): {sps_pc / sps_pg:.1f}x  (target ≥ 5x)")


if __name__ == "__main__":
    main()
