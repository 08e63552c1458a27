"""The compiled model: an immutable, hashable, jit-friendly energy function.

A :class:`Model` is built by :meth:`pcdppl.FactorGraph.compile`. Its graph structure is
static (index tables captured at compile time); its parameters are an ordinary dict of
arrays passed as arguments, so changing parameter values never recompiles anything.

Public functions take states in *user layout*: ``dict[group, array (..., n_g)]``. The
samplers work in the *blocked layout* (see :mod:`pcdppl.graph.layout`): ``dict[group,
int8 array (n_g, C)]``, units in colour-blocked order, chains last. The ``_b`` methods
below work in that layout.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from contextlib import contextmanager
from functools import partial, wraps
from types import MappingProxyType

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from .coloring import check_coloring, color_units
from .factor_graph import FactorSpec, _as_initializer, normal_init, zeros_init
from .factors import Bias, Dense, Factor, Pairwise, Table
from .groups import VariableGroup
from .layout import GroupLayout
from .validation import check_params, check_state

Array = jax.Array

_DEFAULT_INIT = {"bias": zeros_init, "dense": normal_init(0.01),
                 "pairwise": normal_init(0.01), "table": zeros_init}


def as_key(key) -> Array:
    """Accept an int seed, a typed key or a raw uint32 key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        seed = int(key)
        if 0 <= seed < 2**31 and jax.config.jax_default_prng_impl == "threefry2x32":
            # what jax.random.key(seed) holds, without compiling its seeding program
            return jax.random.wrap_key_data(np.array([0, seed], np.uint32), impl="threefry2x32")
        return jax.random.key(seed)
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(jnp.asarray(key))
    raise TypeError(f"expected a JAX PRNG key or an int seed, got {type(key).__name__}")


class Model:
    """A compiled energy-based model over groups of discrete units.

    ``p(x) ∝ exp(-E(x))`` with ``E(x) = -(Σ biases·x + Σ couplings·x_i·x_j + Σ tables)``.

    Attributes:
        groups: ordered mapping of group name to :class:`VariableGroup`.
        factors: the compiled factors, in declaration order.
        layouts: colour-blocked layout of each group.
        param_shapes: parameter name -> shape.
        meta: read-only free-form information (e.g. networkx node labels, image shapes).
    """

    def __init__(self, groups: dict[str, VariableGroup], specs: list[FactorSpec], *,
                 coloring="auto", meta: Mapping):
        self.groups: Mapping[str, VariableGroup] = MappingProxyType(dict(groups))
        self.layouts = MappingProxyType(self._color(groups, specs, coloring))
        self.specs: tuple[FactorSpec, ...] = tuple(specs)  # the declarations, user order
        self.factors: tuple[Factor, ...] = tuple(self._build(s) for s in specs)
        self.param_shapes = MappingProxyType({f.name: tuple(f.shape) for f in self.factors})
        self.meta = MappingProxyType(dict(meta))
        touching: dict[str, list[Factor]] = {g: [] for g in groups}
        for f in self.factors:
            for g in f.groups:
                touching[g].append(f)
        self._touching = {g: tuple(fs) for g, fs in touching.items()}
        couples = set()
        for f in self.factors:
            for a, b in f.couples():
                couples.add((a, b))
                couples.add((b, a))
        self._couples = frozenset(couples)
        self._slots = tuple(slot for f in self.factors for slot in f.array_slots())
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("pcdppl.Model is immutable; declare a new FactorGraph instead")
        super().__setattr__(name, value)

    # ---------------------------------------------------------------- compilation
    @staticmethod
    def _color(groups, specs, coloring) -> dict[str, GroupLayout]:
        given = {}
        strategy = "auto"
        if isinstance(coloring, Mapping):
            given = dict(coloring)
            unknown = [g for g in given if g not in groups]
            if unknown:
                raise KeyError(f"coloring names unknown group {unknown[0]!r}")
        elif isinstance(coloring, str):
            strategy = coloring
        else:
            raise TypeError("coloring must be 'auto', a networkx strategy name, or a dict of "
                            "colour arrays per group")
        layouts = {}
        for name, g in groups.items():
            pairs = []
            for s in specs:
                if s.kind == "pairwise" and s.groups[0] == s.groups[1] == name:
                    pairs.append(s.data)
                elif s.kind == "table":
                    cols = [p for p, gn in enumerate(s.groups) if gn == name]
                    pairs += [s.data[:, [p, q]] for i, p in enumerate(cols) for q in cols[i + 1:]]
            edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
            if name in given:
                colors = np.asarray(given[name])
                if colors.shape != (g.size,) or colors.dtype.kind not in "iu" or colors.min() < 0:
                    raise ValueError(f"coloring[{name!r}] must be {g.size} non-negative ints")
                check_coloring(colors, edges, name)
            else:
                colors = color_units(g.size, edges, strategy)
            layouts[name] = GroupLayout.from_colors(colors)
        return layouts

    def _build(self, s: FactorSpec) -> Factor:
        G, L = self.groups, self.layouts
        if s.kind == "bias":
            f = Bias(s.name, G[s.groups[0]], L[s.groups[0]], s.tied, None)
        elif s.kind == "dense":
            a, b = s.groups
            f = Dense(s.name, G[a], G[b], L[a], L[b], None)
        elif s.kind == "pairwise":
            a, b = s.groups
            f = Pairwise(s.name, G[a], G[b], L[a], L[b], s.data, s.tied, None)
        elif s.kind == "table":
            f = Table(s.name, [G[g] for g in s.groups], [L[g] for g in s.groups], s.data, s.tied,
                      None)
        else:  # pragma: no cover
            raise ValueError(s.kind)
        f.init = _as_initializer(s.init, _DEFAULT_INIT[s.kind], f.shape, s.name)
        return f

    # ---------------------------------------------------------------- public API
    def __repr__(self) -> str:
        gs = ", ".join(f"{g.name}:{g.kind}[{g.size}]" for g in self.groups.values())
        fs = ", ".join(f"{f.name}:{f.kind}{list(f.shape)}" for f in self.factors)
        return f"Model(groups=({gs}), factors=({fs}))"

    @property
    def coloring(self) -> dict[str, np.ndarray]:
        """Colour of every unit (user order), per group."""
        return {g: lay.colors.copy() for g, lay in self.layouts.items()}

    @property
    def blocks(self) -> tuple[tuple[str, int, int], ...]:
        """The Gibbs blocks ``(group, start, end)`` in sweep order (rows of the blocked layout)."""
        return tuple((g, s, e) for g, lay in self.layouts.items() for s, e in lay.blocks)

    def log_num_states(self, groups=None) -> float:
        """Natural log of the number of joint states of ``groups`` (default: all)."""
        names = list(self.groups) if groups is None else list(groups)
        return sum(self.groups[g].log_num_states for g in names)

    def init_params(self, key=0) -> dict[str, Array]:
        """Initial parameters: biases and tables 0, couplings N(0, 0.01²), unless the
        factor was declared with ``init=``."""
        return _init_params(self, as_key(key))

    def _init_params(self, key) -> dict[str, Array]:
        keys = jax.random.split(key, max(len(self.factors), 1))
        return {f.name: jnp.asarray(f.init(k, f.shape, jnp.float32), jnp.float32)
                for f, k in zip(self.factors, keys, strict=False)}

    def check_params(self, params, *, check_finite: bool = True) -> None:
        """Raise an error naming the problem if ``params`` does not fit this model."""
        check_params(self.param_shapes, params, check_finite=check_finite)

    def energy(self, params, state) -> Array:
        """Energy ``E(x)`` of states ``dict[group, (..., n_g)]`` -> array of the batch shape."""
        self.check_params(params, check_finite=False)
        xb, batch = self.to_blocked(state)
        return self._energy_b(self.blocked_params(params), xb).reshape(batch)

    def free_energy(self, params, state) -> Array:
        """Free energy ``F(x_A) = -log Σ_{x_B} exp(-E(x_A, x_B))`` of the groups in ``state``,
        summing out every group missing from it analytically.

        The summed-out groups must be conditionally independent given ``state`` (no factor
        ties two of their units), as the hidden layer of an RBM is. Returns the batch shape.
        """
        self.check_params(params, check_finite=False)
        required = list(state) if isinstance(state, Mapping) else None
        xb, batch = self.to_blocked(state, required=required)
        missing = [g for g in self.groups if g not in xb]
        return self._free_energy_b(self.blocked_params(params), xb, missing).reshape(batch)

    def conditionally_independent(self, groups) -> bool:
        """Whether the units of ``groups`` are independent given all other groups, i.e. no
        factor ties two units that both belong to ``groups``."""
        gs = list(groups)
        return not any((a, b) in self._couples for a in gs for b in gs)

    def to_networkx(self, *, factor_nodes: bool = True) -> nx.Graph:
        """The model as a networkx graph.

        With ``factor_nodes=True`` (default): the bipartite factor graph, variable nodes
        ``(group, i)`` (attribute ``bipartite=0``) and one node per factor instance
        ``(param_name, j)`` (``bipartite=1``). With ``False``: the Markov network, an edge
        between every two units that share a factor.
        """
        G = nx.Graph()
        for g in self.groups.values():
            G.add_nodes_from(((g.name, i) for i in range(g.size)), bipartite=0, group=g.name,
                             kind=g.kind, num_states=g.num_states)
        for f, scopes in self._instances():
            if factor_nodes:
                for j, scope in enumerate(scopes):
                    G.add_node((f.name, j), bipartite=1, factor=f.kind)
                    G.add_edges_from(((f.name, j), v) for v in scope)
            else:
                for scope in scopes:
                    G.add_edges_from(itertools.combinations(scope, 2), factor=f.name)
        return G

    def _instances(self):
        for f in self.factors:
            if isinstance(f, Bias):
                scopes = [((f.group.name, i),) for i in range(f.group.size)]
            elif isinstance(f, Dense):
                scopes = [((f.a.name, i), (f.b.name, j)) for i in range(f.a.size)
                          for j in range(f.b.size)]
            elif isinstance(f, Pairwise):
                scopes = [((f.a.name, int(i)), (f.b.name, int(j))) for i, j in f.edges]
            else:
                names = [g.name for g in f.vgroups]
                scopes = [tuple((names[p], int(row[p])) for p in range(f.arity))
                          for row in f.members]
            yield f, scopes

    # ---------------------------------------------------------------- layout conversion
    def to_blocked(self, state, *, required=None) -> tuple[dict[str, Array], tuple]:
        """User layout ``(..., n)`` -> blocked layout ``(n, B)`` with ``B = prod(batch)``."""
        checked, batch = check_state(self.groups, state, required=required)
        B = math.prod(batch)
        out = {}
        for g, x in checked.items():
            x = jnp.asarray(x).reshape(B, -1).T
            lay = self.layouts[g]
            out[g] = x if lay.identity else x[lay.perm]
        return out, batch

    def from_blocked(self, xb: Mapping[str, Array]) -> dict[str, Array]:
        """Blocked layout ``(n, C)`` -> user layout ``(C, n)``."""
        out = {}
        for g, x in xb.items():
            lay = self.layouts[g]
            out[g] = (x if lay.identity else x[lay.inv]).T
        return out

    # ---------------------------------------------------------------- structure
    def structure(self) -> tuple:
        """The factors' index arrays (edge lists, neighbour tables, clique members): the
        graph structure as a tuple of device arrays, in a fixed order. pcdppl's compiled
        programs take it as an argument (:func:`structured_jit`) instead of closing over it,
        so that XLA does not embed it as constants: for a 10⁶-spin lattice that is tens
        of MB of program text, and its compile time grew with the graph."""
        return tuple(getattr(obj, attr) for obj, attr in self._slots)

    @contextmanager
    def bind_structure(self, arrays):
        """While tracing: the factors read their index arrays from ``arrays`` (a compiled
        program's arguments, as :meth:`structure` orders them), then get their own back.
        Not thread-safe: do not trace programs of one model in several threads at once."""
        arrays = tuple(arrays)
        if len(arrays) != len(self._slots):
            raise ValueError(f"structure of {len(arrays)} arrays; this model has "
                             f"{len(self._slots)}")
        old = self.structure()
        try:
            for (obj, attr), a in zip(self._slots, arrays, strict=True):
                setattr(obj, attr, a)
            yield
        finally:
            for (obj, attr), a in zip(self._slots, old, strict=True):
                setattr(obj, attr, a)

    def blocked_params(self, params) -> dict:
        """Parameters gathered into the blocked layout (differentiable)."""
        return {f.name: f.blocked_params(params[f.name]) for f in self.factors}

    # ---------------------------------------------------------------- blocked-layout kernels
    def _energy_b(self, bp, xb) -> Array:
        """Energy of blocked states: ``(C,)``."""
        C = next(iter(xb.values())).shape[1]
        e = jnp.zeros((C,), jnp.float32)
        for f in self.factors:
            e = e + f.energy(bp[f.name], xb)
        return e

    def _local_b(self, bp, xb, group: str, rows) -> Array:
        """Local log-potentials of ``rows`` of ``group`` given all other units.

        Binary/spin: log-odds of "on", ``(r, C)``. Categorical: ``(r, k, C)``.
        """
        g = self.groups[group]
        C = next(iter(xb.values())).shape[1]
        r = len(range(g.size)[rows]) if isinstance(rows, slice) else rows.shape[0]
        shape = (r, g.num_states, C) if g.is_categorical else (r, C)
        out = jnp.zeros(shape, jnp.float32)
        for f in self._touching[group]:
            out = out + f.local(bp[f.name], xb, group, rows)
        return out

    def _free_energy_b(self, bp, xb, sum_out) -> Array:
        """Free energy with ``sum_out`` groups summed analytically: ``(C,)``."""
        sum_out = list(sum_out)
        if not self.conditionally_independent(sum_out):
            raise ValueError(f"cannot sum out groups {sum_out} analytically: a factor ties "
                             f"units of them together (they are not conditionally independent)")
        C = next(iter(xb.values())).shape[1] if xb else 1
        full = dict(xb)
        for g in sum_out:
            grp = self.groups[g]
            full[g] = jnp.full((grp.size, C), grp.reference_value(), jnp.int8)
        # Factors that vanish with a summed-out binary group at its reference value 0
        # (biases, dense and non-Potts pairwise couplings) add exactly 0: skipping them
        # saves a matmul (and its gradient) per dense layer.
        zero = {g for g in sum_out if self.groups[g].kind == "binary"}
        f = jnp.zeros((C,), jnp.float32)
        for fac in self.factors:
            if not (zero.intersection(fac.groups) and fac.kind in ("bias", "dense", "pairwise")
                    and not getattr(fac, "potts", False)):
                f = f + fac.energy(bp[fac.name], full)
        for g in sum_out:
            grp = self.groups[g]
            loc = self._local_b(bp, full, g, slice(None))
            if grp.is_categorical:
                lse = jax.nn.logsumexp(loc - loc[:, :1], axis=1)
            else:
                lse = jax.nn.softplus(loc)
            f = f - jnp.sum(lse, axis=0)
        return f


@partial(jax.jit, static_argnums=0)
def _init_params(model: Model, key) -> dict[str, Array]:
    """All initializers in one compiled program (one compilation instead of one per op)."""
    return model._init_params(key)


class structured_jit:
    """``jax.jit(fun, **jit_kwargs)`` whose compiled program also takes ``model``'s graph
    structure (:meth:`Model.structure`) as an argument, so that it is not embedded in the
    program; calls and ``lower`` look like those of ``jax.jit(fun, **jit_kwargs)``."""

    def __init__(self, model: Model, fun, **jit_kwargs):
        self.model = model

        @wraps(fun)
        def with_structure(*args, _structure, **kwargs):
            with model.bind_structure(_structure):
                return fun(*args, **kwargs)

        self.jitted = jax.jit(with_structure, **jit_kwargs)

    def __call__(self, *args, **kwargs):
        return self.jitted(*args, _structure=self.model.structure(), **kwargs)

    def lower(self, *args, **kwargs):
        return self.jitted.lower(*args, _structure=self.model.structure(), **kwargs)

    def _cache_size(self) -> int:
        return self.jitted._cache_size()
