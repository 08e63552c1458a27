"""Diagnostics and plots: how well chains mixed, what the model learned.

Reads recordings and runs the frozen-parameter mixing check; never drives a fit.
"""

from .arviz_plots import plot_autocorr, plot_ess_evolution, plot_mixing, plot_rank, plot_trace
from .convergence import autocorrelation, ess, integrated_autocorr_time, mcse, rhat
from .idata import MixingWarning, mixing_problems, summary, to_datatree
from .mixing import MixingReport, mixing
from .plots import plot_history, plot_samples
from .statistics import ChainRecorder

__all__ = ["plot_history", "plot_samples", "ess", "rhat", "mcse", "autocorrelation",
           "integrated_autocorr_time", "summary", "to_datatree", "mixing_problems",
           "MixingWarning", "ChainRecorder", "mixing", "MixingReport", "plot_trace",
           "plot_rank", "plot_autocorr", "plot_ess_evolution", "plot_mixing"]
