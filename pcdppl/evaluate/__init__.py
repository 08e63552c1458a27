"""Evaluating models: exact enumeration (and, where it is infeasible, estimators)."""

from .ais import AISEstimateWarning, AISResult, ais, base_rate_logits, paper_betas
from .dbn import dbn_log_likelihood_bound
from .exact import (
    IntractableError,
    analytic_split,
    enumerate_states,
    exact_probabilities,
    log_likelihood,
    log_partition,
)

__all__ = ["log_partition", "log_likelihood", "enumerate_states", "exact_probabilities",
           "analytic_split", "IntractableError", "ais", "AISResult", "AISEstimateWarning",
           "base_rate_logits", "paper_betas", "dbn_log_likelihood_bound"]
