"""Learners: contrastive maximum likelihood with a sampler as the negative phase."""

from .contrastive import ContrastiveLearner, FitResult, LearnerState, data_bias_init
from .pcd import PCD
from .pmp import PerturbAndMaxProduct

__all__ = ["ContrastiveLearner", "PCD", "FitResult", "LearnerState", "data_bias_init",
           "PerturbAndMaxProduct"]
