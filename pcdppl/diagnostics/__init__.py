"""Diagnostics and plots: how well chains mixed, what the model learned."""

from .convergence import autocorrelation, ess, integrated_autocorr_time, mcse, rhat
from .idata import MixingWarning, mixing_problems, summary, to_datatree
from .plots import plot_history, plot_samples
from .statistics import ChainRecorder

__all__ = ["plot_history", "plot_samples", "ess", "rhat", "mcse", "autocorrelation",
           "integrated_autocorr_time", "summary", "to_datatree", "mixing_problems",
           "MixingWarning", "ChainRecorder"]
from .mixing import MixingReport, mixing  # noqa: E402

__all__ += ["mixing", "MixingReport"]
from .arviz_plots import (  # noqa: E402
    plot_autocorr,
    plot_ess_evolution,
    plot_mixing,
    plot_rank,
    plot_trace,
)

__all__ += ["plot_trace", "plot_rank", "plot_autocorr", "plot_ess_evolution", "plot_mixing"]
