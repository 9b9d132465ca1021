"""Sphinx extension: serve MathJax 3 from the built book instead of a CDN.

The book then renders its mathematics offline too. MathJax comes from the
``django-static-mathjax`` package (pure static files, pinned in requirements.txt);
its ``es5`` bundle is copied to ``_static/mathjax`` when the HTML build finishes.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from sphinx.application import Sphinx

TARGET = "mathjax"


def _source() -> Path:
    return Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"


def _use_local(app: Sphinx, config) -> None:
    config.mathjax_path = f"{TARGET}/tex-mml-chtml.js"


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_source(), Path(app.outdir) / "_static" / TARGET, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _use_local)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
