"""Learners: contrastive maximum likelihood with any pcdppl sampler as the negative phase.

Pure pieces (:mod:`~pcdppl.learn.estimators`, :mod:`~pcdppl.learn.epoch`) under a thin host
loop (:mod:`~pcdppl.learn.loop`), presets in :mod:`~pcdppl.learn.learners`.
"""

from .checkpoint import CheckpointError, TrainingInterrupted, latest_checkpoint
from .extensions import AutoK, FastWeights, Jarzynski
from .learners import PCD, ContrastiveLearner, data_bias_init, data_bias_values
from .presets import (
    FPCD,
    JarzynskiPCD,
    MetropolisHastings,
    PerturbAndMaxProduct,
    PerturbAndMaxProductLearner,
)
from .pseudolikelihood import PseudoLikelihood
from .recording import Recording
from .soft_data import SoftData
from .state import FitResult, LearnerState

__all__ = ["ContrastiveLearner", "PCD", "FitResult", "LearnerState", "data_bias_init",
           "data_bias_values", "CheckpointError", "TrainingInterrupted", "latest_checkpoint",
           "SoftData", "PerturbAndMaxProductLearner", "PerturbAndMaxProduct",
           "MetropolisHastings", "Recording", "FPCD", "JarzynskiPCD", "PseudoLikelihood",
           "AutoK", "FastWeights", "Jarzynski"]
