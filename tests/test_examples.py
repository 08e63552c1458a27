"""The example scripts run end to end (with small settings)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("script,args,output", [
    ("rbm_digits.py", ["--epochs", "2"], "filters.png"),
    ("ising_phase_transition.py", ["--size", "8"], "ising.png"),
])
def test_example_runs(tmp_path, script, args, output):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args,
                             "--out", str(tmp_path)], capture_output=True, text=True,
                            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                           "MPLBACKEND": "Agg"}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / output).stat().st_size > 0
