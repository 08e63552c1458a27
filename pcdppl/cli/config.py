"""Configuration of the ``fit`` command: defaults, a TOML file, flags, checks."""

from __future__ import annotations

import copy
import math
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


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_config(cfg: dict) -> None:
    """Raise :class:`UsageError` naming the first setting of ``cfg`` that is not valid."""
    m, lr, f = cfg["model"], cfg["learner"], cfg["fit"]
    if not isinstance(cfg["out"], str) or not cfg["out"]:
        raise UsageError(f"out must be a folder name (a string), got {cfg['out']!r}")
    if not _is_int(cfg["seed"]):
        raise UsageError(f"seed must be an int, got {cfg['seed']!r}")
    if not isinstance(cfg["data"]["source"], str):
        raise UsageError(f"data.source must be a string (digits, mnist5k or a path), got "
                         f"{cfg['data']['source']!r}")
    th = cfg["data"]["threshold"]
    if th is not None and not _is_number(th):
        raise UsageError(f"data.threshold must be a number, got {th!r}")
    if m["kind"] not in ("rbm", "dbn"):
        raise UsageError(f"model.kind must be 'rbm' or 'dbn', got {m['kind']!r}")
    if m["kind"] == "dbn":
        layers = m["layers"]
        if (not isinstance(layers, list) or len(layers) < 2
                or not all(_is_int(n) and n > 0 for n in layers)):
            raise UsageError("a DBN needs model.layers = [n_visible, n_hidden_1, ...] "
                             "(positive ints; --layers 64,32,16)")
    elif not _is_int(m["hidden"]) or m["hidden"] < 1:
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
        if not _is_int(v) or v < 1:
            raise UsageError(f"{sec}.{key} must be a positive int, got {v!r}")
    ce = f["checkpoint_every"]
    if ce is not None and (not _is_int(ce) or ce < 1):
        raise UsageError(f"fit.checkpoint_every must be a positive int, got {ce!r}")
    if not _is_number(lr["learning_rate"]) or not lr["learning_rate"] > 0:
        raise UsageError(f"learner.learning_rate must be a positive finite number, got "
                         f"{lr['learning_rate']!r}")
    if not _is_number(lr["momentum"]) or not 0 <= lr["momentum"] < 1:
        raise UsageError(f"learner.momentum must be a number in [0, 1), got {lr['momentum']!r}")
