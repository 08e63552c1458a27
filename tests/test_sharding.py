"""Chains and minibatches sharded over several devices agree with the single-device run.

JAX fixes its device count when it starts, so the tests that need four devices run in
child pytest processes started with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
(``test_sharded_suite_in_subprocess`` starts them and shows their output on failure). The
child tests are split into two parts of similar cost, each run serially in its own child,
so that pytest-xdist can run the parts side by side; together they run every child test.
The multi-host example runs two ``jax.distributed`` processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NDEV = 4
CHILD = os.environ.get("PCDPPL_SHARDING_CHILD") == "1"


def _env(**extra) -> dict:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


if not CHILD:

    # -k expressions of the two parts: one part and its complement, so no child test is left out
    SAMPLING = "sample_equals or subclass or fused or four_devices"
    PARTS = {"sampling": SAMPLING, "fitting-and-errors": f"not ({SAMPLING})"}

    @pytest.mark.parametrize("part", sorted(PARTS))
    def test_sharded_suite_in_subprocess(part):
        env = _env(PCDPPL_SHARDING_CHILD="1",
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={NDEV}",
                   JAX_PLATFORMS="cpu")
        # -n 0: the child runs serially (xdist already runs the parts in parallel)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p",
                            "no:cacheprovider", "-k", PARTS[part], __file__], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"sharded tests failed:\n{r.stdout[-8000:]}\n{r.stderr[-3000:]}"
        summary = r.stdout.strip().split("\n")[-1]
        assert " passed" in summary and "skipped" not in summary, r.stdout

    def test_multihost_example_two_processes():
        env = _env(JAX_PLATFORMS="cpu")
        env.pop("XLA_FLAGS", None)
        r = subprocess.run([sys.executable, str(ROOT / "examples" / "multihost.py"),
                            "--processes", "2", "--local-devices", "2", "--timeout", "400"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        assert "agrees with the single-process run" in r.stdout
        assert "draws_v            fraction of identical units = 1.0000" in r.stdout

else:
    import jax
    import jax.numpy as jnp
    import optax
    from jax.sharding import AxisType, NamedSharding
    from models_zoo import ZOO

    import pcdppl as pp
    from pcdppl.learn.epoch import epoch_program
    from pcdppl.samplers import BlockGibbs, Sampler
    from pcdppl.sharding import put_replicated, resolve_mesh

    def test_child_sees_four_devices():
        assert jax.device_count() == NDEV

    def _chain_split(arr, axis):
        spec = arr.sharding.spec
        return (isinstance(arr.sharding, NamedSharding) and len(spec) > axis
                and spec[axis] == ("chains",) or spec[axis] == "chains")

    @pytest.mark.parametrize("name", sorted(ZOO))
    def test_sharded_sample_equals_single_device(name):
        model, params = ZOO[name]()
        kw = dict(num_chains=16, num_samples=40, num_warmup=10, thin=2)
        single = pp.sample(3, model, params, **kw)
        sharded = pp.sample(3, model, params, devices=NDEV, **kw)
        for g in single:
            assert _chain_split(sharded[g], 0), sharded[g].sharding
            np.testing.assert_array_equal(np.asarray(single[g]), np.asarray(sharded[g]))

    def test_sampler_mesh_step_run_and_per_chain_beta():
        model, params = ZOO["ising"]()
        beta = jnp.linspace(0.5, 1.5, 8)
        s1, s4 = BlockGibbs(model), BlockGibbs(model, devices=NDEV)
        assert s4.mesh.size == NDEV and s1.mesh is None
        st1, st4 = s1.init(0, params, 8), s4.init(0, params, 8)
        assert _chain_split(st4.x["s"], 1)
        st1, _ = s1.run(1, params, s1.step(2, params, st1, beta)[0], 7, beta)
        st4, _ = s4.run(1, params, s4.step(2, params, st4, beta)[0], 7, beta)
        assert _chain_split(st4.x["s"], 1)
        np.testing.assert_array_equal(np.asarray(st1.x["s"]), np.asarray(st4.x["s"]))
        # the sampler's mesh is pp.sample's default
        d1 = pp.sample(0, model, params, sampler=s1, num_chains=8, num_samples=5, beta=beta)
        d4 = pp.sample(0, model, params, sampler=s4, num_chains=8, num_samples=5, beta=beta)
        assert _chain_split(d4["s"], 0)
        np.testing.assert_array_equal(np.asarray(d1["s"]), np.asarray(d4["s"]))

    def test_fused_uniform_is_partitioned_and_unchanged():
        from pcdppl._compile.prng import uniform
        from pcdppl.sharding import chain_spec

        mesh = resolve_mesh(devices=NDEV)
        key = jax.random.key(42)
        f = jax.jit(lambda k: jax.lax.with_sharding_constraint(uniform(k, (37, 64)),
                                                               chain_spec(mesh, 2)))
        got = f(key)
        assert _chain_split(got, 1)
        np.testing.assert_array_equal(np.asarray(got),
                                      np.asarray(jax.random.uniform(key, (37, 64))))
        assert "all-gather(" not in f.lower(key).compile().as_text()

    def test_subclass_inherits_mesh_argument():
        """A sampler written without knowing about meshes still accepts mesh=/devices=."""

        class Flip(Sampler):  # a valid (if slow) kernel: Gibbs over a clamp-free sweep
            def __init__(self, model, *, sweeps=1):
                super().__init__(model)
                self.inner, self.sweeps = BlockGibbs(model), sweeps

            def transition(self, key, model, bparams, state, beta):
                return self.inner.transitions(key, model, bparams, state, beta, self.sweeps)

        model, params = ZOO["potts"]()
        mesh = jax.make_mesh((NDEV,), ("chains",))  # Explicit axes by default
        f = Flip(model, sweeps=2, mesh=mesh)
        assert f.sweeps == 2 and f.mesh.axis_types == (AxisType.Auto,)
        d1 = pp.sample(5, model, params, sampler=Flip(model, sweeps=2), num_chains=8,
                       num_samples=10)
        d4 = pp.sample(5, model, params, sampler=f, num_chains=8, num_samples=10)
        np.testing.assert_array_equal(np.asarray(d1["s"]), np.asarray(d4["s"]))

    def _data(model, n, seed=0):
        rng = np.random.default_rng(seed)
        g = model.groups["v"] if "v" in model.groups else next(iter(model.groups.values()))
        if g.kind == "spin":
            return 2 * (rng.random((n, g.size)) < 0.4).astype(np.int8) - 1
        return (rng.random((n, g.size)) < 0.3).astype(np.int8)

    @pytest.mark.parametrize("name,persistent", [("rbm", True), ("rbm", False),
                                                  ("ising", True)])
    def test_sharded_pcd_fit_matches_single_device(name, persistent):
        model, _ = ZOO[name]()
        data = _data(model, 160)
        # SGD with momentum: Adam's step m/(sqrt(v)+eps) turns a rounding-level gradient
        # (1e-8 versus exactly 0) into a step of order the learning rate, so it amplifies the
        # reduction-order differences this test bounds.
        kw = dict(num_chains=24, batch_size=16, k=2, persistent=persistent,
                  optimizer=optax.sgd(0.1, momentum=0.5))
        f1 = pp.PCD(model, **kw).fit(data, num_epochs=4, key=7, progress=False)
        f4 = pp.PCD(model, devices=NDEV, **kw).fit(data, num_epochs=4, key=7, progress=False)
        for p in f1.params:
            assert f4.params[p].sharding.is_fully_replicated
            np.testing.assert_allclose(np.asarray(f4.params[p]), np.asarray(f1.params[p]),
                                       rtol=1e-5, atol=2e-6)
        for m in f1.history:
            if m != "time":
                np.testing.assert_allclose(f4.history[m], f1.history[m], rtol=1e-5, atol=1e-6)
        for g in f1.chains:
            assert _chain_split(f4.state.chains.x[g], 1)
            same = np.mean(np.asarray(f1.chains[g]) == np.asarray(f4.chains[g]))
            assert same >= 0.99, (g, same)  # exact up to rare ties flipped by rounding
        # a single-device fit continued on the mesh (from a copy: an epoch donates its state).
        # The learners are reused: each one compiles its epoch once, and the placement of a
        # resumed state does not depend on which learner on the mesh continues it.
        copied = jax.tree.map(lambda a: a.copy(), f1.state)
        x4 = f4.learner.fit(data, 1, resume=copied, progress=False)
        # resuming keeps the sharding and keeps agreeing
        r1 = f1.learner.fit(data, 1, resume=f1, progress=False)
        r4 = f4.learner.fit(data, 1, resume=f4, progress=False)
        for p in f1.params:
            np.testing.assert_allclose(np.asarray(r4.params[p]), np.asarray(r1.params[p]),
                                       rtol=1e-5, atol=4e-6)
            np.testing.assert_allclose(np.asarray(x4.params[p]), np.asarray(r1.params[p]),
                                       rtol=1e-5, atol=4e-6)
        assert _chain_split(x4.state.chains.x["v" if "v" in f1.chains else "s"], 1)

    def test_epoch_is_partitioned_with_one_all_reduce():
        """The compiled epoch keeps chains split (no all-gather) and averages gradients
        with an all-reduce inside the program."""
        model, _ = ZOO["rbm"]()
        data = _data(model, 64)
        learner = pp.PCD(model, num_chains=32, batch_size=16, devices=NDEV)
        state = learner.init_state(0, data)
        spec = learner.epoch_spec(("v",), 64, None)
        hlo = epoch_program.lower(spec, model, learner.sampler, learner.clamped_sampler(("v",)),
                                  state, put_replicated({"v": jnp.asarray(data)}, learner.mesh)
                                  ).compile().as_text()
        assert "all-reduce(" in hlo
        assert "all-gather(" not in hlo and "all-to-all(" not in hlo

    def test_not_divisible_is_a_clear_error():
        model, params = ZOO["rbm"]()
        with pytest.raises(ValueError, match="num_chains=6 is not divisible by the 4 devices"):
            pp.sample(0, model, params, num_chains=6, devices=NDEV)
        with pytest.raises(ValueError, match="num_chains=10 is not divisible"):
            BlockGibbs(model, devices=NDEV).init(0, params, 10)
        with pytest.raises(ValueError, match="num_chains=30 is not divisible"):
            pp.PCD(model, num_chains=30, batch_size=8, devices=NDEV)
        with pytest.raises(ValueError, match="batch_size=10 is not divisible"):
            pp.PCD(model, num_chains=32, batch_size=10, devices=NDEV)
        # CD-k has one chain per example: only the batch size matters
        pp.PCD(model, num_chains=30, batch_size=8, persistent=False, devices=NDEV)
        # a state built without the mesh is checked too
        st = BlockGibbs(model).init(0, params, 6)
        with pytest.raises(ValueError, match="num_chains=6 is not divisible"):
            BlockGibbs(model, devices=NDEV).step(0, params, st)

    def test_bad_mesh_arguments():
        with pytest.raises(ValueError, match="JAX sees 4 device"):
            resolve_mesh(devices=5)
        with pytest.raises(ValueError, match="either mesh= or devices="):
            resolve_mesh(jax.make_mesh((2,), ("chains",)), devices=2)
        with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
            resolve_mesh(mesh="chains")
        with pytest.raises(TypeError, match="devices must be"):
            resolve_mesh(devices=[0, 1])
        assert resolve_mesh(devices="all").size == NDEV
        assert resolve_mesh(devices=jax.devices()[1:3]).size == 2
        assert resolve_mesh() is None
        # a mesh with two axes: chains split over both
        m2 = resolve_mesh(jax.make_mesh((2, 2), ("a", "b")))
        model, params = ZOO["rbm"]()
        d = pp.sample(0, model, params, num_chains=8, num_samples=3, mesh=m2)
        assert d["v"].sharding.spec[0] == ("a", "b")
        ref = pp.sample(0, model, params, num_chains=8, num_samples=3)
        np.testing.assert_array_equal(np.asarray(ref["v"]), np.asarray(d["v"]))
