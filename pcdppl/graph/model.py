"""The compiled model: an immutable pytree energy function.

A :class:`Model` is built by :meth:`pcdppl.FactorGraph.compile`. It is a registered pytree:
the factors' index tables and the layouts' permutations are its leaves (device arrays), the
groups, sizes and kinds its static metadata. Compiled programs take it as an ordinary
argument — structure never becomes an embedded constant, two models of the same shape share
a compiled program, and no cache keeps a model alive. Parameters are an ordinary dict of
arrays passed beside it, so changing their values never recompiles anything.

Public functions take states in *user layout*: ``dict[group, array (..., n_g)]``.
``model.blocked`` (:class:`~pcdppl.graph.blocked.Blocked`) is the same energy function in the
samplers' *blocked layout*.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
from jax.tree_util import register_pytree_node

from .._compile import as_key, jit
from .blocked import Blocked
from .coloring import color_groups
from .dense import Dense
from .factors import Bias, Factor, Pairwise, Table
from .groups import VariableGroup
from .init import DEFAULT_INIT, as_initializer
from .layout import GroupLayout
from .spec import FactorSpec
from .validation import check_params, check_state

Array = jax.Array


class HostInfo:
    """What a model keeps on the host only (absent from traced copies of it): the
    declarations, the coloring, the initializers, free-form metadata."""

    def __init__(self, specs, colors, initializers, meta):
        self.specs: tuple[FactorSpec, ...] = tuple(specs)
        self.colors = {g: np.asarray(c) for g, c in colors.items()}
        self.initializers = dict(initializers)
        self.meta = MappingProxyType(dict(meta))
        self.init_program = None


def build_factor(spec: FactorSpec, groups: Mapping[str, VariableGroup],
                 layouts: Mapping[str, GroupLayout]) -> Factor:
    """Compile one declared factor."""
    G, L = groups, layouts
    if spec.kind == "bias":
        return Bias(spec.name, G[spec.groups[0]], L[spec.groups[0]], spec.tied)
    if spec.kind == "dense":
        a, b = spec.groups
        return Dense(spec.name, G[a], G[b], L[a], L[b])
    if spec.kind == "pairwise":
        a, b = spec.groups
        return Pairwise(spec.name, G[a], G[b], L[a], L[b], spec.data, spec.tied)
    if spec.kind == "table":
        return Table(spec.name, [G[g] for g in spec.groups], [L[g] for g in spec.groups],
                     spec.data, spec.tied)
    raise ValueError(f"unknown factor kind {spec.kind!r}")  # pragma: no cover


def _draw_params(initializers: tuple, key) -> dict[str, Array]:
    keys = jax.random.split(key, max(len(initializers), 1))
    return {name: jnp.asarray(init(k, shape, jnp.float32), jnp.float32)
            for (name, shape, init), k in zip(initializers, keys, strict=False)}


class Model:
    """A compiled energy-based model over groups of discrete units.

    ``p(x) ∝ exp(-E(x))`` with ``E(x) = -(Σ biases·x + Σ couplings·x_i·x_j + Σ tables)``.

    Attributes:
        groups: ordered mapping of group name to :class:`VariableGroup`.
        factors: the compiled factors, in declaration order.
        layouts: color-blocked layout of each group.
        param_shapes: parameter name -> shape.
        blocked: the blocked-layout API (:class:`~pcdppl.graph.blocked.Blocked`).
        meta: read-only free-form information (e.g. networkx node labels, image shapes).
    """

    def __init__(self, groups: dict[str, VariableGroup], specs: list[FactorSpec], *,
                 coloring="auto", meta: Mapping):
        colors = color_groups(groups, specs, coloring)
        layouts = {g: GroupLayout.from_colors(c) for g, c in colors.items()}
        factors = tuple(build_factor(s, groups, layouts) for s in specs)
        inits = {s.name: as_initializer(s.init, DEFAULT_INIT[s.kind], f.shape, s.name)
                 for s, f in zip(specs, factors, strict=True)}
        self._assign(tuple(groups.values()), layouts, factors,
                     HostInfo(specs, colors, inits, meta))

    def _assign(self, groups: tuple, layouts: Mapping, factors: tuple, host) -> None:
        set_ = object.__setattr__
        set_(self, "groups", MappingProxyType({g.name: g for g in groups}))
        set_(self, "layouts", MappingProxyType(dict(layouts)))
        set_(self, "factors", factors)
        set_(self, "param_shapes", MappingProxyType({f.name: tuple(f.shape) for f in factors}))
        set_(self, "host", host)

    __immutable__ = True  # compiled programs may flatten a model once (_compile.options)

    def __setattr__(self, name, value):
        raise AttributeError("pcdppl.Model is immutable; declare a new FactorGraph instead")

    # ---------------------------------------------------------------- pytree
    def tree_flatten(self):
        children = (self.factors, tuple(self.layouts[g] for g in self.groups))
        return children, tuple(self.groups.values())

    @classmethod
    def tree_unflatten(cls, groups, children):
        factors, layouts = children
        obj = object.__new__(cls)
        obj._assign(groups, {g.name: lay for g, lay in zip(groups, layouts, strict=True)},
                    tuple(factors), None)
        return obj

    # ---------------------------------------------------------------- host-only information
    def _host(self) -> HostInfo:
        if self.host is None:
            raise ValueError("this is a traced copy of a model (inside a compiled program): "
                             "its declarations, coloring and metadata live on the host model")
        return self.host

    @property
    def meta(self) -> Mapping:
        return self._host().meta

    @property
    def specs(self) -> tuple[FactorSpec, ...]:
        """The declarations the model was compiled from, in user order."""
        return self._host().specs

    @property
    def coloring(self) -> dict[str, np.ndarray]:
        """Color of every unit (user order), per group."""
        return {g: c.copy() for g, c in self._host().colors.items()}

    # ---------------------------------------------------------------- structure
    def __repr__(self) -> str:
        gs = ", ".join(f"{g.name}:{g.kind}[{g.size}]" for g in self.groups.values())
        fs = ", ".join(f"{f.name}:{f.kind}{list(f.shape)}" for f in self.factors)
        return f"Model(groups=({gs}), factors=({fs}))"

    @property
    def blocked(self) -> Blocked:
        """The blocked-layout API: ``params``, ``from_values``, ``to_values``, ``energy``,
        ``free_energy``, ``local_logits`` (see :class:`~pcdppl.graph.blocked.Blocked`)."""
        return Blocked(self)

    @property
    def blocks(self) -> tuple[tuple[str, int, int], ...]:
        """The Gibbs blocks ``(group, start, end)`` in sweep order (rows of the blocked layout)."""
        return tuple((g, s, e) for g, lay in self.layouts.items() for s, e in lay.blocks)

    def factors_of(self, group: str) -> tuple[Factor, ...]:
        """The factors that touch ``group``."""
        return tuple(f for f in self.factors if group in f.groups)

    def conditionally_independent(self, groups) -> bool:
        """Whether the units of ``groups`` are independent given all other groups, i.e. no
        factor ties two units that both belong to ``groups``."""
        gs = set(groups)
        return not any(a in gs and b in gs for f in self.factors for a, b in f.couples())

    def log_num_states(self, groups=None) -> float:
        """Natural log of the number of joint states of ``groups`` (default: all)."""
        names = list(self.groups) if groups is None else list(groups)
        return sum(self.groups[g].log_num_states for g in names)

    # ---------------------------------------------------------------- parameters
    def init_params(self, key=0) -> dict[str, Array]:
        """Initial parameters: biases and tables 0, couplings N(0, 0.01²), unless the
        factor was declared with ``init=``. One compiled program for all of them."""
        host = self._host()
        if host.init_program is None:
            inits = tuple((f.name, f.shape, host.initializers[f.name]) for f in self.factors)
            host.init_program = jit(lambda k: _draw_params(inits, k), once=True)
        return host.init_program(as_key(key))

    def check_params(self, params, *, check_finite: bool = True) -> None:
        """Raise an error naming the problem if ``params`` does not fit this model."""
        check_params(self.param_shapes, params, check_finite=check_finite)

    # ---------------------------------------------------------------- energies (user layout)
    def energy(self, params, state) -> Array:
        """Energy ``E(x)`` of states ``dict[group, (..., n_g)]`` -> array of the batch shape."""
        self.check_params(params, check_finite=False)
        checked, _ = check_state(self.groups, state)
        return _energy_program(self, params, checked)

    def free_energy(self, params, state) -> Array:
        """Free energy ``F(x_A) = -log Σ_{x_B} exp(-E(x_A, x_B))`` of the groups in ``state``,
        summing out every group missing from it analytically.

        The summed-out groups must be conditionally independent given ``state`` (no factor
        ties two of their units), as the hidden layer of an RBM is. Returns the batch shape.
        """
        self.check_params(params, check_finite=False)
        required = list(state) if isinstance(state, Mapping) else None
        checked, _ = check_state(self.groups, state, required=required)
        return _free_energy_program(self, params, checked)

    # ---------------------------------------------------------------- layout conversion
    def to_blocked(self, state, *, required=None) -> tuple[dict[str, Array], tuple]:
        """User layout ``(..., n)`` -> blocked layout ``(n, B)`` with ``B = prod(batch)``;
        returns ``(x, batch)``. Values are checked."""
        checked, batch = check_state(self.groups, state, required=required)
        return _to_blocked_program(self, checked), batch

    def from_blocked(self, xb: Mapping[str, Array]) -> dict[str, Array]:
        """Blocked layout ``(n, C)`` -> user layout ``(C, n)`` (= ``blocked.to_values``)."""
        return self.blocked.to_values(xb)

    # ---------------------------------------------------------------- networkx
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
        for spec, scopes in self._instances():
            if factor_nodes:
                for j, scope in enumerate(scopes):
                    G.add_node((spec.name, j), bipartite=1, factor=spec.kind)
                    G.add_edges_from(((spec.name, j), v) for v in scope)
            else:
                for scope in scopes:
                    G.add_edges_from(itertools.combinations(scope, 2), factor=spec.name)
        return G

    def _instances(self):
        for s in self.specs:
            if s.kind == "bias":
                g = s.groups[0]
                scopes = [((g, i),) for i in range(self.groups[g].size)]
            elif s.kind == "dense":
                a, b = s.groups
                scopes = [((a, i), (b, j)) for i in range(self.groups[a].size)
                          for j in range(self.groups[b].size)]
            elif s.kind == "pairwise":
                a, b = s.groups
                scopes = [((a, int(i)), (b, int(j))) for i, j in s.data]
            else:
                scopes = [tuple((s.groups[p], int(row[p])) for p in range(len(s.groups)))
                          for row in s.data]
            yield s, scopes


register_pytree_node(Model, Model.tree_flatten, Model.tree_unflatten)


# The user-layout entry points run as one compiled program each (per model shape and batch
# shape), not operation by operation: the model is an ordinary (pytree) argument.
def _blocked_values(model: Model, checked: Mapping) -> dict[str, Array]:
    out = {}
    for g, x in checked.items():
        x = jnp.asarray(x)
        x = x.reshape(-1, x.shape[-1]).T
        lay = model.layouts[g]
        out[g] = x if lay.identity else x[lay.perm]
    return out


def _batch_shape(checked: Mapping) -> tuple:
    return jnp.shape(next(iter(checked.values())))[:-1]


@jit
def _to_blocked_program(model: Model, checked) -> dict[str, Array]:
    return _blocked_values(model, checked)


@jit
def _energy_program(model: Model, params, checked) -> Array:
    e = model.blocked.energy(model.blocked.params(params), _blocked_values(model, checked))
    return e.reshape(_batch_shape(checked))


@jit
def _free_energy_program(model: Model, params, checked) -> Array:
    f = model.blocked.free_energy(model.blocked.params(params), _blocked_values(model, checked))
    return f.reshape(_batch_shape(checked))
