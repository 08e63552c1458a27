"""A protein family as a Potts RBM and as a Potts model (DCA), from a shipped alignment.

The data: the WW-domain alignment that the ``logomaker`` package ships (Pfam PF00397, RP15:
4,025 sequences x 44 columns; ``pip install logomaker``, or ``pip install ".[data]"``), or any
aligned FASTA file given with ``--fasta``. Sequences are weighted by the usual DCA rule
(1 / number of sequences at >= 80 % identity) and split 90/10 into training and test sets.

Two models are fitted:

* a Potts RBM (Tubiana, Cocco & Monasson, eLife 2019): 44 categorical visible units of 21
  states, ``--hidden`` binary hidden units, dense categorical couplings in the zero-sum
  gauge, PCD with centered gradients and the sequence weights;
* a Potts model with a 21 x 21 coupling table for every pair of columns (as in plmDCA),
  fitted by weighted pseudo-likelihood.

For each: how well samples reproduce the data's single-site frequencies and connected pair
correlations (``pp.evaluate.moment_match``, the standard check of DCA/RBM papers), and for
the RBM the weighted test log-likelihood by AIS. Samples are written as FASTA; plots of the
frequencies and of the learning curve go next to them.

    python examples/protein_family.py [--hidden 50] [--epochs 60] [--out runs/protein_family]
"""

import argparse
import itertools
import os

import jax
import numpy as np
import optax

import pcdppl as pp


def shipped_ww_alignment() -> str:
    try:
        import logomaker
    except ImportError:
        raise SystemExit("this example reads the WW-domain alignment shipped by logomaker: "
                         "pip install logomaker (or give --fasta FILE)") from None
    return os.path.join(os.path.dirname(logomaker.__file__), "examples", "datafiles",
                        "ww_sequences.fa")


def split(aln, test_fraction=0.1, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(aln.num_sequences)
    n_test = int(round(test_fraction * aln.num_sequences))
    test, train = order[:n_test], order[n_test:]
    return (aln.sequences[train], aln.weights[train]), (aln.sequences[test], aln.weights[test])


def potts_dca_model(length: int, states: int) -> pp.Model:
    fg = pp.FactorGraph()
    x = fg.categorical("x", length, states)
    fg.bias(x, name="h")
    # a q x q coupling table for every pair of columns
    fg.table([x, x], np.array(list(itertools.combinations(range(length), 2))), name="J")
    return fg.compile()


def report(name, data, weights, samples, states):
    m = pp.evaluate.moment_match(data, samples, num_states=states, weights=weights)
    print(f"{name}: samples vs training data, Pearson r of single-site frequencies "
          f"{m.single_site:.3f}, of connected pair correlations {m.pair:.3f}")
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fasta", help="an aligned FASTA file (default: logomaker's WW domain)")
    ap.add_argument("--hidden", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--out", default="runs/protein_family")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    aln = pp.data.load_fasta(args.fasta or shipped_ww_alignment(), alphabet="protein",
                             reweight=0.8)
    q = len(aln.alphabet)
    print(aln)
    (train, w_train), (test, w_test) = split(aln)

    # --- Potts RBM, PCD with centered gradients and sequence weights
    rbm = pp.models.rbm(n_visible=aln.length, n_hidden=args.hidden, visible_states=q)
    learner = pp.PCD(rbm, num_chains=500, k=10, batch_size=100, centered=True,
                     optimizer=optax.adam(1e-3))
    fit = learner.fit(train, num_epochs=args.epochs, key=0, weights=w_train)
    draws = pp.sample(jax.random.key(1), rbm, fit.params, num_chains=100, num_samples=20,
                      num_warmup=500, thin=10)["v"].reshape(-1, aln.length)
    m_rbm = report("Potts RBM", train, w_train, draws, q)
    ll = pp.evaluate.log_likelihood(rbm, fit.params, test, weights=w_test, method="ais",
                                    key=2)
    print(f"Potts RBM: weighted test log-likelihood (AIS) {float(ll):.2f} nats per sequence")
    pp.data.write_fasta(os.path.join(args.out, "rbm_samples.fasta"), draws[:500],
                        alphabet=aln.alphabet)

    # --- Potts model (every pair of columns), weighted pseudo-likelihood
    dca = potts_dca_model(aln.length, q)
    pl = pp.PseudoLikelihood(dca, batch_size=200, optimizer=optax.adam(1e-2))
    fit_pl = pl.fit({"x": train}, num_epochs=max(10, args.epochs // 3), key=0,
                    weights=w_train)
    draws_pl = pp.sample(jax.random.key(3), dca, fit_pl.params, num_chains=100,
                         num_samples=20, num_warmup=500, thin=10)["x"].reshape(-1, aln.length)
    m_dca = report("Potts model (pseudo-likelihood)", train, w_train, draws_pl, q)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots")
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (name, m) in zip(axes[:2], [("Potts RBM", m_rbm), ("Potts model, PL", m_dca)],
                             strict=True):
        (fd, fs), (cd, cs) = m.frequencies, m.connected
        ax.scatter(cd.ravel(), cs.ravel(), s=2, alpha=0.3, label=f"pairs, r={m.pair:.2f}")
        ax.scatter(fd.ravel(), fs.ravel(), s=4, label=f"sites, r={m.single_site:.2f}")
        ax.axline((0, 0), slope=1, color="k", lw=0.5)
        ax.set(title=name, xlabel="data", ylabel="samples")
        ax.legend()
    axes[2].plot(fit.history["epoch"], fit.history["recon_error"])
    axes[2].set(title="Potts RBM training", xlabel="epoch", ylabel="reconstruction error")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "moments.png"), dpi=120)
    print("samples and plots written to", args.out)


if __name__ == "__main__":
    main()
