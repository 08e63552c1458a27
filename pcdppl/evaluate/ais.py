"""Annealed importance sampling (AIS) estimates of ``log Z``, for every model.

Neal (2001); Salakhutdinov and Murray (2008), "On the quantitative analysis of deep belief
networks". The groups of the model are split into *sampled* groups ``V`` and *summed* groups
``S``, conditionally independent given ``V`` (an RBM's hidden layer; none for an Ising or
Potts model), which are summed analytically (Rao–Blackwellised). The base model ``A`` has
independent sampled units with fields ``a`` — the smoothed marginals of data when data are
given (the *base-rate* model), else 0 (uniform) — and free summed units, so ``log Z_A`` is
exact. With ``A(x) = Σ_i a_i[x_i]`` the intermediate targets are

    log f_β(x_V) = (1-β) A(x_V) - F_β(x_V),     -F_β(x_V) = log Σ_{x_S} exp(-β E(x_V, x_S)),

evaluated from one energy at the summed groups' reference state and their local log-odds
(:meth:`pcdppl.graph.Blocked.free_energy_parts`). Each run starts from an exact draw of
``A``, accumulates ``w += log f_{β_k}(x) - log f_{β_{k-1}}(x)``, draws the summed groups
exactly from ``p_k(x_S | x_V)`` and moves ``x`` with a transition that leaves
``p_k ∝ exp(-β_k E + (1-β_k) A)`` invariant: any pcdppl sampler, run on the model extended
by one bias factor per sampled group holding ``(1-β_k) a`` with the couplings scaled by
``β_k`` (block Gibbs over the sampled groups by default). Then

    log Ẑ = log Z_A + logmeanexp(w),

an unbiased estimate of ``Z`` (``log Ẑ`` is, by Jensen, biased low on average). The standard
error reported is the delta-method error ``sd(exp(w)) / (sqrt(M) · mean(exp(w)))``. The whole
anneal is one compiled program (``lax.scan`` over the temperatures) that takes the model as
an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import as_key, uniform
from ..graph.blocked import log_partition_of_units
from ..graph.data import as_dataset
from ..graph.factor_graph import FactorGraph
from ..graph.model import Model
from ..samplers.base import Sampler
from ..samplers.gibbs import BlockGibbs
from ..samplers.units import sample_units
from .exact import analytic_split

Array = jax.Array

#: The schedule of Salakhutdinov and Murray (2008): 500 temperatures in [0, 0.5),
#: 4,000 in [0.5, 0.9) and 10,000 in [0.9, 1] — 14,500 in all.
PAPER_NUM_BETAS = 14_500


def paper_betas(num_betas: int = PAPER_NUM_BETAS) -> np.ndarray:
    """Inverse temperatures ``0 = β_0 < ... < β_K = 1`` spaced like the paper's schedule.

    ``num_betas`` intermediate temperatures (plus ``β_0 = 0``) are split over [0, 0.5),
    [0.5, 0.9) and [0.9, 1] in the paper's proportions 500 : 4,000 : 10,000, each part
    uniformly spaced. ``paper_betas()`` reproduces the paper's 14,500 temperatures.
    """
    if not isinstance(num_betas, (int, np.integer)) or num_betas < 3:
        raise ValueError(f"num_betas must be an int >= 3, got {num_betas!r}")
    n1 = max(1, round(num_betas * 500 / 14_500))
    n2 = max(1, round(num_betas * 4_000 / 14_500))
    n3 = num_betas - n1 - n2
    return np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False),
                           np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3 + 1)])


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate. Unpacks as ``log_z, stderr = result``.

    Attributes:
        log_z: the estimate ``log Ẑ``.
        stderr: its standard error (delta method over the runs).
        log_weights: ``(num_chains,)`` final log importance weights ``w_m``.
        log_z_base: ``log Z_A`` of the base model (sampled units independent with the base
            fields, summed-out units free).
        num_chains: independent annealing runs.
        num_betas: intermediate temperatures (excluding ``β = 0``).
    """

    log_z: float
    stderr: float
    log_weights: np.ndarray = field(repr=False)
    log_z_base: float = 0.0
    num_chains: int = 0
    num_betas: int = 0
    sampled: tuple = ()
    summed: tuple = ()

    def __iter__(self):
        return iter((self.log_z, self.stderr))

    def __float__(self) -> float:
        return float(self.log_z)


def split_groups(model: Model, sampled=None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(sampled, summed)``: the groups AIS samples and those it sums analytically.

    ``sampled`` (a group name or names) defaults to the model's ``"v"`` group where there is
    one and the rest can be summed, else to what enumeration would enumerate; the summed
    groups are the conditionally independent set of the rest with the most states."""
    if sampled is None:
        names = list(model.groups)
        rest = [g for g in names if g != "v"]
        if "v" in model.groups and rest and model.conditionally_independent(rest):
            sampled = ("v",)
        else:
            sampled = tuple(analytic_split(model)[0]) or (names[0],)
    sampled = (sampled,) if isinstance(sampled, str) else tuple(sampled)
    unknown = [g for g in sampled if g not in model.groups]
    if unknown:
        raise KeyError(f"unknown group {unknown[0]!r} in visible=; the model's groups are "
                       f"{list(model.groups)}")
    if not sampled:
        raise ValueError("AIS needs at least one sampled group")
    rest = [g for g in model.groups if g not in sampled]
    enum, summed = analytic_split(model, rest) if rest else ([], [])
    return tuple(sampled) + tuple(enum), tuple(summed)


def base_rate_logits(data, *, smoothing: float = 1.0) -> np.ndarray:
    """Log-odds ``a_i`` of the base-rate model: smoothed fractions of examples with unit ``i``
    on, ``p_i = (Σ_n [x_ni = on] + α) / (N + 2α)``, ``a_i = log p_i - log(1 - p_i)``."""
    x = np.asarray(data)
    if x.ndim != 2:
        raise ValueError(f"base-rate data must be 2-D (examples, units), got shape {x.shape}")
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    on = (x > 0).sum(0).astype(np.float64)
    p = (on + smoothing) / (x.shape[0] + 2 * smoothing)
    return np.log(p / (1 - p)).astype(np.float32)


def base_fields(model: Model, sampled, data=None, base_logits=None,
                smoothing: float = 1.0) -> dict[str, np.ndarray]:
    """The base model's fields per sampled group (user order): log-odds ``(n,)`` of "on"
    for binary/spin units, log-potentials ``(n, k)`` for categorical ones. From ``data``
    (smoothed marginals), ``base_logits`` (given: an array for a single sampled group or a
    dict), or zeros (uniform)."""
    if base_logits is not None and data is not None:
        raise ValueError("give either data (for a base-rate model) or base_logits, not both")
    shapes = {g: (model.groups[g].size, model.groups[g].num_states)
              if model.groups[g].is_categorical else (model.groups[g].size,) for g in sampled}
    out = {g: np.zeros(s, np.float32) for g, s in shapes.items()}
    if base_logits is not None:
        given = base_logits if isinstance(base_logits, dict) else {sampled[0]: base_logits}
        for g, a in given.items():
            if g not in shapes:
                raise KeyError(f"base_logits for group {g!r}, which AIS does not sample "
                               f"(sampled: {list(sampled)})")
            a = np.asarray(a, np.float32)
            if a.shape != shapes[g] or not np.all(np.isfinite(a)):
                raise ValueError(f"base_logits[{g!r}] must be finite values of shape "
                                 f"{shapes[g]}, got shape {a.shape}")
            out[g] = a
    elif data is not None:
        ds = as_dataset(model.groups, data if isinstance(data, dict) else {sampled[0]: data})
        for g, x in ds.items():
            if g not in shapes:
                continue
            grp = model.groups[g]
            if grp.is_categorical:
                counts = np.stack([(x == c).sum(0) for c in range(grp.num_states)], 1)
                p = (counts + smoothing) / (x.shape[0] + grp.num_states * smoothing)
                out[g] = np.log(p).astype(np.float32)
            else:
                out[g] = base_rate_logits(x == grp.values[-1], smoothing=smoothing)
    return out


def base_biases(model: Model, fields: dict) -> dict[str, np.ndarray]:
    """The bias parameters ``b`` (``-E_A ∋ b·x``, or ``b[x]`` for categorical units) of base
    fields given as log-odds of "on": ``b = a`` for binary units, ``a / 2`` for spins."""
    return {g: (a / 2 if model.groups[g].kind == "spin" else a).astype(np.float32)
            for g, a in fields.items()}


def base_log_partition(model: Model, biases: dict, summed) -> float:
    """``log Z_A``: independent sampled units with bias parameters ``biases``, summed units
    free."""
    total = 0.0
    for g, b in biases.items():
        grp, b = model.groups[g], np.asarray(b, np.float64)
        values = grp.values.astype(np.float64)
        if grp.is_categorical:
            total += float(np.sum(np.logaddexp.reduce(b, axis=1)))
        else:
            total += float(np.sum(np.logaddexp(b * values[0], b * values[1])))
    return total + sum(model.groups[g].log_num_states for g in summed)


def base_name(model: Model, group: str) -> str:
    """The parameter name of AIS's base-field factor on ``group`` (not a name of ``model``)."""
    name = f"ais_base_{group}"
    while name in model.param_shapes:
        name = "_" + name
    return name


def extended_model(model: Model, sampled) -> Model:
    """``model`` plus one bias factor per sampled group, named :func:`base_name`: the family
    of AIS targets ``exp(-E(x; βθ) + (1-β) A(x))``."""
    fg = FactorGraph.from_model(model)
    for g in sampled:
        fg.bias(g, name=base_name(model, g))
    return fg.compile(coloring=model.coloring, meta=dict(model.meta))


def anneal_log_weights(model: Model, sampler: Sampler, params, base: dict, betas, key, *,
                       num_chains: int, summed: tuple = (), mesh=None) -> Array:
    """Final log-weights ``(num_chains,)`` of the anneal (see the module docstring); pure.

    Args:
        model: the model; ``sampler`` a sampler built on :func:`extended_model` of it.
        params: the model's parameters; ``base``: the base fields, ``{base_name: (n[, k])}``.
        betas: ``(K + 1,)`` increasing from 0 to 1.
        key: PRNG key.
        num_chains: independent runs.
        summed: groups summed analytically.
        mesh: split the runs over this mesh's devices (``None``: one device).
    """
    ext = sampler.model
    C = num_chains
    names = set(model.param_shapes)
    bp_all = ext.blocked.params({**params, **base})
    bp_model = {n: v for n, v in bp_all.items() if n in names}
    sampled = [g for g in model.groups if g not in summed]
    base_f = [f for f in ext.factors if f.name not in names]

    def log_f(parts, A, beta):
        e_ref, loc = parts
        out = (1.0 - beta) * A - beta * e_ref
        for g, v in loc.items():
            out = out + jnp.sum(log_partition_of_units(model.groups[g], v, beta), axis=0)
        return out

    def scaled(beta):  # blocked parameters are linear in the parameters
        return {n: jax.tree.map(partial(jnp.multiply, beta if n in names else 1.0 - beta), v)
                for n, v in bp_all.items()}

    k0, k_run = jax.random.split(key)
    u0 = uniform(k0, (sum(model.groups[g].size for g in sampled), C))
    x, off = {}, 0
    for f in base_f:  # exact draws of the base model
        g = f.group
        loc = f.local(bp_all[f.name], {}, g.name, slice(None))
        x[g.name] = sample_units(g, jnp.broadcast_to(loc, loc.shape[:-1] + (C,)), 1.0,
                                 u0[off:off + g.size])
        off += g.size
    for g in summed:
        grp = model.groups[g]
        x[g] = jnp.full((grp.size, C), grp.reference_value(), jnp.int8)
    state = sampler.shard(sampler.init_state(k0, ext, scaled(0.0), x), mesh)

    def step(carry, inp):
        state, w = carry
        b_prev, b_next, k = inp
        xv = {g: state.x[g] for g in sampled}
        parts = model.blocked.free_energy_parts(bp_model, xv, summed)
        A = -sum(f.energy(bp_all[f.name], xv) for f in base_f)
        w = w + log_f(parts, A, b_next) - log_f(parts, A, b_prev)
        k_sum, k_move = jax.random.split(k)
        x = dict(state.x)
        if summed:  # the summed groups, exactly from p_k(x_S | x_V)
            u = uniform(k_sum, (sum(model.groups[g].size for g in summed), C))
            o = 0
            for g, loc in parts[1].items():
                n = model.groups[g].size
                x[g] = sample_units(model.groups[g], loc, b_next, u[o:o + n])
                o += n
        state, _ = sampler.transition(k_move, ext, scaled(b_next), state._replace(x=x), 1.0)
        return (sampler.shard(state, mesh), w), None

    K = betas.shape[0] - 1
    (_, w), _ = jax.lax.scan(step, (state, jnp.zeros((C,), jnp.float32)),
                             (betas[:-1], betas[1:], jax.random.split(k_run, K)))
    return w


_anneal_program = jax.jit(anneal_log_weights, static_argnames=("num_chains", "summed", "mesh"))


def ais(model: Model, params, key=0, *, num_chains: int = 100, betas=None, data=None,
        base_logits=None, visible=None, sampler: Sampler | None = None,
        smoothing: float = 1.0) -> AISResult:
    """Estimate ``log Z`` of any model by annealed importance sampling.

    Args:
        model: the compiled model.
        params: its parameters.
        key: PRNG key or int seed.
        num_chains: independent annealing runs ``M`` (the paper: 100).
        betas: the inverse temperatures: an increasing array from 0 to 1, or an int number of
            temperatures spaced as the paper's schedule (:func:`paper_betas`). Default: the
            paper's 14,500.
        data: training examples (an ``(N, n)`` array of the first sampled group or a dict);
            the base model's fields are their smoothed marginals (:func:`base_fields`).
            Without data (and without ``base_logits``) the base model is uniform.
        base_logits: explicit base fields instead of ``data`` (an array for the first sampled
            group, or a dict per group).
        visible: the group(s) that are sampled (default: see :func:`split_groups`); the
            conditionally independent rest is summed analytically.
        sampler: the transition at each temperature: any pcdppl sampler built for ``model``
            (rebuilt on the AIS target with ``sampler.replace(model=...)``); default block
            Gibbs over the sampled groups. The runs are split over the sampler's mesh, else
            over the CPU's cores (:func:`pcdppl.sharding.auto_mesh`).
        smoothing: pseudo-count ``α`` of the base-rate marginals.

    Returns:
        an :class:`AISResult` (``log_z, stderr = ais(...)``).
    """
    model.check_params(params)
    sampled, summed = split_groups(model, visible)
    fields = base_fields(model, sampled, data, base_logits, smoothing)
    if betas is None:
        betas = PAPER_NUM_BETAS
    if isinstance(betas, (int, np.integer)):
        b = paper_betas(betas)
    else:
        try:
            b = np.asarray(betas, float)
        except (TypeError, ValueError):
            raise TypeError(f"betas must be an array of inverse temperatures or an int number "
                            f"of temperatures, got {betas!r}") from None
    if (b.ndim != 1 or b.size < 2 or b[0] != 0 or b[-1] != 1 or np.any(np.diff(b) <= 0)
            or not np.all(np.isfinite(b))):
        raise ValueError("betas must increase strictly from 0 to 1 (an array, or an int number "
                         "of temperatures)")
    if not isinstance(num_chains, (int, np.integer)) or isinstance(num_chains, bool) \
            or num_chains < 2:
        raise ValueError(f"num_chains must be an int >= 2, got {num_chains!r}")
    ext = extended_model(model, sampled)
    if sampler is None:
        sampler = BlockGibbs(ext, clamp=summed)
    elif not isinstance(sampler, Sampler) or sampler.model is not model:
        raise ValueError("sampler must be a pcdppl sampler built for this model")
    else:
        sampler = sampler.replace(model=ext)
    biases = base_biases(model, fields)
    base = {base_name(model, g): b for g, b in biases.items()}
    logw = _anneal_program(model, sampler, params, base, jnp.asarray(b, jnp.float32),
                           as_key(key), num_chains=int(num_chains), summed=summed,
                           mesh=sampler.execution_mesh(int(num_chains)))
    logw = np.asarray(logw, np.float64)
    log_za = base_log_partition(model, biases, summed)
    m = logw.max()
    r = np.exp(logw - m)
    log_z = log_za + m + math.log(r.mean())
    stderr = float(r.std(ddof=1) / (math.sqrt(len(r)) * r.mean()))
    return AISResult(float(log_z), stderr, logw, log_za, int(num_chains), int(b.size - 1),
                     sampled, summed)
