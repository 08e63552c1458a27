"""The `pcdppl` command: demo, fit / sample / evaluate / diagnose, exit codes, config files,
Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pcdppl.cli import main


@pytest.mark.slow
def test_demo_writes_results(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["demo", "--out", str(out), "--epochs", "3", "--quiet"]) == 0
    for name in ("samples.png", "chains.png", "history.png", "params.npz", "history.csv",
                 "result.json"):
        assert (out / name).stat().st_size > 0, name
    result = json.loads((out / "result.json").read_text())
    assert -40 < result["test_log_likelihood"] < -15
    assert "exact log-likelihood" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--epochs", "0"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
    assert main([]) == 2


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse: --help and usage errors
        return int(exit_.code or 0)


@pytest.mark.parametrize("cmd", [[], ["demo"], ["fit"], ["sample"], ["evaluate"], ["diagnose"]])
def test_help(cmd, capsys):
    assert _exit_code(cmd + ["--help"]) == 0
    assert "usage: pcdppl" in capsys.readouterr().out


def test_fit_usage_errors_exit_2(tmp_path, capsys):
    assert _exit_code(["fit", "--no-such-flag"]) == 2
    assert _exit_code(["fit", "--epochs", "0"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nhiden = 3\n")
    assert main(["fit", "--config", str(bad)]) == 2
    assert "unknown setting model.hiden" in capsys.readouterr().err
    bad.write_text("[model\n")
    assert main(["fit", "--config", str(bad)]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert main(["fit", "--model", "dbn", "--out", str(tmp_path / "x")]) == 2


def test_runtime_errors_exit_1(tmp_path, capsys):
    assert main(["fit", "--data", str(tmp_path / "missing.npz"), "--out",
                 str(tmp_path / "r")]) == 1
    assert "missing.npz" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 1
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_sample_evaluate_diagnose(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    out = tmp_path / "run"
    cfg.write_text(f"""
out = "{out}"
seed = 1
[data]
source = "digits"
[model]
kind = "rbm"
hidden = 8
[learner]
num_chains = 50
batch_size = 20
learning_rate = 0.05
[fit]
epochs = 3
checkpoint_every = 2
""")
    assert main(["fit", "--config", str(cfg), "--quiet", "--epochs", "4"]) == 0
    files = set(os.listdir(out))
    assert {"config.json", "params.npz", "history.csv", "diagnostics.nc", "result.json",
            "checkpoints"} <= files
    assert json.load(open(out / "config.json"))["fit"]["epochs"] == 4  # the flag won
    assert sorted(os.listdir(out / "checkpoints"))[-1] == "ckpt-000004.npz"
    assert main(["sample", str(out), "--num-samples", "8", "--warmup", "10"]) == 0
    assert (out / "samples.npz").exists()
    assert main(["evaluate", str(out), "--split", "train", "test"]) == 0
    ev = json.load(open(out / "evaluation.json"))
    assert ev["test"]["method"] == "exact" and ev["test"]["log_likelihood"] < 0
    assert main(["diagnose", str(out), "--draws", "100"]) == 0
    d = json.load(open(out / "diagnostics.json"))
    assert d["ess_bulk"] > 0 and 0.9 < d["r_hat"] < 1.5


@pytest.mark.slow
def test_fit_and_evaluate_a_dbn_from_flags(tmp_path):
    # a separate test from the RBM pipeline above, so that xdist can run the two in parallel
    dbn = tmp_path / "dbn"
    assert main(["fit", "--model", "dbn", "--layers", "64,12,8", "--epochs", "2", "--quiet",
                 "--out", str(dbn), "--chains", "20"]) == 0
    assert main(["evaluate", str(dbn)]) == 0
    assert "log_likelihood_bound" in json.load(open(dbn / "evaluation.json"))["test"]
    # --resume on a finished DBN run loads every layer from its checkpoints: same parameters
    before = dict(np.load(dbn / "params.npz"))
    assert main(["fit", "--model", "dbn", "--layers", "64,12,8", "--epochs", "2", "--quiet",
                 "--out", str(dbn), "--chains", "20", "--resume", str(dbn / "checkpoints")]) == 0
    after = dict(np.load(dbn / "params.npz"))
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.slow
def test_ctrl_c_saves_and_exits_130(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pcdppl.cli", "fit", "--out", str(out), "--epochs", "100000",
           "--hidden", "8", "--checkpoint-every", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ck = out / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not (ck.exists() and os.listdir(ck)):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "saved to" in stdout and "--resume" in stdout
    last = sorted(p for p in os.listdir(ck) if p.endswith(".npz"))[-1]
    epoch = int(last[5:11])
    # resume in this process (the same entry point, `main`): a second interpreter would only
    # add its start-up; the run continues from the files the interrupted process wrote
    assert main(cmd[3:7] + [str(epoch + 2), "--hidden", "8", "--quiet", "--resume",
                            str(ck)]) == 0
    assert sorted(os.listdir(ck))[-1] == f"ckpt-{epoch + 2:06d}.npz"
