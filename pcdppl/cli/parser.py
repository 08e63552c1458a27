"""The command line: ``pcdppl demo | fit | sample | evaluate | diagnose``."""

from __future__ import annotations

import argparse

from .commands import cmd_demo, cmd_diagnose, cmd_evaluate, cmd_fit, cmd_sample


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
    demo.set_defaults(run=cmd_demo)
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


def add_commands(sub, positive) -> None:
    """Register ``fit``, ``sample``, ``evaluate`` and ``diagnose`` on the subparsers."""

    def layers(s: str):
        try:
            return [int(v) for v in s.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected sizes like 784,500,500, got {s!r}") from None

    fit = sub.add_parser("fit", help="fit an RBM or a DBN; write a run folder",
                         description="Fit an RBM or a DBN (greedy) with PCD or CD-k. Settings "
                         "come from --config (TOML) and the flags below, which override it. "
                         "Ctrl-C saves a checkpoint of the last finished epoch and exits 130.")
    fit.add_argument("--config", help="TOML configuration file (see docs/cli.md)")
    fit.add_argument("--out", help="run folder (default runs/fit)")
    fit.add_argument("--data", help="digits, mnist5k, a .npz/.npy file, an IDX file or a "
                     "folder of MNIST IDX files (default digits)")
    fit.add_argument("--threshold", type=float, help="binarisation threshold for images")
    fit.add_argument("--model", choices=["rbm", "dbn"], help="model kind (default rbm)")
    fit.add_argument("--hidden", type=positive, help="RBM hidden units (default 16)")
    fit.add_argument("--layers", type=layers, help="DBN layer sizes, e.g. 64,32,16")
    fit.add_argument("--learner", choices=["pcd", "cd"], help="PCD (default) or CD-k")
    fit.add_argument("--chains", type=positive, help="persistent chains (default 100)")
    fit.add_argument("-k", type=positive, help="Gibbs sweeps per update (default 1)")
    fit.add_argument("--batch-size", type=positive, help="minibatch size (default 20)")
    fit.add_argument("--optimizer", choices=["sgd", "adam"], help="optax optimiser")
    fit.add_argument("--learning-rate", type=float, help="step size (default 0.05)")
    fit.add_argument("--momentum", type=float, help="SGD momentum (default 0)")
    fit.add_argument("--propagate", choices=["probabilities", "samples"],
                     help="DBN: what each layer passes up (default probabilities)")
    fit.add_argument("--epochs", type=positive, help="epochs (per layer for a DBN; default 20)")
    fit.add_argument("--seed", type=int, help="random seed (default 0)")
    fit.add_argument("--checkpoint-every", type=positive,
                     help="save the learner state to OUT/checkpoints every N epochs")
    fit.add_argument("--resume", help="checkpoint file or folder to continue from; training "
                     "continues to --epochs in total (a DBN: OUT/checkpoints; finished layers "
                     "are loaded, the interrupted one continues)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(run=cmd_fit)

    smp = sub.add_parser("sample", help="draw samples from a fitted run",
                         description="Draw samples from the model in a run folder (block "
                         "Gibbs; for a DBN, Gibbs in the top RBM then a down-pass).")
    smp.add_argument("run", help="run folder written by 'pcdppl fit'")
    smp.add_argument("--num-samples", type=positive, default=64, help="samples (default 64)")
    smp.add_argument("--warmup", type=positive, default=1000,
                     help="Gibbs sweeps before the sample is taken (default 1000)")
    smp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    smp.add_argument("--out", help="output .npz (default RUN/samples.npz; a .png beside it)")
    smp.set_defaults(run_cmd=cmd_sample)

    ev = sub.add_parser("evaluate", help="log-likelihood of a fitted run",
                        description="Mean log-likelihood per example (exact where log Z can "
                        "be enumerated, else AIS with a standard error; a DBN's variational "
                        "lower bound). Writes RUN/evaluation.json.")
    ev.add_argument("run", help="run folder written by 'pcdppl fit'")
    ev.add_argument("--method", choices=["auto", "exact", "ais"], default="auto",
                    help="how log Z is obtained (default auto)")
    ev.add_argument("--split", nargs="+", choices=["train", "test"], default=["test"],
                    help="which data (default test)")
    ev.add_argument("--ais-chains", type=positive, default=100, help="AIS runs (default 100)")
    ev.add_argument("--ais-betas", type=positive, default=14_500,
                    help="AIS temperatures (default 14500, as Salakhutdinov & Murray 2008)")
    ev.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ev.set_defaults(run_cmd=cmd_evaluate)

    dg = sub.add_parser("diagnose", help="mixing diagnostics of a fitted run",
                        description="Run several Gibbs chains on the fitted model and report "
                        "ESS and R-hat of their energies (ArviZ); writes diagnostics.nc "
                        "(netCDF), diagnostics.json and trace.png into the run folder.")
    dg.add_argument("run", help="run folder written by 'pcdppl fit'")
    dg.add_argument("--chains", type=positive, default=4, help="chains (default 4)")
    dg.add_argument("--draws", type=positive, default=1000, help="draws per chain (default 1000)")
    dg.add_argument("--warmup", type=positive, default=100, help="warm-up sweeps (default 100)")
    dg.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dg.set_defaults(run_cmd=cmd_diagnose)
