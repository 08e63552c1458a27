"""Running the Python blocks of the Markdown documentation."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python[ \t]*(?P<flags>[^\n]*)\n(?P<code>.*?)^```", re.M | re.S)


def python_blocks(path: Path) -> list[tuple[str, str]]:
    """``[(flags, code)]`` of every fenced Python block of a Markdown file; a block whose
    info string contains ``no-run`` is an illustration that is not executed."""
    return [(m["flags"].strip(), m["code"]) for m in BLOCK.finditer(path.read_text())]


def run_page(path: Path, namespace: dict | None = None) -> dict:
    """Execute a page's runnable blocks in order in one namespace; returns the namespace."""
    ns = {"__name__": f"docs_{path.stem}"} if namespace is None else namespace
    for i, (flags, code) in enumerate(python_blocks(path)):
        if "no-run" in flags:
            continue
        exec(compile(code, f"{path.relative_to(ROOT)}[block {i}]", "exec"), ns)  # noqa: S102
    return ns
