"""Learning with perturb-and-max-product samples as the negative phase."""

from __future__ import annotations

import optax

from ..graph.model import Model
from ..samplers.pmp import PerturbAndMaxProduct as PMPSampler
from .contrastive import ContrastiveLearner


class PerturbAndMaxProduct(ContrastiveLearner):
    """Contrastive learning whose negative phase is a fresh batch of ``num_samples``
    perturb-and-max-product samples per minibatch (Lázaro-Gredilla et al., 2021).

    The learner loop is :class:`~pcdppl.learn.contrastive.ContrastiveLearner`'s: one
    compiled program per epoch, exact positive phase where the latent groups are
    conditionally independent given the data (RBMs). Where they are not, each example's
    latents are one PMP sample with the example's visible units clamped.

    Args:
        model: the compiled model.
        num_samples: PMP samples per parameter update.
        num_iters, damping, noise, perturb_factors: see
            :class:`pcdppl.samplers.PerturbAndMaxProduct`.
        warm_start: carry the BP messages across parameter updates (each update starts BP
            from the previous update's messages).
        optimizer, batch_size, data_init: as in :class:`pcdppl.PCD`.
        num_chains: alias of ``num_samples`` (so the learner is a drop-in for ``pp.PCD``).

    Example::

        learner = pp.PerturbAndMaxProduct(model, num_samples=100, num_iters=100,
                                          optimizer=optax.adam(0.01))
        fit = learner.fit(data, num_epochs=50, key=0)
    """

    def __init__(self, model: Model, *, num_samples: int = 100, num_iters: int = 100,
                 damping: float = 0.5, noise: float = 1.0, perturb_factors: bool = False,
                 warm_start: bool = False, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, data_init: bool = True,
                 num_chains: int | None = None):
        if num_chains is not None:
            if num_samples != 100 and num_samples != num_chains:
                raise ValueError(f"num_samples={num_samples} and num_chains={num_chains} "
                                 f"disagree; num_chains is an alias of num_samples")
            num_samples = num_chains
        sampler = PMPSampler(model, num_iters=num_iters, damping=damping, noise=noise,
                             perturb_factors=perturb_factors, warm_start=warm_start)
        super().__init__(model, sampler=sampler, num_chains=num_samples, k=1,
                         optimizer=optimizer, batch_size=batch_size, persistent=True,
                         k_positive=1, data_init=data_init)

    def _clamped_sampler(self, visible: tuple) -> PMPSampler:
        s = self.sampler
        return PMPSampler(self.model, num_iters=s.num_iters, damping=s.damping, noise=s.noise,
                          perturb_factors=s.perturb_factors, clamp=visible)

    def __repr__(self) -> str:
        return (f"PerturbAndMaxProduct({self.sampler!r}, num_samples={self.num_chains}, "
                f"batch_size={self.batch_size})")
