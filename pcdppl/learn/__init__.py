"""Learners: contrastive maximum likelihood with a sampler as the negative phase."""

from .contrastive import ContrastiveLearner, FitResult, LearnerState, data_bias_init
from .metropolis import MetropolisHastings
from .pcd import PCD

__all__ = ["ContrastiveLearner", "PCD", "FitResult", "LearnerState", "data_bias_init",
           "MetropolisHastings"]
