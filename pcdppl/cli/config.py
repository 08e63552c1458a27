"""Configuration of the ``fit`` command: defaults, a TOML file, flags, checks.

A setting whose default is ``None`` below is either optional (``data.weights``,
``fit.checkpoint_every``), needed by some model kinds only (``model.edges`` ...), or a knob of
some learners only (:data:`LEARNER_KNOBS`): giving it where it does not apply is a usage
error, and a learner's knobs that are not given take the defaults of :data:`LEARNER_KNOBS`
(written into the run's ``config.json``).
"""

from __future__ import annotations

import copy
import math
import tomllib

DEFAULTS = {
    "out": "runs/fit",
    "seed": 0,
    "data": {"source": "digits", "threshold": None, "values": "auto", "weights": None},
    "model": {"kind": "rbm", "hidden": 16, "layers": None, "edges": None, "num_nodes": None,
              "lattice": None, "periodic": True, "states": None, "field": True,
              "coupling": "edge"},
    "learner": {"kind": "pcd", "num_chains": None, "k": None, "batch_size": 20,
                "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.0,
                "propagate": "probabilities", "fast_lr": None, "fast_decay": None,
                "resample_threshold": None, "proposal": None, "num_iters": None,
                "damping": None},
    "fit": {"epochs": 20, "checkpoint_every": None},
}

MODEL_KINDS = ("rbm", "dbn", "ising", "potts")
LEARNER_KINDS = ("pcd", "cd", "fpcd", "jarzynski", "pl", "mh", "pmp")
PROPOSALS = ("flip", "block", "gwg")
VALUES = ("auto", "binary", "spin", "categorical")
# the values a data file may hold for each model kind, its units' own first (binary and spin
# data are mapped onto each other; binary data are valid Potts states)
MODEL_VALUES = {"rbm": ("binary", "spin"), "dbn": ("binary", "spin"),
                "ising": ("spin", "binary"), "potts": ("categorical", "binary")}
# learner knob: (default, the learners that take it)
LEARNER_KNOBS = {
    "num_chains": (100, ("pcd", "fpcd", "jarzynski", "mh", "pmp")),
    "k": (1, ("pcd", "cd", "fpcd", "jarzynski", "mh")),
    "fast_lr": (0.05, ("fpcd",)),
    "fast_decay": (0.95, ("fpcd",)),
    "resample_threshold": (0.5, ("jarzynski",)),
    "proposal": ("flip", ("mh",)),
    "num_iters": (100, ("pmp",)),
    "damping": (0.5, ("pmp",)),
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


def with_defaults(saved: dict) -> dict:
    """A run's saved configuration completed with today's defaults (older run folders lack
    the settings added since)."""
    cfg = copy.deepcopy(DEFAULTS)
    for key, value in saved.items():
        if isinstance(cfg.get(key), dict) and isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


FLAGS = {("out",): "out", ("seed",): "seed", ("data", "source"): "data",
         ("data", "threshold"): "threshold", ("data", "values"): "values",
         ("data", "weights"): "weights", ("model", "kind"): "model",
         ("model", "hidden"): "hidden", ("model", "layers"): "layers",
         ("model", "edges"): "edges", ("model", "num_nodes"): "num_nodes",
         ("model", "lattice"): "lattice", ("model", "periodic"): "periodic",
         ("model", "states"): "states", ("model", "field"): "field",
         ("learner", "kind"): "learner", ("learner", "num_chains"): "chains",
         ("learner", "k"): "k", ("learner", "batch_size"): "batch_size",
         ("learner", "optimizer"): "optimizer", ("learner", "learning_rate"): "learning_rate",
         ("learner", "momentum"): "momentum", ("learner", "propagate"): "propagate",
         ("learner", "fast_lr"): "fast_lr", ("learner", "fast_decay"): "fast_decay",
         ("learner", "resample_threshold"): "resample_threshold",
         ("learner", "proposal"): "proposal", ("learner", "num_iters"): "num_iters",
         ("fit", "epochs"): "epochs", ("fit", "checkpoint_every"): "checkpoint_every"}


def apply_flags(cfg: dict, args) -> dict:
    """Flags given on the command line override the config; the result is checked and the
    chosen learner's knobs that were not given are filled in."""
    for path, attr in FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            d = cfg
            for p in path[:-1]:
                d = d[p]
            d[path[-1]] = value
    check_config(cfg)
    lr = cfg["learner"]
    for knob, (default, takers) in LEARNER_KNOBS.items():
        if lr["kind"] in takers and lr[knob] is None:
            lr[knob] = default
    return cfg


# ----------------------------------------------------------------------------- checks
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive_int(name: str, v) -> None:
    if not _is_int(v) or v < 1:
        raise UsageError(f"{name} must be a positive int, got {v!r}")


def _choice(name: str, v, choices) -> None:
    if v not in choices:
        raise UsageError(f"{name} must be one of {', '.join(map(repr, choices))}; got {v!r}")


def _number(name: str, v, lo: float, hi: float, *, lo_open=False, hi_open=False) -> None:
    ok = _is_number(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise UsageError(f"{name} must be a number in {span}, got {v!r}")


def is_array_file(source) -> bool:
    """Whether a data source is a ``.npy``/``.npz`` file (the only sources holding spin or
    categorical values; the others are images binarised by their loader)."""
    return isinstance(source, str) and source.endswith((".npy", ".npz"))


def check_config(cfg: dict) -> None:
    """Raise :class:`UsageError` naming the first setting of ``cfg`` that is not valid."""
    if not isinstance(cfg["out"], str) or not cfg["out"]:
        raise UsageError(f"out must be a folder name, got {cfg['out']!r}")
    if not _is_int(cfg["seed"]):
        raise UsageError(f"seed must be an int, got {cfg['seed']!r}")
    check_model(cfg["model"])
    check_data(cfg["data"], cfg["model"]["kind"])
    check_learner(cfg["learner"], cfg["model"]["kind"], cfg["model"]["layers"])
    f = cfg["fit"]
    _positive_int("fit.epochs", f["epochs"])
    if f["checkpoint_every"] is not None:
        _positive_int("fit.checkpoint_every", f["checkpoint_every"])


def check_model(m: dict) -> None:
    kind = m["kind"]
    _choice("model.kind", kind, MODEL_KINDS)
    graph_keys = ("edges", "num_nodes", "lattice", "states")
    if kind in ("rbm", "dbn"):
        for key in graph_keys:
            if m[key] is not None:
                owner = "Potts models" if key == "states" else "Ising and Potts models"
                raise UsageError(f"model.{key} is a setting of {owner}, not of "
                                 f"model.kind = {kind!r}")
        if kind == "dbn":
            layers = m["layers"]
            if (not isinstance(layers, list) or len(layers) < 2
                    or not all(_is_int(n) and n > 0 for n in layers)):
                raise UsageError("a DBN needs model.layers = [n_visible, n_hidden_1, ...] "
                                 "(positive ints; --layers 64,32,16)")
        else:
            _positive_int("model.hidden", m["hidden"])
        return
    name = "an Ising" if kind == "ising" else "a Potts"
    if (m["edges"] is None) == (m["lattice"] is None):
        raise UsageError(f"{name} model needs either model.lattice = [rows, cols] (--lattice "
                         f"16,16) or model.edges = \"graph.txt\" (--edges FILE)"
                         + ("" if m["edges"] is None else ", not both"))
    if m["edges"] is not None:
        if not isinstance(m["edges"], str) or not m["edges"]:
            raise UsageError(f"model.edges must be the path of an edge-list file, got "
                             f"{m['edges']!r}")
        if m["num_nodes"] is not None:
            _positive_int("model.num_nodes", m["num_nodes"])
    else:
        lat = m["lattice"]
        if (not isinstance(lat, list) or not lat or not all(_is_int(n) and n > 0 for n in lat)):
            raise UsageError(f"model.lattice must be a list of positive ints such as [16, 16], "
                             f"got {lat!r}")
        if m["num_nodes"] is not None:
            raise UsageError("model.num_nodes goes with model.edges (a lattice has "
                             "rows x cols sites)")
    for key in ("periodic", "field"):
        if not isinstance(m[key], bool):
            raise UsageError(f"model.{key} must be true or false, got {m[key]!r}")
    _choice("model.coupling", m["coupling"], ("edge", "tied"))
    if kind == "potts":
        if not _is_int(m["states"]) or m["states"] < 2:
            raise UsageError(f"a Potts model needs model.states = k, the number of states "
                             f"(an int >= 2; --states K), got {m['states']!r}")
    elif m["states"] is not None:
        raise UsageError("model.states is a setting of Potts models (an Ising spin has two "
                         "states)")


def check_data(d: dict, kind: str) -> None:
    src = d["source"]
    if not isinstance(src, str) or not src:
        raise UsageError(f"data.source must be a name or a path, got {src!r}")
    _choice("data.values", d["values"], VALUES)
    if d["values"] != "auto" and d["values"] not in MODEL_VALUES[kind]:
        raise UsageError(f"data.values = {d['values']!r} does not fit model.kind = {kind!r}, "
                         f"which takes {' or '.join(map(repr, MODEL_VALUES[kind]))} data")
    if is_array_file(src):
        if d["threshold"] is not None:
            raise UsageError("data.threshold binarises images (digits, mnist5k, IDX files); "
                             "a .npy/.npz file holds its values already")
    else:
        if d["values"] not in ("auto", "binary"):
            raise UsageError(f"data.values = {d['values']!r} needs a .npy or .npz file; "
                             f"{src!r} gives binarised images")
        if d["threshold"] is not None and not _is_number(d["threshold"]):
            raise UsageError(f"data.threshold must be a number, got {d['threshold']!r}")
    if d["weights"] is not None and (not isinstance(d["weights"], str) or not d["weights"]):
        raise UsageError(f"data.weights must be the path of a .npy or text file, got "
                         f"{d['weights']!r}")


def check_learner(lr: dict, model_kind: str, layers=None) -> None:
    kind = lr["kind"]
    _choice("learner.kind", kind, LEARNER_KINDS)
    for knob, (_, takers) in LEARNER_KNOBS.items():
        if lr[knob] is not None and kind not in takers:
            hint = (" (CD-k runs one chain per example of the minibatch: batch_size)"
                    if knob == "num_chains" and kind == "cd" else "")
            raise UsageError(f"learner.{knob} does not apply to learner.kind = {kind!r}; it "
                             f"is a setting of {', '.join(takers)}{hint}")
    if kind == "pl" and model_kind in ("rbm", "dbn"):
        raise UsageError(f"learner 'pl' (pseudo-likelihood) needs a fully visible model "
                         f"(ising or potts); model.kind = {model_kind!r} has latent hidden "
                         f"units: use pcd, cd, fpcd, jarzynski, mh or pmp")
    if lr["num_chains"] is not None:
        _positive_int("learner.num_chains", lr["num_chains"])
    if lr["k"] is not None and lr["k"] != "auto":
        if not _is_int(lr["k"]) or lr["k"] < 1:
            raise UsageError(f"learner.k must be a positive int or \"auto\", got {lr['k']!r}")
    _positive_int("learner.batch_size", lr["batch_size"])
    _choice("learner.optimizer", lr["optimizer"], ("sgd", "adam"))
    if not (_is_number(lr["learning_rate"]) and math.isfinite(lr["learning_rate"])
            and lr["learning_rate"] > 0):
        raise UsageError(f"learner.learning_rate must be a positive finite number, got "
                         f"{lr['learning_rate']!r}")
    _number("learner.momentum", lr["momentum"], 0, 1, hi_open=True)
    _choice("learner.propagate", lr["propagate"], ("probabilities", "samples"))
    if (model_kind == "dbn" and kind == "cd" and lr["propagate"] == "probabilities"
            and len(layers or ()) > 2):
        raise UsageError("a DBN trained with CD-k needs learner.propagate = \"samples\" "
                         "(training on probabilities needs persistent chains)")
    if lr["fast_lr"] is not None:
        _number("learner.fast_lr", lr["fast_lr"], 0, math.inf)
    if lr["fast_decay"] is not None:
        _number("learner.fast_decay", lr["fast_decay"], 0, 1, hi_open=True)
    if lr["resample_threshold"] is not None:
        _number("learner.resample_threshold", lr["resample_threshold"], 0, 1)
    if lr["proposal"] is not None:
        _choice("learner.proposal", lr["proposal"], PROPOSALS)
    if lr["num_iters"] is not None:
        _positive_int("learner.num_iters", lr["num_iters"])
    if lr["damping"] is not None:
        _number("learner.damping", lr["damping"], 0, 1, hi_open=True)
