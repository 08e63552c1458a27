"""The blocked-layout API of a model: what samplers, learners and evaluators compute with.

Samplers keep chains in the *blocked layout*: ``x[group]`` is ``int8 (n_g, C)``, units in
color-blocked order (see :mod:`pcdppl.graph.layout`), chains last. ``model.blocked`` (a
:class:`Blocked`) converts to and from that layout and evaluates energies, free energies and
local log-odds in it, on parameters gathered once into the layout by :meth:`Blocked.params`.
Every method is pure and works on traced models inside ``jax.jit``.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from .factors import num_rows

Array = jax.Array


class Blocked:
    """``model.blocked``: the model's energy function in the blocked layout.

    Attributes:
        model: the model.
        blocks: the Gibbs blocks ``(group, start, end)`` in sweep order (rows of the layout).
    """

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    @property
    def blocks(self) -> tuple[tuple[str, int, int], ...]:
        return self.model.blocks

    def params(self, params: Mapping) -> dict:
        """Parameters gathered into the blocked layout (``bparams``; differentiable)."""
        return {f.name: f.blocked_params(params[f.name]) for f in self.model.factors}

    def from_values(self, values: Mapping, *, required=None) -> dict[str, Array]:
        """User layout ``dict[group, (..., n)]`` -> blocked ``dict[group, int8 (n, B)]`` with
        ``B`` the product of the batch shape. Values are checked (shape, dtype and, where
        concrete, range); ``required`` names the groups that must be present (default: the
        ones given)."""
        if required is None and isinstance(values, Mapping):
            required = list(values)
        return self.model.to_blocked(values, required=required)[0]

    def to_values(self, x: Mapping) -> dict[str, Array]:
        """Blocked ``dict[group, (n, C)]`` -> user layout ``dict[group, (C, n)]``."""
        out = {}
        for g, v in x.items():
            lay = self.model.layouts[g]
            out[g] = (v if lay.identity else v[lay.inv]).T
        return out

    def energy(self, bparams, x: Mapping) -> Array:
        """``E(x)`` of blocked states: ``(C,)``."""
        C = next(iter(x.values())).shape[1]
        e = jnp.zeros((C,), jnp.float32)
        for f in self.model.factors:
            e = e + f.energy(bparams[f.name], x)
        return e

    def local_logits(self, bparams, x: Mapping, group: str, rows=slice(None)) -> Array:
        """Local log-potentials of ``rows`` of ``group`` given all other units.

        Binary/spin units: the log-odds of "on", ``Δ_i = -E(x_i = on) + E(x_i = off)``,
        ``(r, C)``; categorical units: ``l_i[c] = -E(x_i = c) + const``, ``(r, k, C)``.
        ``rows``: a slice (e.g. a color block) or an index array of blocked rows.
        """
        g = self.model.groups[group]
        C = next(iter(x.values())).shape[1]
        r = num_rows(rows, g.size)
        shape = (r, g.num_states, C) if g.is_categorical else (r, C)
        out = jnp.zeros(shape, jnp.float32)
        for f in self.model.factors_of(group):
            out = out + f.local(bparams[f.name], x, group, rows)
        return out

    def free_energy(self, bparams, x: Mapping, sum_out=None) -> Array:
        """``F(x) = -log Σ_{x_S} exp(-E(x, x_S))``: ``(C,)``, the groups ``S = sum_out``
        (default: every group missing from ``x``) summed analytically.

        The summed groups must be conditionally independent given the rest (no factor ties
        two of their units), as the hidden layer of an RBM is.
        """
        sum_out = self._summed(x, sum_out)
        if not sum_out:
            return self.energy(bparams, x)
        e_ref, loc = self.free_energy_parts(bparams, x, sum_out)
        return e_ref - sum(jnp.sum(log_partition_of_units(self.model.groups[g], v), axis=0)
                           for g, v in loc.items())

    def free_energy_parts(self, bparams, x: Mapping, sum_out=None) -> tuple[Array, dict]:
        """The pieces of :meth:`free_energy`: ``(E(x, x_S = ref), {g: l_g})`` with ``ref`` the
        reference state of the summed groups and ``l_g`` their local log-potentials there.

        The energy is affine in each summed unit's one-hot value, so for any inverse
        temperature ``β``: ``-F_β(x) = -β E(x, ref) + Σ_g Σ_i log Σ_c exp(β (l_i(c) - l_i(ref)))``
        (see :func:`log_partition_of_units`); annealed importance sampling evaluates many
        temperatures from one set of pieces.
        """
        model = self.model
        sum_out = self._summed(x, sum_out)
        if not model.conditionally_independent(sum_out):
            raise ValueError(f"cannot sum out groups {sum_out} analytically: a factor ties "
                             f"units of them together (they are not conditionally independent)")
        C = next(iter(x.values())).shape[1] if x else 1
        full = dict(x)
        for g in sum_out:
            grp = model.groups[g]
            full[g] = jnp.full((grp.size, C), grp.reference_value(), jnp.int8)
        # Factors that vanish with a summed-out binary group at its reference value 0
        # (biases, dense and non-Potts pairwise couplings) add exactly 0: skipping them
        # saves a matmul (and its gradient) per dense layer.
        zero = {g for g in sum_out if model.groups[g].kind == "binary"}
        e = jnp.zeros((C,), jnp.float32)
        for fac in model.factors:
            if not (zero.intersection(fac.groups) and fac.kind in ("bias", "dense", "pairwise")
                    and not getattr(fac, "potts", False)):
                e = e + fac.energy(bparams[fac.name], full)
        return e, {g: self.local_logits(bparams, full, g) for g in sum_out}

    def _summed(self, x, sum_out) -> list[str]:
        if sum_out is None:
            return [g for g in self.model.groups if g not in x]
        return list(sum_out)


@jax.custom_jvp
def softplus(x: Array) -> Array:
    """``log(1 + exp(x))`` whose derivative is ``sigmoid(x)``, a function of ``x`` alone, so
    that a gradient of a free energy does not need the (discarded) softplus values."""
    return jax.nn.softplus(x)


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), jax.nn.sigmoid(x) * t


def log_partition_of_units(group, loc: Array, beta=1.0) -> Array:
    """``log Σ_c exp(β (l(c) - l(ref)))`` per unit of a group, from its local log-potentials
    at the reference state: ``softplus(β l)`` for binary/spin log-odds ``(n, C)``, a
    log-sum-exp over states for categorical ``(n, k, C)``."""
    if group.is_categorical:
        return jax.nn.logsumexp(beta * (loc - loc[:, :1]), axis=1)
    return softplus(beta * loc)
