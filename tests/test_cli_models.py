"""`pcdppl fit` with every model kind and every learner: Ising and Potts models from a lattice
shape or an edge-list file, spin and categorical data files, example weights, and the usage
errors of the new settings. Tiny models, two epochs: these check the wiring, not learning."""

import json

import numpy as np
import pytest

from pcdppl.cli import main
from pcdppl.cli.config import with_defaults
from pcdppl.cli.inputs import load_weights, read_edge_list
from pcdppl.data import Dataset, split

LEARNERS = ["pcd", "cd", "fpcd", "jarzynski", "pl", "mh", "pmp"]
RING = "# a 5-ring with a chord\n0 1\n1 2\n2 3\n3 4\n4 0\n0, 2\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One set of data files for the whole module: 40 spin configurations of a 3x3 lattice,
    40 Potts configurations (3 states) of a 5-node graph, its edge list, 40 weights."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    spins = rng.choice(np.array([-1, 1], np.int8), size=(40, 9))
    spins[:, 1:] = np.where(rng.random((40, 8)) < 0.8, spins[:, :1], spins[:, 1:])  # aligned
    np.save(d / "ising.npy", spins)
    np.save(d / "potts.npy", rng.integers(0, 3, size=(40, 5)).astype(np.int8))
    (d / "ring.txt").write_text(RING)
    np.save(d / "weights.npy", rng.random(40) + 0.5)  # one per example of the file (split)
    return d


def _code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse: usage errors
        return int(exit_.code or 0)


def _ising_fit(files, out, *extra):
    return ["fit", "--model", "ising", "--lattice", "3,3", "--data", str(files / "ising.npy"),
            "--epochs", "2", "--batch-size", "8", "--out", str(out), "--quiet", *extra]


@pytest.mark.slow
@pytest.mark.parametrize("learner", LEARNERS)
def test_every_learner_fits_an_ising_lattice(learner, files, tmp_path, capsys):
    knobs = {"pcd": ["--chains", "8", "-k", "auto"], "cd": ["-k", "2"],
             "fpcd": ["--chains", "8", "--fast-lr", "0.02"],
             "jarzynski": ["--chains", "8", "--resample-threshold", "0.3"], "pl": [],
             "mh": ["--chains", "8", "--proposal", "gwg"],
             "pmp": ["--chains", "8", "--num-iters", "10"]}[learner]
    out = tmp_path / "run"
    assert main(_ising_fit(files, out, "--learner", learner, *knobs)) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["learner"]["kind"] == learner and cfg["model"]["lattice"] == [3, 3]
    assert "Ising model on a 3x3 periodic lattice" in capsys.readouterr().out
    with np.load(out / "params.npz") as p:
        assert p["J"].shape == (18,) and p["h"].shape == (9,)
        assert np.isfinite(p["J"]).all()
    assert (out / "samples.png").exists()  # a 2-D lattice is plotted like an image
    if learner == "pl":  # evaluation: exact log Z of 2^9 states
        assert main(["evaluate", str(out)]) == 0
        ev = json.loads((out / "evaluation.json").read_text())["test"]
        assert ev["method"] == "exact" and ev["log_z_stderr"] == 0 and ev["log_likelihood"] < 0
        assert "exact log Z" in capsys.readouterr().out


@pytest.mark.slow
def test_potts_edge_list_fpcd_pipeline(files, tmp_path, capsys):
    out = tmp_path / "potts"
    cfg = tmp_path / "potts.toml"
    cfg.write_text(f"""
out = "{out}"
[data]
source = "{files / 'potts.npy'}"
weights = "{files / 'weights.npy'}"
[model]
kind = "potts"
edges = "{files / 'ring.txt'}"
states = 3
[learner]
kind = "fpcd"
num_chains = 8
batch_size = 8
fast_decay = 0.9
[fit]
epochs = 2
""")
    assert main(["fit", "--config", str(cfg), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Potts model on 5 nodes, 6 edges, 3 states" in text and "weighted" in text
    saved = json.loads((out / "config.json").read_text())
    assert saved["learner"]["fast_lr"] == 0.05 and saved["learner"]["fast_decay"] == 0.9
    assert not (out / "samples.png").exists()  # not image data
    with np.load(out / "params.npz") as p:
        assert p["J"].shape == (6,) and p["h"].shape == (5, 3)
    assert main(["evaluate", str(out), "--method", "ais", "--ais-chains", "16",
                 "--ais-betas", "50"]) == 0
    ev = json.loads((out / "evaluation.json").read_text())["test"]
    assert ev["method"] == "ais" and ev["log_z_stderr"] > 0
    assert "AIS log Z" in capsys.readouterr().out
    assert main(["sample", str(out), "--num-samples", "6", "--warmup", "5"]) == 0
    with np.load(out / "samples.npz") as f:
        x = f["samples"]
    assert x.shape == (6, 5) and set(np.unique(x)) <= {0, 1, 2}
    assert not (out / "samples.png").exists()
    assert main(["diagnose", str(out), "--draws", "500"]) == 0  # as in fit: compiled already
    assert json.loads((out / "diagnostics.json").read_text())["ess_bulk"] > 0


def test_usage_errors_of_models_and_learners(files, tmp_path, capsys):
    ising = ["--model", "ising", "--data", str(files / "ising.npy")]
    cases = [
        (["--learner", "nope"], "invalid choice"),
        (["--learner", "pl"], "needs a fully visible model"),
        (ising, "needs either model.lattice"),
        (ising + ["--lattice", "3,3", "--edges", str(files / "ring.txt")], "not both"),
        (ising + ["--lattice", "3,3", "--states", "3"], "model.states is a setting of Potts"),
        (["--model", "potts", "--edges", str(files / "ring.txt")], "needs model.states"),
        (["--lattice", "3,3"], "model.lattice is a setting of Ising and Potts"),
        (["--learner", "pcd", "--fast-lr", "0.1"], "learner.fast_lr does not apply"),
        (["--learner", "cd", "--chains", "8"], "learner.num_chains does not apply"),
        (["--learner", "pmp", "-k", "2"], "learner.k does not apply"),
        (["-k", "often"], "positive integer or auto"),
        (["--learner", "fpcd", "--fast-decay", "1.5"], "fast_decay must be a number in [0, 1)"),
        (["--model", "ising", "--lattice", "8,8", "--values", "spin"], "needs a .npy or .npz"),
        (["--data", str(files / "potts.npy"), "--values", "categorical"], "does not fit"),
        (["--model", "dbn", "--layers", "64,8,4", "--learner", "cd"], "propagate"),
    ]
    for flags, message in cases:
        assert _code(["fit", "--out", str(tmp_path / "x"), *flags]) == 2, flags
        assert message in capsys.readouterr().err, flags
    bad = tmp_path / "bad.toml"
    for body, message in [('[learner]\nkind = "mh"\nproposal = 3\n', "learner.proposal"),
                          ("[learner]\nk = 1.5\n", "positive int or \"auto\""),
                          ("[learner]\nlearning_rate = true\n", "learning_rate"),
                          ("[model]\nkind = \"ising\"\nlattice = [3, 0]\n", "model.lattice"),
                          ("[model]\nkind = \"ising\"\nlattice = [3]\nfield = 1\n",
                           "model.field must be true or false")]:
        bad.write_text(body)
        assert main(["fit", "--config", str(bad), "--out", str(tmp_path / "x")]) == 2, body
        assert message in capsys.readouterr().err, body
    assert not (tmp_path / "x").exists()


def test_data_errors_exit_1(files, tmp_path, capsys):
    def fit(*flags):
        return main(["fit", "--out", str(tmp_path / "x"), "--quiet", *flags])

    ising = ["--model", "ising", "--data", str(files / "ising.npy")]
    assert fit(*ising, "--lattice", "4,4") == 1
    assert "has 16 sites but the data have 9 units" in capsys.readouterr().err
    assert fit("--model", "potts", "--data", str(files / "potts.npy"), "--states", "2",
               "--edges", str(files / "ring.txt")) == 1
    assert "state 2 but model.states = 2" in capsys.readouterr().err
    assert fit("--model", "ising", "--data", str(files / "potts.npy"), "--lattice", "5") == 1
    assert "values must be in {-1, 1}" in capsys.readouterr().err
    w = tmp_path / "w.npy"
    np.save(w, np.ones(7))
    assert fit(*ising, "--lattice", "3,3", "--weights", str(w)) == 1
    assert "7 weights for 32 training examples" in capsys.readouterr().err
    np.save(w, -np.ones(32))
    assert fit(*ising, "--lattice", "3,3", "--weights", str(w)) == 1
    assert "finite and non-negative" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_edge_lists_and_weights(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text(RING)
    np.testing.assert_array_equal(read_edge_list(str(p)),
                                  [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [0, 2]])
    for body, message in [("0 1\n1\n", "line 2: expected two integer"),
                          ("0 1 2\n", "line 1: expected two"), ("3 3\n", "self-loop"),
                          ("0 -1\n", "negative"), ("# nothing\n", "no edges")]:
        p.write_text(body)
        with pytest.raises(ValueError, match=message):
            read_edge_list(str(p))
    # weights of every example of a file that the loader splits are split with the examples
    x = (np.arange(50)[:, None] >> np.arange(6)) & 1  # row i holds the bits of i
    np.save(tmp_path / "x.npy", x)
    train, test = split(x)
    data = Dataset(train, test, None, "x")
    np.save(tmp_path / "w.npy", np.arange(50.0))  # weight i belongs to row i
    cfg = with_defaults({"data": {"source": str(tmp_path / "x.npy"),
                                  "weights": str(tmp_path / "w.npy")}})
    np.testing.assert_array_equal(load_weights(cfg, data), train @ (1 << np.arange(6)))
    np.savetxt(tmp_path / "w.txt", np.ones(len(train)))  # or one per training example
    cfg["data"]["weights"] = str(tmp_path / "w.txt")
    np.testing.assert_array_equal(load_weights(cfg, data), np.ones(len(train)))
