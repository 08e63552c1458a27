"""Throughput on one accelerator: block-Gibbs spin updates per ns, PCD steps/s, PMP samples/s.

Three measurements, each compiled first (untimed) and then timed as the best of ``--repeats``
calls of one compiled loop:

1. **Block Gibbs on a 2-D Ising lattice**: ``pp.models.ising((L, L), coupling="tied",
   field=None)`` at J = 0.4, ``--lattice-chains`` chains, ``--sweeps`` sweeps per call
   (``sampler.run``): spin updates per nanosecond, ``L² · chains · sweeps / seconds / 1e9``,
   and the energy per spin afterwards against Onsager's infinite-lattice value (J·u(J) =
   -0.4424 at J = 0.4; a sanity check, close only once the chains have equilibrated). For
   scale: thrml reports about 23 flips/ns on one B200, NVIDIA's multispin-coded ising-gpu
   about 900 on one H100 (1 bit per spin; pcdppl stores one int8).
2. **PCD on an RBM 784×500** with ``--pcd-chains`` (10,000) persistent chains, k = 1,
   ``--pcd-batch`` examples per update, SGD, on ``--pcd-examples`` random binary "images"
   (the data's content does not change the cost): parameter updates (PCD steps) per second,
   measured over ``--pcd-epochs`` epochs of one compiled program each, and chain sweeps per
   second (steps × chains).
3. **Perturb-and-max-product** on a ``--pmp-side``² Ising lattice (J = 0.4, random fields),
   ``--pmp-chains`` samples per step, ``--pmp-iters`` max-product iterations:
   independent samples per second.

The device the run used is printed first. ``--quick`` shrinks every size so that the script
runs in seconds on a CPU (for testing; its numbers mean nothing for a GPU). The default sizes
are meant for one large GPU and to finish in under 5 minutes there (the lattice alone holds
L² = 16.8 M spins per chain at L = 4096).

    python benchmarks/gpu.py                 # on the GPU machine
    python benchmarks/gpu.py --quick         # anywhere (CPU: seconds)
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp


def onsager_energy(beta: float) -> float:
    """Energy per spin of the infinite 2-D Ising model (J = 1) at inverse temperature beta."""
    from scipy.special import ellipk

    k = 2 * math.sinh(2 * beta) / math.cosh(2 * beta) ** 2
    kp = 2 * math.tanh(2 * beta) ** 2 - 1
    return -1 / math.tanh(2 * beta) * (1 + 2 / math.pi * kp * ellipk(k * k))


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best, out


def time_runs(sampler, params, state, steps: int, repeats: int):
    """``sampler.run`` of ``steps`` transitions: the first call (compilation included), the
    best of ``repeats`` more, each continuing from the last; returns ``(first, best, state)``."""
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(sampler.run(jax.random.key(1), params, state, steps))
    first = time.perf_counter() - t0
    box = {"state": state, "i": 2}

    def call():
        box["state"], _ = sampler.run(jax.random.key(box["i"]), params, box["state"], steps)
        box["i"] += 1
        return box["state"]

    best, _ = best_of(call, repeats)
    return first, best, box["state"]


def lattice_gibbs(L: int, chains: int, sweeps: int, repeats: int, J: float = 0.4) -> dict:
    t0 = time.perf_counter()
    model = pp.models.ising((L, L), coupling="tied", field=None)
    params = {"J": np.full(model.param_shapes["J"], J, np.float32)}
    sampler = pp.samplers.BlockGibbs(model)
    state = sampler.init(jax.random.key(0), params, num_chains=chains)
    build = time.perf_counter() - t0
    first, sec, state = time_runs(sampler, params, state, sweeps, repeats)
    e = np.asarray(model.energy(params, sampler.values(state))) / (L * L)
    return {"L": L, "chains": chains, "sweeps": sweeps, "seconds": sec, "build_s": build,
            "first_s": first, "per_ns": L * L * chains * sweeps / sec / 1e9,
            "energy": float(e.mean()), "onsager": J * onsager_energy(J)}


def pcd_steps(n_v: int, n_h: int, chains: int, batch: int, examples: int, epochs: int,
              repeats: int) -> dict:
    rng = np.random.default_rng(0)
    data = (rng.random((examples, n_v)) < 0.2).astype(np.int8)
    model = pp.models.rbm(n_v, n_h)
    learner = pp.PCD(model, num_chains=chains, k=1, batch_size=batch, optimizer=optax.sgd(0.01))
    opts = dict(progress=False, record_every=0, mixing_warnings=False)
    t0 = time.perf_counter()
    fit = learner.fit(data, 1, key=0, **opts)
    jax.block_until_ready(fit.params)
    first = time.perf_counter() - t0
    box = {"fit": fit}

    def call():
        box["fit"] = learner.fit(data, epochs, resume=box["fit"], **opts)
        return box["fit"].params

    sec, _ = best_of(call, repeats)
    steps = epochs * (examples // batch)
    return {"shape": f"{n_v}x{n_h}", "chains": chains, "batch": batch, "steps": steps,
            "seconds": sec, "first_s": first, "steps_per_s": steps / sec,
            "sweeps_per_s": steps * chains / sec}


def pmp_samples(side: int, chains: int, iters: int, steps: int, repeats: int) -> dict:
    model = pp.models.ising((side, side), coupling="tied", field="node")
    rng = np.random.default_rng(0)
    params = {"J": np.full(model.param_shapes["J"], 0.4, np.float32),
              "h": rng.normal(0, 0.1, model.param_shapes["h"]).astype(np.float32)}
    sampler = pp.samplers.PerturbAndMaxProduct(model, num_iters=iters)
    state = sampler.init(jax.random.key(0), params, num_chains=chains)
    first, sec, _ = time_runs(sampler, params, state, steps, repeats)
    return {"side": side, "chains": chains, "iters": iters, "steps": steps, "seconds": sec,
            "first_s": first, "samples_per_s": chains * steps / sec}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (lattice 64x64x4, RBM 64x16 with 200 chains, PMP 8x8): "
                         "a CPU smoke test in seconds")
    ap.add_argument("--lattice", type=int, nargs="+", help="lattice sides L (default 4096)")
    ap.add_argument("--lattice-chains", type=int, help="chains per lattice (default 1)")
    ap.add_argument("--sweeps", type=int, help="sweeps per timed call (default 200)")
    ap.add_argument("--pcd-shape", type=int, nargs=2, help="RBM visible hidden (default 784 500)")
    ap.add_argument("--pcd-chains", type=int, help="persistent chains (default 10000)")
    ap.add_argument("--pcd-batch", type=int, help="examples per update (default 1000)")
    ap.add_argument("--pcd-examples", type=int, help="training examples (default 50000)")
    ap.add_argument("--pcd-epochs", type=int, help="epochs per timed call (default 2)")
    ap.add_argument("--pmp-side", type=int, help="PMP lattice side (default 64)")
    ap.add_argument("--pmp-chains", type=int, help="PMP samples per step (default 1024)")
    ap.add_argument("--pmp-iters", type=int, help="max-product iterations (default 100)")
    ap.add_argument("--pmp-steps", type=int, help="PMP steps per timed call (default 10)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[], choices=["gibbs", "pcd", "pmp"])
    ap.add_argument("--out", type=Path, default=None,
                    help="result file (default benchmarks/results/gpu_<platform>[_quick].txt)")
    args = ap.parse_args()
    q = args.quick
    d = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    lattice = d(args.lattice, [4096], [64])
    lattice_chains = d(args.lattice_chains, 1, 4)
    sweeps = d(args.sweeps, 200, 50)
    n_v, n_h = d(args.pcd_shape, [784, 500], [64, 16])
    pcd_chains = d(args.pcd_chains, 10_000, 200)
    pcd_batch = d(args.pcd_batch, 1000, 20)
    pcd_examples = d(args.pcd_examples, 50_000, 1000)
    pcd_epochs = d(args.pcd_epochs, 2, 2)
    pmp_side = d(args.pmp_side, 64, 8)
    pmp_chains = d(args.pmp_chains, 1024, 16)
    pmp_iters = d(args.pmp_iters, 100, 20)
    pmp_steps = d(args.pmp_steps, 10, 5)

    dev = jax.devices()[0]
    lines = [f"device: {dev.platform} / {getattr(dev, 'device_kind', '?')} "
             f"({jax.device_count()} device(s), this run uses one); jax {jax.__version__}"
             + ("; --quick sizes (a smoke test, not a GPU measurement)" if q else ""), ""]
    print(lines[0], flush=True)
    if "gibbs" not in args.skip:
        for L in lattice:
            r = lattice_gibbs(L, lattice_chains, sweeps, args.repeats)
            lines.append(f"block Gibbs, Ising {L}x{L} x {r['chains']} chain(s), J = 0.4, "
                         f"{r['sweeps']} sweeps per call: {r['per_ns']:.3f} spin updates/ns "
                         f"(best call {r['seconds']:.3f} s; build + init {r['build_s']:.1f} s, "
                         f"first call {r['first_s']:.1f} s); energy/spin {r['energy']:.4f} "
                         f"(Onsager, L = ∞: {r['onsager']:.4f})")
            print(lines[-1], flush=True)
        lines.append("  for scale: thrml ~23 flips/ns on one B200; NVIDIA ising-gpu "
                     "(multispin coding) ~900 on one H100")
    if "pcd" not in args.skip:
        r = pcd_steps(n_v, n_h, pcd_chains, pcd_batch, pcd_examples, pcd_epochs, args.repeats)
        lines.append(f"PCD-1, RBM {r['shape']}, {r['chains']} chains, batch {r['batch']}: "
                     f"{r['steps_per_s']:.1f} PCD steps/s, {r['sweeps_per_s']:.3g} chain "
                     f"sweeps/s ({r['steps']} steps in {r['seconds']:.3f} s; first epoch "
                     f"with compilation {r['first_s']:.1f} s)")
        print(lines[-1], flush=True)
    if "pmp" not in args.skip:
        r = pmp_samples(pmp_side, pmp_chains, pmp_iters, pmp_steps, args.repeats)
        lines.append(f"PMP, Ising {r['side']}x{r['side']} (J = 0.4, random fields), "
                     f"{r['iters']} max-product iterations, {r['chains']} samples per step: "
                     f"{r['samples_per_s']:.1f} samples/s ({r['steps']} steps in "
                     f"{r['seconds']:.3f} s; first call {r['first_s']:.1f} s)")
        print(lines[-1], flush=True)
    out = args.out or (Path(__file__).parent / "results"
                       / f"gpu_{dev.platform}{'_quick' if q else ''}.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
