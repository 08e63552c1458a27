"""Exact evaluation with the enumeration split into several chunks, against an independent
NumPy computation (tests/numpy_reference.py: own structure, itertools enumeration, float64
energies from the parameters).

``log_partition`` and ``log_likelihood`` do not take a chunk size, so the tests either use a
model big enough for the default ``CHUNK_ELEMENTS`` to split, or put a spy in front of
``log_sum_exp_states`` (the function both call; the ``chunk_spy`` fixture of conftest.py) that
passes a small ``chunk_elements``; the spy also records how many chunks each enumeration
used, so a test knows the split happened.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import numpy_reference as ref
import pytest
from models_zoo import ZOO

import pcdppl as pp

RTOL = 2e-6  # float32 energies of a few units, summed in chunks


def _params(shapes: dict, seed: int, scale: float = 0.7) -> dict:
    rng = np.random.default_rng(seed)
    return {n: jnp.asarray(scale * rng.standard_normal(s), jnp.float32) for n, s in shapes.items()}


def _data(r: ref.Structure, groups, n: int, seed: int) -> dict:
    """Random values of ``groups`` (user layout, int8)."""
    rng = np.random.default_rng(seed)
    return {g: np.asarray(r.groups[g][0], np.int8)[rng.integers(0, len(r.groups[g][0]),
                                                                (n, r.groups[g][1]))]
            for g in groups}


@pytest.mark.parametrize("kind", sorted(ZOO))
def test_reference_describes_the_zoo_models(kind):
    """The reference's structure is the zoo's: the same parameters with the same shapes (the
    values of the energies are checked through log Z below)."""
    model, _ = ZOO[kind]()
    assert {n: tuple(s) for n, s in model.param_shapes.items()} == ref.ZOO[kind]().param_shapes()


@pytest.mark.parametrize("kind", sorted(ZOO))
def test_log_partition_in_many_chunks_matches_numpy(kind, chunk_spy):
    """7 states per chunk: every zoo model's enumeration splits into several chunks, the last
    one partly padding (masked out)."""
    model, params = ZOO[kind]()
    s = chunk_spy(chunk_states=7)
    got = float(pp.evaluate.log_partition(model, params))
    (n,) = s.chunks("log_partition")
    total = s.calls[0][1]
    assert n >= 2 and total % 7 != 0, s.calls
    assert got == pytest.approx(ref.log_partition(ref.ZOO[kind](), params), rel=RTOL)


@pytest.mark.parametrize("kind", sorted(ZOO))
def test_enumerating_every_group_in_chunks_matches_numpy(kind):
    """``log_sum_exp_states`` over all groups (nothing summed analytically, no fixed values)
    in chunks of 5 states (the last one ragged) equals log Z."""
    model, params = ZOO[kind]()
    units = sum(g.size for g in model.groups.values())
    groups = list(model.groups)
    assert math.prod(g.num_states ** g.size for g in model.groups.values()) % 5 != 0
    got = pp.evaluate.log_sum_exp_states(model, params, {}, groups, (), 1,
                                         chunk_elements=5 * units)
    assert float(got[0]) == pytest.approx(ref.log_partition(ref.ZOO[kind](), params), rel=RTOL)


def _semi_rbm(n_v=6, n_h=12):
    """An RBM whose hidden units are coupled in a ring: the hidden layer is not conditionally
    independent, so a log-likelihood must enumerate it."""
    lateral = np.array([[i, (i + 1) % n_h] for i in range(n_h)])
    fg = pp.FactorGraph()
    v, h = fg.binary("v", n_v), fg.binary("h", n_h)
    fg.bias(v, name="b_v")
    fg.bias(h, name="b_h")
    fg.dense(v, h, name="W")
    fg.pairwise(h, h, lateral, name="L")
    model = fg.compile()
    r = ref.rbm(n_v, n_h, lateral=lateral)
    assert {n: tuple(s) for n, s in model.param_shapes.items()} == r.param_shapes()
    return model, r


# (zoo kind or "semi_rbm", observed groups): what log_likelihood sums out and how
LIKELIHOOD_CASES = {
    "ising": ("s",),           # fully visible
    "potts": ("s",),           # fully visible, categorical
    "rbm": ("v",),             # hidden layer summed analytically
    "table-c-latent": ("a", "b"),  # c (coupled to itself by T_cc) is enumerated per example
    "table-bc-latent": ("a",),     # b summed analytically, c enumerated
    "semi_rbm": ("v",),        # the hidden ring is enumerated per example
}


@pytest.mark.parametrize("case", sorted(LIKELIHOOD_CASES))
def test_log_likelihood_in_many_chunks_matches_numpy(case, chunk_spy):
    observed = LIKELIHOOD_CASES[case]
    if case == "semi_rbm":
        model, r = _semi_rbm(4, 6)
        params = _params(model.param_shapes, 11)
    else:
        kind = case.split("-")[0]
        model, params = ZOO[kind]()
        r = ref.ZOO[kind]()
    data = _data(r, observed, 13, seed=len(case))
    s = chunk_spy(chunk_states=3)
    ll, info = pp.evaluate.log_likelihood(model, params, data, per_example=True,
                                          return_info=True, batch_size=8)
    assert info["method"] == "exact"
    expected = ref.log_likelihood(r, params, data)
    np.testing.assert_allclose(np.asarray(ll), expected, rtol=RTOL, atol=1e-5)
    assert s.chunks("log_partition")[0] >= 2
    latent = [g for g in model.groups if g not in observed]
    enumerated, _ = pp.evaluate.analytic_split(model, latent)
    if enumerated and not model.conditionally_independent(latent):
        # the per-example enumeration split too, over both batches (8 + 5 padded examples)
        assert s.chunks("log_likelihood") == [s.chunks("log_likelihood")[0]] * 2
        assert s.chunks("log_likelihood")[0] >= 2, s.calls
    mean = pp.evaluate.log_likelihood(model, params, data, batch_size=8)
    assert float(mean) == pytest.approx(expected.mean(), rel=RTOL, abs=1e-5)


def test_default_chunking_splits_a_large_enumeration(chunk_spy):
    """No forcing: the default ``CHUNK_ELEMENTS`` splits the per-example enumeration of a 4×12
    RBM with a hidden ring (2^12 hidden states × 80 examples × 16 units > 2^22) in two; the
    log-likelihoods agree with NumPy."""
    model, r = _semi_rbm(4, 12)
    params = _params(model.param_shapes, 6, scale=0.5)
    data = _data(r, ["v"], 80, seed=0)
    s = chunk_spy()  # records only
    ll = pp.evaluate.log_likelihood(model, params, data, per_example=True)
    assert s.chunks("log_likelihood") == [2], s.calls
    np.testing.assert_allclose(np.asarray(ll), ref.log_likelihood(r, params, data), rtol=RTOL)
