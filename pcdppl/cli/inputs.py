"""What a configuration trains: the data (with their example weights) and the model.

Image sources (``digits``, ``mnist5k``, IDX files) are binarised by their loaders; a
``.npy``/``.npz`` file holds binary, spin or categorical values (``data.values``; ``"auto"``:
the values of the model's units). Binary and spin data are mapped onto each other to fit the
model (``s = 2x - 1``); binary data are valid Potts states. Ising and Potts models are built
from a lattice shape or an edge-list file (:func:`read_edge_list`).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import data as pp_data
from ..dbn.structure import dbn
from ..models.presets import ising, potts, rbm
from .config import MODEL_VALUES, is_array_file

MNIST_5K = ("mnist5k", "mnist_5k", "mnist-5k")


def data_values(cfg: dict) -> str:
    """The values the data source holds: ``data.values``, or for ``"auto"`` those of the
    model's units (binary for image sources)."""
    d = cfg["data"]
    if d["values"] != "auto":
        return d["values"]
    return MODEL_VALUES[cfg["model"]["kind"]][0] if is_array_file(d["source"]) else "binary"


def load_data(cfg: dict) -> pp_data.Dataset:
    """The dataset a configuration names, with values mapped onto the model's units."""
    d, kind = cfg["data"], cfg["model"]["kind"]
    values = data_values(cfg)
    kwargs = {}
    if is_array_file(d["source"]):
        kwargs["values"] = values
    elif d["threshold"] is not None:
        kwargs["threshold"] = d["threshold"]
    data = pp_data.load(d["source"], **kwargs)
    units = MODEL_VALUES[kind][0]
    if (values, units) == ("binary", "spin"):
        data = data._replace(train=2 * data.train - 1, test=2 * data.test - 1)
    elif (values, units) == ("spin", "binary"):
        data = data._replace(train=(data.train + 1) // 2, test=(data.test + 1) // 2)
    return data


def loader_splits(source: str) -> bool:
    """Whether the loader splits the examples of ``source`` into train and test itself
    (:func:`pcdppl.data.split`, 20% test, seed 0)."""
    if source in MNIST_5K or os.path.isdir(source):
        return False
    if source.endswith(".npz"):
        with np.load(source, allow_pickle=False) as f:
            return "test" not in f.files
    return True


def load_weights(cfg: dict, data: pp_data.Dataset) -> np.ndarray | None:
    """The training examples' weights named by ``data.weights`` (``None`` if none): a ``.npy``
    file or a text file of numbers, one per training example, or one per example of the data
    file where the loader splits it (they are then split with it)."""
    path = cfg["data"]["weights"]
    if path is None:
        return None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such weights file: {path}")
    try:
        w = (np.load(path, allow_pickle=False) if path.endswith(".npy")
             else np.loadtxt(path, ndmin=1, delimiter=None))
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: unreadable weights ({err})") from None
    w = np.asarray(w)
    if w.ndim != 1 or not np.issubdtype(w.dtype, np.number):
        raise ValueError(f"{path}: expected a 1-D array of numbers, got {w.dtype} of shape "
                         f"{w.shape}")
    n_train, n_all = len(data.train), len(data.train) + len(data.test)
    if len(w) == n_all and loader_splits(cfg["data"]["source"]):
        w = pp_data.split(w)[0]
    elif len(w) != n_train:
        raise ValueError(f"{path}: {len(w)} weights for {n_train} training examples (and "
                         f"{len(data.test)} test examples); give one weight per training "
                         f"example, or one per example of a data file that is split")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or (w < 0).any():
        i = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise ValueError(f"{path}: weights must be finite and non-negative; found {w[i]} "
                         f"(training example {i})")
    if not w.any():
        raise ValueError(f"{path}: all weights are zero")
    return w


def read_edge_list(path: str) -> np.ndarray:
    """The edges of a graph from a text file: two node indices (``0..n-1``) per line,
    separated by spaces, tabs or a comma; blank lines and ``#`` comments are skipped.
    Returns ``int64 (E, 2)``; raises ``FileNotFoundError``/``ValueError`` naming the line."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such edge-list file: {path}")
    rows = []
    with open(path) as f:
        for num, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].replace(",", " ").split()
            if not fields:
                continue
            try:
                u, v = (int(s) for s in fields)
            except ValueError:
                raise ValueError(f"{path}, line {num}: expected two integer node indices, got "
                                 f"{line.strip()!r}") from None
            if u < 0 or v < 0 or u == v:
                what = "a negative node index" if min(u, v) < 0 else "a self-loop"
                raise ValueError(f"{path}, line {num}: {what} ({u} {v})")
            rows.append((u, v))
    if not rows:
        raise ValueError(f"{path}: no edges")
    return np.array(rows, dtype=np.int64)


def build_model(cfg: dict, data: pp_data.Dataset):
    """``(kind, model)``: an RBM, Ising or Potts :class:`~pcdppl.Model`, or a DBN structure,
    checked against the data's number of units (and states)."""
    n_v = data.train.shape[1]
    m = cfg["model"]
    kind = m["kind"]
    if kind == "rbm":
        return kind, rbm(data.shape or n_v, m["hidden"])
    if kind == "dbn":
        if m["layers"][0] != n_v:
            raise ValueError(f"model.layers starts with {m['layers'][0]} visible units but the "
                             f"data have {n_v}")
        return kind, dbn(m["layers"], shape=data.shape)
    if m["lattice"] is not None:
        graph, n = tuple(m["lattice"]), math.prod(m["lattice"])
        where, kwargs = f"model.lattice = {m['lattice']}", {"periodic": m["periodic"]}
    else:
        graph = read_edge_list(m["edges"])
        n = m["num_nodes"] or n_v
        where, kwargs = f"model.edges = {m['edges']!r}", {"num_nodes": n}
        if graph.max() >= n:
            raise ValueError(f"{m['edges']}: node index {graph.max()} is out of range for {n} "
                             f"nodes (the data have {n_v} units per example)")
    if n != n_v:
        raise ValueError(f"{where} has {n} sites but the data have {n_v} units per example")
    field = "node" if m["field"] else None
    if kind == "ising":
        return kind, ising(graph, field=field, coupling=m["coupling"], **kwargs)
    k = m["states"]
    top = int(max(data.train.max(), data.test.max()))
    if top >= k:
        raise ValueError(f"{cfg['data']['source']}: the data hold state {top} but "
                         f"model.states = {k} (states 0..{k - 1})")
    return kind, potts(graph, k, field=field, coupling=m["coupling"], **kwargs)


def display_shape(cfg: dict, data: pp_data.Dataset):
    """The 2-D shape samples are plotted in (images, 2-D lattices), or ``None``."""
    m = cfg["model"]
    if m["kind"] in ("rbm", "dbn"):
        return data.shape if data.shape is not None and len(data.shape) == 2 else None
    lat = m["lattice"]
    return tuple(lat) if lat is not None and len(lat) == 2 else None


def describe(kind: str, model) -> str:
    """One line naming the model."""
    if kind == "dbn":
        return f"DBN {list(model.sizes)}"
    if kind == "rbm":
        return f"RBM {model.groups['v'].size} x {model.groups['h'].size}"
    s = model.groups["s"]
    lat = model.meta.get("lattice_shape")
    graph = (f"a {'x'.join(map(str, lat))} {'periodic ' if model.meta['periodic'] else ''}"
             f"lattice" if lat else f"{s.size} nodes")
    edges = model.param_shapes["J"]
    n_edges = f", {edges[0]} edges" if edges else ", one coupling for all edges"
    states = f", {s.num_states} states" if kind == "potts" else ""
    return f"{'Ising' if kind == 'ising' else 'Potts'} model on {graph}{n_edges}{states}"
