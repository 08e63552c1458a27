"""Dense (all-to-all) bipartite couplings, of binary, spin and categorical groups.

Each unit is represented by a feature vector: its value for binary (``{0, 1}``) and spin
(``{-1, +1}``) units, its one-hot vector of ``k`` states for categorical units. With ``f_a``,
``f_b`` the stacked features of the two groups,

    -E ∋ Σ_{i,j} f_a(i)ᵀ W_ij f_b(j),

so the parameter has shape ``(n_a, n_b)`` for two binary/spin groups, ``(n_a, k_a, n_b)``,
``(n_a, n_b, k_b)`` or ``(n_a, k_a, n_b, k_b)`` when a side is categorical (a Potts RBM:
``(L, q, H)``). Local fields are one matmul per block (one-hot matmuls for categorical
units), and a conditionally independent layer sums out in closed form.

**Gauge.** Adding ``g_ij`` to every state of a categorical unit's couplings shifts the energy
by a term of the other side alone (absorbed by its bias): such parameters are not
identifiable. pcdppl fixes the **zero-sum gauge**: the energy uses ``W`` projected onto
``Σ_c W_ij[c, ·] = 0`` over every categorical state axis. A component of the stored
parameter outside the gauge (e.g. from the initialiser) changes nothing, and gradients have
none, so training never moves it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _compile
from .factors import Factor, as_float
from .groups import VariableGroup
from .layout import GroupLayout
from .neighbors import gather, pytree

Array = jax.Array


def features(group: VariableGroup, x: Array) -> Array:
    """Feature rows of blocked values ``(n, C)``: ``(n, C)`` values for binary/spin units
    (float; conditional means pass through), ``(n·k, C)`` one-hot rows for categorical."""
    if group.is_categorical:
        k = group.num_states
        hot = x[:, None, :] == jnp.arange(k, dtype=x.dtype)[None, :, None]
        return hot.astype(jnp.float32).reshape(x.shape[0] * k, x.shape[1])
    return as_float(x)


def zero_sum(W: Array, axes: tuple[int, ...]) -> Array:
    """``W`` projected onto zero sums over each of ``axes``."""
    for ax in axes:
        W = W - jnp.mean(W, axis=ax, keepdims=True)
    return W


@pytree
class Dense(Factor):
    """All-to-all coupling of two different groups (see the module docstring).

    Blocked parameter: ``(n_a, n_b)`` for binary/spin pairs (as declared), else the 4-D
    ``(n_a, k_a, n_b, k_b)`` array in the zero-sum gauge, ``k = 1`` on a binary/spin side.
    """

    kind = "dense"
    LEAVES = ("perm_a", "perm_b")
    STATIC = ("name", "a", "b", "shape")

    def __init__(self, name: str, a: VariableGroup, b: VariableGroup, la: GroupLayout,
                 lb: GroupLayout):
        self.name, self.a, self.b = name, a, b
        ka = (a.num_states,) if a.is_categorical else ()
        kb = (b.num_states,) if b.is_categorical else ()
        self.shape = (a.size, *ka, b.size, *kb)
        self.perm_a, self.perm_b = la.perm, lb.perm

    @property
    def groups(self):
        return (self.a.name, self.b.name)

    @property
    def categorical(self) -> bool:
        return self.a.is_categorical or self.b.is_categorical

    def couples(self):
        return [(self.a.name, self.b.name)]

    def num_instances(self):
        return self.a.size * self.b.size

    def blocked_params(self, theta):
        if not self.categorical:
            if self.perm_a is not None:
                theta = gather(theta, self.perm_a)
            if self.perm_b is not None:
                theta = gather(theta, (slice(None), self.perm_b))
            return theta
        ka = self.a.num_states if self.a.is_categorical else 1
        kb = self.b.num_states if self.b.is_categorical else 1
        W = theta.reshape(self.a.size, ka, self.b.size, kb)
        W = zero_sum(W, tuple(ax for ax, k in ((1, ka), (3, kb)) if k > 1))
        if self.perm_a is not None:
            W = gather(W, self.perm_a)
        if self.perm_b is not None:
            W = gather(W, (slice(None), slice(None), self.perm_b))
        return W

    def energy(self, W, x):
        fa, fb = features(self.a, x[self.a.name]), features(self.b, x[self.b.name])
        if self.categorical:
            W = W.reshape(fa.shape[0], fb.shape[0])
        return -jnp.sum(fa * _compile.matmul(W, fb), axis=0)

    def local(self, W, x, group, rows):
        if not self.categorical:
            if group == self.a.name:
                return self.a.span * _compile.matmul(W[rows], as_float(x[self.b.name]))
            return self.b.span * _compile.matmul(W[:, rows], as_float(x[self.a.name]),
                                                 transpose=True)
        na, ka, nb, kb = W.shape
        if group == self.a.name:
            Wr = W[rows]  # (r, ka, nb, kb)
            r = Wr.shape[0]
            out = _compile.matmul(Wr.reshape(r * ka, nb * kb), features(self.b, x[self.b.name]))
            g, k = self.a, ka
        else:
            Wr = W[:, :, rows]  # (na, ka, r, kb)
            r = Wr.shape[2]
            out = _compile.matmul(Wr.reshape(na * ka, r * kb), features(self.a, x[self.a.name]),
                                  transpose=True)
            g, k = self.b, kb
        out = out.reshape(r, k, -1)
        return out if g.is_categorical else g.span * out[:, 0]
