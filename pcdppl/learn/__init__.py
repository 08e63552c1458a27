"""Learners: contrastive maximum likelihood with a sampler as the negative phase."""

from .checkpoint import CheckpointError, TrainingInterrupted, latest_checkpoint
from .contrastive import ContrastiveLearner, FitResult, LearnerState, data_bias_init
from .dbn import DBN, DBNFit
from .pcd import PCD
from .soft_data import SoftData

__all__ = ["ContrastiveLearner", "PCD", "FitResult", "LearnerState", "data_bias_init",
           "CheckpointError", "TrainingInterrupted", "latest_checkpoint", "SoftData",
           "DBN", "DBNFit"]
