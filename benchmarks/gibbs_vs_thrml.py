"""Block Gibbs on the 2-D periodic Ising model: pcdppl against thrml 0.1.x.

64×64 periodic lattice, β = 0.4 (couplings J = β, no field), 64 chains, checkerboard block
Gibbs. Both libraries run the same model; the timed part is a compiled loop of sweeps
after a warm-up call that compiles it. Reported: spin updates per second (best of the
repeats), CPU seconds of the timed calls, and the mean energy per spin
``u = -<Σ_<ij> s_i s_j> / N`` of the chains after the runs, against Onsager's
infinite-lattice value (finite-size corrections at L = 64 are ~1e-3).

Also timed: ``pp.models.ising((1000, 1000))`` (10^6 spins, 2·10^6 couplings) → first
Gibbs sweep, build + compile + sweep, in a fresh process.

thrml is installed in its own virtual environment (``~/.cache/pcdppl-bench/thrml-venv``,
Python 3.12, ``thrml==0.1.4``) and runs as a subprocess that prints JSON.

Run (from the repository root)::

    PYTHONPATH=. python benchmarks/gibbs_vs_thrml.py [--sweeps 500] [--repeats 3]
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

L, C, BETA = 64, 64, 0.4
VENV = Path.home() / ".cache" / "pcdppl-bench" / "thrml-venv"
THRML_VERSION = "0.1.4"
ROOT = Path(__file__).resolve().parents[1]


def onsager_energy(beta: float) -> float:
    """Exact energy per spin of the infinite 2-D Ising model (J = 1)."""
    from scipy.special import ellipk

    t = 2 * beta
    k = 2 * np.sinh(t) / np.cosh(t) ** 2
    return float(-1 / np.tanh(t) * (1 + 2 / np.pi * (2 * np.tanh(t) ** 2 - 1) * ellipk(k ** 2)))


def lattice_energy(spins: np.ndarray) -> np.ndarray:
    """``-Σ_<ij> s_i s_j / N`` of periodic lattices ``(..., L, L)``."""
    s = spins.astype(np.float64)
    bonds = s * np.roll(s, 1, axis=-1) + s * np.roll(s, 1, axis=-2)
    return -bonds.sum(axis=(-1, -2)) / (spins.shape[-1] * spins.shape[-2])


# ----------------------------------------------------------------------------- pcdppl
def run_pcdppl(coupling: str, sweeps: int, repeats: int) -> dict:
    import jax

    import pcdppl as pp

    model = pp.models.ising((L, L), coupling=coupling, field=None)
    params = {"J": np.full(model.param_shapes["J"], BETA, np.float32)}
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(0, params, C)
    t = time.perf_counter()
    state, _ = jax.block_until_ready(sampler.run(1, params, state, sweeps))  # compile + burn-in
    compile_s = time.perf_counter() - t
    walls, cpus, energies = [], [], []
    for r in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        state, _ = jax.block_until_ready(sampler.run(2 + r, params, state, sweeps))
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        s = np.asarray(sampler.values(state)["s"]).reshape(C, L, L)
        energies.append(lattice_energy(s))
    return _summary(f"pcdppl (J {coupling})", sweeps, walls, cpus, energies, compile_s)


def _summary(name, sweeps, walls, cpus, energies, compile_s) -> dict:
    e = np.concatenate([np.ravel(x) for x in energies])
    best = min(walls)
    cpu = float(min(cpus))
    return {"name": name, "updates_per_s": C * L * L * sweeps / best, "best_wall_s": best,
            "cpu_s": cpu, "updates_per_cpu_s": C * L * L * sweeps / cpu, "first_call_s": compile_s,
            "energy": float(e.mean()), "energy_se": float(e.std(ddof=1) / np.sqrt(len(e)))}


# ----------------------------------------------------------------------------- thrml
THRML_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import jax, jax.numpy as jnp, numpy as np
    from thrml import SpinNode, Block, SamplingSchedule, sample_states
    from thrml.models import IsingEBM, IsingSamplingProgram, hinton_init
    L, C, beta, sweeps, repeats = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                   int(sys.argv[4]), int(sys.argv[5]))
    nodes = [SpinNode() for _ in range(L * L)]
    edges = []
    for i in range(L):
        for j in range(L):
            edges.append((nodes[i * L + j], nodes[((i + 1) % L) * L + j]))
            edges.append((nodes[i * L + j], nodes[i * L + (j + 1) % L]))
    black = [i * L + j for i in range(L) for j in range(L) if (i + j) % 2 == 0]
    white = [i * L + j for i in range(L) for j in range(L) if (i + j) % 2 == 1]
    blocks = [Block([nodes[i] for i in black]), Block([nodes[i] for i in white])]
    ebm = IsingEBM(nodes, edges, jnp.zeros(L * L), jnp.full(len(edges), beta), jnp.array(1.0))
    prog = IsingSamplingProgram(ebm, blocks, [])
    sched = SamplingSchedule(n_warmup=sweeps - 1, n_samples=1, steps_per_sample=1)

    @jax.jit
    def run(key, init):
        ks = jax.random.split(key, C)
        out = jax.vmap(lambda k, i: sample_states(k, prog, sched, i, [], blocks))(ks, init)
        return [o[:, 0] for o in out]  # final state of every block, (C, n_block)

    init = hinton_init(jax.random.key(0), ebm, blocks, (C,))
    t = time.perf_counter()
    state = jax.block_until_ready(run(jax.random.key(1), init))
    first = time.perf_counter() - t
    walls, cpus, energies = [], [], []
    for r in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        state = jax.block_until_ready(run(jax.random.key(2 + r), state))
        walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
        s = np.zeros((C, L * L))
        s[:, black] = 2 * np.asarray(state[0], np.float64) - 1
        s[:, white] = 2 * np.asarray(state[1], np.float64) - 1
        s = s.reshape(C, L, L)
        bonds = s * np.roll(s, 1, axis=-1) + s * np.roll(s, 1, axis=-2)
        energies.append((-bonds.sum(axis=(-1, -2)) / (L * L)).tolist())
    print(json.dumps({"walls": walls, "cpus": cpus, "energies": energies, "first": first,
                      "dtype": str(state[0].dtype),
                      "jax": jax.__version__}))
""")


def ensure_thrml_venv() -> Path:
    """Create the thrml virtual environment on first use; returns its python."""
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import thrml"], capture_output=True).returncode == 0
    if not ok:
        print(f"creating {VENV} (thrml=={THRML_VERSION}) ...", flush=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYENV_VERSION": "3.12.1"}
        subprocess.run(["python", "-m", "venv", str(VENV)], check=True, env=env)
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"thrml=={THRML_VERSION}"],
                       check=True)
    return py


def run_thrml(sweeps: int, repeats: int) -> dict:
    py = ensure_thrml_venv()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(py), "-c", THRML_SCRIPT, str(L), str(C), str(BETA), str(sweeps),
                          str(repeats)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"thrml subprocess failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    ver = subprocess.run([str(py), "-m", "pip", "show", "thrml"], capture_output=True,
                         text=True).stdout
    ver = next((ln.split()[-1] for ln in ver.splitlines() if ln.startswith("Version")), "?")
    s = _summary(f"thrml {ver}", sweeps, res["walls"], res["cpus"],
                 [np.asarray(e) for e in res["energies"]], res["first"])
    s["jax"] = res["jax"]
    return s


# ----------------------------------------------------------------------------- 10^6 spins
BIG_SCRIPT = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter(); c0 = time.process_time()
    import jax
    import pcdppl as pp
    t1 = time.perf_counter()
    model = pp.models.ising((1000, 1000))
    t2 = time.perf_counter()
    params = model.init_params(0)
    sampler = pp.samplers.BlockGibbs(model)
    state = jax.block_until_ready(sampler.init(0, params, 1))
    t3 = time.perf_counter()
    state, _ = jax.block_until_ready(sampler.step(1, params, state))
    t4 = time.perf_counter()
    c4 = time.process_time()
    state, _ = jax.block_until_ready(sampler.step(2, params, state))
    t5 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "build": t2 - t1, "init": t3 - t2,
                      "first_sweep": t4 - t3, "build_to_first_sweep": t4 - t1,
                      "cpu_to_first_sweep": c4 - c0, "next_sweep": t5 - t4}))
""")


def run_big() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", BIG_SCRIPT], capture_output=True, text=True,
                         env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"1000×1000 run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def main() -> None:
    global L, C
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sweeps", type=int, default=500, help="sweeps per timed call")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per library")
    ap.add_argument("--skip-big", action="store_true", help="skip the 1000×1000 timing")
    ap.add_argument("--side", type=int, default=L, help="lattice side (default 64)")
    ap.add_argument("--chains", type=int, default=C, help="chains (default 64)")
    args = ap.parse_args()
    L, C = args.side, args.chains

    import jax

    rows = [run_pcdppl("tied", args.sweeps, args.repeats),
            run_pcdppl("edge", args.sweeps, args.repeats),
            run_thrml(args.sweeps, args.repeats)]
    u_exact = onsager_energy(BETA)
    print(f"\n2-D periodic Ising {L}x{L}, beta={BETA}, {C} chains, {args.sweeps} sweeps per "
          f"call, best of {args.repeats} (jax {jax.__version__}, CPU, {os.cpu_count()} cores)")
    print(f"{'library':<20} {'spin updates/s':>15} {'best wall s':>12} {'CPU s':>8} "
          f"{'upd/CPU-s':>10} {'1st call s':>11} {'energy/spin':>18}")
    for r in rows:
        print(f"{r['name']:<20} {r['updates_per_s']:>15.3g} {r['best_wall_s']:>12.3f} "
              f"{r['cpu_s']:>8.3f} {r['updates_per_cpu_s']:>10.3g} {r['first_call_s']:>11.2f} "
              f"{r['energy']:>10.4f} ± {r['energy_se']:.4f}")
    print(f"{'Onsager (L=inf)':<20} {'':>15} {'':>12} {'':>8} {'':>10} {'':>11} {u_exact:>10.4f}")
    thrml = rows[-1]
    for r in rows[:-1]:
        ratio = r["updates_per_s"] / thrml["updates_per_s"]
        ratio_cpu = r["updates_per_cpu_s"] / thrml["updates_per_cpu_s"]
        diff = r["energy"] - thrml["energy"]
        se = np.hypot(r["energy_se"], thrml["energy_se"])
        print(f"ratio {r['name']} / thrml: {ratio:.2f}x (target >= 1.5x), per CPU-second "
              f"{ratio_cpu:.2f}x; energy difference "
              f"{diff:+.4f} ± {se:.4f} ({abs(diff) / se:.1f} s.e.)")
    if not args.skip_big:
        b = run_big()
        print(f"\npp.models.ising((1000, 1000)) -> first Gibbs sweep (1 chain, fresh process): "
              f"build {b['build']:.2f} s, params+init {b['init']:.2f} s, first sweep (compile + "
              f"run) {b['first_sweep']:.2f} s; total {b['build_to_first_sweep']:.2f} s wall "
              f"({b['cpu_to_first_sweep']:.2f} CPU-s incl. import); next sweep "
              f"{b['next_sweep']:.3f} s")


if __name__ == "__main__":
    main()
