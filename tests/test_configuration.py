"""Samplers and learners are immutable configuration: assigning a setting raises, and a
changed copy (``replace``) is a new object with its own compiled program."""

import jax
import numpy as np
import optax
import pytest
from models_zoo import ZOO

import pcdppl as pp


def _data(n=60, seed=0):
    return (np.random.default_rng(seed).random((n, 6)) < 0.4).astype(np.int8)


def test_learner_is_immutable_and_replace_compiles_its_own_program():
    model, _ = ZOO["rbm"]()
    data = _data()
    kw = dict(num_chains=20, batch_size=20, optimizer=optax.sgd(0.1))
    k1 = pp.PCD(model, k=1, **kw)
    with pytest.raises(AttributeError, match="immutable.*replace"):
        k1.k = 50
    assert k1.k == 1
    k50 = k1.replace(k=50)
    assert isinstance(k50, pp.PCD) and k50.k == 50 and k1.k == 1
    assert k50.num_chains == 20 and k50.model is model and k50.optimizer is k1.optimizer
    a = k1.fit(data, 2, key=0, progress=False, mixing_warnings=False)
    b = k50.fit(data, 2, key=0, progress=False, mixing_warnings=False)
    again = pp.PCD(model, k=50, **kw).fit(data, 2, key=0, progress=False, mixing_warnings=False)
    # k=50 is really 50 transitions per update: different from k=1, equal to a fresh k=50
    assert not np.array_equal(np.asarray(a.params["W"]), np.asarray(b.params["W"]))
    np.testing.assert_array_equal(np.asarray(b.params["W"]), np.asarray(again.params["W"]))
    with pytest.raises(TypeError, match="no setting 'steps_per_update'"):
        k1.replace(steps_per_update=3)


def test_sampler_is_immutable_and_replace_rebuilds_it():
    model, params = ZOO["ising"]()
    s = pp.samplers.Metropolis(model, "flip")
    with pytest.raises(AttributeError, match="immutable"):
        s.proposal = "gwg"
    g = s.replace(proposal="gwg", num_proposals=3)
    assert (g.proposal, g.num_proposals, s.proposal) == ("gwg", 3, "flip")
    st = g.init(0, params, 4)
    _, info = g.step(1, params, st)
    assert info["accept_rate"].shape == (4,)
    other, _ = ZOO["potts"]()
    assert s.replace(model=other).model is other


@pytest.mark.parametrize("make", [
    lambda m: pp.PCD(m, num_chains=20, batch_size=20, devices=1),
    lambda m: pp.MetropolisHastings(m, num_chains=20, batch_size=20, devices=1),
    lambda m: pp.PerturbAndMaxProductLearner(m, num_samples=20, batch_size=20, devices=1),
])
def test_every_learner_takes_mesh_and_devices(make):
    model, _ = ZOO["rbm"]()
    learner = make(model)
    assert learner.mesh is not None and learner.mesh.size == 1
    assert learner.replace(devices=None).mesh is None
    mesh = jax.make_mesh((1,), ("chains",))
    assert learner.replace(mesh=mesh).mesh.size == 1


def test_old_names_still_work_with_a_deprecation_warning():
    model, params = ZOO["ising"]()
    with pytest.warns(DeprecationWarning, match="k="):
        lrn = pp.MetropolisHastings(model, steps=3)
    assert lrn.k == 3 and lrn.replace(k=5).k == 5
    with pytest.warns(DeprecationWarning, match="PerturbAndMaxProductLearner"):
        assert isinstance(pp.PerturbAndMaxProduct(model), pp.PerturbAndMaxProductLearner)
    with pytest.warns(DeprecationWarning, match="thin"):
        k = pp.integrations.numpyro.Kernel(model, params, steps_per_sample=2)
    assert k.thin == 2
    assert pp.samplers.Metropolis(model, scan="color").scan == "color"
