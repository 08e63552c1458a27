"""Declaring and compiling factor graphs."""

from .factor_graph import FactorGraph, normal_init, zeros_init
from .groups import VariableGroup
from .model import Model

__all__ = ["FactorGraph", "Model", "VariableGroup", "normal_init", "zeros_init"]
