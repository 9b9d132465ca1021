"""Load the built book in headless Chromium with the network off, and check it renders.

Serves a built HTML folder on 127.0.0.1 and opens chapters in Debian's ``chromium``
(driven over the DevTools protocol on a pipe: standard library only), with every
other host blocked twice: host names do not resolve (``--host-resolver-rules``) and
any request that is not for the local server is failed before it leaves the browser.
For each page it checks that

- no request went to another host, and no local one failed (HTTP >= 400);
- no uncaught JavaScript error was thrown;
- MathJax typeset every math node (an ``mjx-container`` inside, no ``mjx-merror``);
- every image loaded (``naturalWidth > 0``);
- every saved widget view was rendered by the widget manager from the embedded
  widget state (sliders, dropdowns, and Output widgets with their saved output);

and saves screenshots (top of the page, first display equation, first figure, first
widget), report.json (with every request the page made) and Chromium's log in the
output folder. Exits 1 if a check fails, 2 if Chromium or the built book is missing.

    python tools/check_offline.py [HTML_DIR] [--out DIR] [--all | --pages PAGE ...]

For a network that is really off rather than blocked, run it in a network namespace
that has only the loopback interface (as root):

    unshare --net sh -c 'ip link set lo up && .venv/bin/python tools/check_offline.py'

``make offline-check`` runs it on the ``make build-check`` output.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HTML = (ROOT / "_build/check/_build/html", ROOT / "_build/html")
DEFAULT_PAGES = (
    "book/01_lethal_dose.html",
    "book/02_bijection.html",
    "book/06_dpa_optimal.html",
    "book/07_dpa_experiments.html",
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
)
WIDTH, HEIGHT = 1280, 1000
# Uncaught errors that do not come from serving the book offline. sphinx-thebe (pulled
# in by Jupyter Book's launch buttons) writes its `const THEBE_JS_URL = ...` settings
# script twice into every page; the second copy throws, the first one stands.
KNOWN_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)

# Runs in the page once it has loaded: waits for MathJax and the widget manager, then
# reports what rendered. Widget views: myst-nb writes one <script> per saved view, and
# the manager inserts the rendered view (a .widget-subarea) just before it.
PROBE = r"""
async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + 30000;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  const views = [...document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = s => {
    const el = s.previousElementSibling;
    return el && el.classList.contains('widget-subarea')
      && el.querySelector('.jupyter-widgets') ? el : null;
  };
  while (Date.now() < deadline && !views.every(rendered)) await sleep(200);
  const imgs = [...document.querySelectorAll('img')];
  for (const img of imgs) {
    img.loading = 'eager';
    try { await img.decode(); } catch (e) {}
  }
  const math = [...document.querySelectorAll('.math')];
  const roots = views.map(rendered).filter(Boolean);
  const within = sel => roots.flatMap(r => [...r.querySelectorAll(sel)]);
  const text = el => el.innerText.replace(/\s+/g, ' ').trim();
  let state = {};
  const stateTag = document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]');
  if (stateTag) state = JSON.parse(stateTag.textContent).state || {};
  const savedOutputs = Object.values(state).filter(
    m => m.model_name === 'OutputModel' && (m.state.outputs || []).length).length;
  return {
    mathjax: !!(window.MathJax && MathJax.startup),
    math: math.length,
    mathTypeset: math.filter(el => el.querySelector('mjx-container')).length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    mjxContainers: document.querySelectorAll('mjx-container').length,
    images: imgs.length,
    imagesBroken: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => i.getAttribute('src')),
    figures: document.querySelectorAll('article img[src*="_images/"]').length,
    widgetViews: views.length,
    widgetViewsRendered: roots.length,
    sliders: within('.widget-slider').map(el => text(el)),
    dropdowns: within('.widget-dropdown').map(el => {
      const s = el.querySelector('select');
      return text(el.querySelector('label') || el) + ': ' + (s ? s.value : '?');
    }),
    outputsSaved: savedOutputs,
    outputsFilled: within('.widget-output').filter(
      el => text(el) || el.querySelector('img')).length,
  };
}
"""


class Chromium:
    """A headless Chromium driven over the DevTools protocol on fds 3 and 4."""

    def __init__(self, executable: str, profile: str, log: Path):
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def child_fds() -> None:
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            pass_fds=(3, 4), preexec_fn=child_fds,
        )
        os.close(cmd_r)
        os.close(res_w)
        self._next_id = 0
        self._messages: queue.Queue = queue.Queue()
        self.handlers: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._res_r, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))
        self._messages.put(None)

    def post(self, method: str, params: dict | None = None, session: str | None = None):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        return self._next_id

    def pump(self, timeout: float) -> dict | None:
        """Handle one incoming message (events go to the handlers); None on timeout."""
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            return None
        if message is None:
            raise RuntimeError(f"Chromium exited; see {self.log_path}")
        if "method" in message:
            for handler in self.handlers:
                handler(message)
        return message

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        call_id = self.post(method, params, session)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pump(deadline - time.monotonic())
            if message and message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise TimeoutError(method)

    def wait_for(self, method: str, session: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pump(deadline - time.monotonic())
            if message and message.get("method") == method \
                    and message.get("sessionId") == session:
                return True
        return False

    def close(self) -> None:
        try:
            self.post("Browser.close")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve(directory: Path) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _screenshot(
    browser: Chromium, session: str, path: Path, selector: str | None
) -> bool:
    """Save the viewport (selector None) or the first element matching selector."""
    params: dict = {"format": "png"}
    if selector:
        rect = browser.call("Runtime.evaluate", {
            "expression": f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: 'center'}});
                const r = el.getBoundingClientRect();
                return {{x: r.left + scrollX, y: r.top + scrollY,
                         width: r.width, height: r.height}};
            }})()""",
            "returnByValue": True,
        }, session)["result"].get("value")
        if not rect or rect["width"] < 1 or rect["height"] < 1:
            return False
        pad = 12
        params["clip"] = {"x": max(rect["x"] - pad, 0), "y": max(rect["y"] - pad, 0),
                          "width": rect["width"] + 2 * pad,
                          "height": min(rect["height"] + 2 * pad, HEIGHT), "scale": 1}
    else:
        browser.call("Runtime.evaluate", {"expression": "scrollTo(0, 0)"}, session)
    data = browser.call("Page.captureScreenshot", params, session)["data"]
    path.write_bytes(base64.b64decode(data))
    return True


def check_page(browser: Chromium, base: str, page: str, out: Path) -> tuple[dict, list]:
    """Open one page; return (what rendered, failures)."""
    local = urlsplit(base).netloc
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    requests: dict[str, str] = {}
    blocked, failed, errors = [], [], []

    def on_event(message: dict) -> None:
        if message.get("sessionId") != session:
            return
        method, params = message["method"], message["params"]
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") \
                    and urlsplit(url).netloc != local:
                blocked.append(url)
                browser.post("Fetch.failRequest", {"requestId": params["requestId"],
                                                   "errorReason": "BlockedByClient"},
                             session)
            else:
                browser.post("Fetch.continueRequest",
                             {"requestId": params["requestId"]}, session)
        elif method == "Network.requestWillBeSent":
            requests[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400 and not params["response"]["url"].endswith("/favicon.ico"):
                failed.append(f"HTTP {status} {params['response']['url']}")
        elif method == "Network.loadingFailed":
            url = requests.get(params["requestId"], "?")
            if url not in blocked and not url.endswith("/favicon.ico"):
                failed.append(f"{params.get('errorText')} {url}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append((details.get("exception") or {}).get("description")
                          or details.get("text"))

    browser.handlers.append(on_event)
    try:
        for domain in ("Page", "Network", "Runtime"):
            browser.call(f"{domain}.enable", {}, session)
        browser.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)
        browser.call("Emulation.setDeviceMetricsOverride", {
            "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False,
        }, session)
        started = time.monotonic()
        browser.call("Page.navigate", {"url": f"{base}/{page}"}, session)
        if not browser.wait_for("Page.loadEventFired", session, 60):
            errors.append("the page did not finish loading in 60 s")
        result = browser.call("Runtime.evaluate", {
            "expression": f"({PROBE})()", "awaitPromise": True, "returnByValue": True,
        }, session, timeout=90)
        if "exceptionDetails" in result:
            raise RuntimeError(f"probe failed on {page}: {result['exceptionDetails']}")
        report = result["result"]["value"]
        report["seconds"] = round(time.monotonic() - started, 1)
        stem = Path(page).stem
        shots = {"top": None, "math": "div.math",
                 "figure": 'article img[src*="_images/"]', "widget": ".widget-subarea"}
        report["screenshots"] = [
            str(out / f"{stem}-{name}.png") for name, selector in shots.items()
            if _screenshot(browser, session, out / f"{stem}-{name}.png", selector)
        ]
        # let anything the scrolling triggered finish before judging the network log
        deadline = time.monotonic() + 1
        while browser.pump(max(deadline - time.monotonic(), 0)):
            pass
    finally:
        browser.handlers.remove(on_event)
        browser.call("Target.closeTarget", {"targetId": target})

    report["requests"] = sorted({urlsplit(u).path for u in requests.values()
                                 if urlsplit(u).netloc == local})
    report["blocked"] = blocked
    failures = [f"blocked request to another host: {u}" for u in blocked]
    failures += [f"failed request: {f}" for f in failed]
    failures += [f"uncaught JavaScript error: {e}" for e in errors
                 if not any(known in str(e) for known in KNOWN_ERRORS)]
    if report["math"] and not report["mathjax"]:
        failures.append("MathJax did not load")
    if report["mathTypeset"] < report["math"] or report["mathErrors"]:
        failures.append(f"math typeset {report['mathTypeset']} of {report['math']}, "
                        f"{report['mathErrors']} MathJax errors")
    if report["imagesBroken"]:
        failures.append(f"images not loaded: {report['imagesBroken']}")
    if report["widgetViewsRendered"] < report["widgetViews"]:
        failures.append(f"widget views rendered {report['widgetViewsRendered']} "
                        f"of {report['widgetViews']}")
    if report["outputsFilled"] < min(report["outputsSaved"], report["widgetViews"]):
        failures.append(f"Output widgets showing their saved output: "
                        f"{report['outputsFilled']} of {report['outputsSaved']}")
    return report, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", type=Path,
                        help="built HTML folder (default: the build-check output, "
                             "else _build/html)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build/offline-check",
                        help="folder for screenshots and report.json")
    parser.add_argument("--pages", nargs="+", default=list(DEFAULT_PAGES),
                        help="pages relative to HTML_DIR (default: %(default)s)")
    parser.add_argument("--all", action="store_true",
                        help="check every page under HTML_DIR/book instead")
    parser.add_argument("--chromium", default=shutil.which("chromium")
                        or shutil.which("chromium-browser") or "/usr/bin/chromium")
    args = parser.parse_args(argv)

    html = args.html or next((d for d in DEFAULT_HTML if d.is_dir()), DEFAULT_HTML[0])
    if not (html / "index.html").is_file():
        print(f"no built book in {html}: run make build-check (or make book)")
        return 2
    if not Path(args.chromium).is_file():
        print("chromium not found: apt-get install chromium (or pass --chromium PATH)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.all:
        args.pages = sorted(
            p.relative_to(html).as_posix() for p in html.glob("book/*.html")
        )

    reports, failed = {}, False
    with tempfile.TemporaryDirectory(prefix="ldcbook-chromium-") as profile:
        # Chromium first: it is started with fork + exec, best before other threads.
        browser = Chromium(args.chromium, profile, args.out / "chromium.log")
        server = _serve(html)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            for page in args.pages:
                report, failures = check_page(browser, base, page, args.out)
                reports[page] = {**report, "failures": failures}
                failed |= bool(failures)
                status = "FAIL" if failures else "ok  "
                print(f"{status} {page} ({report['seconds']} s): "
                      f"math {report['mathTypeset']}/{report['math']} typeset "
                      f"({report['mjxContainers']} mjx-container), "
                      f"images {report['images'] - len(report['imagesBroken'])}"
                      f"/{report['images']} loaded ({report['figures']} figures), "
                      f"widget views {report['widgetViewsRendered']}"
                      f"/{report['widgetViews']} rendered")
                for name in ("sliders", "dropdowns"):
                    if report[name]:
                        print(f"       {name}: {'; '.join(report[name])}")
                for failure in failures:
                    print(f"       {failure}")
        finally:
            browser.close()
            server.shutdown()
    (args.out / "report.json").write_text(json.dumps(reports, indent=1) + "\n")
    print(f"screenshots and report.json in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
