"""Sphinx extension: serve the widget manager and require.js from the built book.

myst-nb makes every page with widget state load require.js and the ipywidgets HTML
manager (``embed-amd.js``) from a CDN, so the static widgets would not render
offline. This extension points those pages at copies served from
``_static/widgets`` instead, taken from two pinned npm packages:

- ``@jupyter-widgets/html-manager`` 1.0.15, built on the same widget packages
  (``@jupyter-widgets/base`` ^6.0.12, ``controls`` ^5.0.13, ``output`` ^6.0.12) as
  the JupyterLab widget manager that comes with ipywidgets 8.1.9 (jupyterlab_widgets
  3.0.17): ``dist/embed-amd.js`` and the Font Awesome fonts it refers to;
- ``requirejs`` 2.3.7: ``require.js``.

``python tools/offline_widgets.py install`` (run by the Makefile) fetches both with
``npm pack``, checks each tarball against the pinned sha512 and unpacks the files
into ``<venv>/share/ldcbook-offline-js``; the build copies them into the HTML output.

It also warns (and so fails a ``-W`` build) when a page would still load anything
from off the machine: a script, a stylesheet or an embedded image, video or frame
with an absolute URL, or a widget whose JavaScript module is not bundled in the
manager (the manager would fetch it from a CDN). Links are not loads: they stay.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: npm package -> (version, sha512 of its registry tarball, files kept from it).
PACKAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "requirejs": (
        "2.3.7",
        "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPV"
        "HJ0pyBkM1z+pDsw==",
        ("require.js",),
    ),
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABe"
        "Nz1yp47bCrJ3CQA==",
        ("dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf", "dist/*.eot",
         "dist/*.svg"),
    ),
}

#: Widget modules compiled into embed-amd.js; any other one is fetched from a CDN.
BUNDLED_MODULES = frozenset(
    {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
)

INSTALL_DIR = Path(sys.prefix) / "share" / "ldcbook-offline-js"
MARKER = INSTALL_DIR / ".installed"
TARGET = "widgets"  # under _static

#: Set-up script for the manager (font path; MathJax 3 for widget labels), copied as
#: _static/widgets/setup.js.
SETUP_JS = Path(__file__).with_name("offline_widgets_setup.js")

PAGE_JS = {
    f"{TARGET}/require.js": {},
    f"{TARGET}/setup.js": {},
    f"{TARGET}/embed-amd.js": {},
}

_LOADING_TAG = re.compile(
    r"<(?:img|script|iframe|source|video|audio|embed|object|track)\b[^>]*?"
    r"\s(?:src|data)\s*=\s*[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


# -- installing the pinned packages ---------------------------------------------------


def _pins() -> dict[str, str]:
    return {name: f"{version} {sha}" for name, (version, sha, _) in PACKAGES.items()}


def installed() -> bool:
    """Whether INSTALL_DIR holds exactly the pinned packages."""
    try:
        return json.loads(MARKER.read_text()) == _pins()
    except (OSError, ValueError):
        return False


def _sri_sha512(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def install() -> None:
    """Fetch the pinned tarballs with ``npm pack``, check them, unpack what is kept."""
    if installed():
        MARKER.touch()  # newer than this file, for make
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("offline_widgets: npm (Node.js) is needed to fetch the widgets")
    shutil.rmtree(INSTALL_DIR, ignore_errors=True)
    INSTALL_DIR.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, sha, keep) in PACKAGES.items():
            out = subprocess.run(
                [npm, "pack", f"{name}@{version}", "--json", "--ignore-scripts",
                 "--pack-destination", tmp],
                check=True, capture_output=True, text=True,
            ).stdout
            tarball = Path(tmp) / json.loads(out)[0]["filename"]
            if (got := _sri_sha512(tarball)) != sha:
                raise SystemExit(
                    f"offline_widgets: {name}@{version} is {got}, pinned {sha}"
                )
            with tarfile.open(tarball) as tar:
                for member in tar.getmembers():
                    rel = member.name.removeprefix("package/")
                    if member.isfile() and any(fnmatch.fnmatch(rel, p) for p in keep):
                        data = tar.extractfile(member).read()
                        (INSTALL_DIR / Path(rel).name).write_bytes(data)
    MARKER.write_text(json.dumps(_pins(), indent=1) + "\n")


# -- the Sphinx side ------------------------------------------------------------------


def _use_local(app: Sphinx, config) -> None:
    config.nb_ipywidgets_js = PAGE_JS


def _require_installed(app: Sphinx) -> None:
    if app.builder.format == "html" and not installed():
        raise ExtensionError(
            f"the pinned widget JavaScript is not in {INSTALL_DIR}: run "
            "`python tools/offline_widgets.py install` (make book and make build-check "
            "do it)"
        )


def _off_machine(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript"):
        return False
    local = ("localhost", "127.0.0.1", "::1")
    return bool(parts.netloc) and parts.hostname not in local


def _check_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree):
    """Warn about anything this page would load from off the machine."""
    where = {"location": pagename} if pagename in app.env.all_docs else {}
    assets = [*context.get("script_files", []), *context.get("css_files", [])]
    loads = [str(getattr(asset, "filename", None) or "") for asset in assets]
    loads += _LOADING_TAG.findall(context.get("body", ""))
    for url in dict.fromkeys(u for u in loads if _off_machine(u)):
        logger.warning(
            "%s.html loads %s from off the machine: serve it from the build instead",
            pagename, url, type="offline", subtype="url", **where,
        )
    for js in context.get("script_files", []):
        attributes = getattr(js, "attributes", {})
        if attributes.get("type") != _WIDGET_STATE:
            continue
        state = json.loads(attributes.get("body") or "{}").get("state", {})
        modules = {m["model_module"] for m in state.values()}
        modules |= {m["state"].get("_view_module") for m in state.values()} - {None}
        for module in sorted(modules - BUNDLED_MODULES):
            logger.warning(
                "%s.html: widget module %s is not bundled in the offline widget "
                "manager (only %s): it would be fetched from a CDN",
                pagename, module, ", ".join(sorted(BUNDLED_MODULES)),
                type="offline", subtype="widget", **where,
            )


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / TARGET
        target.mkdir(parents=True, exist_ok=True)
        for path in INSTALL_DIR.iterdir():
            if path.name != MARKER.name:
                shutil.copyfile(path, target / path.name)
        shutil.copyfile(SETUP_JS, target / "setup.js")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _use_local)
    app.connect("builder-inited", _require_installed)
    app.connect("html-page-context", _check_page, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python tools/offline_widgets.py install")
    install()
    print(f"widget JavaScript in {INSTALL_DIR}")
