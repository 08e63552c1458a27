"""MkDocs hook: serve MathJax from the site itself, so the maths renders offline.

MathJax 3 comes from the ``django-static-mathjax`` package of the ``docs`` extra (the MathJax
npm distribution as package data; it needs no Django at all). At build time the files the
pages use are added to the site under ``javascripts/mathjax/``: the combined TeX/MathML ->
CommonHTML component, its fonts, the TeX extensions it may autoload and the menu and
accessibility components it may load on demand. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

#: Where the MathJax files go in the site (``extra_javascript`` in mkdocs.yml points here).
DEST = "javascripts/mathjax"

#: The files of MathJax's ``es5`` folder that the site needs (glob patterns).
PATTERNS = (
    "tex-mml-chtml.js",            # the entry point named in mkdocs.yml
    "input/**/*",                  # TeX extensions loaded by \require or autoload, MathML entities
    "output/chtml/**/*",           # CommonHTML fonts (woff-v2) and font data
    "ui/**/*",                     # the context menu, loaded lazily
    "a11y/**/*",                   # accessibility components the menu can switch on
    "adaptors/**/*",
    "sre/mathmaps/base.json",      # speech rules (English) for the accessibility explorer
    "sre/mathmaps/en.json",
)


def mathjax_root() -> Path:
    """The ``es5`` folder of the installed MathJax distribution."""
    try:
        root = importlib.resources.files("mathjax") / "static" / "mathjax"
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / "es5" / "tex-mml-chtml.js").is_file():
        raise PluginError("MathJax is not installed: the documentation serves it from the "
                          "'django-static-mathjax' package; pip install '.[docs]'")
    return Path(str(root))


def on_files(files: Files, config) -> Files:
    root = mathjax_root()
    es5 = root / "es5"
    paths = sorted({p for pattern in PATTERNS for p in es5.glob(pattern) if p.is_file()})
    for path in paths:
        files.append(File.generated(config, f"{DEST}/{path.relative_to(es5).as_posix()}",
                                    abs_src_path=str(path)))
    files.append(File.generated(config, f"{DEST}/LICENSE", abs_src_path=str(root / "LICENSE")))
    return files
