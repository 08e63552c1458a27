"""Metropolis–Hastings proposal throughput against block Gibbs on the 64×64 lattice.

The lattice of the foundation benchmark (``gibbs_vs_thrml.py``): a periodic 64×64 Ising
model, couplings J = 0.4, no field, 64 chains. Every sampler runs ``--sweeps`` steps in one
compiled loop (compilation excluded, best of ``--repeats``), and we report

* block Gibbs: site updates per second (N·C per sweep);
* MH flip (color scan, the default), MH flip (random scan, one site at a time) and MH
  block (``block_size`` 4): site proposals per second (N·C per sweep);
* MH Gibbs-with-Gradients: proposals per second (``num_proposals``·C per step; one proposal
  changes one site but costs a pass over all factors);

the ratio of block-Gibbs updates/s to each (the issue's target: MH flip within 2×), and the
energy per spin after the runs (all samplers target the same distribution; Onsager's
infinite-lattice value at β = 0.4 is printed for reference).

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/mh_throughput.py
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import numpy as np

import pcdppl as pp

L, C, J = 64, 64, 0.4


def onsager_energy(beta: float) -> float:
    """Energy per spin of the infinite 2-D Ising model (J = 1) at inverse temperature beta."""
    from scipy.special import ellipk

    k = 2 * math.sinh(2 * beta) / math.cosh(2 * beta) ** 2
    kp = 2 * math.tanh(2 * beta) ** 2 - 1
    return -1 / math.tanh(2 * beta) * (1 + 2 / math.pi * kp * ellipk(k * k))


def measure(name, sampler, params, steps, repeats, work_per_step, unit):
    state = sampler.init(jax.random.key(0), params, num_chains=C)
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(sampler.run(jax.random.key(1), params, state, steps))
    compile_s = time.perf_counter() - t0
    best = math.inf
    for r in range(repeats):
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(sampler.run(jax.random.key(2 + r), params, state, steps))
        best = min(best, time.perf_counter() - t0)
    e = np.asarray(sampler.model.energy(params, sampler.values(state))) / (L * L)
    rate = float(np.mean(np.asarray(state.accept_rate))) if hasattr(state, "accept_rate") else 1.0
    return {"name": name, "steps": steps, "wall_s": best, "per_s": work_per_step * steps / best,
            "unit": unit, "accept": rate, "energy": float(e.mean()), "energy_se":
            float(e.std() / np.sqrt(len(e))), "compile_s": compile_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=300, help="sweeps per timed run (Gibbs, flip)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = pp.models.ising((L, L), field=None)
    params = {"J": np.full(model.param_shapes["J"], J, np.float32)}
    N = L * L
    S = pp.samplers
    sw = args.sweeps
    gwg_props = 64
    runs = [
        ("block Gibbs", S.BlockGibbs(model), sw, N * C, "site updates/s"),
        ("MH flip (color scan)", S.Metropolis(model), sw, N * C, "site proposals/s"),
        ("MH flip (random scan)", S.Metropolis(model, scan="random"), max(sw // 10, 5), N * C,
         "site proposals/s"),
        ("MH block (size 4)", S.Metropolis(model, "block", block_size=4), max(sw // 10, 5), N * C,
         "site proposals/s"),
        ("MH GWG", S.Metropolis(model, "gwg", num_proposals=gwg_props), max(sw // 30, 3),
         gwg_props * C, "proposals/s"),
    ]
    results = [measure(n, s, params, st, args.repeats, w, u) for n, s, st, w, u in runs]
    gibbs = results[0]["per_s"]
    print(f"\n2-D periodic Ising {L}x{L}, J={J}, no field, {C} chains; best of {args.repeats} "
          f"runs, compilation excluded; jax {jax.__version__} on {jax.devices()[0].platform}\n")
    head = (f"{'sampler':24s} {'steps':>6s} {'wall s':>8s} {'throughput':>12s} {'unit':17s} "
            f"{'Gibbs/this':>10s} {'accept':>7s} {'E/N':>9s} {'± se':>7s} {'compile s':>9s}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['name']:24s} {r['steps']:6d} {r['wall_s']:8.3f} {r['per_s']:12.4g} "
              f"{r['unit']:17s} {gibbs / r['per_s']:10.2f} {r['accept']:7.3f} "
              f"{r['energy']:9.4f} {r['energy_se']:7.4f} {r['compile_s']:9.2f}")
    try:
        print(f"\nOnsager (infinite lattice) E/N at β={J}: {J * onsager_energy(J):.4f}")
    except ImportError:
        pass
    flip = results[1]["per_s"]
    verdict = "within" if gibbs / flip <= 2.0 else "NOT within"
    print(f"\nratio block-Gibbs updates/s ÷ MH-flip proposals/s = {gibbs / flip:.2f} "
          f"({verdict} the 2× target)")


if __name__ == "__main__":
    main()
