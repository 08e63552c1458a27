"""Integrations with other probabilistic-programming libraries.

``pp.integrations.numpyro`` (imported on first use, so ``import pcdppl`` does not import
NumPyro): pcdppl samplers as NumPyro MCMC kernels, and pcdppl models inside NumPyro programs.
"""

import importlib

__all__ = ["numpyro"]


def __getattr__(name):
    if name == "numpyro":
        return importlib.import_module(".numpyro", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
