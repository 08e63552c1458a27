"""Configuration of the ``fit`` command: defaults, a TOML file, flags, checks."""

from __future__ import annotations

import copy
import tomllib

DEFAULTS = {
    "out": "runs/fit",
    "seed": 0,
    "data": {"source": "digits", "threshold": None},
    "model": {"kind": "rbm", "hidden": 16, "layers": None},
    "learner": {"kind": "pcd", "num_chains": 100, "k": 1, "batch_size": 20,
                "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.0,
                "propagate": "probabilities"},
    "fit": {"epochs": 20, "checkpoint_every": None},
}


class UsageError(ValueError):
    """Bad configuration or flags: the command exits with status 2."""


# ----------------------------------------------------------------------------- config
def load_config(path: str | None) -> dict:
    """The defaults updated with a TOML file; unknown sections or keys are usage errors."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is None:
        return cfg
    try:
        with open(path, "rb") as f:
            user = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"no such config file: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: invalid TOML ({err})") from None
    for key, value in user.items():
        if key not in cfg:
            raise UsageError(f"{path}: unknown setting {key!r}; known: {sorted(cfg)}")
        if isinstance(cfg[key], dict):
            if not isinstance(value, dict):
                raise UsageError(f"{path}: [{key}] must be a table")
            for k, v in value.items():
                if k not in cfg[key]:
                    raise UsageError(f"{path}: unknown setting {key}.{k}; known: "
                                     f"{sorted(cfg[key])}")
                cfg[key][k] = v
        else:
            cfg[key] = value
    return cfg


def apply_flags(cfg: dict, args) -> dict:
    """Flags given on the command line override the config."""
    flags = {("out",): args.out, ("seed",): args.seed, ("data", "source"): args.data,
             ("data", "threshold"): args.threshold, ("model", "kind"): args.model,
             ("model", "hidden"): args.hidden, ("model", "layers"): args.layers,
             ("learner", "kind"): args.learner, ("learner", "num_chains"): args.chains,
             ("learner", "k"): args.k, ("learner", "batch_size"): args.batch_size,
             ("learner", "optimizer"): args.optimizer,
             ("learner", "learning_rate"): args.learning_rate,
             ("learner", "momentum"): args.momentum, ("learner", "propagate"): args.propagate,
             ("fit", "epochs"): args.epochs, ("fit", "checkpoint_every"): args.checkpoint_every}
    for path, value in flags.items():
        if value is not None:
            d = cfg
            for p in path[:-1]:
                d = d[p]
            d[path[-1]] = value
    check_config(cfg)
    return cfg


def check_config(cfg: dict) -> None:
    """Raise :class:`UsageError` naming the first setting of ``cfg`` that is not valid."""
    m, lr, f = cfg["model"], cfg["learner"], cfg["fit"]
    if m["kind"] not in ("rbm", "dbn"):
        raise UsageError(f"model.kind must be 'rbm' or 'dbn', got {m['kind']!r}")
    if m["kind"] == "dbn":
        layers = m["layers"]
        if (not isinstance(layers, list) or len(layers) < 2
                or not all(isinstance(n, int) and n > 0 for n in layers)):
            raise UsageError("a DBN needs model.layers = [n_visible, n_hidden_1, ...] "
                             "(positive ints; --layers 64,32,16)")
    elif not isinstance(m["hidden"], int) or m["hidden"] < 1:
        raise UsageError(f"model.hidden must be a positive int, got {m['hidden']!r}")
    if lr["kind"] not in ("pcd", "cd"):
        raise UsageError(f"learner.kind must be 'pcd' or 'cd', got {lr['kind']!r}")
    if lr["optimizer"] not in ("sgd", "adam"):
        raise UsageError(f"learner.optimizer must be 'sgd' or 'adam', got {lr['optimizer']!r}")
    if lr["propagate"] not in ("probabilities", "samples"):
        raise UsageError("learner.propagate must be 'probabilities' or 'samples'")
    for sec, key in (("learner", "num_chains"), ("learner", "k"), ("learner", "batch_size"),
                     ("fit", "epochs")):
        v = cfg[sec][key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise UsageError(f"{sec}.{key} must be a positive int, got {v!r}")
    ce = f["checkpoint_every"]
    if ce is not None and (not isinstance(ce, int) or ce < 1):
        raise UsageError(f"fit.checkpoint_every must be a positive int, got {ce!r}")
    if not isinstance(lr["learning_rate"], (int, float)) or not lr["learning_rate"] > 0:
        raise UsageError(f"learner.learning_rate must be positive, got {lr['learning_rate']!r}")
