"""Contrastive learning with persistent Metropolis–Hastings chains as the negative phase."""

from __future__ import annotations

import optax

from ..graph.model import Model
from ..samplers.metropolis import Metropolis
from .contrastive import ContrastiveLearner


class MetropolisHastings(ContrastiveLearner):
    """PCD whose fantasy particles are Metropolis–Hastings chains.

    ``num_chains`` persistent chains advance ``steps`` sampler steps per parameter update
    (for ``"flip"`` and ``"block"`` one step is a sweep over all units; for ``"gwg"`` it is
    ``num_proposals`` gradient-informed proposals). ``fit.history["accept_rate"]`` is the
    chains' mean acceptance rate over each epoch.

    Example::

        learner = pp.MetropolisHastings(model, proposal="gwg", num_chains=100, steps=10,
                                        optimizer=optax.adam(0.01))
        fit = learner.fit(data, num_epochs=50, key=0)

    Args:
        model: compiled model.
        proposal: ``"flip"``, ``"block"`` or ``"gwg"`` (see :class:`pcdppl.samplers.Metropolis`).
        num_chains: persistent chains.
        steps: sampler steps per minibatch.
        optimizer: optax transformation (default ``optax.sgd(0.05)``).
        batch_size: examples per minibatch.
        persistent: ``False`` restarts the chains from each minibatch (CD-k with MH).
        scan: ``"flip"`` scan order (see :class:`~pcdppl.samplers.Metropolis`).
        block_size: sites per ``"block"`` proposal.
        num_proposals: ``"gwg"`` proposals per step.
        k_positive: clamped Gibbs sweeps for latents that are not conditionally independent.
        data_init: initialise visible biases from the data marginals.
    """

    def __init__(self, model: Model, *, proposal: str = "flip", num_chains: int = 100,
                 steps: int = 1, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, persistent: bool = True, scan: str = "colour",
                 block_size: int = 2, num_proposals: int = 1, k_positive: int = 10,
                 data_init: bool = True):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        sampler = Metropolis(model, proposal, scan=scan, block_size=block_size,
                             num_proposals=num_proposals)
        super().__init__(model, sampler=sampler, num_chains=num_chains, k=steps,
                         optimizer=optimizer, batch_size=batch_size, persistent=persistent,
                         k_positive=k_positive, data_init=data_init)
