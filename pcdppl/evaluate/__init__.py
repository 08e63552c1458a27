"""Evaluating models: exact enumeration, annealed importance sampling, and the policy that
picks one of them for a log-likelihood."""

from ..dbn.bound import log_likelihood_bound as dbn_log_likelihood_bound  # noqa: E402,I001
from .ais import AISResult, ais, base_rate_logits, paper_betas
from .exact import (
    IntractableError,
    analytic_split,
    enumerate_states,
    exact_probabilities,
    log_partition,
    log_sum_exp_states,
)
from .likelihood import AISEstimateWarning, log_likelihood, log_partition_auto
from .quality import MomentMatch, moment_match

__all__ = ["log_partition", "log_likelihood", "enumerate_states", "exact_probabilities",
           "analytic_split", "IntractableError", "ais", "AISResult", "AISEstimateWarning",
           "base_rate_logits", "paper_betas", "dbn_log_likelihood_bound", "log_partition_auto",
           "log_sum_exp_states", "moment_match", "MomentMatch"]
