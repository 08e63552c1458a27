"""Energy ESS per second: discrete Langevin (adjusted) against block Gibbs and Gibbs-with-Gradients.

Targets (``--targets``):

* ``ising0.3`` / ``ising0.44``: periodic ``--side``×``--side`` Ising lattice (default 32×32),
  one tied coupling J = 0.3 (disordered) and J = 0.44 (near the critical coupling 0.4407), no
  field. The exact mean energy per spin (Kaufman's ``log Z``, differentiated numerically) is
  printed as a correctness check for every sampler;
* ``rbm``: an RBM 64×25 fitted to ``pp.data.load_digits(threshold=8)`` by PCD-1
  (``--rbm-epochs`` epochs, sgd 0.1): a learned, multimodal target with binary units.

Samplers (all exact, i.e. leave the target invariant):

* ``BlockGibbs`` — one transition is one sweep (the baseline of the ratios);
* ``GWG`` — ``Metropolis(model, "gwg", num_proposals=--gwg-proposals)``;
* ``DLP α`` — ``DiscreteLangevin(model, α, adjusted=True)`` for each step size of
  ``--step-sizes-ising`` (spins: a flip moves the unit by 2, so the proposal penalty is
  ``2/α``) or ``--step-sizes-rbm`` (binary units: ``1/(2α)``).

Protocol: ``--chains`` chains start from an equilibrated state (``--burn-in`` block-Gibbs sweeps
from random states, shared by all samplers); each sampler compiles (one untimed chunk of 100
transitions, discarded), then runs for ``--seconds`` of sampling (chunks of 100 transitions),
recording every chain's energy after every transition. ESS is the bulk ESS of the energy over
all chains (first tenth dropped); ``τ`` the energy's integrated autocorrelation time in
transitions. A ``*`` marks runs shorter than 20 τ, whose ESS is not reliable.

    flock /tmp/pcdppl-bench.lock timeout 1800 python benchmarks/langevin.py
    flock /tmp/pcdppl-bench.lock timeout 600 python benchmarks/langevin.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import optax

import pcdppl as pp

sys.path.insert(0, str(Path(__file__).parent))
from _chains import energy_ess, energy_iat, energy_trace  # noqa: E402


def exact_energy_per_spin(side: int, J: float) -> float:
    """``-J <Σ s_i s_j> / N`` on the periodic lattice, from Kaufman's exact ``log Z``."""
    h = 1e-5
    f = pp.models.ising_log_partition_2d
    dlogz = (f(side, side, J + h) - f(side, side, J - h)) / (2 * h)
    return -J * dlogz / side ** 2


def make_target(name: str, args):
    """``(model, params, units, exact energy per unit or None, description)``."""
    if name.startswith("ising"):
        J = float(name[5:])
        model = pp.models.ising((args.side, args.side), coupling="tied", field=None)
        params = {"J": np.full(model.param_shapes["J"], J, np.float32)}
        return (model, params, args.side ** 2, exact_energy_per_spin(args.side, J),
                f"Ising {args.side}x{args.side} periodic, J = {J}")
    ds = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(64, 25)
    warnings.filterwarnings("ignore", category=pp.diagnostics.MixingWarning)
    fit = pp.PCD(model, num_chains=100, k=1, batch_size=20, optimizer=optax.sgd(0.1)).fit(
        ds.train, args.rbm_epochs, key=args.seed, progress=False, record_every=0)
    return (model, fit.params, 64 + 25, None,
            f"RBM 64x25, PCD-1 on digits for {args.rbm_epochs} epochs")


def samplers_for(target: str, model, args):
    out = [("BlockGibbs", pp.samplers.BlockGibbs(model)),
           (f"GWG ({args.gwg_proposals} prop.)",
            pp.samplers.Metropolis(model, "gwg", num_proposals=args.gwg_proposals))]
    steps = args.step_sizes_ising if target.startswith("ising") else args.step_sizes_rbm
    out += [(f"DLP α={a:g}", pp.samplers.DiscreteLangevin(model, a, adjusted=True))
            for a in steps]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 s per sampler, 300 burn-in sweeps, side 32 (about 2 minutes)")
    ap.add_argument("--targets", nargs="+", default=["ising0.3", "ising0.44", "rbm"],
                    help="ising<J> (any coupling, e.g. ising0.4) and/or rbm")
    ap.add_argument("--side", type=int, default=32, help="lattice side")
    ap.add_argument("--chains", type=int, default=64)
    ap.add_argument("--seconds", type=float, help="sampling seconds per sampler (default 20; "
                    "quick 3)")
    ap.add_argument("--burn-in", type=int, help="block-Gibbs sweeps to equilibrate the "
                    "shared start (default 5000; quick 300)")
    ap.add_argument("--step-sizes-ising", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--step-sizes-rbm", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--gwg-proposals", type=int, default=32, help="GWG proposals per step")
    ap.add_argument("--rbm-epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "langevin")
    args = ap.parse_args()
    q = args.quick
    args.seconds = args.seconds or (3.0 if q else 20.0)
    args.burn_in = args.burn_in or (300 if q else 5000)
    if q and args.out.name == "langevin":
        args.out = args.out.with_name("langevin_quick")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    rows, descr = [], {}
    for target in args.targets:
        model, params, units, exact, text = make_target(target, args)
        descr[target] = text
        t0 = time.perf_counter()
        burn = energy_trace(pp.samplers.BlockGibbs(model), params, args.seed, args.burn_in,
                            num_chains=args.chains)
        start = {g: np.asarray(v) for g, v in model.blocked.to_values(burn["state"].x).items()}
        print(f"[{target}] {text}; burn-in {args.burn_in} sweeps "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
        for name, sampler in samplers_for(target, model, args):
            r = energy_trace(sampler, params, args.seed + 1, seconds=args.seconds, values=start)
            e = r["energy"]
            ess, iat = energy_ess(e, 0.1), energy_iat(e, 0.1)
            kept = e[:, int(0.1 * e.shape[1]):] / units
            mean, se = kept.mean(), kept.std() / np.sqrt(max(ess, 1.0))
            row = {"target": target, "sampler": name, "steps": e.shape[1], "seconds": r["seconds"],
                   "ess": ess, "ess_per_s": ess / r["seconds"], "iat": iat,
                   "reliable": e.shape[1] * 0.9 >= 20 * iat,
                   "accept": r["info"].get("accept_rate", np.nan),
                   "change": r["info"].get("change_rate", np.nan), "energy": mean,
                   "energy_se": se, "exact": exact, "compile_s": r["compile_s"]}
            rows.append(row)
            print(f"[{target}] {name:18s} {row['steps']:6d} steps {row['seconds']:5.1f} s  "
                  f"ESS {ess:9.1f}  ESS/s {row['ess_per_s']:9.1f}  τ {iat:8.1f}  "
                  f"E/unit {mean:.4f} ± {se:.4f}", flush=True)

    lines = ["(--quick configuration; shared 2-core machine, timings noisy)"] if q else []
    lines += [f"Energy ESS per second, {args.chains} chains from an equilibrated start, "
              f"{args.seconds:g} s of sampling per sampler; jax {jax.__version__} on "
              f"{jax.devices()[0].platform}", ""]
    head = (f"{'target':9s} {'sampler':18s} {'steps':>7s} {'steps/s':>8s} {'accept':>6s} "
            f"{'changed':>7s} {'τ (steps)':>9s} {'ESS':>9s} {'ESS/s':>9s} {'vs Gibbs':>8s} "
            f"{'energy/unit':>17s} {'exact':>8s}")
    for target in args.targets:
        lines += [descr[target], head, "-" * len(head)]
        base = next(r for r in rows if r["target"] == target and r["sampler"] == "BlockGibbs")
        for r in (r for r in rows if r["target"] == target):
            flag = " " if r["reliable"] else "*"
            nan = lambda v, w, f: f"{'-':>{w}s}" if np.isnan(v) else f"{v:{w}.{f}f}"  # noqa: E731
            exact = f"{r['exact']:8.4f}" if r["exact"] is not None else f"{'':8s}"
            lines.append(
                f"{target:9s} {r['sampler']:18s} {r['steps']:7d} {r['steps'] / r['seconds']:8.0f} "
                f"{nan(r['accept'], 6, 3)} {nan(r['change'], 7, 4)} {r['iat']:9.1f} {r['ess']:8.1f}{flag} "
                f"{r['ess_per_s']:9.1f} {r['ess_per_s'] / base['ess_per_s']:8.4f} "
                f"{r['energy']:8.4f} ± {r['energy_se']:6.4f} {exact}")
        dlp = [r for r in rows if r["target"] == target and r["sampler"].startswith("DLP")]
        gwg = next(r for r in rows if r["target"] == target and r["sampler"].startswith("GWG"))
        if dlp:
            best = max(dlp, key=lambda r: r["ess_per_s"])
            lines.append(f"  best DLP ({best['sampler']}): {best['ess_per_s'] / base['ess_per_s']:.4f}× "
                         f"block Gibbs, {best['ess_per_s'] / gwg['ess_per_s']:.2f}× GWG in energy "
                         f"ESS/s; GWG {gwg['ess_per_s'] / base['ess_per_s']:.4f}× block Gibbs")
        lines.append("")
    lines.append("accept: acceptance rate per transition (Gibbs: no rejection); changed: fraction "
                 "of units changed per transition (DLP only); * run shorter than 20 τ (ESS not "
                 "reliable); energy/unit ± its standard error from the ESS.")
    text = "\n".join(lines)
    print("\n" + text)
    args.out.with_suffix(".txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
