"""The command line: ``pcdppl demo | fit | sample | evaluate | diagnose``."""

from __future__ import annotations

import argparse

from .commands import cmd_demo, cmd_diagnose, cmd_evaluate, cmd_fit, cmd_sample
from .config import LEARNER_KINDS, MODEL_KINDS, PROPOSALS, VALUES


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

    def sizes(s: str):
        try:
            return [int(v) for v in s.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected sizes like 784,500,500 or 16,16, got {s!r}") from None

    def k_value(s: str):
        if s == "auto":
            return s
        try:
            return positive(s)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected a positive integer or auto, got {s!r}") from None

    fit = sub.add_parser("fit", help="fit an RBM, DBN, Ising or Potts model; write a run folder",
                         description="Fit an RBM, a DBN (greedy), an Ising or a Potts model with "
                         "any learner. Settings come from --config (TOML; see "
                         "docs/guide/cli.md) and the flags below, which override it. Ctrl-C "
                         "saves a checkpoint of the last finished epoch and exits 130.")
    fit.add_argument("--config", help="TOML configuration file (see docs/guide/cli.md)")
    fit.add_argument("--out", help="run folder (default runs/fit)")
    fit.add_argument("--seed", type=int, help="random seed (default 0)")
    g = fit.add_argument_group("data")
    g.add_argument("--data", help="digits, mnist5k, a .npz/.npy file, an IDX file or a "
                   "folder of MNIST IDX files (default digits)")
    g.add_argument("--values", choices=VALUES, help="what a .npy/.npz file holds (default "
                   "auto: the model's units: binary, spin for ising, categorical for potts)")
    g.add_argument("--threshold", type=float, help="binarisation threshold for images")
    g.add_argument("--weights", help="non-negative example weights: a .npy or text file, one "
                   "per training example")
    g = fit.add_argument_group("model")
    g.add_argument("--model", choices=MODEL_KINDS, help="model kind (default rbm)")
    g.add_argument("--hidden", type=positive, help="RBM hidden units (default 16)")
    g.add_argument("--layers", type=sizes, help="DBN layer sizes, e.g. 64,32,16")
    g.add_argument("--lattice", type=sizes, help="Ising/Potts on a lattice, e.g. 16,16")
    g.add_argument("--periodic", action=argparse.BooleanOptionalAction,
                   help="periodic lattice boundaries (default on)")
    g.add_argument("--edges", help="Ising/Potts on a graph: edge-list file, two node indices "
                   "per line")
    g.add_argument("--num-nodes", type=positive, help="nodes of the --edges graph (default: "
                   "the data's units)")
    g.add_argument("--states", type=positive, help="Potts states k")
    g.add_argument("--field", action=argparse.BooleanOptionalAction,
                   help="Ising/Potts per-node field h (default on)")
    g = fit.add_argument_group("learner")
    g.add_argument("--learner", choices=LEARNER_KINDS,
                   help="pcd (default), cd (CD-k), fpcd, jarzynski, pl (pseudo-likelihood), "
                   "mh (Metropolis-Hastings) or pmp (perturb-and-max-product)")
    g.add_argument("--chains", type=positive, help="persistent chains (default 100)")
    g.add_argument("-k", type=k_value, help="sampler sweeps per update, or auto (default 1)")
    g.add_argument("--batch-size", type=positive, help="minibatch size (default 20)")
    g.add_argument("--optimizer", choices=["sgd", "adam"], help="optax optimiser")
    g.add_argument("--learning-rate", type=float, help="step size (default 0.05)")
    g.add_argument("--momentum", type=float, help="SGD momentum (default 0)")
    g.add_argument("--fast-lr", type=float, help="fpcd: fast-weight learning rate (0.05)")
    g.add_argument("--fast-decay", type=float, help="fpcd: fast-weight decay (0.95)")
    g.add_argument("--resample-threshold", type=float,
                   help="jarzynski: resample below this ESS fraction (0.5)")
    g.add_argument("--proposal", choices=PROPOSALS, help="mh: proposal (default flip)")
    g.add_argument("--num-iters", type=positive, help="pmp: max-product iterations (100)")
    g.add_argument("--propagate", choices=["probabilities", "samples"],
                   help="DBN: what each layer passes up (default probabilities)")
    g = fit.add_argument_group("training")
    g.add_argument("--epochs", type=positive, help="epochs (per layer for a DBN; default 20)")
    g.add_argument("--checkpoint-every", type=positive,
                   help="save the learner state to OUT/checkpoints every N epochs")
    g.add_argument("--resume", help="checkpoint file or folder to continue from; training "
                   "continues to --epochs in total (a DBN: OUT/checkpoints; finished layers "
                   "are loaded, the interrupted one continues)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
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
