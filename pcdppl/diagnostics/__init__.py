"""Diagnostics and plots: how well chains mixed, what the model learned."""

from .plots import plot_history, plot_samples

__all__ = ["plot_history", "plot_samples"]
