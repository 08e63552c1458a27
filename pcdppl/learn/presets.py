"""Learner presets: the contrastive learner with a given sampler or extension.

* :class:`FPCD` — fast weights (Tieleman & Hinton, 2009);
* :class:`JarzynskiPCD` — importance-weighted persistent chains (Carbone et al., 2023);
* :class:`MetropolisHastings` — Metropolis–Hastings chains as the negative phase;
* :class:`PerturbAndMaxProductLearner` — perturb-and-max-product samples as the negative phase.

:class:`~pcdppl.learn.learners.PCD` itself is the base learner with block Gibbs.
"""

from __future__ import annotations

import warnings

import numpy as np
import optax

from ..diagnostics import MixingWarning
from ..graph.model import Model
from ..samplers.metropolis import Metropolis
from ..samplers.pmp import PerturbAndMaxProduct as PMPSampler
from .extensions import FastWeights, Jarzynski
from .learners import ContrastiveLearner


class FPCD(ContrastiveLearner):
    """Fast-weights persistent contrastive divergence (Tieleman & Hinton, ICML 2009).

    The persistent chains run on ``θ + θ_fast``, where the fast parameters take the same
    gradient as ``θ`` with a large learning rate and decay each update,
    ``θ_fast ← fast_decay · θ_fast − fast_lr · ∇``: the fast weights push the chains out of
    the modes they just sampled, so they mix faster than the model itself would let them.
    With ``fast_lr=0`` it is plain PCD (bit for bit).

    Args:
        fast_lr: learning rate of the fast parameters (default 0.05, the default learning
            rate of the regular ones).
        fast_decay: factor applied to the fast parameters every update (default 19/20, the
            paper's).
        Other arguments: as in :class:`ContrastiveLearner` (``persistent`` must be true).
    """

    def __init__(self, model: Model, *, fast_lr: float = 0.05, fast_decay: float = 19 / 20,
                 **kwargs):
        if kwargs.get("persistent", True) is not True:
            raise ValueError("FPCD needs persistent chains (fast weights act on them)")
        fast_lr, fast_decay = float(fast_lr), float(fast_decay)
        if not np.isfinite(fast_lr) or fast_lr < 0:
            raise ValueError(f"fast_lr must be finite and >= 0, got {fast_lr}")
        if not 0 <= fast_decay < 1:
            raise ValueError(f"fast_decay must be in [0, 1), got {fast_decay}")
        super().__init__(model, **kwargs)
        self.fast_lr, self.fast_decay = fast_lr, fast_decay

    def extensions(self) -> tuple:
        return super().extensions() + (FastWeights(self.fast_lr, self.fast_decay),)


class JarzynskiPCD(ContrastiveLearner):
    """Importance-weighted persistent chains (Carbone, Hua, Coste & Biroli, NeurIPS 2023,
    "Efficient training of energy-based models using Jarzynski equality"), on any sampler.

    Each chain carries a log-weight that gains ``-(E_θ'(x) - E_θ(x))`` at every parameter
    update ``θ → θ'``; the chains then move with a kernel invariant for ``θ'``; the negative
    phase is the weighted average, and the chains are resampled (systematic resampling) when
    the weights' effective sample size falls below ``resample_threshold × num_chains``. The
    history shows ``ess_fraction`` (mean over the epoch's updates), ``resampled`` (fraction of
    updates that resampled) and ``log_z``, the weights' running estimate of ``log Z_θ`` at the
    end of the epoch (the chains start as exact draws of the units' biases with importance
    weights, so it needs no reference value) — the training log-likelihood
    ``-mean F(data) - log Z_θ`` is tracked at no extra cost. A fit whose chains resampled on
    at least half of the updates of its last half warns (:class:`MixingWarning`): the
    weights then degenerate between updates (learning rate too large for ``num_chains``
    and ``k``), the negative phase rests on few chains and ``log_z`` is unreliable.

    Args:
        resample_threshold: the ESS fraction below which the chains are resampled (default
            0.5).
        Other arguments: as in :class:`ContrastiveLearner` (``persistent`` must be true).
    """

    def __init__(self, model: Model, *, resample_threshold: float = 0.5, **kwargs):
        if kwargs.get("persistent", True) is not True:
            raise ValueError("JarzynskiPCD needs persistent chains (their weights accumulate)")
        resample_threshold = float(resample_threshold)
        if not 0 <= resample_threshold <= 1:
            raise ValueError(f"resample_threshold must be in [0, 1], got {resample_threshold}")
        super().__init__(model, **kwargs)
        self.resample_threshold = resample_threshold

    def extensions(self) -> tuple:
        return super().extensions() + (Jarzynski(self.resample_threshold),)

    def fit(self, data, num_epochs: int, key=0, **options):
        result = super().fit(data, num_epochs, key, **options)
        resampled = np.asarray(result.history.get("resampled", []))
        late = resampled[len(resampled) // 2:]
        if options.get("mixing_warnings", True) and late.size and float(np.mean(late)) >= 0.5:
            ess = float(np.mean(result.history["ess_fraction"][len(resampled) // 2:]))
            warnings.warn(
                f"JarzynskiPCD resampled its chains on {np.mean(late):.0%} of the updates of the "
                f"last half of the fit (mean ESS fraction {ess:.2f}): the weights degenerate "
                "between updates, the negative phase rests on few chains and the log_z "
                "estimate is unreliable; lower the learning rate or raise num_chains or k",
                MixingWarning, stacklevel=2)
        return result


class MetropolisHastings(ContrastiveLearner):
    """PCD whose fantasy particles are Metropolis–Hastings chains.

    ``num_chains`` persistent chains advance ``k`` sampler transitions per parameter update
    (for ``"flip"`` and ``"block"`` one transition is a sweep over all units; for ``"gwg"`` it
    is ``num_proposals`` gradient-informed proposals). ``fit.history["accept_rate"]`` is the
    chains' mean acceptance rate over each epoch.

    Example::

        learner = pp.MetropolisHastings(model, proposal="gwg", num_chains=100, k=10,
                                        optimizer=optax.adam(0.01))
        fit = learner.fit(data, num_epochs=50, key=0)

    Args:
        model: compiled model.
        proposal: ``"flip"``, ``"block"`` or ``"gwg"`` (see :class:`pcdppl.samplers.Metropolis`).
        k: sampler transitions per update, or ``"auto"`` with ``k_target``/``k_max`` (see
            :class:`ContrastiveLearner`; ``steps`` is a deprecated alias).
        scan, block_size, num_proposals: see :class:`~pcdppl.samplers.Metropolis`.
        centered, offset_rate: centered gradients (see :class:`ContrastiveLearner`).
        Other arguments: as in :class:`ContrastiveLearner`.
    """

    ALIASES = {"steps": "k"}

    def __init__(self, model: Model, *, proposal: str = "flip", num_chains: int = 100,
                 k: int | str = 1, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, persistent: bool = True, scan: str = "color",
                 block_size: int = 2, num_proposals: int = 1, k_positive: int = 10,
                 data_init: bool = True, k_target: float = 1.0, k_max: int = 100,
                 centered: bool = False, offset_rate: float = 0.01):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        sampler = Metropolis(model, proposal, scan=scan, block_size=block_size,
                             num_proposals=num_proposals)
        super().__init__(model, sampler=sampler, num_chains=num_chains, k=k,
                         optimizer=optimizer, batch_size=batch_size, persistent=persistent,
                         k_positive=k_positive, data_init=data_init, k_target=k_target,
                         k_max=k_max, centered=centered, offset_rate=offset_rate)


class PerturbAndMaxProductLearner(ContrastiveLearner):
    """Contrastive learning whose negative phase is a fresh batch of ``num_samples``
    perturb-and-max-product samples per minibatch (Lázaro-Gredilla et al., 2021).

    One compiled program per epoch, exact positive phase where the latent groups are
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
        centered, offset_rate: centered gradients (see :class:`ContrastiveLearner`).

    Example::

        learner = pp.PerturbAndMaxProductLearner(model, num_samples=100, num_iters=100,
                                                 optimizer=optax.adam(0.01))
        fit = learner.fit(data, num_epochs=50, key=0)
    """

    def __init__(self, model: Model, *, num_samples: int = 100, num_iters: int = 100,
                 damping: float = 0.5, noise: float = 1.0, perturb_factors: bool = False,
                 warm_start: bool = False, optimizer: optax.GradientTransformation | None = None,
                 batch_size: int = 20, data_init: bool = True,
                 num_chains: int | None = None, centered: bool = False,
                 offset_rate: float = 0.01):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        if num_chains is not None:
            if num_samples != 100 and num_samples != num_chains:
                raise ValueError(f"num_samples={num_samples} and num_chains={num_chains} "
                                 f"disagree; num_chains is an alias of num_samples")
            num_samples = num_chains
        sampler = PMPSampler(model, num_iters=num_iters, damping=damping, noise=noise,
                             perturb_factors=perturb_factors, warm_start=warm_start)
        super().__init__(model, sampler=sampler, num_chains=num_samples, k=1,
                         optimizer=optimizer, batch_size=batch_size, persistent=True,
                         k_positive=1, data_init=data_init, centered=centered,
                         offset_rate=offset_rate)

    def clamped_sampler(self, visible: tuple) -> PMPSampler:
        s = self.sampler
        return PMPSampler(self.model, num_iters=s.num_iters, damping=s.damping, noise=s.noise,
                          perturb_factors=s.perturb_factors, clamp=visible)

    def __repr__(self) -> str:
        return (f"PerturbAndMaxProductLearner({self.sampler!r}, num_samples={self.num_chains}, "
                f"batch_size={self.batch_size})")


class PerturbAndMaxProduct(PerturbAndMaxProductLearner):
    """Deprecated name of :class:`PerturbAndMaxProductLearner` (the sampler of the same name
    is :class:`pcdppl.samplers.PerturbAndMaxProduct`)."""

    def __init__(self, model: Model, **kwargs):
        warnings.warn("pp.PerturbAndMaxProduct (the learner) is renamed "
                      "pp.PerturbAndMaxProductLearner; pp.samplers.PerturbAndMaxProduct is the "
                      "sampler", DeprecationWarning, stacklevel=3)
        super().__init__(model, **kwargs)
