"""Every Python block of README.md and docs/ runs (a block whose info string says
``no-run`` is an illustration and is skipped; each page's blocks share one namespace) and uses
no deprecated API."""

import os

import pytest
from docs_code import ROOT, python_blocks, run_page

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
RUNNABLE = [p for p in PAGES if any("no-run" not in f for f, _ in python_blocks(p))]


# the pages show the current API: a deprecated name or argument used by a page is an error
@pytest.mark.filterwarnings("error::DeprecationWarning:docs_")
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pages that write files write them here
    os.environ.setdefault("MPLBACKEND", "Agg")
    run_page(page)


def test_every_page_with_python_is_covered():
    with_blocks = [p for p in PAGES if python_blocks(p)]
    assert set(with_blocks) == set(RUNNABLE) | {p for p in with_blocks
                                               if all("no-run" in f for f, _ in python_blocks(p))}
