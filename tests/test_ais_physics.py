"""AIS with its default settings against the exact partition function of the periodic 2-D
Ising model (Kaufman, 1949), at and below the critical coupling, on 16x16 and 32x32."""

import math
import time

import numpy as np
import pytest

import pcdppl as pp

J_CRITICAL = 0.5 * math.log(1 + math.sqrt(2))  # 0.4407


def test_kaufman_formula_matches_enumeration():
    for rows, cols, J in [(3, 3, 0.3), (4, 4, J_CRITICAL), (3, 5, 0.7), (4, 3, 0.1)]:
        model = pp.models.ising((rows, cols), field=None, coupling="tied")
        exact = float(pp.evaluate.log_partition(model, {"J": np.float32(J)}))
        assert abs(pp.models.ising_log_partition_2d(rows, cols, J) - exact) < 1e-4


@pytest.mark.parametrize("side,J", [(16, 0.3), (16, J_CRITICAL),
                                    pytest.param(32, J_CRITICAL, marks=pytest.mark.slow)])
def test_ais_default_settings_reach_the_exact_log_partition(side, J):
    model = pp.models.ising((side, side), field=None)
    params = {"J": np.full(model.param_shapes["J"], J, np.float32)}
    t = time.perf_counter()
    res = pp.evaluate.ais(model, params, 0)
    seconds = time.perf_counter() - t
    exact = pp.models.ising_log_partition_2d(side, side, J)
    err = res.log_z - exact
    assert abs(err) < 0.5 and abs(err) < 3 * res.stderr + 1e-3, (err, res.stderr)
    assert seconds < 120, seconds
    assert res.sampled == ("s",) and res.summed == () and res.num_betas == 14_500
