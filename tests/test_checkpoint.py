"""Checkpoints: resume equals an uninterrupted run bit for bit; bad files give clear errors;
a checkpoint of another model or learner configuration is refused, naming the difference."""

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

import checkpoint_child
import jax
import networkx as nx
import numpy as np
import optax
import pytest

import pcdppl as pp
from pcdppl.learn.checkpoint import CheckpointError, latest_checkpoint, read_checkpoint, restore_state


@pytest.fixture(scope="module")
def digits():
    return pp.data.load_digits().train[:400]


def _learner(model):
    # adam: an optimiser with state, so that restoring the optimiser state matters
    return pp.PCD(model, num_chains=30, k=2, batch_size=25, optimizer=optax.adam(0.01))


# One learner per model size, shared by the tests of this module: a learner compiles its
# epoch once, and every fit starts from its own key or checkpoint. Resuming is always done
# by a fresh learner, as a new process would.
@pytest.fixture(scope="module")
def learner12():
    return _learner(pp.models.rbm(64, 12))


@pytest.fixture(scope="module")
def learner8():
    return _learner(pp.models.rbm(64, 8))


def _leaves(state):
    is_key = lambda x: jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)  # noqa: E731
    return [np.asarray(jax.random.key_data(x)) if is_key(x) else np.asarray(x)
            for x in jax.tree.leaves(state)]


def test_resume_is_bit_exact(tmp_path, digits, learner12):
    model = learner12.model
    full = learner12.fit(digits, num_epochs=6, key=3, progress=False)
    ck = tmp_path / "ck"
    part = learner12.fit(digits, num_epochs=6, key=3, progress=False,
                         checkpoint_dir=ck, checkpoint_every=2)
    assert sorted(os.listdir(ck)) == ["ckpt-000002.npz", "ckpt-000004.npz", "ckpt-000006.npz"]
    # resume from epoch 2 in a fresh learner (a new process would do the same)
    resumed = _learner(model).fit(digits, num_epochs=6, progress=False,
                                  resume=ck / "ckpt-000002.npz")
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_leaves(full.state), _leaves(part.state), strict=True):
        np.testing.assert_array_equal(a, b)
    # the history continues across the interruption
    np.testing.assert_array_equal(resumed.history["epoch"], np.arange(1, 7))
    np.testing.assert_array_equal(resumed.history["free_energy_gap"],
                                  full.history["free_energy_gap"])
    # a folder resumes from its newest checkpoint; nothing left to do is an error
    with pytest.raises(ValueError, match="nothing left"):
        _learner(model).fit(digits, num_epochs=6, progress=False, resume=ck)


def test_keeps_newest_and_writes_atomically(tmp_path, digits, learner8):
    learner8.fit(digits, num_epochs=5, key=0, progress=False, checkpoint_dir=tmp_path,
                 checkpoint_every=1)
    names = sorted(os.listdir(tmp_path))
    assert names == ["ckpt-000003.npz", "ckpt-000004.npz", "ckpt-000005.npz"]  # no temp files
    assert latest_checkpoint(tmp_path).endswith("ckpt-000005.npz")
    meta, arrays, hist = read_checkpoint(tmp_path)
    assert meta["epoch"] == 5 and len(hist["epoch"]) == 5


def test_corrupted_or_truncated_checkpoint(tmp_path, digits, learner8):
    learner = learner8
    learner.fit(digits, num_epochs=1, key=0, progress=False, checkpoint_dir=tmp_path)
    good = tmp_path / "ckpt-000001.npz"
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="trunc.npz.*truncated or corrupted"):
        learner.fit(digits, num_epochs=3, resume=trunc, progress=False)
    flipped = bytearray(raw)
    i = raw.find(b"leaf_0.npy")  # flip a byte inside the first stored array's data
    flipped[i + 200] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="bad.npz"):
        learner.fit(digits, num_epochs=3, resume=bad, progress=False)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.npz"):
        learner.fit(digits, num_epochs=3, resume=garbage, progress=False)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        learner.fit(digits, num_epochs=3, resume=tmp_path / "missing.npz", progress=False)
    other = _learner(pp.models.rbm(64, 9))
    with pytest.raises(CheckpointError, match="model.groups=.*size=8.*size=9"):
        other.fit(digits, num_epochs=3, resume=good, progress=False)


def test_checksum_catches_a_changed_value_in_a_valid_archive(tmp_path, digits, learner8):
    # a flipped byte is caught by the zip CRC; a value changed inside a valid archive (the
    # same meta header) only by the SHA-256 of the leaves
    learner8.fit(digits, num_epochs=1, key=0, progress=False, checkpoint_dir=tmp_path)
    with np.load(tmp_path / "ckpt-000001.npz") as f:
        payload = {name: f[name] for name in f.files}
    meta = json.loads(str(payload["meta"]))
    i = meta["paths"].index(".params['W']")
    changed = payload[f"leaf_{i}"].copy()
    changed[3, 1] += 0.5
    payload[f"leaf_{i}"] = changed
    bad = tmp_path / "tampered.npz"
    with open(bad, "wb") as f:
        np.savez(f, **payload)
    with np.load(bad) as f:  # a valid archive: every member reads back
        assert json.loads(str(f["meta"])) == meta
        np.testing.assert_array_equal(f[f"leaf_{i}"], changed)
    with pytest.raises(CheckpointError, match="tampered.npz: checksum mismatch"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        learner8.fit(digits, num_epochs=3, resume=bad, progress=False)


def test_ctrl_c_saves_and_resumes(tmp_path, digits, learner12):
    model = learner12.model
    full = learner12.fit(digits, num_epochs=300, key=1, progress=False)

    def interrupt():  # Ctrl-C once the first checkpoint exists
        for _ in range(6000):
            if latest_checkpoint(tmp_path):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    t = threading.Thread(target=interrupt)
    t.start()
    with pytest.raises(pp.learn.TrainingInterrupted) as info:
        learner12.fit(digits, num_epochs=300, key=1, progress=False,
                      checkpoint_dir=tmp_path, checkpoint_every=1)
    t.join()
    assert isinstance(info.value, KeyboardInterrupt) and 1 <= info.value.epoch < 300
    assert os.path.exists(info.value.checkpoint)
    resumed = _learner(model).fit(digits, num_epochs=300, progress=False, resume=tmp_path)
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_epoch_from_the_file_name(tmp_path):
    from pcdppl.learn.checkpoint import checkpoint_epoch, checkpoint_path

    assert checkpoint_epoch(checkpoint_path(tmp_path, 12)) == 12
    with pytest.raises(CheckpointError, match="not a checkpoint file name"):
        checkpoint_epoch(tmp_path / "params.npz")


# ---------------------------------------------------------------- fingerprint mismatches
# Ising models on two 3-regular graphs of 16 nodes: 24 edges each, so the same parameter and
# chain shapes, but other edges.
GRAPHS = [nx.random_regular_graph(3, 16, seed=0), nx.random_regular_graph(3, 16, seed=1)]


def _ising_learner(graph=0, **changes):
    settings = dict(num_chains=30, k=1, batch_size=20, optimizer=optax.adam(0.01))
    return pp.PCD(pp.models.ising(GRAPHS[graph]), **{**settings, **changes})


@pytest.fixture(scope="module")
def spins():
    return np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(60, 16))


@pytest.fixture(scope="module")
def ising_ckpt(tmp_path_factory, spins):
    """Checkpoints of epoch 1 of a fit with a threefry key ("threefry") and of epochs 1 and 2
    of one with an rbg key ("rbg"), and the rbg fit's final state."""
    root = tmp_path_factory.mktemp("ising")
    learner = _ising_learner()
    learner.fit(spins, 1, key=0, progress=False, checkpoint_dir=root / "threefry")
    rbg = learner.fit(spins, 2, key=jax.random.key(0, impl="rbg"), progress=False,
                      checkpoint_dir=root / "rbg", checkpoint_every=1)
    return root, rbg


def test_fingerprint_is_plain_data_without_addresses():
    fp = _ising_learner().fingerprint(jax.random.key(0))
    text = json.dumps(fp)  # JSON values only
    assert "0x" not in text and " at " not in text
    assert fp == _ising_learner().fingerprint(0)  # another optimiser object, same description
    assert fp["num_chains"] == 30 and fp["key"] == "threefry2x32"
    assert "ScaleByAdamState" in fp["optimizer.state"] and "scale_by_adam" in fp["optimizer"]


def test_refuses_another_graph_with_the_same_shapes(ising_ckpt, spins):
    root, _ = ising_ckpt
    other = _ising_learner(graph=1)
    assert other.model.param_shapes == _ising_learner().model.param_shapes
    meta, arrays, _ = read_checkpoint(root / "threefry")
    restore_state(other.init_state(0, spins), meta, arrays)  # the shapes alone would fit
    with pytest.raises(CheckpointError, match=r"model.factor J=pairwise \(24,\) tables \w+; "
                       r"this learner has model.factor J=pairwise \(24,\) tables \w+ \(same "
                       r"kind and shape, other index tables: another graph\)"):
        other.fit(spins, 3, progress=False, resume=root / "threefry")


def test_refuses_another_optimizer(ising_ckpt, spins):
    root, _ = ising_ckpt
    sgd = _ising_learner(optimizer=optax.sgd(0.01))
    with pytest.raises(CheckpointError, match=r"written for optimizer.state=\(ScaleByAdamState"
                       r".*this learner has optimizer.state=\(EmptyState\(\), EmptyState"):
        sgd.fit(spins, 3, progress=False, resume=root / "threefry")
    # the same optimiser with another learning rate: the same state, another description
    slower = _ising_learner(optimizer=optax.adam(0.02))
    with pytest.raises(CheckpointError, match=r"step_size=-0.01\).*this learner has "
                       r"optimizer=.*step_size=-0.02\)"):
        slower.fit(spins, 3, progress=False, resume=root / "threefry")


def test_refuses_another_chain_count(ising_ckpt, spins):
    root, _ = ising_ckpt
    with pytest.raises(CheckpointError, match="the checkpoint was written for num_chains=30; "
                       "this learner has num_chains=40"):
        _ising_learner(num_chains=40).fit(spins, 3, progress=False, resume=root / "threefry")


def test_refuses_another_key_implementation(ising_ckpt, spins):
    root, rbg = ising_ckpt
    learner = _ising_learner()
    with pytest.raises(CheckpointError, match="the checkpoint's PRNG key is 'rbg'; this fit's "
                       "key is 'threefry2x32'"):
        learner.fit(spins, 2, progress=False, resume=root / "rbg" / "ckpt-000001.npz")
    with pytest.raises(CheckpointError, match="the checkpoint's PRNG key is 'threefry2x32'; "
                       "this fit's key is 'rbg'"):
        learner.fit(spins, 2, key=jax.random.key(0, impl="rbg"), progress=False,
                    resume=root / "threefry")
    # with a key of the checkpoint's implementation (its value is ignored) the resumed rbg
    # run equals the uninterrupted one bit for bit
    resumed = _ising_learner().fit(spins, 2, key=jax.random.key(5, impl="rbg"), progress=False,
                                   resume=root / "rbg" / "ckpt-000001.npz")
    assert str(jax.random.key_impl(resumed.state.key)) == "rbg"
    for a, b in zip(_leaves(rbg.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- killed while writing
def test_killed_while_writing_a_checkpoint(tmp_path):
    folder = tmp_path / "ck"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(pp.__file__))),
         os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, checkpoint_child.__file__, str(folder), "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:  # the child writes epoch 1's checkpoint, then stops half-way through epoch 2's
        ready, _, _ = select.select([child.stdout], [], [], 300)
        line = child.stdout.readline() if ready else ""
        assert line.strip() == "WRITING", f"child: {line!r} {child.poll()} " + (
            child.stderr.read() if child.poll() is not None else "")
        names = sorted(os.listdir(folder))
        temps = [n for n in names if n.startswith(".ckpt-") and n.endswith(".tmp")]
        assert len(temps) == 1 and names == sorted(temps + ["ckpt-000001.npz"]), names
        tmp = folder / temps[0]
        size = tmp.stat().st_size
        assert size > 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # the partial write is left as a temporary file, never under a checkpoint name
    assert sorted(os.listdir(folder)) == names and tmp.stat().st_size == size
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        read_checkpoint(tmp)
    assert latest_checkpoint(folder) == str(folder / "ckpt-000001.npz")
    meta, _, history = read_checkpoint(folder)
    assert meta["epoch"] == 1 and list(history["epoch"]) == [1]
    # resuming (a fresh learner, as a new process would) equals an uninterrupted fit
    data = checkpoint_child.data()
    n = checkpoint_child.NUM_EPOCHS
    full = checkpoint_child.learner().fit(data, n, key=checkpoint_child.KEY, progress=False)
    resumed = checkpoint_child.learner().fit(data, n, progress=False, resume=folder,
                                             checkpoint_dir=folder)
    for a, b in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.history["epoch"], np.arange(1, n + 1))
    # the resumed fit's own checkpoints are unaffected by the stray temporary file
    assert latest_checkpoint(folder) == str(folder / f"ckpt-{n:06d}.npz")
