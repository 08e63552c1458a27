"""Metropolis–Hastings over discrete units: single-site flips, block flips, Gibbs-with-Gradients.

Target ``π_β(x) ∝ exp(-β E(x))``. A proposal ``x → x'`` drawn from ``q(x'|x)`` is accepted with
probability

    α(x, x') = min(1, exp(-β [E(x') - E(x)]) · q(x|x') / q(x'|x)).

Energy differences are computed *locally*: changing unit ``i`` from ``a`` to ``b`` changes
the log-density by ``l_i[b] - l_i[a]``, where ``l_i`` are the unit's local log-potentials
(``model.blocked.local_logits``; for binary/spin units the log-odds ``Δ_i`` of "on"), which touch only
the factors of unit ``i``. A change is a *flip* for binary/spin units and a move to a
uniformly chosen *other* value for categorical units; both proposals are symmetric.

Proposals (one sampler step each):

* ``"flip"`` — one sweep of ``N`` single-site proposals (``N`` = number of free units).
  ``scan="color"`` (default): the color classes of the model's graph are visited in a
  fresh random order and all sites of a class are proposed at once. Units of one class
  share no factor, so this is exactly the same kernel as proposing them one after another,
  and it runs at block-Gibbs speed. ``scan="random"``: a fresh random permutation of the
  sites of each group, proposed strictly one at a time.
* ``"block"`` — the sites of each group, in a fresh random order, are cut into blocks of
  ``block_size`` distinct sites; each block is one joint proposal, accepted or rejected as
  a whole: its first site always changes and every other site changes with probability
  1/2 (so ``1 + (block_size - 1)/2`` changes on average). Given the ordered block, the
  proposal is symmetric. (Changing *exactly* ``m`` sites would not do: for binary units and
  even ``m`` it preserves the parity of the number of ones, so the chain could not reach
  half of the states.) The energy change is accumulated site by site, locally.
* ``"gwg"`` — Gibbs-with-Gradients (Grathwohl et al., 2021): each chain proposes one change
  ``(i, c)`` among *all* single-unit changes with probability
  ``q(i, c | x) = softmax(β d(x) / 2)`` where ``d_{i,c}(x)`` is the first-order estimate
  of the log-density change. pcdppl energies are multilinear in the units' indicators,
  so the first-order estimate (the gradient of the multilinear extension) equals the exact
  change ``l_i[c] - l_i[x_i]``, computed for all units in one pass over the factors, just
  as a gradient would be. The Hastings ratio uses the reverse proposal
  ``q(x | x')`` evaluated at the proposed state. ``num_proposals`` proposals per step.

Each transition reports ``info["accept_rate"]`` ``(C,)``: accepted / attempted proposals.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..graph.model import Model
from .base import ChainState, Sampler, clamped_groups, num_chains_of
from .mh import accept, select
from .units import log_density_change, propose_change

Array = jax.Array

PROPOSALS = ("flip", "gwg", "block")
SCANS = ("color", "random")
MetropolisState = ChainState  # the chains' values; statistics travel in ``info``


class Metropolis(Sampler):
    """Metropolis–Hastings sampler over binary, spin and categorical units.

    Args:
        model: the compiled model.
        proposal: ``"flip"`` (single-site), ``"block"`` (``block_size`` sites at once) or
            ``"gwg"`` (Gibbs-with-Gradients). See the module docstring for the equations.
        scan: for ``"flip"``: ``"color"`` (all sites of a color class at once, classes in
            random order; fast) or ``"random"`` (sites one at a time in random order).
            ``"color"`` is accepted as an alias of ``"color"``.
        block_size: sites in one ``"block"`` proposal: the first changes, each other with
            probability 1/2 (groups smaller than this use blocks of their size).
        num_proposals: ``"gwg"`` proposals per step (default 1, one flip per step as in
            Grathwohl et al.; the number of units gives a sweep's worth of changes).
        clamp: groups held fixed (conditioned on).

    ``info["accept_rate"]`` is the acceptance rate of a transition, per chain.
    """

    def __init__(self, model: Model, proposal: str = "flip", *, scan: str = "color",
                 block_size: int = 2, num_proposals: int = 1, clamp: str | tuple[str, ...] = ()):
        super().__init__(model)
        if proposal not in PROPOSALS:
            raise ValueError(f"unknown proposal {proposal!r}; expected one of {PROPOSALS}")
        scan = "color" if scan == "color" else scan
        if scan not in SCANS:
            raise ValueError(f"unknown scan {scan!r}; expected one of {SCANS}")
        for name, v in (("block_size", block_size), ("num_proposals", num_proposals)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        clamp = clamped_groups(model, clamp)
        self.proposal, self.scan, self.clamp = proposal, scan, clamp
        self.block_size, self.num_proposals = block_size, num_proposals
        self._free = tuple(g for g in model.groups if g not in clamp)
        if not self._free:
            raise ValueError("every group is clamped; nothing to sample")
        self._blocks = tuple(b for b in model.blocks if b[0] not in clamp)
        self._num_units = sum(model.groups[g].size for g in self._free)

    def __repr__(self) -> str:
        extra = {"flip": f"scan={self.scan!r}", "block": f"block_size={self.block_size}",
                 "gwg": f"num_proposals={self.num_proposals}"}[self.proposal]
        return f"Metropolis(proposal={self.proposal!r}, {extra}, clamp={self.clamp})"

    # ------------------------------------------------------------------ protocol
    def transition(self, key, model, bparams, state, beta):
        if self.proposal == "gwg":
            x, rate = self.gwg_sweep(key, model, bparams, state.x, beta)
        elif self.proposal == "flip" and self.scan == "color":
            x, rate = self.color_sweep(key, model, bparams, state.x, beta)
        else:
            m = 1 if self.proposal == "flip" else self.block_size
            x, rate = self.sequential_sweep(key, model, bparams, state.x, beta, m)
        return ChainState(x=x), {"accept_rate": rate}

    # ------------------------------------------------------------------ flip, color scan
    def color_sweep(self, key, model, bp, x, beta):
        """Every free color block once, blocks in random order, sites of a block at once."""
        C = num_chains_of(x)
        k_u, k_order = jax.random.split(key)
        rows = self._num_units
        any_cat = any(model.groups[g].is_categorical for g in self._free)
        u = jax.random.uniform(k_u, (2 if any_cat else 1, rows, C))
        offsets, off = [], 0
        for _, s, e in self._blocks:
            offsets.append(off)
            off += e - s

        def update(j, x):
            g, s, e = self._blocks[j]
            grp = model.groups[g]
            o = offsets[j]
            cur = x[g][s:e]
            new = propose_change(grp, cur, u[1, o:o + e - s] if any_cat else None)
            loc = model.blocked.local_logits(bp, x, g, slice(s, e))
            acc = accept(u[0, o:o + e - s], beta * log_density_change(grp, loc, cur, new))
            return {**x, g: x[g].at[s:e].set(select(acc, new, cur))}, jnp.sum(acc, axis=0)

        nb = len(self._blocks)
        if nb == 1:
            x, count = update(0, x)
        else:
            order = jnp.argsort(jax.random.uniform(k_order, (nb,)))
            branches = [lambda x, j=j: update(j, x) for j in range(nb)]

            def body(t, carry):
                x, count = carry
                x, c = jax.lax.switch(order[t], branches, x)
                return x, count + c

            x, count = jax.lax.fori_loop(0, nb, body, (x, jnp.zeros((C,), jnp.int32)))
        return x, count.astype(jnp.float32) / rows

    # ------------------------------------------------------------------ sequential (random scan, blocks)
    def sequential_sweep(self, key, model, bp, x, beta, m: int):
        """Per free group: a random permutation of its sites cut into blocks of ``m`` distinct
        sites, each block one joint proposal accepted or rejected as a whole."""
        C = num_chains_of(x)
        accepted, proposed = jnp.zeros((C,), jnp.int32), 0
        for g, k in zip(self._free, jax.random.split(key, len(self._free)), strict=True):
            grp = model.groups[g]
            n = grp.size
            mg = min(m, n)
            P = -(-n // mg)  # blocks per sweep (the last one wraps around to the start)
            k_perm, k_acc, k_val = jax.random.split(k, 3)
            perm = jnp.argsort(jax.random.uniform(k_perm, (n,))).astype(jnp.int32)
            sites = jnp.concatenate([perm, perm[: P * mg - n]]).reshape(P, mg)
            u_acc = jax.random.uniform(k_acc, (P, C))
            # per site: [0] whether it changes (the first site of a block always does),
            # [1] the new value of a categorical unit
            u_val = jax.random.uniform(k_val, (P, 2, mg, C))

            def block(x, inp, g=g, grp=grp, mg=mg):
                site, ua, uv = inp
                cur = x[g][site]  # (mg, C)
                change = (uv[0] < 0.5).at[0].set(True)
                new = jnp.where(change, propose_change(grp, cur, uv[1]), cur)

                def one(j, carry):
                    xt, gain = carry
                    i = jax.lax.dynamic_slice(site, (j,), (1,))
                    loc = model.blocked.local_logits(bp, xt, g, i)
                    nj = jax.lax.dynamic_slice_in_dim(new, j, 1, axis=0)
                    cj = jax.lax.dynamic_slice_in_dim(cur, j, 1, axis=0)
                    gain = gain + jnp.where(nj != cj, log_density_change(grp, loc, cj, nj), 0.0)[0]
                    return {**xt, g: xt[g].at[i].set(nj)}, gain

                if mg == 1:
                    _, gain = one(0, (x, jnp.zeros((C,), jnp.float32)))
                else:
                    _, gain = jax.lax.fori_loop(0, mg, one, (x, jnp.zeros((C,), jnp.float32)),
                                                unroll=mg <= 4)
                acc = accept(ua, beta * gain)
                return {**x, g: x[g].at[site].set(select(acc[None], new, cur))}, acc

            x, acc = jax.lax.scan(block, x, (sites, u_acc, u_val))
            accepted = accepted + jnp.sum(acc, axis=0)
            proposed += P
        return x, accepted.astype(jnp.float32) / proposed

    # ------------------------------------------------------------------ Gibbs with gradients
    def gwg_scores(self, model, bp, x) -> Array:
        """``d(x)``: change of ``-E`` for every single-unit change, ``(M, C)`` with rows
        ``[group][unit]`` (binary/spin: the flip) or ``[group][unit, value]`` (categorical;
        the current value is ``-inf``, not a change)."""
        out = []
        for g in self._free:
            grp = model.groups[g]
            loc = model.blocked.local_logits(bp, x, g)
            if grp.is_categorical:
                cur = x[g].astype(jnp.int32)[:, None, :]
                d = loc - jnp.take_along_axis(loc, cur, axis=1)
                d = jnp.where(jnp.arange(grp.num_states)[None, :, None] == cur, -jnp.inf, d)
                out.append(d.reshape(grp.size * grp.num_states, -1))
            else:
                out.append(log_density_change(grp, loc, x[g], None))
        return jnp.concatenate(out, axis=0)

    def gwg_apply(self, model, x, idx: Array):
        """Apply change ``idx`` (``(C,)`` rows of :meth:`gwg_scores`) to every chain.

        Returns ``(x', reverse_idx)``: the proposed states and the change leading back."""
        new_x, rev, off = dict(x), idx, 0
        for g in self._free:
            grp = model.groups[g]
            n, k = grp.size, (grp.num_states if grp.is_categorical else 1)
            local = idx - off
            inside = (local >= 0) & (local < n * k)
            site, value = local // k, local % k
            hit = (jnp.arange(n)[:, None] == site[None, :]) & inside[None, :]
            xg = x[g]
            if grp.is_categorical:
                old = jnp.take_along_axis(xg, jnp.clip(site, 0, n - 1)[None, :], axis=0)[0]
                rev = jnp.where(inside, off + site * k + old.astype(jnp.int32), rev)
                new_x[g] = jnp.where(hit, value.astype(jnp.int8)[None, :], xg)
            else:
                new_x[g] = jnp.where(hit, propose_change(grp, xg, None), xg)
            off += n * k
        return new_x, rev

    @staticmethod
    def gwg_log_q(d: Array, beta) -> Array:
        """Log proposal probabilities ``log softmax(β d / 2)`` over the rows of ``d``."""
        logits = 0.5 * beta * d
        return logits - jax.nn.logsumexp(logits, axis=0, keepdims=True)

    @staticmethod
    def gwg_draw(log_q: Array, u: Array, chunk: int = 64) -> Array:
        """One row per chain from ``exp(log_q)`` ``(M, C)`` by the inverse CDF at uniforms ``u``
        ``(C,)`` — one random number per chain rather than one per row (Gumbel-max) — in two
        levels (chunks of ``chunk`` rows, then rows within the chunk), which avoids a long
        cumulative sum. Rows of zero mass are never chosen."""
        M, C = log_q.shape
        nb = -(-M // chunk)
        w = jnp.exp(log_q)
        w = jnp.concatenate([w, jnp.zeros((nb * chunk - M, C), w.dtype)]).reshape(nb, chunk, C)
        mass = jnp.sum(w, axis=1)  # (nb, C)
        cdf = jnp.cumsum(mass, axis=0)
        before = jnp.concatenate([jnp.zeros((1, C), cdf.dtype), cdf[:-1]])  # exclusive
        t = u * cdf[-1]

        def last_positive(a):  # guards against rounding landing on a row of zero mass
            return jnp.max(jnp.where(a > 0, jnp.arange(a.shape[0])[:, None], 0), axis=0)

        b = jnp.minimum(jnp.sum(cdf <= t[None, :], axis=0), last_positive(mass))
        inner = jnp.take_along_axis(w, b[None, None, :], axis=0)[0]  # (chunk, C)
        rest = t - jnp.take_along_axis(before, b[None, :], axis=0)[0]
        j = jnp.minimum(jnp.sum(jnp.cumsum(inner, axis=0) <= rest[None, :], axis=0),
                        last_positive(inner))
        return (b * chunk + j).astype(jnp.int32)

    def gwg_sweep(self, key, model, bp, x, beta):
        """``num_proposals`` Gibbs-with-Gradients proposals per chain: ``(x, accept_rate)``."""
        C = num_chains_of(x)
        take = lambda a, i: jnp.take_along_axis(a, i[None, :], axis=0)[0]  # noqa: E731

        def propose(carry, k):
            x, d, count = carry
            k_g, k_u = jax.random.split(k)
            log_q = self.gwg_log_q(d, beta)
            idx = self.gwg_draw(log_q, jax.random.uniform(k_g, (C,)))
            x_new, rev = self.gwg_apply(model, x, idx)
            d_new = self.gwg_scores(model, bp, x_new)
            log_alpha = (beta * take(d, idx) + take(self.gwg_log_q(d_new, beta), rev)
                         - take(log_q, idx))
            acc = accept(jax.random.uniform(k_u, (C,)), log_alpha)
            x = {g: select(acc[None, :], x_new[g], v) for g, v in x.items()}
            d = select(acc[None, :], d_new, d)
            return (x, d, count + acc), None

        carry = (x, self.gwg_scores(model, bp, x), jnp.zeros((C,), jnp.int32))
        keys = jax.random.split(key, self.num_proposals)
        (x, _, count), _ = jax.lax.scan(propose, carry, keys)
        return x, count.astype(jnp.float32) / self.num_proposals
