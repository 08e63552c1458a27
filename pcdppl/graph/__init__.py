"""Declaring and compiling factor graphs."""

from .blocked import Blocked
from .factor_graph import FactorGraph
from .groups import VariableGroup
from .init import normal_init, zeros_init
from .model import Model

__all__ = ["FactorGraph", "Model", "VariableGroup", "Blocked", "normal_init", "zeros_init"]
