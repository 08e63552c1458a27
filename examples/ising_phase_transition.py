"""Sample the 2-D Ising model across its phase transition and compare with Onsager.

    python examples/ising_phase_transition.py [--size 32] [--out runs/ising]

Prints the mean energy per spin from block Gibbs against Onsager's exact value for the
infinite lattice, and plots energy and |magnetisation| against the inverse temperature.
"""

import argparse
import os

import jax
import numpy as np
from scipy.special import ellipk

import pcdppl as pp


def onsager(beta):
    k = 2 * np.sinh(2 * beta) / np.cosh(2 * beta) ** 2
    return -1 / np.tanh(2 * beta) * (1 + 2 / np.pi * (2 * np.tanh(2 * beta) ** 2 - 1) * ellipk(k**2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--out", default="runs/ising")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    L = args.size
    model = pp.models.ising((L, L), coupling="tied", field=None)
    params = {"J": np.float32(1.0)}
    betas = np.linspace(0.2, 0.7, 11)
    chains = 16
    # every chain runs at its own temperature: one compiled program for the whole sweep of β
    beta = np.repeat(betas, chains).astype(np.float32)
    start = {"s": np.ones((len(beta), L * L), np.int8)}
    draws = pp.sample(jax.random.key(0), model, params, num_chains=len(beta), init=start,
                      num_samples=200, num_warmup=1000, beta=beta)
    e = np.asarray(model.energy(params, draws)).reshape(len(betas), chains, -1) / L**2
    m = np.abs(draws["s"].astype(np.float32).mean(-1)).reshape(len(betas), chains, -1)
    print(f"{'beta':>6} {'E/spin (Gibbs)':>15} {'Onsager':>9} {'|m|':>6}")
    for b, ei, mi in zip(betas, e, m, strict=True):
        print(f"{b:6.3f} {ei.mean():15.4f} {onsager(b):9.4f} {mi.mean():6.3f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3))
    fine = np.linspace(0.2, 0.7, 200)
    a1.plot(fine, [onsager(b) for b in fine], label="Onsager (L=∞)")
    a1.plot(betas, e.mean((1, 2)), "o", label=f"block Gibbs, {L}×{L}")
    a1.set_xlabel("β"), a1.set_ylabel("energy per spin"), a1.legend()
    a2.plot(betas, m.mean((1, 2)), "o-")
    a2.set_xlabel("β"), a2.set_ylabel("|magnetisation|")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "ising.png"), dpi=120)
    print("plot written to", os.path.join(args.out, "ising.png"))


if __name__ == "__main__":
    main()
