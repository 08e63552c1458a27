"""The documentation site builds with --strict (every API reference resolves), and it renders
its maths offline: MathJax is served from the site itself, no page loads a remote script."""

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATHJAX = Path("javascripts") / "mathjax"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built once for this module's tests (``mkdocs build --strict``)."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = shutil.which("mkdocs") or f"{sys.executable} -m mkdocs"
    result = subprocess.run([*mkdocs.split(), "build", "--strict", "-q", "-d", str(out)],
                            cwd=ROOT, capture_output=True, text=True,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)
                                 + ":/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    return out


class Scripts(HTMLParser):
    """The ``src`` of every ``<script>`` of a page."""

    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        src = dict(attrs).get("src")
        if tag == "script" and src:
            self.srcs.append(src)


def scripts(page: Path) -> list[str]:
    parser = Scripts()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.srcs


def is_external(url: str) -> bool:
    return url.startswith("//") or bool(urlsplit(url).scheme)


@pytest.mark.slow
def test_docs_build_strict(site):
    assert (site / "api" / "learn" / "index.html").exists()


@pytest.mark.slow
def test_maths_is_served_from_the_site(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        for src in scripts(page):
            assert not is_external(src), f"{page.relative_to(site)} loads a remote script {src}"
            path = urlsplit(src).path  # relative to the page, or to the site root (404.html)
            target = site / path.lstrip("/") if path.startswith("/") else page.parent / path
            assert target.is_file(), f"{page.relative_to(site)}: script {src} is not in the site"
        assert not re.search(r"cdn\.jsdelivr|unpkg\.com|cdnjs|mathjax@", page.read_text("utf-8"))

    # MathJax and what it loads relative to itself: its configuration, the TeX input's
    # extensions and the CommonHTML fonts
    assert (site / "javascripts" / "mathjax.js").is_file()
    for asset in ("tex-mml-chtml.js", "input/tex/extensions/ams.js",
                  "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
                  "output/chtml/fonts/woff-v2/MathJax_Math-Italic.woff",
                  "output/chtml/fonts/woff-v2/MathJax_Zero.woff", "LICENSE"):
        assert (site / MATHJAX / asset).is_file(), asset

    # a page with maths has it marked for MathJax and loads MathJax from the site
    ais = site / "ais" / "index.html"
    assert 'class="arithmatex"' in ais.read_text("utf-8")
    assert "../javascripts/mathjax/tex-mml-chtml.js" in scripts(ais)
    # the hook's source is not published
    assert not (site / "hooks").exists()
