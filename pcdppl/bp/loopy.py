"""Loopy belief propagation on any compiled :class:`~pcdppl.Model`.

Log-space messages, a parallel ("flooding") schedule, damping, and a temperature ``T``
that interpolates between max-product (``T = 0``, MAP and max-marginals) and sum-product
(``T = 1``, marginals). One iteration:

1. beliefs ``b_i = u_i + Σ_{f ∋ i} m_{f→i}`` (unary log-potentials plus incoming messages);
2. every factor recomputes its messages from ``n_{i→f} = b_i - m_{f→i}``, all at once;
3. damping: ``m ← d·m_old + (1 - d)·m_new``.

The *residual* of an iteration is ``max |m_new - m_old|`` (undamped) over all messages of
a copy; :class:`BPResult` reports it for the last iteration and ``converged = residual ≤
tol``. BP is run on ``C`` independent *copies* of the model at once (the PMP sampler's
perturbed samples), batch axis last.

Shapes (blocked layout, see :mod:`pcdppl.bp.kernels` for the per-factor messages):

=======================  ===============================  ======================
what                     binary / spin group              categorical group
=======================  ===============================  ======================
unary, belief            log-odds ``(n, C)``              log-vector ``(n, k, C)``
``BPResult.beliefs``     ``(C, n)`` user order            ``(C, n, k)``
``BPResult.marginals``   ``p(on)`` ``(C, n)``             ``(C, n, k)``
=======================  ===============================  ======================

Beliefs are in units of log-potential: at ``T = 0`` a binary unit's belief is its
max-marginal log-odds ``max_{x: x_i=on}(-E) - max_{x: x_i=off}(-E)`` (exact on trees); at
temperature ``T`` the marginals of ``p(x) ∝ exp(-E(x)/T)`` are ``softmax(belief / T)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..graph.model import Model
from .kernels import BiasKernel, gumbel, make_kernel

Array = jax.Array


class BPResult(NamedTuple):
    """The outcome of :meth:`BeliefPropagation.run`.

    Attributes:
        messages: the final messages (pass back as ``messages=`` to warm-start).
        beliefs: ``dict[group, (C, n)]`` log-odds or ``(C, n, k)`` log-vectors, user order.
        residual: ``(C,)`` largest undamped message change of the last iteration.
        converged: ``(C,)`` bool, ``residual ≤ tol``.
    """

    messages: dict
    beliefs: dict
    residual: Array
    converged: Array


# ----------------------------------------------------------------------------- pure functions
# Every function takes the model as an ordinary (pytree) argument; potentials, messages and
# beliefs are in the blocked layout with the copy axis last.
def kernels(model: Model) -> dict:
    """The message kernel of every factor (:mod:`pcdppl.bp.kernels`), by parameter name."""
    return {f.name: make_kernel(f) for f in model.factors}


def potentials(model: Model, bparams, beta=1.0) -> dict:
    """Log-potentials of every factor at inverse temperature ``beta`` (biases summed into
    ``"unary"``): ``{"unary": {group: ...}, "factors": {name: ...}}``."""
    beta = jnp.asarray(beta, jnp.float32)
    pot, unary = {}, {}
    for name, k in kernels(model).items():
        p = k.potential(bparams[name], beta)
        if isinstance(k, BiasKernel):
            g = k.group.name
            unary[g] = p if g not in unary else unary[g] + p
        else:
            pot[name] = p
    for g, grp in model.groups.items():
        if g not in unary:
            shape = (grp.size, grp.num_states, 1) if grp.is_categorical else (grp.size, 1)
            unary[g] = jnp.zeros(shape, jnp.float32)
    return {"unary": unary, "factors": pot}


def perturb(key, model: Model, pot: dict, num_copies: int, scale: float = 1.0,
            factors: bool = False) -> dict:
    """Add Gumbel noise of scale ``scale`` to every unary log-potential (as the logistic
    difference of two Gumbels for binary/spin units) and, with ``factors``, to every entry of
    every factor table. Returns potentials of ``num_copies`` copies."""
    C = num_copies
    k_u, k_f = jax.random.split(key)
    unary = {}
    for (g, u), kk in zip(pot["unary"].items(), jax.random.split(k_u, len(pot["unary"])),
                          strict=True):
        grp = model.groups[g]
        if grp.is_categorical:
            unary[g] = u + scale * gumbel(kk, (grp.size, grp.num_states, C))
        else:
            unary[g] = u + scale * jax.random.logistic(kk, (grp.size, C), jnp.float32)
    out = dict(pot["factors"])
    if factors and out:
        ks = kernels(model)
        for (name, p), kk in zip(pot["factors"].items(), jax.random.split(k_f, len(out)),
                                 strict=True):
            out[name] = ks[name].perturb(kk, p, scale, C)
    return {"unary": unary, "factors": out}


def init_messages(model: Model, num_copies: int = 1) -> dict:
    """All-zero (uniform) messages of ``num_copies`` copies."""
    return {name: k.zeros(int(num_copies)) for name, k in kernels(model).items()
            if not isinstance(k, BiasKernel)}


def beliefs(model: Model, pot: dict, msgs: dict, num_copies: int, ks=None) -> dict:
    """Unary log-potentials plus all incoming messages, per group (blocked layout)."""
    ks = kernels(model) if ks is None else ks
    out = {}
    for g, u in pot["unary"].items():
        b = jnp.broadcast_to(u, u.shape[:-1] + (num_copies,))
        for name in msgs:
            inc = ks[name].incoming(msgs[name], g)
            if inc is not None:
                b = b + inc
        out[g] = b
    return out


def iterate(model: Model, pot: dict, msgs: dict, num_copies: int, num_iters: int, *,
            temperature: float = 0.0, damping: float = 0.5):
    """``num_iters`` flooding iterations; returns ``(messages, residual (C,))``."""
    T, d, C = temperature, damping, num_copies
    ks = kernels(model)  # built once: gathers of their index tables stay out of the loop

    def one(m):
        bel = beliefs(model, pot, m, C, ks)
        return {name: ks[name].update(pot["factors"][name], m[name], bel, T) for name in m}

    def damp(old, new):
        return jax.tree.map(lambda o, n: d * o + (1.0 - d) * n, old, new)

    def body(m, _):
        return damp(m, one(m)), None

    if not msgs:  # only unary factors: beliefs are exact, nothing to iterate
        return msgs, jnp.zeros((C,), jnp.float32)
    if num_iters > 1:
        msgs, _ = jax.lax.scan(body, msgs, None, length=num_iters - 1)
    new = one(msgs)
    diffs = [jnp.max(jnp.abs(n - o).reshape(-1, C), axis=0)
             for o, n in zip(jax.tree.leaves(msgs), jax.tree.leaves(new), strict=True)]
    residual = jnp.max(jnp.stack(diffs), axis=0)
    return damp(msgs, new), residual


def decode(model: Model, bel: dict) -> dict:
    """Argmax of blocked beliefs: blocked ``int8 (n, C)``."""
    out = {}
    for g, b in bel.items():
        grp = model.groups[g]
        if grp.is_categorical:
            out[g] = jnp.argmax(b, axis=1).astype(jnp.int8)
        elif grp.kind == "spin":
            out[g] = jnp.where(b > 0, 1, -1).astype(jnp.int8)
        else:
            out[g] = (b > 0).astype(jnp.int8)
    return out


def _to_user(model: Model, bel: dict) -> dict:
    out = {}
    for g, b in bel.items():
        lay = model.layouts[g]
        b = b if lay.identity else b[lay.inv]
        out[g] = jnp.moveaxis(b, -1, 0)
    return out


def _run(model, params, evidence, messages, beta, *, temperature, damping, num_copies,
         num_iters):
    C = num_copies
    pot = potentials(model, model.blocked.params(params), beta)
    for g, e in evidence.items():
        pot["unary"][g] = pot["unary"][g] + e
    msgs = init_messages(model, C) if messages is None else messages
    msgs, residual = iterate(model, pot, msgs, C, num_iters, temperature=temperature,
                             damping=damping)
    return msgs, _to_user(model, beliefs(model, pot, msgs, C)), residual


_run_program = jax.jit(_run, static_argnames=("temperature", "damping", "num_copies",
                                              "num_iters"))


class BeliefPropagation:
    """Loopy BP over a compiled model.

    Args:
        model: the compiled model.
        temperature: ``0`` for max-product (default), ``1`` for sum-product; any ``T ≥ 0``.
        damping: weight ``d ∈ [0, 1)`` of the old message in each update.
        num_iters: iterations per :meth:`run`.
        tol: convergence threshold on the residual.

    Example::

        bp = pp.bp.BeliefPropagation(model, temperature=0.0, damping=0.5, num_iters=200)
        res = bp.run(params)
        x_map = bp.decode(res)          # dict[group, int8 (1, n)]
        res.converged                   # did BP converge?

    The pure functions beneath (:func:`potentials`, :func:`perturb`, :func:`iterate`,
    :func:`beliefs`, :func:`decode`) take the model as an argument, for use inside compiled
    code such as the PMP sampler.
    """

    def __init__(self, model: Model, *, temperature: float = 0.0, damping: float = 0.5,
                 num_iters: int = 100, tol: float = 1e-3):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        self.model = model
        self.temperature, self.damping, self.num_iters, self.tol = check_settings(
            temperature, damping, num_iters, tol)

    def __repr__(self) -> str:
        return (f"BeliefPropagation(temperature={self.temperature}, damping={self.damping}, "
                f"num_iters={self.num_iters})")

    def init_messages(self, num_copies: int = 1) -> dict:
        """All-zero messages for ``num_copies`` copies (uniform messages)."""
        return init_messages(self.model, int(num_copies))

    def _evidence_blocked(self, evidence, C: int) -> dict:
        out = {}
        for g, e in evidence.items():
            if g not in self.model.groups:
                raise KeyError(f"unknown group {g!r} in evidence; the model's groups are "
                               f"{list(self.model.groups)}")
            grp = self.model.groups[g]
            want = (C, grp.size, grp.num_states) if grp.is_categorical else (C, grp.size)
            e = jnp.asarray(e, jnp.float32)
            if e.shape != want:
                raise ValueError(f"evidence[{g!r}] has shape {tuple(e.shape)}; expected {want} "
                                 f"(copies, units{', states' if grp.is_categorical else ''})")
            lay = self.model.layouts[g]
            e = jnp.moveaxis(e, 0, -1)
            out[g] = e if lay.identity else e[lay.perm]
        return out

    def run(self, params, *, evidence: Mapping | None = None, messages=None,
            num_copies: int | None = None, beta=1.0, num_iters: int | None = None) -> BPResult:
        """Run BP.

        Args:
            params: the model's parameters.
            evidence: extra unary log-potentials, ``dict[group, (C, n)]`` log-odds
                (binary/spin) or ``(C, n, k)`` (categorical); e.g. Gumbel perturbations,
                or large values to clamp units.
            messages: messages of an earlier :class:`BPResult` to start from (warm start).
            num_copies: ``C`` (default: from ``evidence``, else 1).
            beta: inverse temperature of the model (scales every log-potential), a scalar
                or one per copy.
            num_iters: iterations (default: the constructor's).
        """
        self.model.check_params(params)
        evidence = dict(evidence or {})
        if num_copies is None:
            num_copies = int(np.shape(next(iter(evidence.values())))[0]) if evidence else 1
        C = int(num_copies)
        ev = self._evidence_blocked(evidence, C)
        if messages is not None:
            want = jax.tree.map(jnp.shape, jax.eval_shape(lambda m: init_messages(m, C), self.model))
            got = jax.tree.map(jnp.shape, messages)
            if want != got:
                raise ValueError(f"messages do not fit this model with {C} copies: shapes "
                                 f"{got} vs {want}")
        n_it = self.num_iters if num_iters is None else int(num_iters)
        if n_it < 1:
            raise ValueError(f"num_iters must be a positive int, got {num_iters!r}")
        msgs, bel, residual = _run_program(self.model, params, ev, messages, beta,
                                           temperature=self.temperature, damping=self.damping,
                                           num_copies=C, num_iters=n_it)
        return BPResult(msgs, bel, residual, residual <= self.tol)

    def decode(self, result: BPResult) -> dict[str, Array]:
        """MAP decoding: the argmax state of every unit's belief, ``dict[group, int8 (C, n)]``."""
        out = {}
        for g, b in result.beliefs.items():
            grp = self.model.groups[g]
            if grp.is_categorical:
                out[g] = jnp.argmax(b, axis=-1).astype(jnp.int8)
            elif grp.kind == "spin":
                out[g] = jnp.where(b > 0, 1, -1).astype(jnp.int8)
            else:
                out[g] = (b > 0).astype(jnp.int8)
        return out

    def marginals(self, result: BPResult) -> dict[str, Array]:
        """``softmax(belief / T)``: the BP marginals at temperature ``T > 0`` (exact on trees);
        at ``T = 0`` the one-hot argmax. Binary/spin: ``p(on)`` ``(C, n)``; categorical
        ``(C, n, k)``."""
        T = self.temperature
        out = {}
        for g, b in result.beliefs.items():
            grp = self.model.groups[g]
            if T == 0.0:
                out[g] = (jax.nn.one_hot(jnp.argmax(b, -1), grp.num_states) if grp.is_categorical
                          else (b > 0).astype(jnp.float32))
            elif grp.is_categorical:
                out[g] = jax.nn.softmax(b / T, axis=-1)
            else:
                out[g] = jax.nn.sigmoid(b / T)
        return out


def check_settings(temperature, damping, num_iters, tol) -> tuple[float, float, int, float]:
    """Validated ``(temperature, damping, num_iters, tol)`` of loopy BP."""
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be finite and ≥ 0, got {temperature}")
    damping = float(damping)
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    if not isinstance(num_iters, (int, np.integer)) or isinstance(num_iters, bool) or num_iters < 1:
        raise ValueError(f"num_iters must be a positive int, got {num_iters!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    return temperature, damping, int(num_iters), float(tol)


def max_product(model: Model, params, *, damping: float = 0.5, num_iters: int = 200,
                tol: float = 1e-3, evidence=None, messages=None):
    """MAP by max-product BP: returns ``(states, result)`` with ``states`` the decoded
    ``dict[group, int8 (C, n)]`` and ``result`` the :class:`BPResult` (check
    ``result.converged``: on loopy graphs the decoding is only trustworthy when it did)."""
    bp = BeliefPropagation(model, temperature=0.0, damping=damping, num_iters=num_iters, tol=tol)
    res = bp.run(params, evidence=evidence, messages=messages)
    return bp.decode(res), res


def sum_product(model: Model, params, *, damping: float = 0.5, num_iters: int = 200,
                tol: float = 1e-3, evidence=None, messages=None):
    """Marginals by sum-product BP (``T = 1``): returns ``(marginals, result)``; see
    :meth:`BeliefPropagation.marginals` for the shapes."""
    bp = BeliefPropagation(model, temperature=1.0, damping=damping, num_iters=num_iters, tol=tol)
    res = bp.run(params, evidence=evidence, messages=messages)
    return bp.marginals(res), res
