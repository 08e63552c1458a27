"""Train an RBM on scikit-learn's digits with PCD and look at what it learned.

    python examples/rbm_digits.py [--hidden 16] [--epochs 100] [--out runs/rbm_digits]
"""

import argparse
import os

import jax
import optax

import pcdppl as pp
from pcdppl.diagnostics import plot_history, plot_samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--out", default="runs/rbm_digits")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    data = pp.data.load_digits(threshold=8)
    model = pp.models.rbm(data.shape, args.hidden)
    learner = pp.PCD(model, num_chains=100, k=1, optimizer=optax.sgd(0.05), batch_size=20)
    fit = learner.fit(data.train, num_epochs=args.epochs, key=0, validation=data.test)

    print("exact test log-likelihood:", float(pp.evaluate.log_likelihood(model, fit.params, data.test)))
    draws = pp.sample(jax.random.key(1), model, fit.params, num_chains=64, num_samples=1, num_warmup=1000)
    plot_samples(draws["v"][:, -1], data.shape, path=os.path.join(args.out, "samples.png"))
    # the weights of each hidden unit, as images
    plot_samples(fit.params["W"].T, data.shape, path=os.path.join(args.out, "filters.png"))
    plot_history(fit.history, path=os.path.join(args.out, "history.png"), x="time")
    print("plots written to", args.out)


if __name__ == "__main__":
    main()
