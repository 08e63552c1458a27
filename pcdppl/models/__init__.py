"""Preset models built on the factor-graph DSL."""

from .presets import ising, potts, rbm  # noqa: I001  (before the DBN structure, built on rbm)
from .lattice import graph_edges, ising_log_partition_2d, lattice_edges
from ..dbn.structure import DeepBeliefNet, dbn

__all__ = ["ising", "potts", "rbm", "lattice_edges", "graph_edges", "dbn", "DeepBeliefNet",
           "ising_log_partition_2d"]
