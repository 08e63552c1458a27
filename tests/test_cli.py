"""The `pcdppl` command: the demo writes its outputs; usage errors exit with 2."""

import json

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
