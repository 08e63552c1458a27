"""Deep belief networks: greedy training improves the variational bound layer by layer."""

import numpy as np
import optax
import pytest

import pcdppl as pp


@pytest.fixture(scope="module")
def digits():
    return pp.data.load_digits()


def _pcd(lr):
    return lambda m: pp.PCD(m, num_chains=100, batch_size=20, optimizer=optax.sgd(lr))


def test_bound_of_one_layer_is_the_exact_log_likelihood(digits):
    net = pp.DBN([64, 12], num_chains=50, batch_size=20)
    fit = net.fit(digits.train, 10, key=0, progress=False)
    exact = float(pp.evaluate.log_likelihood(net.dbn.layers[0], fit.params[0], digits.test))
    bound, info = net.log_likelihood_bound(fit, digits.test)
    assert info["method"] == "exact" and abs(bound - exact) < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("propagate", ["samples", "probabilities"])
def test_greedy_training_improves_the_bound_layer_by_layer(digits, propagate):
    """Layer 2 starts as layer 1 turned upside down, where the bound of the two-layer DBN
    equals the exact log-likelihood of the RBM; training it must then raise the bound by
    more than 3 standard errors of the (paired, per-image) Monte Carlo estimate."""
    sizes = [64, 16, 64]
    net = pp.DBN(sizes, propagate=propagate, init="transpose",
                 learner=[_pcd(0.05), _pcd(0.005)])
    fit = net.fit(digits.train, [100, 50], key=0, progress=False)
    one = pp.DBN(sizes[:2])
    b1, info = one.log_likelihood_bound(fit.params[:1], digits.test, per_example=True)
    exact = pp.evaluate.log_likelihood(one.dbn.layers[0], fit.params[0], digits.test,
                                       per_example=True)
    np.testing.assert_allclose(b1, exact, atol=1e-4)
    start = [fit.params[0], pp.DBN.transposed(fit.params[0])]
    b0, _ = net.log_likelihood_bound(start, digits.test, key=1, per_example=True)
    np.testing.assert_allclose(b0, b1, atol=2e-3)  # adding the transposed layer: unchanged
    b2, info = net.log_likelihood_bound(fit, digits.test, key=1, num_samples=20,
                                        per_example=True)
    assert info["method"] == "exact"
    gain = b2 - b1  # paired over test images
    se = gain.std(ddof=1) / np.sqrt(len(gain))
    assert gain.mean() > 3 * se, (gain.mean(), se, b1.mean(), b2.mean())


def test_sample_and_transform(digits):
    net = pp.DBN([64, 20, 10], num_chains=50, batch_size=20, propagate="samples")
    fit = net.fit(digits.train, [5, 5], key=0, progress=False)
    x = net.sample(0, fit, num_samples=32, num_gibbs=50)
    assert x.shape == (32, 64) and x.dtype == np.int8 and set(np.unique(x)) <= {0, 1}
    p = net.sample(0, fit, num_samples=32, num_gibbs=50, probabilities=True)
    assert p.dtype == np.float32 and np.all((p >= 0) & (p <= 1))
    x2 = net.sample(0, fit, num_samples=8, num_gibbs=5, init=digits.test[:8])
    assert x2.shape == (8, 64)
    f = net.transform(fit, digits.test)
    assert f.shape == (360, 10) and np.all((f >= 0) & (f <= 1))
    assert net.transform(fit, digits.test, layer=1).shape == (360, 20)
    s = net.transform(fit, digits.test, samples=True)
    assert set(np.unique(s)) <= {0.0, 1.0}


def test_dbn_bad_input(digits):
    with pytest.raises(ValueError, match="at least two"):
        pp.models.dbn([64])
    with pytest.raises(ValueError, match="propagate"):
        pp.DBN([64, 8], propagate="means")
    with pytest.raises(ValueError, match="persistent"):
        pp.DBN([64, 8, 8], persistent=False)
    net = pp.DBN([64, 8, 4])
    with pytest.raises(ValueError, match="2 per-layer"):
        net.transform([{}], digits.test)
    with pytest.raises(ValueError, match="columns"):
        net.fit(digits.train[:, :10], 1, progress=False)


def test_resume_loads_finished_layers_and_continues_the_interrupted_one(digits, tmp_path):
    """An interrupted DBN fit (layer 0 finished, layer 1 stopped after 1 of 3 epochs) resumed
    from its checkpoint folder gives the uninterrupted fit's parameters exactly."""
    import os
    import shutil

    def net():
        return pp.DBN([64, 12, 8], num_chains=20, batch_size=50)

    full = net().fit(digits.train, 3, key=0, progress=False, mixing_warnings=False,
                     checkpoint_dir=tmp_path / "full", checkpoint_every=1)
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    for name in os.listdir(cut / "layer1"):
        if name != "ckpt-000001.npz":  # as if stopped after layer 1's first epoch
            os.remove(cut / "layer1" / name)
    assert sorted(os.listdir(cut / "layer1")) == ["ckpt-000001.npz"]
    again = net().fit(digits.train, 3, key=0, progress=False, mixing_warnings=False,
                      checkpoint_dir=cut, resume=cut / "layer1")
    for a, b in zip(full.params, again.params, strict=True):
        for k in a:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    assert list(again.histories[1]["epoch"]) == [1, 2, 3]  # history continues the saved one
    # loaded, not retrained (retraining with the same key would give the same parameters,
    # but not the same wall-clock times): all of layer 0, epoch 1 of layer 1
    np.testing.assert_array_equal(again.histories[0]["time"], full.histories[0]["time"])
    assert again.histories[1]["time"][0] == full.histories[1]["time"][0]
    assert again.histories[1]["time"][1] != full.histories[1]["time"][1]
    # a layer checkpointed beyond its epoch count: a different configuration
    with pytest.raises(pp.learn.checkpoint.CheckpointError, match="beyond"):
        net().fit(digits.train, 2, key=0, progress=False, resume=tmp_path / "full")
    with pytest.raises(pp.learn.checkpoint.CheckpointError, match="not a DBN checkpoint"):
        net().fit(digits.train, 3, key=0, progress=False, resume=tmp_path)
