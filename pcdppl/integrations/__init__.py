"""Integrations with other probabilistic-programming libraries (NumPyro)."""

from . import numpyro

__all__ = ["numpyro"]
