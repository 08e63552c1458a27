"""The same 2-D Ising model sampled under ``numpyro.infer.MCMC`` by NumPyro's own
``DiscreteGibbs`` (the model written as a NumPyro program with ``numpyro.factor``) and by
pcdppl's block-Gibbs ``Kernel``; effective samples of the energy per second, and the ratio.

Both samplers do one full sweep per iteration (DiscreteGibbs: every site in random order,
re-evaluating the model's log density per site; pcdppl: the two checkerboard color
classes). ESS is the bulk ESS of the energy over all chains (pcdppl's estimator, equal to
ArviZ's); seconds are the wall time of ``mcmc.run`` including compilation.

Compilation is included *cold*: the script points JAX's persistent compilation cache (which
pcdppl turns on, for every JAX program in the process, DiscreteGibbs's too) at a new empty
folder before anything compiles, so nothing comes from earlier runs; under
``chain_method="sequential"`` NumPyro compiles its sampling loop once per chain, and the
second to fourth chains of either sampler read it back from that cache. ``--cache warm``
runs everything once untimed first; ``--cache off`` turns the cache off (every chain
compiles). pcdppl draws 80,000 per chain by default, which still takes less wall time than
DiscreteGibbs's 1,000 (1.3–2.3 s against 3.8–5.6 s on the 2-core machine): at 20,000 draws
(``--pcdppl-samples 20000``) about 1 s of pcdppl's 1.0–1.6 s run is compilation and the ratio
reads 76–83× (vectorized) instead of 260×. One pcdppl draw is one sweep (``thin=1``, the default: at these couplings the
energy's autocorrelation time is about one sweep, so thinning would only discard draws).

    flock /tmp/pcdppl-bench.lock timeout 1200 python benchmarks/numpyro_kernel.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import jax
import networkx as nx
import numpy as np
import numpyro

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pcdppl as pp  # noqa: E402
from pcdppl.diagnostics import ess  # noqa: E402
from pcdppl.integrations.numpyro import Kernel, numpyro_model  # noqa: E402


def run(name, kernel, method, chains, samples, warmup, to_spins, model, params, seed):
    mcmc = numpyro.infer.MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=chains,
                              chain_method=method, progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.key(seed))
    s = jax.block_until_ready(mcmc.get_samples(group_by_chain=True)["s"])
    seconds = time.perf_counter() - t0
    energy = np.asarray(model.energy(params, {"s": to_spins(s)}))  # (chain, draw)
    e = float(ess(energy, "bulk"))
    return {"sampler": name, "chain_method": method, "chains": chains, "draws": samples,
            "seconds": seconds, "ess": e, "ess_per_s": e / seconds,
            "mean_energy": float(energy.mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sides", type=int, nargs="+", default=[12, 16],
                    help="lattice sides L (L*L spins)")
    ap.add_argument("--cache", choices=["cold", "warm", "off"], default="cold")
    ap.add_argument("--coupling", type=float, default=0.3, help="J (critical ≈ 0.4407)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--numpyro-samples", type=int, default=1000)
    ap.add_argument("--pcdppl-samples", type=int, default=80000,
                    help="draws per pcdppl chain (default 80,000: still less wall time than "
                         "DiscreteGibbs's 1,000; at 20,000 most of pcdppl's run is compilation)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if args.cache == "off":
        pp.set_compilation_cache(None)
    else:
        folder = pp.set_compilation_cache(tempfile.mkdtemp(prefix="pcdppl-numpyro-bench-"))
        print(f"compilation cache: {args.cache}, in the new folder {folder}")
    rows = []
    for L in args.sides:
        if args.cache == "warm":
            one_side(args, L, quiet=True)
        rows += one_side(args, L)
    return rows


def one_side(args, L, quiet=False):
    model = pp.models.ising(nx.grid_2d_graph(L, L, periodic=True))
    params = {"J": np.full(model.param_shapes["J"], args.coupling, np.float32),
              "h": np.zeros(model.param_shapes["h"], np.float32)}
    rows = [
        run("numpyro DiscreteGibbs", numpyro.infer.DiscreteGibbs(numpyro_model(model, params)),
            "sequential", args.chains, args.numpyro_samples, args.warmup,
            lambda b: 2 * b - 1, model, params, args.seed),
        run("pcdppl Kernel(BlockGibbs)", Kernel(model, params), "sequential", args.chains,
            args.pcdppl_samples, args.warmup, lambda s: s, model, params, args.seed),
        run("pcdppl Kernel(BlockGibbs)", Kernel(model, params), "vectorized", args.chains,
            args.pcdppl_samples, args.warmup, lambda s: s, model, params, args.seed),
    ]
    if quiet:
        return rows
    print(f"\n2-D Ising, {L}x{L} periodic lattice, J={args.coupling}, h=0; {args.chains} chains, "
          f"{args.warmup} warmup sweeps; jax {jax.__version__}, numpyro {numpyro.__version__}, "
          f"{jax.devices()[0].platform}")
    head = (f"{'sampler':28s} {'chain_method':>12s} {'draws':>7s} {'seconds':>8s} "
            f"{'ESS(E)':>9s} {'ESS/s':>10s} {'mean E':>8s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['sampler']:28s} {r['chain_method']:>12s} {r['draws']:7d} {r['seconds']:8.2f} "
              f"{r['ess']:9.0f} {r['ess_per_s']:10.1f} {r['mean_energy']:8.2f}")
    base = rows[0]["ess_per_s"]
    for r in rows[1:]:
        print(f"ratio ESS/s, {r['sampler']} ({r['chain_method']}) / numpyro DiscreteGibbs: "
              f"{r['ess_per_s'] / base:.1f}x")
    return rows


if __name__ == "__main__":
    main()
