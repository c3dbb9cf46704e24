"""Shared fixtures for the end-to-end tests: built assets, a real server, Debian's Chromium, CDP oracles.

* ``built_assets``  runs scripts/build_assets.py once per session (a quick no-op when up to date).
* ``server``        starts ``python -m backend`` (the test's own interpreter, i.e. the uv environment)
                    on a free port with ``HOST``/``PORT``/``SIM_PRICE_CHANGES_PER_SECOND`` set, waits
                    until ``/api/hierarchy`` answers, and stops it (SIGTERM to its own process group,
                    then SIGKILL) afterwards. Set ``E2E_BASE_URL`` to test an already running server.
* ``browser``       Chromium from ``/usr/bin/chromium`` (never downloaded); skips if it is missing.
* ``ui``            a fresh context and page with every console error, page error and failed
                    response recorded, plus helpers: ``boot()``, ``python()`` (Python in the page, with
                    ``page`` bound to the running Page), ``listener_counts()`` (CDP).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BOOT_TIMEOUT_MS = 90_000
# Test instrumentation injected before any page script: remember every EventSource the page opens so
# the CDP oracle can count their listeners (the app sees a subclass that behaves identically).
TRACK_EVENT_SOURCES = """
(() => {
  const Native = window.EventSource;
  const created = [];
  class TrackedEventSource extends Native {
    constructor(url, init) { super(url, init); created.push(this); }
  }
  Object.defineProperty(window, "__e2eEventSources", { value: created });
  window.EventSource = TrackedEventSource;
})();
"""
# Test instrumentation: evaluate a Python expression in the page's Pyodide with ``page`` bound to the
# running Page (the one boot.js keeps on window.__oddsui.page); returns it converted to plain JS data.
PYTHON_EVAL = """
(() => {
  Object.defineProperty(window, "__e2ePython", { value: (expression) => {
    const { pyodide, page } = window.__oddsui;
    const scope = pyodide.toPy({});
    try {
      scope.set("page", page);
      const value = pyodide.runPython(expression, { globals: scope });
      const out = value && value.toJs ? value.toJs({ dict_converter: Object.fromEntries }) : value;
      if (value && value.destroy) value.destroy();
      return out;
    } finally {
      scope.destroy();
    }
  } });
})();
"""
SERVER_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def built_assets() -> Path:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_assets.py")], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"asset build failed:\n{proc.stdout}\n{proc.stderr}")
    return ROOT / "build" / "static"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


@pytest.fixture(scope="session")
def server(built_assets: Path) -> Iterator[str]:
    external = os.environ.get("E2E_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SIM_PRICE_CHANGES_PER_SECOND": os.environ.get("E2E_SIM_PRICE_CHANGES_PER_SECOND", "100"),
        "STATIC_DIR": str(built_assets),
    }
    log = tempfile.NamedTemporaryFile(prefix="e2e-server-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        log.flush()
        return Path(log.name).read_text(errors="replace")[-6000:]

    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while _get_status(f"{base}/api/hierarchy") != 200:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode} before answering:\n{log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /api/hierarchy within {SERVER_START_TIMEOUT_S} s:\n{log_tail()}")
            time.sleep(0.2)
        yield base
    finally:
        _stop(proc)
        log.close()
        if os.environ.get("E2E_KEEP_SERVER_LOG"):
            print(f"server log: {log.name}")
        else:
            os.unlink(log.name)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's own process group, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); no browser is downloaded")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class UI:
    """A page on the app plus what it reported."""

    page: Any
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    _cdp: Any = None

    def boot(self) -> int:
        """Open the app and wait for Pyodide and our wheel to be running; returns boot ms."""
        self.page.goto(f"{self.base_url}/")
        self.page.wait_for_function("() => ['ready', 'error'].includes(document.documentElement.dataset.boot)",
                                    timeout=BOOT_TIMEOUT_MS)
        state = self.page.evaluate("document.documentElement.dataset.boot")
        if state != "ready":
            detail = self.page.text_content("#boot-error") or ""
            pytest.fail(f"boot failed: {detail.strip()}\nconsole errors: {self.console_errors}")
        return int(self.page.evaluate("document.documentElement.dataset.bootMs"))

    def python(self, expression: str) -> Any:
        """Evaluate a Python expression in the page's Pyodide, with ``page`` bound to the running Page
        (boot.js keeps it on ``window.__oddsui.page``); returns it converted to JSON-able data."""
        return self.page.evaluate("(expr) => window.__e2ePython(expr)", expression)

    @property
    def cdp(self) -> Any:
        if self._cdp is None:
            self._cdp = self.page.context.new_cdp_session(self.page)
        return self._cdp

    def listener_counts(self) -> dict[str, int]:
        """The browser's own listener counts (DOMDebugger): on window, and on all EventSources."""
        cdp = self.cdp
        cdp.send("HeapProfiler.collectGarbage")
        window_id = cdp.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
        window_listeners = cdp.send("DOMDebugger.getEventListeners",
                                    {"objectId": window_id, "depth": -1, "pierce": True})["listeners"]
        # Runtime.queryObjects hangs on a page holding Pyodide's heap, so the init script keeps every
        # EventSource the page creates (TRACK_EVENT_SOURCES) and we ask about each one.
        total_sources = cdp.send("Runtime.evaluate", {"expression": "window.__e2eEventSources.length",
                                                      "returnByValue": True})["result"]["value"]
        es_listeners = 0
        open_sources = 0
        for index in range(total_sources):
            source = cdp.send("Runtime.evaluate", {"expression": f"window.__e2eEventSources[{index}]"})["result"]
            es_listeners += len(cdp.send("DOMDebugger.getEventListeners", {"objectId": source["objectId"]})["listeners"])
            state = cdp.send("Runtime.evaluate", {"expression": f"window.__e2eEventSources[{index}].readyState",
                                                  "returnByValue": True})["result"]["value"]
            if state != 2:  # 2 = CLOSED
                open_sources += 1
        return {"window": len(window_listeners), "eventsource": es_listeners, "open_sources": open_sources,
                "sources": total_sources}

    def assert_no_errors(self) -> None:
        assert self.page_errors == [], f"page errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def ui(browser: Any, server: str) -> Iterator[UI]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(TRACK_EVENT_SOURCES)
    context.add_init_script(PYTHON_EVAL)
    page = context.new_page()
    recorder = UI(page=page, base_url=server)
    page.on("console", lambda msg: recorder.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: recorder.page_errors.append(str(exc)))
    page.on("response", lambda r: recorder.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        yield recorder
    finally:
        context.close()
