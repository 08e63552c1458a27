"""Deep belief networks: structure, greedy training and the likelihood bound, side by side.

* :mod:`~pcdppl.dbn.structure` — :func:`dbn` / :class:`DeepBeliefNet`, a stack of RBM layers
  (also ``pp.models.dbn``);
* :mod:`~pcdppl.dbn.training` — :class:`~pcdppl.dbn.training.DBN`, greedy layer-wise
  training with any pcdppl learner (also ``pp.DBN``);
* :mod:`~pcdppl.dbn.bound` — the variational lower bound on ``log p(v)`` (also
  ``pp.evaluate.dbn_log_likelihood_bound``).

The package imports only the structure; the trainer and the bound sit above the learners and
the evaluators and are imported by name.
"""

from .structure import DeepBeliefNet, dbn, down_logits, up_logits

__all__ = ["DeepBeliefNet", "dbn", "up_logits", "down_logits"]
