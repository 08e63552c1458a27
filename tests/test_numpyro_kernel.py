"""pcdppl samplers as NumPyro kernels: exact draws under every chain method (calibrated
z-tests against enumeration, with the power to reject deliberately wrong kernels); energy
factors."""

import os
import subprocess
import sys
import textwrap

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from exactness import assert_exact_with_power, check
from models_zoo import ZOO

import pcdppl as pp
from pcdppl.integrations.numpyro import Kernel, energy_factor, numpyro_model


def _run(model, params, method, chains=16, samples=1000, **kw):
    kw = {"thin": 5, **kw}  # five sweeps per draw: nearly independent draws
    mcmc = numpyro.infer.MCMC(Kernel(model, params, **kw), num_warmup=50, num_samples=samples,
                              num_chains=chains, chain_method=method, progress_bar=False)
    mcmc.run(jax.random.key(0), extra_fields=("potential_energy",))
    return mcmc


def _check_recording(model, params, mcmc, chains, samples):
    draws = mcmc.get_samples(group_by_chain=True)
    for g, grp in model.groups.items():
        assert draws[g].shape == (chains, samples, grp.size) and draws[g].dtype == jnp.int8
    # the chains are distinct (per-chain keys / starts), and energies are recorded
    first = draws[next(iter(draws))]
    assert not np.array_equal(first[0], first[1])
    pe = mcmc.get_extra_fields(group_by_chain=True)["potential_energy"]
    np.testing.assert_allclose(pe, model.energy(params, draws), rtol=1e-5, atol=1e-5)
    return draws


@pytest.mark.parametrize("name", sorted(ZOO))
def test_vectorized_kernel_draws_are_exact(name):
    """16 chains as the chain axis of one pcdppl state: the draws pass the calibrated check
    (energy, every marginal, every coupled pair); for the Ising model the kernel at β × 0.95,
    on parameters with the strongest coupling dropped or with a +0.1 field fails it."""
    model, params = ZOO[name]()
    mcmc = _run(model, params, "vectorized")
    draws = _check_recording(model, params, mcmc, 16, 1000)
    if name != "ising":
        ok, report = check(model, params, draws)
        assert ok, report
        return

    def draw(p, beta):
        if p is params and beta == 1.0:
            return draws
        return _run(model, p, "vectorized", beta=beta).get_samples(group_by_chain=True)

    assert_exact_with_power(model, params, draw)


def test_sequential_kernel_draws_are_exact():
    """One chain per state, the chains run one after another (the table model: spin, binary
    and categorical units)."""
    model, params = ZOO["table"]()
    mcmc = _run(model, params, "sequential", chains=4, samples=1500)
    ok, report = check(model, params, _check_recording(model, params, mcmc, 4, 1500))
    assert ok, report


def test_kernel_parallel_chain_method_on_two_devices():
    """``chain_method="parallel"`` pmaps over devices: run it with two host devices."""
    code = textwrap.dedent("""
        import jax, numpyro, sys
        sys.path.insert(0, "tests")
        from exactness import check
        from models_zoo import ZOO
        from pcdppl.integrations.numpyro import Kernel
        assert jax.local_device_count() == 2, jax.devices()
        model, params = ZOO["table"]()  # spin, binary and categorical units
        mcmc = numpyro.infer.MCMC(Kernel(model, params, thin=5), num_warmup=50,
                                  num_samples=2000, num_chains=2, chain_method="parallel",
                                  progress_bar=False)
        mcmc.run(jax.random.key(1))
        ok, report = check(model, params, mcmc.get_samples(group_by_chain=True))
        assert ok, report
        print("parallel ok")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=600, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0 and "parallel ok" in out.stdout, out.stderr[-3000:]


def test_arviz_from_numpyro_and_init_params():
    model, params = ZOO["rbm"]()
    kernel = Kernel(model, params, thin=2)
    mcmc = numpyro.infer.MCMC(kernel, num_warmup=0, num_samples=20, num_chains=2,
                              chain_method="vectorized", progress_bar=False)
    init = {"v": np.ones((2, 6), np.int8), "h": np.zeros((2, 4), np.int8)}
    mcmc.run(jax.random.key(0), init_params=init)
    idata = az.from_numpyro(mcmc)
    post = idata["posterior"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 20
    assert set(post.data_vars) == {"v", "h"}
    assert callable(kernel.model)
    with pytest.raises(ValueError, match="init_params lack groups"):
        mcmc.run(jax.random.key(0), init_params={"v": init["v"]})
    with pytest.raises(ValueError, match="another model"):
        Kernel(model, params, sampler=pp.samplers.BlockGibbs(ZOO["ising"]()[0]))
    with pytest.raises(ValueError, match="thin"):
        Kernel(model, params, thin=0)


def test_numpyro_program_matches_model_under_discrete_gibbs():
    """The NumPyro program of a pcdppl model, sampled by NumPyro's own DiscreteGibbs."""
    model, params = ZOO["ising"]()
    mcmc = numpyro.infer.MCMC(numpyro.infer.DiscreteGibbs(numpyro_model(model, params)),
                              num_warmup=50, num_samples=1500, num_chains=2,
                              chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.key(0))
    s = mcmc.get_samples(group_by_chain=True)["s"]
    ok, report = check(model, params, {"s": 2 * s - 1})
    assert ok, report


def test_energy_factor_gives_exact_log_likelihood_and_supports_priors():
    model, params = ZOO["ising"]()
    data = {"s": np.asarray(pp.sample(0, model, params, num_chains=5, num_samples=2)["s"])
            .reshape(10, -1)}

    def program(normalize):
        J = numpyro.sample("J", dist.Normal(0, 1).expand([model.param_shapes["J"][0]]))
        energy_factor("ising", model, {"J": J, "h": params["h"]}, data, normalize=normalize)

    for normalize in (False, True):
        tr = numpyro.handlers.trace(numpyro.handlers.substitute(
            numpyro.handlers.seed(program, 0), {"J": params["J"]})).get_trace(normalize)
        got = float(tr["ising"]["fn"].log_prob(tr["ising"]["value"]))
        if normalize:
            want = 10 * float(pp.evaluate.log_likelihood(model, params, data))
        else:
            want = -float(np.sum(model.energy(params, data)))
        np.testing.assert_allclose(got, want, rtol=1e-4)
    # the normalised factor is differentiable in the couplings: NUTS runs on J
    mcmc = numpyro.infer.MCMC(numpyro.infer.NUTS(program), num_warmup=50, num_samples=50,
                              progress_bar=False)
    mcmc.run(jax.random.key(0), True)
    assert np.all(np.isfinite(mcmc.get_samples()["J"]))
    with pytest.raises(ValueError, match="every group"):
        rbm, rbm_params = ZOO["rbm"]()
        energy_factor("x", rbm, rbm_params, {"v": np.zeros((1, 6))})
