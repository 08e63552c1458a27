"""Preset models built on the factor-graph DSL."""

from .dbn import DeepBeliefNet, dbn
from .lattice import graph_edges, lattice_edges
from .presets import ising, potts, rbm

__all__ = ["ising", "potts", "rbm", "lattice_edges", "graph_edges", "dbn", "DeepBeliefNet"]
