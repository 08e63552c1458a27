"""Every core: chain-parallel throughput on all CPU cores against one core, and against what
this machine gives independent programs at once, same run.

Work: ``sampler.run`` of a compiled loop of transitions at fixed parameters, timed after a
call that compiles it:

* ``ising64``: block Gibbs, periodic Ising 64x64, beta = 0.4 (tied J), 64 chains;
* ``ising96``: the same on 96x96 with 32 chains;
* ``regular3``: block Gibbs on a random 3-regular graph of 4,096 spins (edge couplings,
  fields; networkx's colouring), 64 chains;
* ``mh``: Metropolis single-site flips (``scan="color"``), periodic Ising 64x64, 64 chains.

Each configuration is measured in three ways, in interleaved rounds, every row a fresh
process that waits (after compiling) for a common start time:

* **one core**: ``PCDPPL_CPU_DEVICES=1`` (every chain on one CPU device);
* **all cores**: the default (one CPU device per core, the chains split over them);
* **ceiling**: one ``PCDPPL_CPU_DEVICES=1`` process per core started together, each with
  its share of the chains: independent programs with nothing shared. Their summed rate over
  the one-core rate is what this machine's cores give at once for this split of the work;
  no split inside one process can beat it;
* **copies**: the same, each process with *all* the chains (the one-core program once per
  core): what the cores give at once with no change in the work per core. copies/one below
  the core count is the machine (shared caches, memory, clock, a noisy host), ceiling/copies
  below 1 the cost of fewer chains per core;
* **pair**: one process with one device per core (the default) running one single-device
  sampler per device, each with its share of the chains, dispatched together: the split's
  work as separate programs in one process. all/pair below 1 is what the one SPMD program
  costs against separate programs; pair/ceiling below 1, what sharing one process costs.

Reported: medians over the rounds of unit updates per second and the ratios all/one (goal
>= 1.8 on two cores), ceiling/one, copies/one, all/pair and all/ceiling (``overlap``: the shortest
timed window of a group of processes over the longest); and whether the all-cores run ended in
the same state as the one-core run (same keys: the draws do not depend on the core count).

Run:  PYTHONPATH=. flock /tmp/pcdppl-bench.lock timeout 1800 python benchmarks/every_core.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

CASES = {  # name: (what, size, chains)
    "ising64": ("gibbs-lattice", 64, 64),
    "ising96": ("gibbs-lattice", 96, 32),
    "regular3": ("gibbs-regular", 4096, 64),
    "mh": ("mh-lattice", 64, 64),
}
BETA = 0.4


def worker(case: str, chains: int, steps: int, calls: int, start: float,
           pair: bool = False) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import jax
    import networkx as nx

    import pcdppl as pp

    what, size, _ = CASES[case]
    if what == "gibbs-regular":
        model = pp.models.ising(nx.random_regular_graph(3, size, seed=0))
        params = model.init_params(0)
        units = size
    else:
        model = pp.models.ising((size, size), coupling="tied", field=None)
        params = {"J": np.full(model.param_shapes["J"], BETA, np.float32)}
        units = size * size
    def make(**kw):
        return (pp.samplers.Metropolis(model, "flip", **kw) if what == "mh"
                else pp.samplers.BlockGibbs(model, **kw))

    if pair:  # one single-device sampler per device, each with its share of the chains
        devs = jax.devices()
        samplers = [make(devices=[d]) for d in devs]
        states = [s.init(j, params, chains // len(devs)) for j, s in enumerate(samplers)]
    else:
        samplers = [make()]
        states = [samplers[0].init(0, params, chains)]

    def run_all(key, states):  # dispatched together, then waited for
        out = [s.run(key, params, st, steps)[0] for s, st in zip(samplers, states, strict=True)]
        return jax.block_until_ready(out)

    states = run_all(1, states)  # compiles
    while time.time() < start:
        time.sleep(0.002)
    rates = []
    t_first = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        states = run_all(2 + i, states)
        rates.append(units * chains * steps / (time.perf_counter() - t))
    window = time.perf_counter() - t_first
    values = jax.device_get(samplers[0].values(states[0]))
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(values[g]).tobytes()
                                     for g in sorted(values))).hexdigest()[:16]
    return {"rates": rates, "window": window, "devices": len(jax.devices()), "state": digest}


def spawn(case: str, chains: int, steps: int, calls: int, start: float, devices: str | None,
          pair: bool = False):
    env = dict(os.environ)
    if devices is None:
        env.pop("PCDPPL_CPU_DEVICES", None)
    else:
        env["PCDPPL_CPU_DEVICES"] = devices
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", case,
                             "--chains", str(chains), "--steps", str(steps), "--calls",
                             str(calls), "--start", repr(start)] + (["--pair"] if pair else []),
                            env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(procs) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise RuntimeError(stderr[-3000:])
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def measure(case: str, steps: int, calls: int, cores: int, delay: float) -> dict:
    """One round: one core, all cores, the ceiling (each a fresh start)."""
    _, _, chains = CASES[case]
    res = {}
    for name, jobs in (("one", [(chains, "1")]), ("all", [(chains, None)]),
                       ("pair", [(chains, None)]),
                       ("ceiling", [(chains // cores, "1")] * cores),
                       ("copies", [(chains, "1")] * cores)):
        start = time.time() + delay  # time to import and compile before the common start
        runs = collect([spawn(case, c, steps, calls, start, d, pair=name == "pair")
                        for c, d in jobs])
        # the ceiling's processes overlap for the shortest window: rate = summed medians
        res[name] = sum(float(np.median(r["rates"])) for r in runs)
        res[f"{name}_devices"] = runs[0]["devices"]
        res[f"{name}_state"] = runs[0]["state"]
        if len(runs) > 1:
            w = [r["window"] for r in runs]
            res[f"{name}_overlap"] = min(w) / max(w)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=sorted(CASES))
    ap.add_argument("--chains", type=int)
    ap.add_argument("--pair", action="store_true",
                    help="worker: one single-device sampler per device, dispatched together")
    ap.add_argument("--start", type=float)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=sorted(CASES))
    ap.add_argument("--steps", type=int, default=200, help="transitions per timed call")
    ap.add_argument("--calls", type=int, default=12, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay", type=float, default=12.0,
                    help="seconds from spawning to the common start (import + compile)")
    ap.add_argument("--quick", action="store_true", help="ising64 only, 2 rounds")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.chains, args.steps, args.calls, args.start,
                                args.pair)))
        return
    cores = len(os.sched_getaffinity(0))
    if args.quick:
        args.cases, args.rounds = ["ising64"], 2
    print(f"{cores} cores; every figure a median of {args.calls} calls of {args.steps} "
          f"transitions in a fresh process; {args.rounds} interleaved rounds")
    print(f"{'case':9s} {'round':>5s} {'one core':>10s} {'all cores':>10s} {'pair':>10s} "
          f"{'ceiling':>10s} {'copies':>10s} {'all/one':>8s} {'ceil/one':>9s} "
          f"{'copies/one':>10s} {'all/pair':>9s} {'all/ceil':>9s} {'overlap':>8s} "
          f"{'same draws':>10s}")
    summary = {}
    for case in args.cases:
        rows = []
        for r in range(args.rounds):
            m = measure(case, args.steps, args.calls, cores, args.delay)
            rows.append(m)
            same = "yes" if m["one_state"] == m["all_state"] else "NO"
            overlap = min(m["ceiling_overlap"], m["copies_overlap"])
            print(f"{case:9s} {r + 1:5d} {m['one']:10.3g} {m['all']:10.3g} {m['pair']:10.3g} "
                  f"{m['ceiling']:10.3g} {m['copies']:10.3g} {m['all'] / m['one']:8.2f} "
                  f"{m['ceiling'] / m['one']:9.2f} {m['copies'] / m['one']:10.2f} "
                  f"{m['all'] / m['pair']:9.2f} {m['all'] / m['ceiling']:9.2f} "
                  f"{overlap:8.2f} {same:>10s}", flush=True)
        med = {k: float(np.median([m[k] for m in rows]))
               for k in ("one", "all", "pair", "ceiling", "copies")}
        summary[case] = med
    print("\nmedians over rounds (unit updates/s):")
    for case, med in summary.items():
        print(f"{case:9s} all cores {med['all'] / med['one']:.2f}x one core (goal >= 1.8x on "
              f"2 cores); this machine's ceiling {med['ceiling'] / med['one']:.2f}x (copies "
              f"{med['copies'] / med['one']:.2f}x); all cores reach "
              f"{med['all'] / med['ceiling']:.0%} of the ceiling and "
              f"{med['all'] / med['pair']:.0%} of one-device programs per core in one process "
              f"({med['pair'] / med['one']:.2f}x one core)")


if __name__ == "__main__":
    main()
