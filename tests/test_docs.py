"""The documentation site builds with --strict (every API reference resolves)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs") or f"{sys.executable} -m mkdocs"
    result = subprocess.run([*mkdocs.split(), "build", "--strict", "-q", "-d", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)
                                 + ":/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "api" / "learn" / "index.html").exists()
