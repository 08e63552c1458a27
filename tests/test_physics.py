"""Known physics: the mean energy per spin of the 2-D Ising model (Onsager, 1944)."""

import jax
import numpy as np
import pytest
from scipy.special import ellipk

import pcdppl as pp


def onsager_energy_per_spin(beta: float) -> float:
    """Exact internal energy per spin of the infinite square-lattice Ising model, J = 1:
    u = -coth(2β) [1 + (2/π)(2 tanh²(2β) - 1) K(k²)],  k = 2 sinh(2β) / cosh²(2β)."""
    k = 2 * np.sinh(2 * beta) / np.cosh(2 * beta) ** 2
    return float(-1 / np.tanh(2 * beta)
                 * (1 + 2 / np.pi * (2 * np.tanh(2 * beta) ** 2 - 1) * ellipk(k**2)))


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.3, 0.6])  # β_c = ln(1 + √2)/2 ≈ 0.4407
def test_block_gibbs_energy_matches_onsager(beta):
    L, chains, samples = 32, 32, 200
    model = pp.models.ising((L, L), coupling="tied", field=None)
    params = {"J": np.float32(1.0)}
    start = {"s": np.ones((chains, L * L), np.int8)}  # ordered start: fast below T_c
    draws = pp.sample(jax.random.key(1), model, params, num_chains=chains, init=start,
                      num_samples=samples, num_warmup=500, thin=2, beta=beta)
    e = np.asarray(model.energy(params, draws)) / (L * L)  # (chains, samples)
    chain_means = e.mean(axis=1)
    stderr = chain_means.std(ddof=1) / np.sqrt(chains)
    exact = onsager_energy_per_spin(beta)
    # finite-size corrections on a 32x32 torus away from β_c are below 1e-3
    assert abs(chain_means.mean() - exact) < 5 * stderr + 2e-3, (chain_means.mean(), exact)


def test_onsager_formula_limits():
    assert onsager_energy_per_spin(5.0) == pytest.approx(-2.0, abs=1e-6)
    # high-temperature series: u ≈ -2 tanh(β)
    assert onsager_energy_per_spin(0.01) == pytest.approx(-2 * np.tanh(0.01), rel=1e-3)
