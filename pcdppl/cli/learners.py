"""The learner of a configuration: ``learner.kind`` and its knobs -> a pcdppl learner.

=============  =====================================================  =========================
``kind``       learner                                                knobs
=============  =====================================================  =========================
``pcd``        :class:`pcdppl.PCD` (persistent chains)                num_chains, k (or "auto")
``cd``         :class:`pcdppl.PCD` with ``persistent=False`` (CD-k)   k
``fpcd``       :class:`pcdppl.FPCD` (fast weights)                    num_chains, k, fast_lr,
                                                                      fast_decay
``jarzynski``  :class:`pcdppl.JarzynskiPCD`                           num_chains, k,
                                                                      resample_threshold
``pl``         :class:`pcdppl.PseudoLikelihood` (Ising, Potts)        —
``mh``         :class:`pcdppl.MetropolisHastings`                     num_chains, k, proposal
``pmp``        :class:`pcdppl.PerturbAndMaxProductLearner`            num_chains, num_iters,
                                                                      damping
=============  =====================================================  =========================

Every learner takes ``batch_size`` and the optimiser (``optimizer``, ``learning_rate``,
``momentum``); a DBN trains each layer with the chosen learner (``propagate``).
"""

from __future__ import annotations

import optax

from ..dbn.training import DBN
from ..learn.learners import PCD
from ..learn.presets import FPCD, JarzynskiPCD, MetropolisHastings, PerturbAndMaxProductLearner
from ..learn.pseudolikelihood import PseudoLikelihood

LEARNERS = {"pcd": PCD, "cd": PCD, "fpcd": FPCD, "jarzynski": JarzynskiPCD,
            "pl": PseudoLikelihood, "mh": MetropolisHastings, "pmp": PerturbAndMaxProductLearner}


def optimizer(lr: dict) -> optax.GradientTransformation:
    """The optax optimiser of the ``[learner]`` settings."""
    if lr["optimizer"] == "adam":
        return optax.adam(lr["learning_rate"])
    return optax.sgd(lr["learning_rate"], momentum=lr["momentum"] or None)


def learner_kwargs(lr: dict) -> dict:
    """Keyword arguments of the learner class ``LEARNERS[lr["kind"]]``."""
    kind = lr["kind"]
    kw = {"batch_size": lr["batch_size"], "optimizer": optimizer(lr)}
    if kind == "pl":
        return kw
    if kind == "pmp":
        return {**kw, "num_samples": lr["num_chains"], "num_iters": lr["num_iters"],
                "damping": lr["damping"]}
    kw["k"] = lr["k"]
    if kind == "cd":
        return {**kw, "persistent": False}
    kw["num_chains"] = lr["num_chains"]
    if kind == "fpcd":
        kw.update(fast_lr=lr["fast_lr"], fast_decay=lr["fast_decay"])
    elif kind == "jarzynski":
        kw["resample_threshold"] = lr["resample_threshold"]
    elif kind == "mh":
        kw["proposal"] = lr["proposal"]
    return kw


def build_learner(cfg: dict, kind: str, model):
    """The learner of ``cfg`` for ``model`` (a :class:`~pcdppl.DBN` trainer for a DBN)."""
    lr = cfg["learner"]
    cls = LEARNERS[lr["kind"]]
    if kind == "dbn":
        return DBN(model, learner=cls, propagate=lr["propagate"], **learner_kwargs(lr))
    return cls(model, **learner_kwargs(lr))
