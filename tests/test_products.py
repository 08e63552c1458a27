"""Dense products whose gradients are written as plain matmuls (``_compile.matmul``): the
same values and gradients as the plain product, and no product with a transposed operand
in a small RBM's compiled epoch."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import epoch_loop_hlo

import pcdppl as pp
from pcdppl._compile.products import SMALL_PRODUCT, matmul


def _loss(M, x, transpose):
    out = matmul(M, x, transpose=transpose)
    return jnp.sum(jnp.sin(out) * jnp.arange(out.size, dtype=out.dtype).reshape(out.shape))


def _plain_loss(M, x, transpose):
    out = (M.T if transpose else M) @ x
    return jnp.sum(jnp.sin(out) * jnp.arange(out.size, dtype=out.dtype).reshape(out.shape))


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("m, n, c", [(12, 8, 5), (1, 7, 3), (64, 12, 20), (300, 200, 30)])
def test_values_and_gradients_equal_the_plain_products(m, n, c, transpose):
    rng = np.random.default_rng(m * n + c)
    M = jnp.asarray(rng.normal(size=(n, m) if transpose else (m, n)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(n, c)), jnp.float32)
    got = jax.jit(lambda M, x: matmul(M, x, transpose=transpose))(M, x)
    ref = (M.T if transpose else M) @ x
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-4)
    g = jax.jit(jax.grad(_loss, argnums=(0, 1)), static_argnums=2)(M, x, transpose)
    r = jax.jit(jax.grad(_plain_loss, argnums=(0, 1)), static_argnums=2)(M, x, transpose)
    for a, b in zip(g, r, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-4)


def test_only_small_products_get_a_custom_gradient():
    small = jax.make_jaxpr(lambda M, x: matmul(M, x))(jnp.ones((64, 12)), jnp.ones((12, 20)))
    assert "custom_vjp" in str(small)
    side = int(np.ceil(np.cbrt(SMALL_PRODUCT))) + 1  # side**3 > SMALL_PRODUCT
    big = jax.make_jaxpr(lambda M, x: matmul(M, x))(jnp.ones((side, side)),
                                                    jnp.ones((side, side)))
    assert "custom_vjp" not in str(big)


def test_a_small_rbm_epoch_has_no_product_with_a_transposed_operand():
    """The gradient of a dense layer contracts the chain axis, which the blocked layout
    holds last in both operands; XLA gives such a product to a library routine, which keeps
    the minibatch loop out of its one-kernel small-loop path (digits RBM: ~1.7x slower
    epoch). (The end-of-epoch monitor, outside the loop, is larger and keeps XLA's form.)"""
    data = (np.random.default_rng(0).random((200, 64)) < 0.3).astype(np.int8)
    learner = pp.PCD(pp.models.rbm(64, 12), num_chains=20, batch_size=20, devices=1)
    _, loop = epoch_loop_hlo(learner, data)
    products = re.findall(r"= f32\[(\d+),(\d+)\]\{[^}]*\} dot\([^)]*\), lhs_contracting_dims="
                          r"\{(\d)\}, rhs_contracting_dims=\{(\d)\}", loop)
    assert len([p for p in products if min(int(p[0]), int(p[1])) > 1]) >= 4
    transposed = [p for p in products
                  if min(int(p[0]), int(p[1])) > 1 and (p[2], p[3]) != ("1", "0")]
    assert not transposed
