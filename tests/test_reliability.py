"""The bad-input catalogue of docs/reliability.md: every row of its tables is a case here.

Each case gives the input as the page shows it, the error (an exception class name, or
``exit N`` for the command line) and the key text of the message; the test runs the input
and checks the exception's exact type and that its message contains the key text. A second
test checks that the page's tables and these cases are the same rows, area by area, in order.

Every input is refused on the host before anything is compiled, except where a row says
otherwise (a NaN learning rate is detected after the first epoch), so the file runs fast.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import optax
import pytest

import pcdppl as pp
from pcdppl.cli import main
from pcdppl.cli.config import DEFAULTS
from pcdppl.learn.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reliability.md"


@dataclass(frozen=True)
class Case:
    input: str  # Markdown, exactly as in the page's "Input" column
    error: str  # exception class name, or "exit 1" / "exit 2" for the command line
    key: str  # a substring of the message (of stderr for the command line)
    run: Callable[[Path], object]  # takes a fresh temporary folder


# ------------------------------------------------------------------------- tiny models
X = np.array([[0, 1, 0, 1], [1, 1, 0, 0]] * 10)  # 20 binary examples of 4 units


@functools.cache
def rbm():
    model = pp.models.rbm(4, 2)
    return model, model.init_params(0)


@functools.cache
def ising():
    model = pp.models.ising(nx.cycle_graph(4))
    return model, model.init_params(0)


@functools.cache
def potts():
    return pp.models.potts(nx.cycle_graph(4), k=3)


def spins(n=4, kind="spin"):
    fg = pp.FactorGraph()
    return fg, getattr(fg, kind)("s", n)


def pairwise(edges, a="s", b="s"):
    fg = pp.FactorGraph()
    fg.spin("s", 4)
    fg.spin("u", 3)
    fg.pairwise(a, b, edges, name="J")
    return fg.compile()


def path_coloring(colors):
    fg, s = spins()
    fg.pairwise(s, s, [[0, 1], [1, 2], [2, 3]], name="J")
    return fg.compile(coloring={"s": np.asarray(colors)})


def pcd(**kw):
    model, _ = rbm()
    return pp.PCD(model, **{"num_chains": 4, "batch_size": 4, **kw})


def fit(data, num_epochs=1, learner=None, **kw):
    learner = learner or pcd()
    return learner.fit(data, num_epochs, progress=False, mixing_warnings=False, **kw)


def sample(params=None, **kw):
    model, p = ising()
    return pp.sample(0, model, p if params is None else params,
                     **{"num_chains": 4, "num_samples": 2, "num_warmup": 1, **kw})


def with_param(name, change):
    _, p = ising()
    return {**p, name: change(np.asarray(p[name]))}


def gibbs_state():
    model, p = ising()
    sampler = pp.samplers.BlockGibbs(model)
    return sampler, p, sampler.init(0, p, 4)


def nan_learning_rate(tmp):
    learner = pcd(optimizer=optax.sgd(float("nan")))
    try:
        fit(X, 3, learner=learner, record_every=0)
    except FloatingPointError as err:  # nothing is lost: the state from before the epoch
        assert int(err.state.epoch) == 0
        assert all(np.all(np.isfinite(v)) for v in err.last_params.values())
        raise


def ais(**kw):
    model, p = rbm()
    return pp.evaluate.ais(model, p, 0, **{"betas": 10, **kw})


# ------------------------------------------------------------------------- checkpoints
def checkpoint(tmp: Path, epoch: int = 0) -> Path:
    """A genuine checkpoint of the tiny PCD learner (drawn on the host: nothing compiled)."""
    state = pcd().init_state(0, X)
    state = state._replace(epoch=np.int32(epoch))
    return Path(save_checkpoint(tmp / f"ckpt-{epoch:06d}.npz", state))


def resume(path, learner=None, num_epochs=2):
    return fit(X, num_epochs, learner=learner, resume=str(path))


def damaged(tmp: Path, edit) -> Path:
    """A copy of a checkpoint with its bytes edited by ``edit(bytearray, arrays)``."""
    src = checkpoint(tmp)
    raw = bytearray(src.read_bytes())
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    edit(raw, arrays)
    out = tmp / "ckpt-000001.npz"
    out.write_bytes(bytes(raw))
    return out


def truncated(raw, arrays):
    del raw[len(raw) // 2:]


def flipped_data_byte(raw, arrays):
    i = bytes(raw).find(arrays["leaf_0"].tobytes())  # the weights' bytes
    raw[i] ^= 0x55


def unknown_compression(raw, arrays):
    i = bytes(raw).find(b"PK\x01\x02")  # first central-directory entry
    raw[i + 10:i + 12] = (99).to_bytes(2, "little")  # its compression method


def rewritten(tmp: Path, change) -> Path:
    """A valid archive holding a checkpoint's entries, changed by ``change(arrays)``."""
    src = checkpoint(tmp)
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    out = tmp / "ckpt-000001.npz"
    np.savez(out, **arrays)
    return out


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def altered_weights(arrays):
    arrays["leaf_0"] = arrays["leaf_0"] + 1.0


def other_format(arrays):
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "format": "other/9"}))


# ------------------------------------------------------------------------- command line
def cli_fit(toml: str):
    def run(tmp: Path):
        cfg = tmp / "bad.toml"
        cfg.write_text(toml)
        return main(["fit", "--config", str(cfg), "--out", str(tmp / "run"), "--quiet"])
    return run


def cli_toml_out(toml: str):  # a config that sets out itself: no --out flag
    def run(tmp: Path):
        cfg = tmp / "bad.toml"
        cfg.write_text(toml)
        return main(["fit", "--config", str(cfg), "--quiet"])
    return run


def cli(*argv: str):
    return lambda tmp: main(list(argv))


def run_folder(tmp: Path, config: str | None, params: bytes | None) -> Path:
    folder = tmp / "run"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config)
    if params is not None:
        (folder / "params.npz").write_bytes(params)
    return folder


def evaluate_corrupted_config(tmp):
    return main(["evaluate", str(run_folder(tmp, "{not json", b""))])


def evaluate_truncated_params(tmp):
    cfg = json.dumps({**DEFAULTS, "model": {"kind": "rbm", "hidden": 4, "layers": None}})
    p = tmp / "p.npz"
    np.savez(p, W=np.zeros((64, 4), np.float32))
    return main(["evaluate", str(run_folder(tmp, cfg, p.read_bytes()[:100]))])


# ------------------------------------------------------------------------- the catalogue
def r(fn):  # a case that needs no temporary folder
    return lambda tmp: fn()


CASES: dict[str, list[Case]] = {
    "Graph declaration": [
        Case("pairwise edge with a negative index: `edges=[[0, -1]]`", "IndexError",
             "points outside group 's': index -1 not in [0, 4)", r(lambda: pairwise([[0, -1]]))),
        Case("pairwise edge index past the group: `edges=[[0, 4]]` on 4 units", "IndexError",
             "index 4 not in [0, 4)", r(lambda: pairwise([[0, 4]]))),
        Case("duplicate edge: `edges=[[0, 1], [2, 3], [0, 1]]`", "ValueError",
             "lists the same pair of units twice: edges[0] = (0, 1) and edges[2] = (0, 1)",
             r(lambda: pairwise([[0, 1], [2, 3], [0, 1]]))),
        Case("both orientations of one pair in a same-group factor: `[[0, 1], [1, 0]]`",
             "ValueError", "edges[0] = (0, 1) and edges[1] = (1, 0)",
             r(lambda: pairwise([[0, 1], [1, 0]]))),
        Case("duplicate edge between two groups: `pairwise(\"s\", \"u\", [[0, 1], [0, 1]])`",
             "ValueError", "lists the same pair of units twice",
             r(lambda: pairwise([[0, 1], [0, 1]], "s", "u"))),
        Case("self-loop: `edges=[[1, 1]]` within one group", "ValueError",
             "has a self-loop on unit 1 of 's'; use a bias", r(lambda: pairwise([[1, 1]]))),
        Case("edge list not of shape `(E, 2)`: `edges=[0, 1, 2]`", "ValueError",
             "must have shape (E, 2), got (3,)", r(lambda: pairwise([0, 1, 2]))),
        Case("non-integral edge indices: `edges=[[0.5, 1]]`", "ValueError",
             "must be integers, got non-integral floats", r(lambda: pairwise([[0.5, 1]]))),
        Case("empty edge list", "ValueError", "has no edges",
             r(lambda: pairwise(np.zeros((0, 2), int)))),
        Case("pairwise factor between a categorical and a binary/spin group", "ValueError",
             "couple categorical with non-categorical units through a table factor",
             r(lambda: (fg := pp.FactorGraph(), fg.categorical("c", 2, 3), fg.spin("s", 2),
                        fg.pairwise("c", "s", [[0, 1]])))),
        Case("categorical group with `k = 128` (more than 127 states)", "ValueError",
             "k must be between 2 and 127, got 128",
             r(lambda: pp.FactorGraph().categorical("c", 3, 128))),
        Case("categorical group with `k = 1`", "ValueError", "k must be between 2 and 127, got 1",
             r(lambda: pp.FactorGraph().categorical("c", 3, 1))),
        Case("group of size 0", "ValueError", "size must be positive, got 0",
             r(lambda: pp.FactorGraph().binary("b", 0))),
        Case("group size that is not an int: `binary(\"b\", 2.5)`", "TypeError",
             "size must be an int or a shape tuple, got 2.5",
             r(lambda: pp.FactorGraph().binary("b", 2.5))),
        Case("two groups with one name", "ValueError", "duplicate variable group name 's'",
             r(lambda: spins()[0].spin("s", 2))),
        Case("two factors with one parameter name", "ValueError", "duplicate parameter name 'h'",
             r(lambda: (fg := spins()[0], fg.bias("s", name="h"), fg.bias("s", name="h")))),
        Case("factor on an undeclared group: `bias(\"x\")`", "KeyError",
             "unknown variable group 'x'; declared groups are ['s']",
             r(lambda: spins()[0].bias("x"))),
        Case("dense factor coupling a group with itself", "ValueError",
             "couples group 's' with itself", r(lambda: spins()[0].dense("s", "s"))),
        Case("table factor over more than 65,536 joint states", "ValueError",
             "entries per clique (limit 65536)",
             r(lambda: (fg := pp.FactorGraph(), fg.categorical("c", 4, 100),
                        fg.table(["c", "c", "c"], [[0, 1, 2]])))),
        Case("table clique using one unit twice: `members=[[0, 0]]`", "ValueError",
             "uses unit 0 of 's' twice",
             r(lambda: spins(kind="binary")[0].table(["s", "s"], [[0, 0]]))),
        Case("compiling a factor graph without groups", "ValueError",
             "the factor graph has no variable groups", r(lambda: pp.FactorGraph().compile())),
    ],
    "Presets and networkx graphs": [
        Case("directed networkx graph: `ising(nx.DiGraph(...))`", "ValueError",
             "expected an undirected networkx graph",
             r(lambda: pp.models.ising(nx.DiGraph([(0, 1)])))),
        Case("networkx graph with a self-loop", "ValueError",
             "the graph has self-loops; an Ising/Potts coupling needs two sites",
             r(lambda: pp.models.ising(nx.Graph([(0, 1), (1, 1)])))),
        Case("networkx `MultiGraph` with parallel edges", "ValueError",
             "lists the same pair of units twice",
             r(lambda: pp.models.ising(nx.MultiGraph([(0, 1), (1, 2), (0, 1)])))),
        Case("edge array with a reversed duplicate: `ising(np.array([[0, 1], [1, 0]]))`",
             "ValueError", "edges[0] = (0, 1) and edges[1] = (1, 0)",
             r(lambda: pp.models.ising(np.array([[0, 1], [1, 0]])))),
        Case("edge array of floats: `ising(np.array([[0., 1.]]))`", "TypeError",
             "an edge array must hold integers", r(lambda: pp.models.ising(np.array([[0., 1.]])))),
        Case("lattice shape with a zero side: `ising((0, 3))`", "ValueError",
             "lattice shape must be positive ints", r(lambda: pp.models.ising((0, 3)))),
        Case("graph of another type: `ising(\"grid\")`", "TypeError",
             "graph must be a networkx graph, an (E, 2) edge array, or a lattice shape",
             r(lambda: pp.models.ising("grid"))),
        Case("Potts model with `k = 200`", "ValueError", "k must be between 2 and 127, got 200",
             r(lambda: pp.models.potts(nx.cycle_graph(3), k=200))),
        Case("`coupling=\"x\"` for `ising`/`potts`", "ValueError",
             "coupling must be 'edge' or 'tied'",
             r(lambda: pp.models.ising((3, 3), coupling="x"))),
        Case("RBM with `visible=\"gauss\"`", "ValueError",
             "visible units must be 'binary' or 'spin'",
             r(lambda: pp.models.rbm(3, 2, visible="gauss"))),
        Case("DBN with one layer size: `models.dbn([4])`", "ValueError",
             "a DBN needs at least two layer sizes", r(lambda: pp.models.dbn([4]))),
    ],
    "Colorings": [
        Case("user coloring of the wrong shape (3 colors for 4 units)", "ValueError",
             "coloring['s'] must be 4 non-negative ints", r(lambda: path_coloring([0, 1, 0]))),
        Case("user coloring with a negative color", "ValueError",
             "coloring['s'] must be 4 non-negative ints",
             r(lambda: path_coloring([0, -1, 0, 1]))),
        Case("user coloring of floats", "ValueError", "coloring['s'] must be 4 non-negative ints",
             r(lambda: path_coloring([0.0, 1.0, 0.0, 1.0]))),
        Case("user coloring that is not proper (two neighbors share a color)", "ValueError",
             "coloring of group 's' is not proper: units 0 and 1 share a factor",
             r(lambda: path_coloring([0, 0, 1, 0]))),
        Case("user coloring for an unknown group", "KeyError", "coloring names unknown group 'x'",
             r(lambda: spins()[0].compile(coloring={"x": [0]}))),
        Case("unknown coloring strategy name: `compile(coloring=\"foo\")`", "ValueError",
             "unknown coloring strategy 'foo'", r(lambda: spins()[0].compile(coloring="foo"))),
        Case("coloring of another type: `compile(coloring=3)`", "TypeError",
             "coloring must be 'auto', a networkx strategy name, or a dict",
             r(lambda: spins()[0].compile(coloring=3))),
    ],
    "Data": [
        Case("binary data holding -1 (spins)", "ValueError",
             "data has values outside {0, 1} for binary group 'v': found [-1] (these look like "
             "spins", r(lambda: fit(2 * X - 1))),
        Case("binary data holding 2", "ValueError", "values outside {0, 1} for binary group 'v': "
             "found [2]", r(lambda: fit(2 * X))),
        Case("spin data holding 0 and 1", "ValueError",
             "values outside {-1, +1} for spin group 's': found [0] (these look like binary",
             r(lambda: pp.PCD(ising()[0], num_chains=2, batch_size=2).fit(X, 1))),
        Case("categorical data outside `{0..k-1}` (3 for `k = 3`)", "ValueError",
             "values outside {0, ..., 2} for categorical group 's': found [3]",
             r(lambda: pp.PCD(potts(), num_chains=2, batch_size=2).fit(3 * X, 1))),
        Case("data containing NaN", "ValueError", "data contains NaN",
             r(lambda: fit(np.where(X == 1, np.nan, 0.0)))),
        Case("non-integral data (0.5) without `SoftData`", "ValueError",
             "data has non-integral value 0.5", r(lambda: fit(0.5 * X))),
        Case("`SoftData` probabilities outside [0, 1]", "ValueError",
             "probabilities must lie in [0, 1]", r(lambda: fit(pp.learn.SoftData(2.0 * X)))),
        Case("data with the wrong number of columns", "ValueError",
             "data has 3 columns; group 'v' has 4 units", r(lambda: fit(X[:, :3]))),
        Case("1-D data (one example without its batch axis)", "ValueError",
             "data must be 2-D (num_examples, 4), got shape (4,)", r(lambda: fit(X[0]))),
        Case("data of strings", "TypeError", "expected integers, booleans or integral floats",
             r(lambda: fit(X.astype(str)))),
        Case("data for an unknown group: `{\"x\": ...}`", "KeyError",
             "unknown group 'x' in data; the model's groups are ['v', 'h']",
             r(lambda: fit({"x": X}))),
        Case("data with no examples", "ValueError", "data has no examples", r(lambda: fit(X[:0]))),
        Case("groups with different numbers of examples", "ValueError",
             "groups have different numbers of examples",
             r(lambda: fit({"v": X, "h": np.zeros((3, 2), int)}))),
        Case("a bare array for a model with several groups and none named `v`", "ValueError",
             "data given as a bare array is ambiguous",
             r(lambda: pp.evaluate.log_likelihood(*_two_groups(), X))),
        Case("fewer examples than `batch_size`", "ValueError",
             "batch_size=4 exceeds the 2 examples in data", r(lambda: fit(X[:2]))),
    ],
    "Parameters and states": [
        Case("NaN parameter given to `pp.sample`", "ValueError",
             "parameter 'J' contains NaN or infinite values",
             r(lambda: sample(with_param("J", lambda v: np.where(v == v[0], np.nan, v))))),
        Case("infinite parameter given to `pp.sample`", "ValueError",
             "parameter 'h' contains NaN or infinite values",
             r(lambda: sample(with_param("h", lambda v: v + np.inf)))),
        Case("unknown parameter name", "KeyError",
             "unknown parameter 'K' in params; the model's parameters are ['J', 'h']",
             r(lambda: sample({**ising()[1], "K": ising()[1]["J"]}))),
        Case("missing parameter", "KeyError", "params is missing parameter 'h'",
             r(lambda: sample({"J": ising()[1]["J"]}))),
        Case("parameter of the wrong shape", "ValueError",
             "parameter 'J' has shape (2,); expected (4,)",
             r(lambda: sample(with_param("J", lambda v: v[:2])))),
        Case("parameters that are not a dict", "TypeError",
             "params must be a dict mapping parameter names to arrays, got list",
             r(lambda: sample([1.0, 2.0]))),
        Case("parameter of strings", "TypeError", "parameter 'J' has dtype <U1; expected floats",
             r(lambda: sample(with_param("J", lambda v: np.array(["a"] * 4))))),
        Case("state for an unknown group in `model.energy`", "KeyError",
             "unknown group 'x' in state", r(lambda: ising()[0].energy(ising()[1],
                                                                       {"x": np.ones((2, 4))}))),
        Case("state missing a group in `model.energy`", "KeyError",
             "state is missing group 'h' (needs ['v', 'h'])",
             r(lambda: rbm()[0].energy(rbm()[1], {"v": X}))),
        Case("state groups with different batch shapes", "ValueError",
             "batch shapes differ: 'h' has (3,), other groups have (20,)",
             r(lambda: rbm()[0].energy(rbm()[1], {"v": X, "h": np.zeros((3, 2), int)}))),
    ],
    "Samplers": [
        Case("`pp.sample(..., num_chains=0)`", "ValueError",
             "num_chains must be a positive int, got 0", r(lambda: sample(num_chains=0))),
        Case("`pp.sample(..., num_chains=2.0)`", "ValueError",
             "num_chains must be a positive int, got 2.0", r(lambda: sample(num_chains=2.0))),
        Case("`pp.sample(..., thin=0)`", "ValueError", "thin must be a positive int, got 0",
             r(lambda: sample(thin=0))),
        Case("`pp.sample(..., num_warmup=-1)`", "ValueError",
             "num_warmup must be an int >= 0, got -1", r(lambda: sample(num_warmup=-1))),
        Case("`pp.sample(..., num_samples=0)`", "ValueError",
             "num_samples must be a positive int, got 0", r(lambda: sample(num_samples=0))),
        Case("`beta=0`", "ValueError",
             "inverse temperature beta must be positive and finite, got 0.0",
             r(lambda: sample(beta=0.0))),
        Case("`beta=-1`", "ValueError", "beta must be positive and finite, got -1.0",
             r(lambda: sample(beta=-1.0))),
        Case("`beta=nan`", "ValueError", "beta must be positive and finite, got nan",
             r(lambda: sample(beta=float("nan")))),
        Case("`beta=inf`", "ValueError", "beta must be positive and finite, got inf",
             r(lambda: sample(beta=float("inf")))),
        Case("`beta=\"hot\"`", "TypeError",
             "inverse temperature beta must be a number or an array of numbers, got 'hot'",
             r(lambda: sample(beta="hot"))),
        Case("per-chain `beta` of the wrong length (3 values, 4 chains)", "ValueError",
             "beta must be a scalar or one value per chain, shape (4,); got shape (3,)",
             r(lambda: sample(beta=np.ones(3)))),
        Case("per-chain `beta` of the wrong length in `sampler.step`", "ValueError",
             "beta must be a scalar or one value per chain, shape (4,); got shape (3,)",
             r(lambda: (lambda s, p, st: s.step(0, p, st, beta=np.ones(3)))(*gibbs_state()))),
        Case("a sampler built for another model: `pp.sample(key, model, params, "
             "sampler=BlockGibbs(other))`", "ValueError",
             "the sampler was built for another model; build it with this call's model",
             r(lambda: sample(sampler=pp.samplers.BlockGibbs(
                 pp.models.ising(nx.cycle_graph(4)))))),
        Case("`sampler=\"gibbs\"` (not a sampler)", "TypeError",
             "sampler must be a pcdppl sampler, got str", r(lambda: sample(sampler="gibbs"))),
        Case("a sampler of something that is not a compiled model", "TypeError",
             "expected a compiled pcdppl.Model, got FactorGraph; call FactorGraph.compile() "
             "first", r(lambda: pp.samplers.BlockGibbs(pp.FactorGraph()))),
        Case("`sampler.step` with a state of another model", "ValueError",
             "got a state that does not belong to this model",
             r(lambda: (lambda s, p, st: pp.samplers.BlockGibbs(rbm()[0]).step(0, rbm()[1], st))(
                 *gibbs_state()))),
        Case("`sampler.run(..., num_steps=0)`", "ValueError",
             "num_steps must be a positive int, got 0",
             r(lambda: (lambda s, p, st: s.run(0, p, st, 0))(*gibbs_state()))),
        Case("`sampler.init` without `num_chains` or `values`", "ValueError",
             "init needs num_chains (or values)",
             r(lambda: pp.samplers.BlockGibbs(ising()[0]).init(0, ising()[1]))),
        Case("`sampler.init` with `num_chains` disagreeing with `values`", "ValueError",
             "num_chains=3 but values hold 4 states",
             r(lambda: pp.samplers.BlockGibbs(ising()[0]).init(
                 0, ising()[1], 3, values={"s": np.ones((4, 4), int)}))),
        Case("initial values outside the group's values", "ValueError",
             "state['s'] has values outside {-1, +1}",
             r(lambda: sample(init={"s": np.zeros((4, 4), int)}))),
        Case("clamping an unknown group", "KeyError", "cannot clamp unknown group 'x'",
             r(lambda: pp.samplers.BlockGibbs(ising()[0], clamp="x"))),
        Case("`Metropolis(model, \"hop\")` (unknown proposal)", "ValueError",
             "unknown proposal 'hop'; expected one of ('flip', 'gwg', 'block')",
             r(lambda: pp.samplers.Metropolis(ising()[0], "hop"))),
        Case("`Metropolis(..., block_size=0)`", "ValueError",
             "block_size must be a positive int, got 0",
             r(lambda: pp.samplers.Metropolis(ising()[0], "block", block_size=0))),
        Case("replica-exchange ladder not ending at 1: `betas=[0.1, 0.5]`", "ValueError",
             "the temperature ladder must end at the target β = 1",
             r(lambda: pp.samplers.ReplicaExchange(ising()[0], pp.samplers.BlockGibbs(
                 ising()[0]), betas=[0.1, 0.5]))),
        Case("replica-exchange ladder with a negative β", "ValueError",
             "every inverse temperature in betas must be positive and finite",
             r(lambda: pp.samplers.ReplicaExchange(ising()[0], pp.samplers.BlockGibbs(
                 ising()[0]), betas=[-0.1, 1.0]))),
        Case("replica-exchange ladder out of order: `betas=[0.5, 0.2, 1.0]`", "ValueError",
             "the temperature ladder betas must be sorted",
             r(lambda: pp.samplers.ReplicaExchange(ising()[0], pp.samplers.BlockGibbs(
                 ising()[0]), betas=[0.5, 0.2, 1.0]))),
        Case("`PerturbAndMaxProduct(..., damping=1.0)`", "ValueError",
             "damping must be in [0, 1), got 1.0",
             r(lambda: pp.samplers.PerturbAndMaxProduct(ising()[0], damping=1.0))),
        Case("`PerturbAndMaxProduct(..., noise=-1.0)`", "ValueError",
             "noise (the Gumbel scale) must be finite and ≥ 0, got -1.0",
             r(lambda: pp.samplers.PerturbAndMaxProduct(ising()[0], noise=-1.0))),
        Case("`sampler.replace(foo=1)` (unknown setting)", "TypeError",
             "BlockGibbs has no setting 'foo'",
             r(lambda: pp.samplers.BlockGibbs(ising()[0]).replace(foo=1))),
        Case("assigning to a sampler's attribute", "AttributeError",
             "BlockGibbs is immutable: use .replace(clamp=...)",
             r(lambda: setattr(pp.samplers.BlockGibbs(ising()[0]), "clamp", ("s",)))),
    ],
    "Learners": [
        Case("`k=0`", "ValueError", "k must be a positive int, got 0", r(lambda: pcd(k=0))),
        Case("`k=-1`", "ValueError", "k must be a positive int, got -1", r(lambda: pcd(k=-1))),
        Case("`k=1.5`", "ValueError", "k must be a positive int, got 1.5", r(lambda: pcd(k=1.5))),
        Case("`k=\"auto\"` with `k_target=0`", "ValueError",
             "k_target must be a positive number, got 0", r(lambda: pcd(k="auto", k_target=0))),
        Case("`k=\"auto\"` with CD-k (`persistent=False`)", "ValueError",
             "k='auto' needs persistent chains", r(lambda: pcd(k="auto", persistent=False))),
        Case("`num_chains=0`", "ValueError", "num_chains must be a positive int, got 0",
             r(lambda: pcd(num_chains=0))),
        Case("`batch_size=0`", "ValueError", "batch_size must be a positive int, got 0",
             r(lambda: pcd(batch_size=0))),
        Case("`optimizer=\"sgd\"` (not an optax transformation)", "TypeError",
             "optimizer must be an optax GradientTransformation",
             r(lambda: pcd(optimizer="sgd"))),
        Case("NaN learning rate: `optimizer=optax.sgd(float(\"nan\"))`", "FloatingPointError",
             "parameters became NaN or infinite in epoch 1; lower the learning rate",
             nan_learning_rate),
        Case("a sampler built for another model: `PCD(model, sampler=BlockGibbs(other))`",
             "ValueError", "the sampler was built for another model; build it with this "
             "learner's model",
             r(lambda: pcd(sampler=pp.samplers.BlockGibbs(pp.models.rbm(4, 2))))),
        Case("`MetropolisHastings(model, proposal=\"hop\")`", "ValueError",
             "unknown proposal 'hop'",
             r(lambda: pp.MetropolisHastings(rbm()[0], proposal="hop"))),
        Case("`PerturbAndMaxProductLearner(..., damping=nan)`", "ValueError",
             "damping must be in [0, 1), got nan",
             r(lambda: pp.PerturbAndMaxProductLearner(rbm()[0], damping=float("nan")))),
        Case("`fit(data, num_epochs=0)`", "ValueError", "num_epochs must be a positive int, got 0",
             r(lambda: fit(X, 0))),
        Case("validation data of other groups than the training data", "ValueError",
             "validation has groups ['h', 'v']; data has ['v']",
             r(lambda: fit(X, validation={"v": X, "h": np.zeros((20, 2), int)}))),
        Case("validation data of the wrong shape", "ValueError",
             "validation['v'] has 3 columns; group 'v' has 4 units",
             r(lambda: fit(X, validation=X[:, :3]))),
        Case("`init_params` of the wrong shape", "ValueError",
             "parameter 'W' has shape (2, 4); expected (4, 2)",
             r(lambda: fit(X, init_params={**rbm()[1], "W": np.zeros((2, 4))}))),
        Case("`resume=3` (not a result, state or path)", "TypeError",
             "resume must be a FitResult or a LearnerState", r(lambda: fit(X, resume=3))),
        Case("`checkpoint_every=0`", "ValueError", "checkpoint_every must be a positive int, got 0",
             lambda tmp: fit(X, checkpoint_dir=tmp / "ck", checkpoint_every=0)),
        Case("`learner.replace(foo=1)` (unknown setting)", "TypeError", "PCD has no setting 'foo'",
             r(lambda: pcd().replace(foo=1))),
        Case("assigning to a learner's attribute: `learner.k = 3`", "AttributeError",
             "PCD is immutable: use .replace(k=...)", r(lambda: setattr(pcd(), "k", 3))),
        Case("`DBN(..., propagate=\"mean\")`", "ValueError",
             "propagate must be 'probabilities' or 'samples', got 'mean'",
             r(lambda: pp.DBN([4, 3, 2], propagate="mean"))),
    ],
    "Evaluation": [
        Case("exact `log_partition` of a model too large to enumerate", "IntractableError",
             "log_partition needs enumerating about 2^100.0 joint states",
             r(lambda: pp.evaluate.log_partition(*_lattice()))),
        Case("`log_likelihood(..., method=\"exact\")` on a model too large to enumerate",
             "IntractableError", "use annealed importance sampling for models this size",
             r(lambda: pp.evaluate.log_likelihood(*_lattice(), -np.ones((2, 100), int),
                                                  method="exact"))),
        Case("`log_likelihood(..., method=\"mc\")`", "ValueError",
             "method must be 'auto', 'exact' or 'ais', got 'mc'",
             r(lambda: pp.evaluate.log_likelihood(*rbm(), X, method="mc"))),
        Case("`log_partition` with a NaN parameter", "ValueError",
             "parameter 'W' contains NaN or infinite values",
             r(lambda: pp.evaluate.log_partition(rbm()[0], {**rbm()[1],
                                                             "W": np.full((4, 2), np.nan)}))),
        Case("`log_likelihood` of data outside the group's values", "ValueError",
             "data has values outside {0, 1}",
             r(lambda: pp.evaluate.log_likelihood(*rbm(), 2 * X))),
        Case("AIS `betas` not starting at 0", "ValueError",
             "betas must increase strictly from 0 to 1",
             r(lambda: ais(betas=np.linspace(0.1, 1.0, 5)))),
        Case("AIS `betas` not ending at 1", "ValueError", "betas must increase strictly from 0 to 1",
             r(lambda: ais(betas=np.linspace(0.0, 0.9, 5)))),
        Case("AIS `betas` not increasing: `[0, 0.5, 0.4, 1]`", "ValueError",
             "betas must increase strictly from 0 to 1", r(lambda: ais(betas=[0, 0.5, 0.4, 1]))),
        Case("AIS `betas` containing NaN", "ValueError", "betas must increase strictly from 0 to 1",
             r(lambda: ais(betas=[0, np.nan, 1]))),
        Case("AIS `betas=2` (fewer than 3 temperatures)", "ValueError",
             "num_betas must be an int >= 3, got 2", r(lambda: ais(betas=2))),
        Case("AIS `betas=\"many\"`", "TypeError",
             "betas must be an array of inverse temperatures or an int number of temperatures",
             r(lambda: ais(betas="many"))),
        Case("AIS `num_chains=1`", "ValueError", "num_chains must be an int >= 2, got 1",
             r(lambda: ais(num_chains=1))),
        Case("AIS `visible=\"x\"` (unknown group)", "KeyError", "unknown group 'x' in visible=",
             r(lambda: ais(visible="x"))),
        Case("AIS with both `data` and `base_logits`", "ValueError",
             "give either data (for a base-rate model) or base_logits, not both",
             r(lambda: ais(data=X, base_logits=np.zeros(4)))),
        Case("AIS `base_logits` of the wrong shape", "ValueError",
             "base_logits['v'] must be finite values of shape (4,), got shape (3,)",
             r(lambda: ais(base_logits=np.zeros(3)))),
        Case("AIS with a sampler built for another model", "ValueError",
             "sampler must be a pcdppl sampler built for this model",
             r(lambda: ais(sampler=pp.samplers.BlockGibbs(pp.models.rbm(4, 2))))),
    ],
    "Checkpoints": [
        Case("`resume=` a file that does not exist", "CheckpointError", "no such checkpoint",
             lambda tmp: resume(tmp / "ckpt-000009.npz")),
        Case("`resume=` a folder without checkpoints", "CheckpointError",
             "no checkpoint files (ckpt-*.npz) in this folder", lambda tmp: resume(tmp)),
        Case("truncated checkpoint (the first half of the file)", "CheckpointError",
             "truncated or corrupted checkpoint (BadZipFile",
             lambda tmp: resume(damaged(tmp, truncated))),
        Case("one flipped byte in an array's data", "CheckpointError",
             "truncated or corrupted checkpoint (BadZipFile: Bad CRC-32",
             lambda tmp: resume(damaged(tmp, flipped_data_byte))),
        Case("a damaged zip header (unknown compression method)", "CheckpointError",
             "truncated or corrupted checkpoint (NotImplementedError",
             lambda tmp: resume(damaged(tmp, unknown_compression))),
        Case("a valid archive whose arrays were changed", "CheckpointError",
             "checksum mismatch — the checkpoint is corrupted",
             lambda tmp: resume(rewritten(tmp, altered_weights))),
        Case("a file that is not an archive", "CheckpointError",
             "truncated or corrupted checkpoint",
             lambda tmp: resume(written(tmp / "ckpt-000001.npz", b"hello"))),
        Case("an `.npz` archive without the checkpoint header", "CheckpointError",
             "not a pcdppl checkpoint (no 'meta' header)",
             lambda tmp: resume(written(tmp / "ckpt-000001.npz", npz_bytes(a=np.zeros(3))))),
        Case("a checkpoint of another format version", "CheckpointError",
             "unknown checkpoint format 'other/9'",
             lambda tmp: resume(rewritten(tmp, other_format))),
        Case("resuming with a learner of another model (4 × 3 RBM)", "CheckpointError",
             "entry .params['W'] has shape (4, 2) and dtype float32; this learner needs (4, 3)",
             lambda tmp: resume(checkpoint(tmp), pp.PCD(pp.models.rbm(4, 3), num_chains=4,
                                                        batch_size=4))),
        Case("resuming with another number of chains", "CheckpointError",
             "this learner needs (2, 8) int8", lambda tmp: resume(checkpoint(tmp),
                                                                 pcd(num_chains=8))),
        Case("resuming a checkpoint that already reached `num_epochs`", "ValueError",
             "the checkpoint is at epoch 1: nothing left to do for num_epochs=1",
             lambda tmp: resume(checkpoint(tmp, epoch=1), num_epochs=1)),
    ],
    "Command line": [
        Case("`epochs = \"ten\"` in `[fit]`", "exit 2",
             "usage error: fit.epochs must be a positive int, got 'ten'",
             cli_fit('[fit]\nepochs = "ten"\n')),
        Case("`epochs = [10]` (a list where an int belongs)", "exit 2",
             "fit.epochs must be a positive int, got [10]", cli_fit("[fit]\nepochs = [10]\n")),
        Case("`epochs = 10.0`", "exit 2", "fit.epochs must be a positive int, got 10.0",
             cli_fit("[fit]\nepochs = 10.0\n")),
        Case("`epochs = true`", "exit 2", "fit.epochs must be a positive int, got True",
             cli_fit("[fit]\nepochs = true\n")),
        Case("`hidden = [16]` in `[model]`", "exit 2", "model.hidden must be a positive int, "
             "got [16]", cli_fit("[model]\nhidden = [16]\n")),
        Case("`hidden = true`", "exit 2", "model.hidden must be a positive int, got True",
             cli_fit("[model]\nhidden = true\n")),
        Case("`num_chains = \"100\"` in `[learner]`", "exit 2",
             "learner.num_chains must be a positive int, got '100'",
             cli_fit('[learner]\nnum_chains = "100"\n')),
        Case("`kind = \"vae\"` in `[model]` (unknown model)", "exit 2",
             "model.kind must be one of 'rbm', 'dbn', 'ising', 'potts'; got 'vae'", cli_fit('[model]\nkind = "vae"\n')),
        Case("`--model vae` (unknown model)", "exit 2", "invalid choice: 'vae'",
             cli("fit", "--model", "vae")),
        Case("`kind = \"gibbs\"` in `[learner]` (unknown learner)", "exit 2",
             "learner.kind must be one of 'pcd', 'cd', 'fpcd', 'jarzynski', 'pl', 'mh', 'pmp'; got 'gibbs'",
             cli_fit('[learner]\nkind = "gibbs"\n')),
        Case("`--learner gibbs` (unknown learner)", "exit 2", "invalid choice: 'gibbs'",
             cli("fit", "--learner", "gibbs")),
        Case("`optimizer = \"rmsprop\"`", "exit 2",
             "learner.optimizer must be one of 'sgd', 'adam'; got 'rmsprop'",
             cli_fit('[learner]\noptimizer = "rmsprop"\n')),
        Case("`learning_rate = \"fast\"`", "exit 2",
             "learner.learning_rate must be a positive finite number, got 'fast'",
             cli_fit('[learner]\nlearning_rate = "fast"\n')),
        Case("`learning_rate = nan`", "exit 2",
             "learner.learning_rate must be a positive finite number, got nan",
             cli_fit("[learner]\nlearning_rate = nan\n")),
        Case("`learning_rate = inf`", "exit 2",
             "learner.learning_rate must be a positive finite number, got inf",
             cli_fit("[learner]\nlearning_rate = inf\n")),
        Case("`learning_rate = true`", "exit 2",
             "learner.learning_rate must be a positive finite number, got True",
             cli_fit("[learner]\nlearning_rate = true\n")),
        Case("`learning_rate = -0.1`", "exit 2",
             "learner.learning_rate must be a positive finite number, got -0.1",
             cli_fit("[learner]\nlearning_rate = -0.1\n")),
        Case("`momentum = \"high\"`", "exit 2",
             "learner.momentum must be a number in [0, 1), got 'high'",
             cli_fit('[learner]\nmomentum = "high"\n')),
        Case("`momentum = 1.5`", "exit 2", "learner.momentum must be a number in [0, 1), got 1.5",
             cli_fit("[learner]\nmomentum = 1.5\n")),
        Case("`propagate = \"mean\"`", "exit 2",
             "learner.propagate must be one of 'probabilities', 'samples'",
             cli_fit('[learner]\npropagate = "mean"\n')),
        Case("`seed = \"abc\"`", "exit 2", "seed must be an int, got 'abc'",
             cli_fit('seed = "abc"\n')),
        Case("`out = 5`", "exit 2", "out must be a folder name, got 5",
             cli_toml_out("out = 5\n")),
        Case("`source = 5` in `[data]`", "exit 2", "data.source must be a name or a path",
             cli_fit("[data]\nsource = 5\n")),
        Case("`threshold = \"half\"` in `[data]`", "exit 2",
             "data.threshold must be a number, got 'half'",
             cli_fit('[data]\nthreshold = "half"\n')),
        Case("`kind = \"dbn\"` without `layers`", "exit 2",
             "a DBN needs model.layers = [n_visible, n_hidden_1, ...]",
             cli_fit('[model]\nkind = "dbn"\n')),
        Case("`layers = [64, true]`", "exit 2",
             "a DBN needs model.layers = [n_visible, n_hidden_1, ...]",
             cli_fit('[model]\nkind = "dbn"\nlayers = [64, true]\n')),
        Case("`checkpoint_every = 0`", "exit 2",
             "fit.checkpoint_every must be a positive int, got 0",
             cli_fit("[fit]\ncheckpoint_every = 0\n")),
        Case("`checkpoint_every = true`", "exit 2",
             "fit.checkpoint_every must be a positive int, got True",
             cli_fit("[fit]\ncheckpoint_every = true\n")),
        Case("unknown setting: `epoch = 5` in `[fit]`", "exit 2",
             "unknown setting fit.epoch; known: ['checkpoint_every', 'epochs']",
             cli_fit("[fit]\nepoch = 5\n")),
        Case("unknown section: `[trainer]`", "exit 2", "unknown setting 'trainer'",
             cli_fit("[trainer]\nepochs = 5\n")),
        Case("a section given as a value: `fit = 5`", "exit 2", "[fit] must be a table",
             cli_fit("fit = 5\n")),
        Case("invalid TOML", "exit 2", "invalid TOML", cli_fit("[fit\nepochs = 5\n")),
        Case("`--config` naming a missing file", "exit 2", "no such config file",
             lambda tmp: main(["fit", "--config", str(tmp / "missing.toml")])),
        Case("`--epochs 0`", "exit 2", "expected a positive integer, got '0'",
             cli("fit", "--epochs", "0")),
        Case("`pcdppl evaluate` on a folder that is not a run folder", "exit 1",
             "is not a run folder: config.json is missing",
             lambda tmp: main(["evaluate", str(tmp)])),
        Case("a run folder whose `config.json` is corrupted", "exit 1",
             "config.json: corrupted", evaluate_corrupted_config),
        Case("a run folder whose `params.npz` is truncated", "exit 1",
             "params.npz: truncated or corrupted", evaluate_truncated_params),
    ],
}


@functools.cache
def _lattice():
    model = pp.models.ising((10, 10))
    return model, model.init_params(0)


def _two_groups():
    fg = pp.FactorGraph()
    a, b = fg.binary("a", 4), fg.binary("b", 2)
    fg.dense(a, b, name="W")
    model = fg.compile()
    return model, model.init_params(0)


ALL = [c for cases in CASES.values() for c in cases]


def _message(err: BaseException) -> str:
    # KeyError's str() is the repr of its message; read the message itself
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)


@pytest.mark.parametrize("case", ALL, ids=[f"{i:03d}" for i in range(len(ALL))])
def test_refused(case: Case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a command that got past its checks writes nothing here
    if case.error.startswith("exit "):
        try:
            rc = case.run(tmp_path)
        except SystemExit as exit_:  # argparse refuses flags itself
            rc = exit_.code
        err = capsys.readouterr().err
        assert rc == int(case.error.split()[1]), err
        assert case.key in err, err
        return
    with pytest.raises(Exception) as info:  # noqa: PT011  (the exact type is checked below)
        case.run(tmp_path)
    assert type(info.value).__name__ == case.error, repr(info.value)
    assert case.key in _message(info.value), _message(info.value)


# ------------------------------------------------------------------------- the page
def page_tables(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """``{area heading: [(input, error, key text), ...]}`` from the page's tables."""
    out: dict[str, list] = {}
    area = None
    for line in text.splitlines():
        if line.startswith("## "):
            area = line[3:].strip()
        elif line.startswith("| ") and area is not None:
            cells = [c.strip() for c in re.split(r"(?<!\\) \| ", line.strip()[2:-2])]
            if cells[0] in ("Input",) or set(cells[0]) <= set("-: "):
                continue
            assert len(cells) == 3, line
            out.setdefault(area, []).append(tuple(cells))
    return out


def _cell_code(s: str) -> str:
    """The text of a Markdown cell that is one code span (backticks stripped)."""
    m = re.fullmatch(r"(`+) ?(.*?) ?\1", s)
    return m.group(2) if m else s


def test_page_lists_exactly_these_cases():
    tables = page_tables(PAGE.read_text())
    assert list(tables) == list(CASES), "the page's areas differ from the tests'"
    for area, cases in CASES.items():
        rows = tables[area]
        documented = [(i, _cell_code(e), _cell_code(k)) for i, e, k in rows]
        expected = [(c.input, c.error, c.key) for c in cases]
        assert documented == expected, area
    assert len(ALL) >= 40


def test_page_is_in_the_site_navigation():
    assert "reliability.md" in (ROOT / "mkdocs.yml").read_text()
