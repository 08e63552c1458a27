"""pcdppl inside NumPyro, and NumPyro around pcdppl.

* :class:`Kernel` runs any pcdppl sampler as a ``numpyro.infer.mcmc.MCMCKernel``::

      kernel = pp.integrations.numpyro.Kernel(model, params, sampler=pp.samplers.BlockGibbs(model))
      mcmc = numpyro.infer.MCMC(kernel, num_warmup=100, num_samples=1000, num_chains=4,
                                chain_method="vectorized")
      mcmc.run(jax.random.key(0))
      mcmc.get_samples(group_by_chain=True)   # dict[group, int8 (chain, draw, n)]
      az.from_numpyro(mcmc)                    # an ArviZ DataTree

  Under ``chain_method="vectorized"`` NumPyro hands :meth:`Kernel.init` a batch of keys; the
  kernel then runs all chains as the chain axis of one pcdppl state (the blocked layout is
  chains-last, so this is the fast path, not a ``vmap``). Under ``"sequential"`` and
  ``"parallel"`` every chain is its own state with one chain.

* :func:`energy_factor` adds a compiled model's log-weight ``-E(x)`` (optionally normalised by
  ``log Z``) to a NumPyro program as ``numpyro.factor``, so the couplings can carry priors or
  the undirected model can be part of a larger NumPyro model; :func:`numpyro_model` writes a
  whole pcdppl model as a NumPyro program over discrete sites (what
  ``numpyro.infer.DiscreteGibbs`` samples, and what ``Kernel.model`` returns).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile
from ..evaluate.exact import DEFAULT_MAX_STATES, log_partition
from ..graph.model import Model
from ..samplers import Sampler, check_beta, random_values, resolve_sampler

try:
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer.mcmc import MCMCKernel
except ImportError as _err:  # pragma: no cover - numpyro is a dependency
    raise ImportError("pcdppl.integrations.numpyro needs numpyro: pip install numpyro") from _err

__all__ = ["Kernel", "KernelState", "energy_factor", "numpyro_model"]


class KernelState(NamedTuple):
    """State of :class:`Kernel`.

    Attributes:
        sampler_state: the pcdppl sampler's state (blocked layout, chains last).
        rng_key: one key per chain (a batch of keys when vectorized).
        sampler: the pcdppl sampler, its model included: the graph structure travels
            through NumPyro's compiled loop as state (an argument), not as constants.
        params: the model's parameters.
        z: (property) the chains' values in pcdppl's user layout, ``dict[group, int8
            (n,)]`` for one chain, ``(C, n)`` under ``chain_method="vectorized"`` (the sample
            field).
        potential_energy: (property) ``E(z)``, ``()`` or ``(C,)`` (request it with
            ``extra_fields=("potential_energy",)``).

    ``z`` and ``potential_energy`` are computed when NumPyro reads them (a collected draw),
    not carried: warmup and thinned-out iterations do not pay for them.
    """

    sampler_state: Any
    rng_key: jax.Array
    sampler: Any
    params: dict

    @property
    def z(self) -> dict:
        values = self.sampler.model.blocked.to_values(self.sampler_state.x)
        return values if _is_batch(self.rng_key) else {g: v[0] for g, v in values.items()}

    @property
    def potential_energy(self) -> jax.Array:
        model = self.sampler.model
        e = model.blocked.energy(model.blocked.params(self.params), self.sampler_state.x)
        return e if _is_batch(self.rng_key) else e[0]


def _is_batch(rng_key) -> bool:
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key.ndim >= 1
    return rng_key.ndim == 2


def _typed(rng_key):
    if jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        return rng_key
    return jax.random.wrap_key_data(rng_key)


def _same_kind(new_typed, like):
    """Return typed keys as raw uint32 data when NumPyro gave raw keys."""
    if jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
        return new_typed
    return jax.random.key_data(new_typed)


class Kernel(MCMCKernel):
    """A pcdppl sampler as a NumPyro MCMC kernel on a model with fixed parameters.

    Args:
        model: the compiled model.
        params: its parameters.
        sampler: any pcdppl sampler built for ``model`` (default :class:`BlockGibbs`).
        thin: sampler transitions per NumPyro iteration (default 1; ``steps_per_sample`` is
            a deprecated alias).
        beta: inverse temperature.

    One NumPyro iteration is ``thin`` transitions of ``sampler`` (for block Gibbs, full
    sweeps). ``init_params`` passed to ``MCMC.run`` are starting values
    ``dict[group, (n,)]`` or, vectorized, ``(num_chains, n)``; otherwise chains start
    uniformly at random. There is no adaptation: warmup iterations are ordinary
    transitions that NumPyro discards.
    """

    sample_field = "z"

    def __init__(self, model: Model, params, *, sampler: Sampler | None = None, thin: int = 1,
                 beta: float = 1.0, steps_per_sample: int | None = None):
        if not isinstance(model, Model):
            raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
        model.check_params(params)
        sampler = resolve_sampler(model, sampler, "kernel")
        if steps_per_sample is not None:
            warnings.warn("Kernel(steps_per_sample=...) is renamed thin=...", DeprecationWarning,
                          stacklevel=2)
            thin = steps_per_sample
        if not isinstance(thin, (int, np.integer)) or isinstance(thin, bool) or thin < 1:
            raise ValueError(f"thin must be a positive int, got {thin!r}")
        check_beta(beta)
        self.pcdppl_model, self.sampler = model, sampler
        self.params = {k: jnp.asarray(v) for k, v in params.items()}
        self.thin, self.beta = int(thin), beta
        self._numpyro_model = None

    @property
    def steps_per_sample(self) -> int:
        """Deprecated name of :attr:`thin`."""
        return self.thin

    def __repr__(self) -> str:
        return (f"pcdppl.integrations.numpyro.Kernel(sampler={type(self.sampler).__name__}, "
                f"thin={self.thin})")

    @property
    def model(self):
        """The model as a NumPyro program over discrete sites (see :func:`numpyro_model`);
        ArviZ's ``from_numpyro`` traces it for dimension names."""
        if self._numpyro_model is None:
            self._numpyro_model = numpyro_model(self.pcdppl_model, self.params)
        return self._numpyro_model

    # ------------------------------------------------------------------ MCMCKernel
    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        model = self.pcdppl_model
        batched = _is_batch(rng_key)
        C = rng_key.shape[0] if batched else 1
        values = None
        if init_params is not None:
            values = {g: jnp.asarray(init_params[g]).reshape(C, -1) for g in model.groups
                      if g in init_params}
            missing = [g for g in model.groups if g not in values]
            if missing:
                raise ValueError(f"init_params lack groups {missing}; give every group's "
                                 f"values, shape (n,) or (num_chains, n)")
        state = _initial_program(C, self.sampler, self.params, rng_key, values)
        return KernelState(state, rng_key, self.sampler, self.params)

    def sample(self, state, model_args, model_kwargs):
        batched = _is_batch(state.rng_key)
        keys = _typed(state.rng_key)
        if batched:
            split = jax.vmap(lambda k: _compile.split(k, 2))(keys)  # (C, 2) keys
            # one key drives the whole batch of chains (they share one blocked state)
            nxt, k_step = split[:, 0], split[0, 1]
        else:
            nxt, k_step = _compile.split(keys, 2)
        sampler, params = state.sampler, state.params  # pytrees carried by NumPyro's loop
        model = sampler.model
        bp = model.blocked.params(params)
        s, _ = sampler.transitions(k_step, model, bp, state.sampler_state, self.beta, self.thin)
        return KernelState(s, _same_kind(nxt, state.rng_key), sampler, params)

    def get_diagnostics_str(self, state):
        return f"energy {float(jnp.mean(state.potential_energy)):.4g}"


def _initial_state(num_chains: int, sampler, params, rng_key, values):
    """The sampler's initial state from ``values`` (user layout) or uniformly random ones:
    one compiled program (NumPyro calls ``init`` once per chain in sequential mode)."""
    model = sampler.model
    keys = _typed(rng_key)
    first = keys[0] if _is_batch(rng_key) else keys
    k_rand, k_init = jax.random.split(jax.random.fold_in(first, 0x5EED))
    if values is not None:
        xb = {g: v.astype(jnp.int8) for g, v in model.blocked.from_values(values).items()}
    else:
        ks = jax.random.split(k_rand, len(model.groups))
        xb = {g: random_values(k, grp, num_chains)
              for (g, grp), k in zip(model.groups.items(), ks, strict=True)}
    return sampler.init_state(k_init, model, model.blocked.params(params), xb)


_initial_program = _compile.jit(_initial_state, static_argnums=(0,), once=True)


# ---------------------------------------------------------------------- the other direction
def energy_factor(name: str, model: Model, params, state, *, normalize: bool = False,
                  max_states: int | None = None):
    """Add ``-Σ_b E(x_b)`` (minus ``B·log Z`` with ``normalize=True``) to the NumPyro program
    being run, as ``numpyro.factor(name, ...)``.

    Args:
        name: the factor's site name.
        model: the compiled model.
        params: its parameters — may be NumPyro sample sites (priors on couplings).
        state: values ``dict[group, (..., n)]`` (or an ``(..., n)`` array for a one-group
            model); every group must be given. Binary groups in ``{0,1}``, spins in ``{-1,+1}``,
            categorical in ``{0..k-1}``.
        normalize: subtract ``log Z(params)`` per state (exact enumeration, so only for small
            models): the factor is then the log-likelihood of the observed states, which is what
            a posterior over the parameters needs. Without it the factor is the unnormalised
            ``log p̃(x)``, right for sampling ``x`` with the parameters fixed.
        max_states: enumeration limit for ``normalize``.

    Returns:
        the log-weight added (a scalar).
    """
    if not isinstance(model, Model):
        raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
    if not isinstance(state, dict):
        if len(model.groups) != 1:
            raise ValueError(f"state must be a dict over the groups {list(model.groups)}")
        state = {next(iter(model.groups)): state}
    missing = [g for g in model.groups if g not in state]
    if missing:
        raise ValueError(f"energy_factor needs values of every group; missing {missing}")
    energy = model.energy(params, state)
    log_w = -jnp.sum(energy)
    if normalize:
        log_z = log_partition(model, params, max_states=max_states or DEFAULT_MAX_STATES)
        log_w = log_w - jnp.size(energy) * log_z
    numpyro.factor(name, log_w)
    return log_w


def numpyro_model(model: Model, params):
    """The model ``p(x) ∝ exp(-E(x))`` as a NumPyro program with fixed ``params``.

    One discrete site per group: binary groups ``Bernoulli(0.5)``, spin groups
    ``Bernoulli(0.5)`` coded ``s = 2b - 1`` (the site holds ``b ∈ {0,1}``), categorical
    groups uniform ``Categorical``; then ``energy_factor("pcdppl_energy", ...)``. NumPyro's
    ``DiscreteGibbs`` samples exactly this program.
    """
    if not isinstance(model, Model):
        raise TypeError(f"expected a compiled pcdppl.Model, got {type(model).__name__}")
    groups = dict(model.groups)

    def program():
        state = {}
        for g, grp in groups.items():
            if grp.is_categorical:
                d = dist.Categorical(logits=jnp.zeros(grp.num_states)).expand([grp.size])
            else:
                d = dist.Bernoulli(probs=0.5).expand([grp.size])
            v = numpyro.sample(g, d)  # batch shape (n,): DiscreteGibbs enumerates it
            state[g] = (2 * v - 1) if grp.kind == "spin" else v
        energy_factor("pcdppl_energy", model, params, state)

    program.__name__ = program.__qualname__ = "pcdppl_model"
    return program
