"""docs/guide/custom_samplers.md runs, and its user-written sampler is exact and plugs into
pp.sample, ReplicaExchange, PCD, the NumPyro kernel and the diagnostics."""

import jax
import numpy as np
from docs_code import ROOT, run_page
from exactness import check

import pcdppl as pp


def test_custom_sampler_page_runs_and_its_sampler_is_exact(capsys):
    ns = run_page(ROOT / "docs" / "guide" / "custom_samplers.md")
    model, params, sampler = ns["model"], ns["params"], ns["sampler"]
    assert isinstance(sampler, pp.samplers.Sampler)
    fit = ns["fit"]
    assert "acceptance_rate" in fit.history and np.all(np.isfinite(fit.history["acceptance_rate"]))
    stats = fit.diagnostics()["sample_stats"]
    assert stats["acceptance_rate"].shape[0] == 64
    assert ns["mcmc"].get_samples()["s"].shape == (800, 8)
    # exact: z-tests of energy, marginals and pair correlations against enumeration
    draws = pp.sample(jax.random.key(10), model, params, sampler=sampler, num_chains=64,
                      num_samples=2000, num_warmup=200, thin=8)
    ok, report = check(model, params, draws)
    assert ok, report
    # ... and the same check fails for the sampler at the wrong temperature
    wrong = {k: 0.95 * np.asarray(v) for k, v in params.items()}
    ok, report = check(model, wrong, draws)
    assert not ok, report
