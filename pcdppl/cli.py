"""The ``pcdppl`` command.

``pcdppl fit | sample | evaluate | diagnose`` work on run folders (:mod:`pcdppl.cli_run`).
``pcdppl demo`` trains an RBM on scikit-learn's digits with PCD, prints the exact test
log-likelihood and the time taken, and writes samples, learning curves, chain-mixing
diagnostics and parameters to an output folder. Exit codes: 0 success, 1 failure while
running, 2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _demo(args) -> int:
    import jax
    import numpy as np
    import optax

    import pcdppl as pp
    from pcdppl.diagnostics import plot_history, plot_samples

    os.makedirs(args.out, exist_ok=True)
    data = pp.data.load_digits(threshold=8)
    print(f"data: {data.name}: {len(data.train)} train / {len(data.test)} test images "
          f"of {data.shape[0]}x{data.shape[1]} pixels")
    model = pp.models.rbm(data.shape, args.hidden)
    steps = args.epochs * (len(data.train) // args.batch_size)
    learning_rate = optax.linear_schedule(args.learning_rate, 0.0, steps)  # decays to 0
    learner = pp.PCD(model, num_chains=args.chains, k=args.k, batch_size=args.batch_size,
                     optimizer=optax.sgd(learning_rate))
    print(f"model: RBM {model.groups['v'].size} visible x {args.hidden} hidden; learner: "
          f"{learner}")
    t0 = time.perf_counter()
    fit = learner.fit(data.train, num_epochs=args.epochs, key=args.seed, validation=data.test,
                      progress=not args.quiet)
    seconds = time.perf_counter() - t0
    test_ll = float(pp.evaluate.log_likelihood(model, fit.params, data.test))
    train_ll = float(pp.evaluate.log_likelihood(model, fit.params, data.train))
    print(f"exact log-likelihood per image: test {test_ll:.3f} nats, train {train_ll:.3f} nats "
          f"(hidden units summed out, log Z by enumerating 2^{args.hidden} hidden states)")
    print(f"training time: {seconds:.2f} s for {args.epochs} epochs (compilation included)")

    samples = pp.sample(jax.random.key(args.seed + 1), model, fit.params, num_chains=64,
                        num_samples=1, num_warmup=1000)["v"][:, -1]
    plot_samples(samples, data.shape, path=os.path.join(args.out, "samples.png"),
                 title="RBM samples (1000 Gibbs sweeps from noise)")
    plot_samples(fit.chains["v"], data.shape, path=os.path.join(args.out, "chains.png"),
                 title="persistent chains at the end of training", max_images=64)
    plot_history(fit.history, path=os.path.join(args.out, "history.png"))
    from pcdppl.diagnostics.arviz_plots import plot_mixing

    idata = fit.diagnostics()  # the persistent chains, recorded during training
    pp.diagnostics.summary(idata).to_csv(os.path.join(args.out, "mixing_summary.csv"))
    mixing_pngs = plot_mixing(idata, args.out, prefix="mixing_",
                              var_names=["energy", "mean_v", "mean_h"])
    np.savez(os.path.join(args.out, "params.npz"),
             **{k: np.asarray(v) for k, v in fit.params.items()})
    _write_history(os.path.join(args.out, "history.csv"), fit.history)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump({"test_log_likelihood": test_ll, "train_log_likelihood": train_ll,
                   "seconds": seconds, "epochs": args.epochs, "hidden": args.hidden,
                   "seed": args.seed}, f, indent=2)
    print(f"wrote samples.png, chains.png, history.png, "
          f"{', '.join(os.path.basename(p) for p in mixing_pngs)}, mixing_summary.csv, "
          f"params.npz, history.csv, result.json to {args.out}/")
    return 0


def _write_history(path: str, history: dict) -> None:
    import numpy as np

    cols = list(history)
    table = np.column_stack([np.asarray(history[c], dtype=float) for c in cols])
    np.savetxt(path, table, delimiter=",", header=",".join(cols), comments="", fmt="%.6g")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcdppl", description="Undirected discrete models in JAX: fit, sample, evaluate.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train an RBM on the digits and write samples and plots",
                          description=(
                              "Train an RBM on scikit-learn's digits (binarised at 8, 80/20 "
                              "split) with PCD; print the exact test log-likelihood and the "
                              "time; write samples, learning curves, chain-mixing diagnostics and "
                              "parameters."))
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--hidden", type=_positive, default=16, help="hidden units (default 16)")
    demo.add_argument("--epochs", type=_positive, default=100, help="epochs (default 100)")
    demo.add_argument("--chains", type=_positive, default=100,
                      help="persistent chains (default 100)")
    demo.add_argument("-k", type=_positive, default=1, help="Gibbs sweeps per step (default 1)")
    demo.add_argument("--batch-size", type=_positive, default=20, help="minibatch (default 20)")
    demo.add_argument("--learning-rate", type=float, default=0.1,
                      help="initial SGD step, decayed linearly to 0 (default 0.1)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    from .cli_run import add_commands

    add_commands(sub, _positive)
    return parser


def _positive(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def main(argv=None) -> int:
    from .cli_run import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)  # --help exits 0, a usage error exits 2 (SystemExit)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return (getattr(args, "run_cmd", None) or args.run)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as err:
        print(f"pcdppl {args.command}: usage error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, OSError, ImportError) as err:
        print(f"pcdppl {args.command}: error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # anything else is still a runtime failure, not a crash
        print(f"pcdppl {args.command}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
