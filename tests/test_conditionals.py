"""Sample-free exactness: the kernels' local computations equal ratios of ``exp(-E)``.

For every unit of every model of ``models_zoo.STRUCTURES`` (every variable kind, factor kind
and local-field path: padded tables summed slot by slot, padded tables with a gather for
degree > 16, sorted segment sums for star-like graphs; tied factors; a lattice of more than
100,000 spins colored by Jones–Plassmann), at random states:

* the Gibbs conditional ``p(x_i | rest)`` from ``model.blocked.local_logits`` — for the whole
  group, every color block (what block Gibbs and the color-scan flips use) and a single row
  given as an index array (what the random scan uses) — equals
  ``exp(-E(x_i = c, rest)) / Σ_c' exp(-E(x_i = c', rest))`` from ``model.energy``;
* the Metropolis log-ratio of every single-site change (``log_density_change`` of the local
  log-potentials) and of a block of changes (accumulated site by site, as the block proposal
  does) equals ``-(E(x') - E(x))``;
* Gibbs-with-Gradients: ``Metropolis.gwg_scores`` equals the exact change of ``-E`` of every
  single change made by ``gwg_apply`` (which ``gwg_apply(x', reverse)`` undoes), and the
  acceptance log-ratio built from ``gwg_log_q`` equals the exact one,
  ``-β ΔE + log q(x | x') - log q(x' | x)`` with ``q = softmax(β d / 2)`` over the exact changes.

No enumeration of the whole model is needed: ``E`` is evaluated at a state and at the state
with one unit (or a few) changed. Tolerances are float32 rounding of the energies. The
lattice of 100,489 spins is checked at every unit against a SciPy evaluation of its local
fields from the declared edge list, itself checked against ``model.energy`` at 32 units.
Automatic colorings are proper; a wrong user coloring is refused.
"""

import functools
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from models_zoo import STRUCTURES, local_field_path
from scipy.special import log_softmax, logsumexp

import pcdppl as pp
from pcdppl.graph.coloring import NETWORKX_LIMIT
from pcdppl.samplers import Metropolis, sample_units
from pcdppl.samplers.units import log_density_change, propose_change

C = 3  # random states (chains) per model
BETA = 0.7  # the inverse temperature of the GWG check (it enters d, q and the ratio)
SMALL = [n for n in STRUCTURES if n != "big_lattice"]
# the checked programs run once: compile them for compile speed (LLVM level 0) on the CPU
ONCE = {"compiler_options": {"xla_backend_optimization_level": 0}} \
    if jax.default_backend() == "cpu" else {}


@functools.cache
def setup(name):
    """``(model, params, values, bparams, xb)``: the model, random parameters and ``C``
    random states (user and blocked layout)."""
    model, params = STRUCTURES[name][0]()
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    values = {g: rng.choice(grp.values, size=(C, grp.size)).astype(np.int8)
              for g, grp in model.groups.items()}
    return model, params, values, model.blocked.params(params), model.blocked.from_values(values)


def tolerance(params) -> float:
    """float32 rounding of energies built from these parameters."""
    return 2e-6 * (1.0 + sum(float(np.abs(np.asarray(v)).sum()) for v in params.values()))


_energy = jax.jit(lambda model, params, values: model.energy(params, values), **ONCE)


def energy(model, params, values) -> np.ndarray:
    """``model.energy`` (one compiled program per batch shape, not one per operation)."""
    return np.asarray(_energy(model, params, values), np.float64)


def changed_energies(model, params, values) -> dict[str, np.ndarray]:
    """``E`` with unit ``u`` of group ``g`` set to value ``c`` (``grp.values[c]``), the rest as
    in ``values``: ``{g: (k, n, C)}``, units in user order (one batch)."""
    parts, shapes = [], {}
    for g, grp in model.groups.items():
        V, n = grp.values, grp.size
        batch = {h: np.broadcast_to(v, (len(V), n) + v.shape).copy() for h, v in values.items()}
        u = np.arange(n)
        batch[g][:, u, :, u] = V[None, :, None]  # x[c, u, :, u] = V[c]
        shapes[g] = (len(V), n, C)
        parts.append({h: v.reshape(-1, v.shape[-1]) for h, v in batch.items()})
    flat = energy(model, params, {h: np.concatenate([p[h] for p in parts]) for h in values})
    out, at = {}, 0
    for g, shape in shapes.items():
        out[g] = flat[at:at + int(np.prod(shape))].reshape(shape)
        at += int(np.prod(shape))
    return out


def single_change_energies(model, params, values) -> np.ndarray:
    """For states ``dict[group, (B, n)]``: ``-(E(x') - E(x))`` of every single-unit change
    ``x'`` (every other value of every unit), ``(B, M)`` with ``-inf`` where ``x' = x``."""
    cols = []
    for g, grp in model.groups.items():
        x = values[g]
        for u in range(grp.size):
            for c in (grp.values if grp.is_categorical else [None]):
                y = x.copy()
                y[:, u] = (-x[:, u] if grp.kind == "spin" else 1 - x[:, u]) if c is None else c
                cols.append((g, y))
    batch = {h: np.broadcast_to(v, (len(cols) + 1,) + v.shape).copy() for h, v in values.items()}
    for j, (g, y) in enumerate(cols):  # batch[M] stays x itself
        batch[g][j] = y
    e = energy(model, params, batch)  # (M + 1, B)
    same = np.stack([np.all(y == values[g], axis=1) for g, y in cols])
    return np.where(same, -np.inf, e[-1][None, :] - e[:-1]).T


def selectors(model):
    """Row selectors of ``local_logits`` beside the whole group, per group: the color
    blocks as slices, and one row as an index array (the first unit of the user order: the
    hub of the star models)."""
    spans = tuple((g, tuple((s, e) for h, s, e in model.blocks if h == g)) for g in model.groups)
    rows = {g: np.asarray([model.layouts[g].host_inv()[0]], np.int32) for g in model.groups}
    return spans, rows


def rows_to_units(model, g, spans, row) -> list[np.ndarray]:
    """User index of every blocked row of each selector of ``local_logits`` in
    :func:`kernel_pieces`: the whole group, every span, the index array."""
    perm = model.layouts[g].host_perm()
    return [perm] + [perm[s:e] for s, e in spans] + [perm[row]]


def to_user(model, g, blocked_rows) -> np.ndarray:
    """Blocked rows ``(n, ...)`` of group ``g`` -> user order."""
    return np.asarray(blocked_rows)[model.layouts[g].host_inv()]


# ------------------------------------------------------------------ the kernels' pieces
@functools.partial(jax.jit, static_argnames=("spans",), **ONCE)
def kernel_pieces(sampler, model, bp, xb, rows, sites, u, moves, beta, *, spans):
    """Everything the checks compare, in one compiled program per model:

    * ``loc[g]``: ``local_logits`` of the whole group, of every color block and of a row;
    * ``flip[g]``: ``log_density_change`` of the single-site proposal of every unit
      (categorical: to every value) and ``props[g]`` the proposals (categorical: at uniforms
      spread over the ``k - 1`` other values);
    * ``block``: two sites of every group changed together as the block proposal does,
      the gain accumulated site by site at the partially changed state, and the new state;
    * ``gwg``: for every move ``moves[k]`` of every chain ``c`` (as chain ``k·C + c``) the
      scores ``d``, the moved states, ``gwg_apply`` of the reverse index, and the acceptance
      log-ratio ``β d + log q(x|x') - log q(x'|x)`` as the kernel forms it.
    """
    out = {"loc": {}, "flip": {}, "props": {}}
    spans = dict(spans)
    loc = model.blocked.local_logits
    for g, grp in model.groups.items():
        out["loc"][g] = ([loc(bp, xb, g)] + [loc(bp, xb, g, slice(s, e)) for s, e in spans[g]]
                         + [loc(bp, xb, g, rows[g])])
        full, cur = out["loc"][g][0], xb[g]
        if grp.is_categorical:
            k = grp.num_states
            out["flip"][g] = [log_density_change(grp, full, cur, jnp.full_like(cur, c))
                              for c in range(k)]
            out["props"][g] = [propose_change(grp, cur, jnp.full(cur.shape, (j + 0.5) / (k - 1)))
                               for j in range(k - 1)]
        else:
            new = propose_change(grp, cur, None)
            out["flip"][g], out["props"][g] = [log_density_change(grp, full, cur, new)], [new]
    x, gain = dict(xb), 0.0
    for g, r in sites.items():
        grp = model.groups[g]
        for j in range(r.shape[0]):
            i = r[j:j + 1]
            cj = x[g][i]
            nj = propose_change(grp, cj, u[g][j:j + 1])
            gain = gain + log_density_change(grp, loc(bp, x, g, i), cj, nj)[0]
            x = {**x, g: x[g].at[i].set(nj)}
    out["block"] = (gain, x)
    d = sampler.gwg_scores(model, bp, xb)  # (M, C)
    K = moves.shape[0]
    xt = {g: jnp.tile(v, (1, K)) for g, v in xb.items()}
    dt = jnp.tile(d, (1, K))
    idx = jnp.repeat(moves, d.shape[1])
    xn, rev = sampler.gwg_apply(model, xt, idx)
    back, _ = sampler.gwg_apply(model, xn, rev)
    take = lambda a, i: jnp.take_along_axis(a, i[None, :], axis=0)[0]  # noqa: E731
    log_alpha = (beta * take(dt, idx)
                 + take(sampler.gwg_log_q(sampler.gwg_scores(model, bp, xn), beta), rev)
                 - take(sampler.gwg_log_q(dt, beta), idx))
    out["gwg"] = (d, xt, xn, back, log_alpha)
    return out


def pieces(name, moves=None, kernel_params=None):
    model, params, values, bp, xb = setup(name)
    if kernel_params is not None:
        bp = model.blocked.params(kernel_params)
    spans, rows = selectors(model)
    rng = np.random.default_rng(1)
    sites = {g: jnp.asarray(rng.permutation(grp.size)[:2], jnp.int32)
             for g, grp in model.groups.items()}
    u = {g: jnp.asarray(rng.random((len(v), C)), jnp.float32) for g, v in sites.items()}
    sampler = Metropolis(model, "gwg")
    if moves is None:
        moves = np.arange(sum(g.size * (g.num_states if g.is_categorical else 1)
                              for g in model.groups.values()))
    return spans, kernel_pieces(sampler, model, bp, xb, rows, sites, u,
                                jnp.asarray(moves, jnp.int32), BETA, spans=spans)


# ------------------------------------------------------------------ structure of the zoo
@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_models_take_the_local_field_path_they_are_meant_to(name):
    """The zoo exercises every path (e.g. the star's side of ``J`` is not padded), and the
    automatic coloring of every group is proper with color blocks as the Gibbs blocks."""
    model = setup(name)[0]
    for (factor, group), path in STRUCTURES[name][1].items():
        assert local_field_path(model, factor, group) == path, (factor, group)
        f = next(f for f in model.factors if f.name == factor)
        assert f.sides[group].padded == (path != "segment")
    for g in model.groups:
        colors = model.coloring[g]
        for spec in model.specs:
            pairs = spec.unit_pairs(g)
            assert not np.any(colors[pairs[:, 0]] == colors[pairs[:, 1]]), (spec.name, g)
        perm = model.layouts[g].host_perm()
        block_colors = [np.unique(colors[perm[s:e]]) for h, s, e in model.blocks if h == g]
        assert all(len(c) == 1 for c in block_colors)
        assert len({int(c[0]) for c in block_colors}) == len(block_colors)


def test_the_zoo_covers_every_path_and_kind():
    """Every local-field path of pairwise factors is exercised on binary, spin and
    categorical units."""
    covered = {(path, setup(name)[0].groups[g].kind)
               for name in SMALL for (_, g), path in STRUCTURES[name][1].items()}
    assert covered == {(p, k) for p in ("unrolled", "gather", "segment")
                       for k in ("binary", "spin", "categorical")}


def test_a_wrong_user_coloring_is_refused():
    """A user coloring is checked like an automatic one: two units that share a pairwise
    or table factor may not share a color."""
    fg = pp.FactorGraph()
    s, c = fg.spin("s", 5), fg.categorical("c", 3, 3)
    fg.pairwise(s, s, np.array([[0, 1], [1, 2], [2, 3], [3, 4]]), name="J")
    fg.table([c, c, s], np.array([[0, 1, 4]]), name="T")  # c0 and c1 share a clique
    good = {"s": np.array([0, 1, 0, 1, 0]), "c": np.array([0, 1, 0])}
    model = fg.compile(coloring=good)
    assert all(np.array_equal(model.coloring[g], v) for g, v in good.items())
    assert [b for b in model.blocks if b[0] == "s"] == [("s", 0, 3), ("s", 3, 5)]
    with pytest.raises(ValueError, match="not proper: units 1 and 2"):
        fg.compile(coloring={"s": np.array([0, 1, 1, 0, 1])})
    with pytest.raises(ValueError, match="'c' is not proper: units 0 and 1"):
        fg.compile(coloring={"c": np.array([2, 2, 0])})
    for bad in (np.array([0, 1, 0, 1]), np.array([0, -1, 0, 1, 0]), np.array([0, 1.0, 0, 1, 0])):
        with pytest.raises(ValueError, match="5 non-negative ints"):
            fg.compile(coloring={"s": bad})
    with pytest.raises(KeyError, match="unknown group 'x'"):
        fg.compile(coloring={"x": np.zeros(5, int)})


# ------------------------------------------------------------------ every unit, small models
@pytest.mark.parametrize("name", SMALL)
def test_local_computations_equal_energy_ratios(name):
    """Gibbs conditionals, single-site and block Metropolis log-ratios, and the pieces of
    Gibbs-with-Gradients, for every unit and every change (see the module docstring)."""
    check_local_computations(name)


def test_the_sample_free_checks_have_power():
    """Kernel pieces computed with one coupling off by 0.01 (the last leaf of the star, on
    the segment-sum path) fail the checks against ``model.energy``."""
    model, params = setup("star_ising")[:2]
    wrong = {k: np.array(v) for k, v in params.items()}
    wrong["J"][-1] += 0.01
    with pytest.raises(AssertionError, match="Gibbs"):
        check_local_computations("star_ising", kernel_params=wrong)


def check_local_computations(name, kernel_params=None):
    """The checks of :func:`test_local_computations_equal_energy_ratios`, with the kernels'
    pieces computed from ``kernel_params`` (default: the model's parameters)."""
    model, params, values, bp, xb = setup(name)
    tol = tolerance(params)
    spans, out = pieces(name, kernel_params=kernel_params)
    E = changed_energies(model, params, values)  # {g: (k, n, C)}
    e0 = energy(model, params, values)
    for g, grp in model.groups.items():
        # Gibbs: log p(x_u = c | rest) for every selector of rows
        exact = log_softmax(-E[g], axis=0)
        units = rows_to_units(model, g, dict(spans)[g], selectors(model)[1][g])
        for j, (loc, us) in enumerate(zip(out["loc"][g], units, strict=True)):
            loc, want = np.asarray(loc, np.float64), exact[:, us]  # want: (k, r, C)
            if grp.is_categorical:
                got = np.moveaxis(log_softmax(loc, axis=1), 1, 0)
            else:  # log-odds of "on": p(on) = σ(Δ), Δ = -E(on) + E(off)
                np.testing.assert_allclose(loc, (E[g][0] - E[g][1])[us], atol=tol, rtol=0,
                                           err_msg=f"Gibbs log-odds {name}/{g} selector {j}")
                got = np.stack([-np.logaddexp(0, loc), -np.logaddexp(0, -loc)])
            np.testing.assert_allclose(got, want, atol=tol, rtol=0,
                                       err_msg=f"Gibbs conditional {name}/{g} selector {j}")
        # Metropolis, single sites: log α = -(E(x') - E(x)), a symmetric proposal
        cur = np.asarray(xb[g])
        if grp.is_categorical:
            for c, got in enumerate(out["flip"][g]):
                np.testing.assert_allclose(to_user(model, g, got), e0[None] - E[g][c], atol=tol,
                                           rtol=0, err_msg=f"MH log-ratio {name}/{g} -> {c}")
            k = grp.num_states  # a uniformly random other value
            np.testing.assert_array_equal(np.sort(np.stack(out["props"][g]), axis=0), np.sort(
                np.stack([(cur + j) % k for j in range(1, k)]), axis=0))
        else:
            np.testing.assert_array_equal(np.asarray(out["props"][g][0]),
                                          -cur if grp.kind == "spin" else 1 - cur)
            on = np.asarray(values[g]).T == grp.values[1]  # (n, C), user order
            np.testing.assert_allclose(to_user(model, g, out["flip"][g][0]),
                                       e0[None] - np.where(on, E[g][0], E[g][1]), atol=tol,
                                       rtol=0, err_msg=f"MH log-ratio {name}/{g}")
    # Metropolis, a block: the accumulated gain is the change of -E
    gain, x = out["block"]
    e1 = energy(model, params, model.blocked.to_values(x))
    assert np.all(e1 != e0)
    np.testing.assert_allclose(np.asarray(gain), e0 - e1, atol=3 * tol, rtol=0)
    check_gwg(model, params, values, out["gwg"], tol)


def check_gwg(model, params, values, gwg, tol, flip_changes=None):
    """GWG: the scores are the exact changes of -E of the moves, -inf exactly where a move
    changes nothing; a move changes one unit and its reverse index undoes it; the kernel's
    acceptance log-ratio is ``-β ΔE + log q(x|x') - log q(x'|x)``, ``q ∝ exp(β/2 · exact
    changes)`` (``flip_changes(values) -> (B, M)`` gives the exact changes of a state; by
    default from ``model.energy``)."""
    d, xt, xn, back, log_alpha = jax.tree.map(np.asarray, gwg)
    flip_changes = flip_changes or functools.partial(single_change_energies, model, params)
    M = d.shape[0]
    K = xt[next(iter(xt))].shape[1] // C
    moves = np.arange(M) if K == M else None
    new_values = {g: to_user(model, g, v).T for g, v in xn.items()}
    e0 = np.tile(energy(model, params, values), K)
    e1 = energy(model, params, new_values)
    changed = sum(np.sum(xn[g] != xt[g], axis=0) for g in xt)
    moved = changed > 0
    assert np.all(changed <= 1)  # one unit per move
    for g in xt:  # the reverse change undoes the move
        np.testing.assert_array_equal(back[g][:, moved], xt[g][:, moved])
    d = d.astype(np.float64)
    exact0 = flip_changes(values)  # (C, M)
    np.testing.assert_allclose(np.sort(d.T, axis=1), np.sort(exact0, axis=1), atol=tol, rtol=0)
    if moves is not None:  # every move of every chain
        flat = d.reshape(-1)
        assert np.all(np.isneginf(flat) == ~moved)  # -inf exactly where nothing changes
        np.testing.assert_allclose(flat[moved], (e0 - e1)[moved], atol=tol, rtol=0)
    dE = e1 - e0
    lse0 = np.tile(logsumexp(0.5 * BETA * exact0, axis=1), K)
    lse1 = logsumexp(0.5 * BETA * flip_changes(new_values), axis=1)
    want = -BETA * dE + (0.5 * BETA * dE - lse1) - (-0.5 * BETA * dE - lse0)
    np.testing.assert_allclose(np.asarray(log_alpha)[moved], want[moved], atol=4 * tol, rtol=0)
    return moved


def test_unit_draws_follow_the_conditional():
    """``sample_units`` turns the uniforms into draws by the inverse CDF: on a fine grid of
    uniforms the frequency of every value is its conditional probability at β."""
    N, beta = 20_000, 0.8
    u = ((np.arange(N) + 0.5) / N).astype(np.float32)
    fg = pp.FactorGraph()
    s, c = fg.spin("s", 3), fg.categorical("c", 2, 4)
    loc_s = np.array([-2.0, 0.3, 1.7], np.float32)
    loc_c = np.array([[0.0, 1.0, -1.0, 0.5], [2.0, -3.0, 0.0, 0.1]], np.float32)
    grid = lambda n: jnp.asarray(np.tile(u, (n, 1)))  # noqa: E731
    on = np.asarray(sample_units(s, jnp.asarray(np.repeat(loc_s[:, None], N, 1)), beta,
                                 grid(3)))
    assert set(np.unique(on)) <= {-1, 1}
    np.testing.assert_allclose((on == 1).mean(1), 1 / (1 + np.exp(-beta * loc_s)), atol=2 / N)
    cat = np.asarray(sample_units(c, jnp.asarray(np.repeat(loc_c[:, :, None], N, 2)), beta,
                                  grid(2)))
    freq = (cat[:, None, :] == np.arange(4)[None, :, None]).mean(2)
    np.testing.assert_allclose(freq, np.exp(log_softmax(beta * loc_c, axis=1)), atol=2 / N)


# ------------------------------------------------------------------ 100,489 spins
def lattice_flip_changes(model, params, values) -> np.ndarray:
    """SciPy, from the declared edge list: the change of -E of flipping each spin of states
    ``(B, n)``, ``-2 s_u (h_u + Σ_(uv) J_uv s_v)``: ``(B, n)``."""
    from scipy.sparse import coo_matrix

    edges = next(s for s in model.specs if s.name == "J").data
    n = model.groups["s"].size
    J = np.asarray(params["J"], np.float64)
    A = coo_matrix((np.concatenate([J, J]), (np.concatenate([edges[:, 0], edges[:, 1]]),
                                             np.concatenate([edges[:, 1], edges[:, 0]]))),
                   shape=(n, n)).tocsr()
    s = np.asarray(values["s"], np.float64)
    return -2.0 * s * (np.asarray(params["h"], np.float64) + (A @ s.T).T)


def test_big_lattice_jones_plassmann_coloring_and_every_unit():
    """A periodic 317×317 lattice: more than NETWORKX_LIMIT units and odd cycles, so the
    vectorised Jones–Plassmann coloring runs (a bipartite graph would get 2 colors). Every
    unit's Gibbs log-odds and flip log-ratio equal a SciPy evaluation of its local field from
    the declared edges, which equals ``model.energy`` differences at 32 units; GWG scores
    and acceptance log-ratios of 32 moves per state are exact."""
    model, params, values, bp, xb = setup("big_lattice")
    n = model.groups["s"].size
    colors = model.coloring["s"]
    assert n > NETWORKX_LIMIT and colors.max() + 1 >= 3
    edges = next(s for s in model.specs if s.name == "J").data
    assert len(edges) == 2 * n and not np.any(colors[edges[:, 0]] == colors[edges[:, 1]])
    rng = np.random.default_rng(0)
    moves = rng.choice(n, 32, replace=False)
    spans, out = pieces("big_lattice", moves)
    ref = lattice_flip_changes(model, params, values)  # (C, n), user order
    # the reference equals model.energy differences (32 units, every state)
    E = values["s"][None].repeat(32, 0)  # (32, C, n)
    E[np.arange(32), :, moves] *= -1
    e0, e_flip = energy(model, params, values), energy(model, params, {"s": E})
    tol = 1e-6 * float(np.abs(e0).max() + np.abs(np.asarray(params["J"])).sum())
    np.testing.assert_allclose(ref[:, moves].T, e0[None] - e_flip, atol=tol, rtol=0)
    on = values["s"].T == 1  # (n, C)
    log_odds = np.where(on, -ref.T, ref.T)  # Δ = -E(+1) + E(-1)
    units = rows_to_units(model, "s", dict(spans)["s"], selectors(model)[1]["s"])
    for loc, us in zip(out["loc"]["s"], units, strict=True):
        np.testing.assert_allclose(np.asarray(loc), log_odds[us], atol=1e-4, rtol=0)
    np.testing.assert_allclose(to_user(model, "s", out["flip"]["s"][0]), ref.T, atol=1e-4, rtol=0)
    d = np.asarray(out["gwg"][0])
    np.testing.assert_allclose(to_user(model, "s", d), ref.T, atol=1e-4, rtol=0)
    moved = check_gwg(model, params, values, out["gwg"], tol,
                      lambda v: lattice_flip_changes(model, params, v))
    assert moved.all()
