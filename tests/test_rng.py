"""The samplers' fused uniform draw and key split equal jax.random's bit for bit."""

import jax
import numpy as np
import pytest

from pcdppl._compile import as_key
from pcdppl._compile.prng import split, threefry2x32, uniform


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4), (1284, 37)])
@pytest.mark.parametrize("seed", [0, 1, 2**31 + 5])
def test_uniform_equals_jax_random_uniform(shape, seed):
    key = jax.random.fold_in(jax.random.key(seed), 11)
    ref = jax.jit(lambda k: jax.random.uniform(k, shape))(key)
    got = jax.jit(lambda k: uniform(k, shape))(key)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    assert np.asarray(got).min() >= 0.0 and np.asarray(got).max() < 1.0


@pytest.mark.parametrize("num", [1, 2, 5, 933])
@pytest.mark.parametrize("seed", [0, 2**31 + 5])
def test_split_equals_jax_random_split(num, seed):
    key = jax.random.fold_in(jax.random.key(seed), 3)
    ref = jax.random.key_data(jax.random.split(key, num))
    got = jax.jit(lambda k: split(k, num))(key)
    assert got.shape == (num,) and jax.random.key_impl(got) == jax.random.key_impl(key)
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(got)), np.asarray(ref))


def test_threefry_known_answer():
    """Random123's known-answer test for Threefry-2x32 (20 rounds)."""
    def u32(v):
        return jax.numpy.asarray(v, jax.numpy.uint32)

    out = threefry2x32(u32(0x13198A2E), u32(0x03707344), u32(0x243F6A88), u32(0x85A308D3))
    assert [int(o) for o in out] == [0xC4923A9C, 0x483DF7A0]


def test_other_key_implementations_fall_back():
    key = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(np.asarray(uniform(key, (4, 3))),
                                  np.asarray(jax.random.uniform(key, (4, 3))))
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(split(key, 3))),
                                  np.asarray(jax.random.key_data(jax.random.split(key, 3))))
    raw = jax.random.PRNGKey(0)  # legacy uint32 keys go through jax.random too
    np.testing.assert_array_equal(np.asarray(uniform(raw, (5,))),
                                  np.asarray(jax.random.uniform(raw, (5,))))


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1, 2**31 + 5, -3])
def test_int_seeds_give_jax_random_key(seed):
    try:
        ref = jax.random.key(seed)
    except OverflowError:
        pytest.skip("seed outside JAX's int32 range")
    got = as_key(seed)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(got)),
                                  np.asarray(jax.random.key_data(ref)))


@pytest.mark.parametrize("shape", [(76, 20), (1284, 100)])
def test_a_draw_after_a_product_is_materialised_when_small_and_equal_bit_for_bit(shape):
    """``after_product=True`` changes how XLA fuses the draw, never its values: a small draw
    is materialised (an optimisation barrier), a large one left to fuse."""
    key = jax.random.key(7)
    got = jax.jit(lambda k: uniform(k, shape, after_product=True))(key)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.random.uniform(key, shape)))
    jaxpr = str(jax.make_jaxpr(lambda k: uniform(k, shape, after_product=True))(key))
    small = np.prod(shape) < 2**13
    assert ("optimization_barrier" in jaxpr) == small
    assert "optimization_barrier" not in str(jax.make_jaxpr(lambda k: uniform(k, shape))(key))


def test_block_gibbs_materialises_its_draw_only_for_products():
    import pcdppl as pp

    assert pp.samplers.BlockGibbs(pp.models.rbm(64, 12)).products
    assert not pp.samplers.BlockGibbs(pp.models.ising((8, 8))).products
