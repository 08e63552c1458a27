"""Preset models, each built with the :class:`~pcdppl.FactorGraph` DSL."""

from __future__ import annotations

import numpy as np

from ..graph import FactorGraph, Model
from .lattice import graph_edges


def _lattice_args(graph, num_nodes, periodic, coupling, field):
    """Shared argument handling of :func:`ising` and :func:`potts`."""
    if coupling not in ("edge", "tied"):
        raise ValueError(f"coupling must be 'edge' or 'tied', got {coupling!r}")
    if field not in ("node", "tied", None):
        raise ValueError(f"field must be 'node', 'tied' or None, got {field!r}")
    return graph_edges(graph, num_nodes, periodic)


def ising(graph, *, num_nodes: int | None = None, periodic: bool = True,
          coupling: str = "edge", field: str | None = "node", coupling_init=None,
          field_init=None) -> Model:
    """Ising model ``-E(s) = Σ_(ij) J_ij s_i s_j + Σ_i h_i s_i`` on spins ``s ∈ {-1, +1}``.

    Args:
        graph: a networkx graph (nodes numbered in ``list(graph.nodes)`` order, kept in
            ``model.meta["nodes"]``), an ``(E, 2)`` int edge array, or a lattice shape such
            as ``(64, 64)`` (sites row-major; vectorised, fast for millions of spins).
        num_nodes: number of sites for an edge array (default: largest index + 1).
        periodic: periodic boundaries for a lattice shape.
        coupling: ``"edge"`` (``J`` of shape (E,)) or ``"tied"`` (one ``J``).
        field: ``"node"`` (``h`` of shape (n,)), ``"tied"`` (one ``h``) or ``None``.
        coupling_init, field_init: initial values (see :meth:`FactorGraph.bias`).

    Returns:
        a model with group ``"s"`` and parameters ``"J"`` (and ``"h"``).
    """
    n, edges, meta = _lattice_args(graph, num_nodes, periodic, coupling, field)
    fg = FactorGraph()
    s = fg.spin("s", meta.get("lattice_shape", n))
    fg.pairwise(s, s, edges, name="J", tied=coupling == "tied", init=coupling_init,
                assume_unique="lattice_shape" in meta)
    if field is not None:
        fg.bias(s, name="h", tied=field == "tied", init=field_init)
    return fg.compile(meta={**meta, "preset": "ising"})


def potts(graph, k: int, *, num_nodes: int | None = None, periodic: bool = True,
          coupling: str = "edge", field: str | None = "node", coupling_init=None,
          field_init=None) -> Model:
    """Potts model ``-E(s) = Σ_(ij) J_ij δ(s_i, s_j) + Σ_i h_i[s_i]`` on ``s ∈ {0..k-1}``.

    Arguments as in :func:`ising`; ``h`` has shape ``(n, k)`` (one per node and state).
    Returns a model with group ``"s"`` and parameters ``"J"`` (and ``"h"``).
    """
    n, edges, meta = _lattice_args(graph, num_nodes, periodic, coupling, field)
    fg = FactorGraph()
    s = fg.categorical("s", meta.get("lattice_shape", n), k)
    fg.pairwise(s, s, edges, name="J", tied=coupling == "tied", init=coupling_init,
                assume_unique="lattice_shape" in meta)
    if field is not None:
        fg.bias(s, name="h", tied=field == "tied", init=field_init)
    return fg.compile(meta={**meta, "preset": "potts", "k": k})


def rbm(n_visible: int | tuple[int, ...], n_hidden: int, *, visible: str = "binary",
        hidden: str = "binary", visible_states: int | None = None, weight_init=None) -> Model:
    """Restricted Boltzmann machine ``-E(v, h) = b_vᵀv + b_hᵀh + vᵀWh``.

    Args:
        n_visible: number of visible units, or an image shape such as ``(8, 8)`` (kept as
            the group's display shape for sample plots).
        n_hidden: number of hidden units.
        visible, hidden: ``"binary"`` ({0,1}) or ``"spin"`` ({-1,+1}) units.
        visible_states: ``q`` for a Potts (categorical) visible layer of ``q`` states, as for
            protein or RNA sequences (``q = 21``); then ``W`` has shape ``(n_visible, q,
            n_hidden)`` in the zero-sum gauge and ``b_v`` shape ``(n_visible, q)``.
        weight_init: initial ``W`` (default N(0, 0.01²)).

    Returns:
        a model with groups ``"v"``, ``"h"`` and parameters ``"W"``, ``"b_v"``, ``"b_h"``.
    """
    fg = FactorGraph()
    kinds = {"binary": fg.binary, "spin": fg.spin}
    for what, kind in (("visible", visible), ("hidden", hidden)):
        if kind not in kinds:
            raise ValueError(f"{what} units must be 'binary' or 'spin', got {kind!r}")
    if visible_states is not None:
        v = fg.categorical("v", n_visible, visible_states)
    else:
        v = kinds[visible]("v", n_visible)
    h = kinds[hidden]("h", n_hidden)
    fg.bias(v, name="b_v")
    fg.bias(h, name="b_h")
    fg.dense(v, h, name="W", init=weight_init)
    return fg.compile(meta={"preset": "rbm", "n_visible": int(np.prod(v.shape)),
                            "n_hidden": n_hidden})
