"""Persistent contrastive divergence (Tieleman, 2008) and CD-k (Hinton, 2002)."""

from __future__ import annotations

import optax

from ..graph.model import Model
from ..samplers.base import Sampler
from .contrastive import ContrastiveLearner


class PCD(ContrastiveLearner):
    """Persistent contrastive divergence with block-Gibbs chains.

    ``num_chains`` fantasy particles persist across minibatches and advance ``k`` sweeps
    per parameter update. ``persistent=False`` gives CD-k: one chain per example, restarted
    from the minibatch. Any pcdppl sampler can replace block Gibbs via ``sampler=``.

    Example::

        learner = pp.PCD(model, num_chains=100, k=1, optimizer=optax.sgd(0.05), batch_size=20)
        fit = learner.fit(train, num_epochs=100, key=0, validation=test)
        fit.params, fit.history, fit.chains

    See :class:`~pcdppl.learn.contrastive.ContrastiveLearner` for all arguments.
    """

    def __init__(self, model: Model, *, num_chains: int = 100, k: int = 1,
                 optimizer: optax.GradientTransformation | None = None, batch_size: int = 20,
                 persistent: bool = True, sampler: Sampler | None = None, k_positive: int = 10,
                 data_init: bool = True, mesh=None, devices=None):
        super().__init__(model, sampler=sampler, num_chains=num_chains, k=k,
                         optimizer=optimizer, batch_size=batch_size, persistent=persistent,
                         k_positive=k_positive, data_init=data_init, mesh=mesh,
                         devices=devices)
