"""Shared fixtures for the end-to-end tests: built assets, a real server, Debian's Chromium, CDP oracles.

* ``built_assets``  runs scripts/build_assets.py once per session (a quick no-op when up to date).
* ``server``        starts ``python -m backend`` (the test's own interpreter, i.e. the uv environment)
                    on a free port with ``HOST``/``PORT``/``SIM_PRICE_CHANGES_PER_SECOND`` set, waits
                    until ``/api/hierarchy`` answers, and stops it (SIGTERM to its own process group,
                    then SIGKILL) afterwards. Set ``E2E_BASE_URL`` to test an already running server.
* ``browser``       Chromium from ``/usr/bin/chromium`` (never downloaded); skips if it is missing.
* ``ui``            a fresh context and page with every console error, page error and failed
                    response recorded, plus helpers: ``boot()``, ``python()`` (Python in the page, with
                    ``page`` bound to the running Page), ``listener_counts()`` (CDP), ``heap()`` (JS heap
                    after a GC), ``axe()`` (axe-core's WCAG 2 A/AA violations), ``long_tasks()``,
                    ``screenshot()`` (saved under ``build/e2e/<test>/``), ``no_horizontal_overflow()``.
* ``phone_ui``      the same at 390 x 844 (a phone), ``make_ui`` for any viewport or media.
* ``big_server``    a second server whose simulator has 10,400 prematch and 1,000 live games with
                    2,400 price moves a second: a 3,000-game prematch football list, and a ~300-game
                    live one whose main odds move about 200 times a second.
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
from helpers import AXE_SCRIPT, DESKTOP, PHONE

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
  const created = [];  // WeakRefs: the tracking itself must not keep a closed source alive
  let total = 0;
  class TrackedEventSource extends Native {
    constructor(url, init) { super(url, init); created.push(new WeakRef(this)); total += 1; }
  }
  Object.defineProperty(window, "__e2eEventSources", { value: () => {
    for (let i = created.length - 1; i >= 0; i--) if (created[i].deref() === undefined) created.splice(i, 1);
    return created.map((ref) => ref.deref()).filter((es) => es !== undefined);
  } });
  Object.defineProperty(window, "__e2eEventSourcesMade", { value: () => total });
  window.EventSource = TrackedEventSource;
})();
"""
# Test instrumentation: every main-thread task over 50 ms (the Long Tasks API), as [start, duration].
LONG_TASKS = """
(() => {
  const tasks = [];
  Object.defineProperty(window, "__e2eLongTasks", { value: tasks });
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) tasks.push([entry.startTime, entry.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (err) {
    Object.defineProperty(window, "__e2eLongTasksUnsupported", { value: String(err) });
  }
})();
"""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ARTIFACTS = ROOT / "build" / "e2e"
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
# No CSS transition is running outside the tracker's drawing (whose ball glides from frame to frame).
TRANSITIONS_ENDED = """() => document.getAnimations().every((a) => !(a instanceof CSSTransition)
  || a.playState !== 'running' || a.effect?.target?.closest?.('.tk'))"""


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
    yield from _run_server(built_assets, {
        "SIM_PRICE_CHANGES_PER_SECOND": os.environ.get("E2E_SIM_PRICE_CHANGES_PER_SECOND", "100")})


def _run_server(built_assets: Path, settings: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **settings,
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
    test_name: str = "test"
    screenshots: list[Path] = field(default_factory=list)
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
        # Runtime.queryObjects hangs on a page holding Pyodide's heap, so the init script keeps a weak
        # reference to every EventSource the page creates (TRACK_EVENT_SOURCES); we ask about each
        # one still alive after the GC above (a closed one nobody holds is gone, with its listeners).
        cdp.send("Runtime.evaluate", {"expression": "window.__e2eLive = window.__e2eEventSources()"})
        total_sources = cdp.send("Runtime.evaluate", {"expression": "window.__e2eLive.length",
                                                      "returnByValue": True})["result"]["value"]
        es_listeners = 0
        open_sources = 0
        for index in range(total_sources):
            source = cdp.send("Runtime.evaluate", {"expression": f"window.__e2eLive[{index}]"})["result"]
            es_listeners += len(cdp.send("DOMDebugger.getEventListeners", {"objectId": source["objectId"]})["listeners"])
            state = cdp.send("Runtime.evaluate", {"expression": f"window.__e2eLive[{index}].readyState",
                                                  "returnByValue": True})["result"]["value"]
            if state != 2:  # 2 = CLOSED
                open_sources += 1
        cdp.send("Runtime.evaluate", {"expression": "window.__e2eLive = null"})
        return {"window": len(window_listeners), "eventsource": es_listeners, "open_sources": open_sources,
                "sources": total_sources}

    def heap(self) -> int:
        """Bytes of JavaScript heap in use after a full GC (Pyodide's wasm memory is not in it)."""
        self.cdp.send("HeapProfiler.collectGarbage")
        self.cdp.send("HeapProfiler.collectGarbage")
        return int(self.cdp.send("Runtime.getHeapUsage")["usedSize"])

    def dom_counters(self) -> dict[str, int]:
        self.cdp.send("HeapProfiler.collectGarbage")
        return self.cdp.send("Memory.getDOMCounters")

    def axe(self, context: str = "document") -> list[dict[str, Any]]:
        """axe-core's violations of the WCAG 2.0/2.1 A and AA rules on the page as it is now."""
        return self.page.evaluate(
            """async ([context, tags]) => {
                 const result = await axe.run(context === "document" ? document : document.querySelector(context),
                                              {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
                 return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || ""))}));
               }""", [context, AXE_TAGS])

    def long_tasks(self, since: float = 0.0) -> list[tuple[float, float]]:
        return [(round(s), round(d)) for s, d in self.page.evaluate("window.__e2eLongTasks") if s >= since]

    def now(self) -> float:
        return float(self.page.evaluate("performance.now()"))

    def screenshot(self, name: str) -> Path:
        """Save the page as it looks once its transitions (a drawer sliding, a chevron turning) have
        ended; the tracker's gliding ball and the flashes are left running."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(TRANSITIONS_ENDED, timeout=2000)
        except PlaywrightTimeout:
            pass  # something keeps moving: photograph it as it is
        path = ARTIFACTS / self.test_name / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        self.screenshots.append(path)
        return path

    def no_horizontal_overflow(self) -> dict[str, int]:
        """The document and every visible element stay within the viewport's width."""
        return self.page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll('body *')].filter((el) => {
                const r = el.getBoundingClientRect();
                return r.width > 0 && r.height > 0 && (r.right > width + 1 || r.left < -1) &&
                       getComputedStyle(el).visibility !== 'hidden' && !el.closest('.sr-only, [hidden]') &&
                       !el.closest('.sidebar:not(.open)');
            }).slice(0, 5).map((el) => el.className || el.tagName);
            return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.length, examples: wide};
        }""")

    def wait_python(self, expression: str, timeout_s: float = 30.0, what: str = "") -> Any:
        """Poll a Python expression in the page until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.python(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout_s} s waiting for {what or expression}")
            self.page.wait_for_timeout(100)

    def assert_no_errors(self) -> None:
        assert self.page_errors == [], f"page errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


def _open_ui(browser: Any, base_url: str, test_name: str, contexts: list[Any], viewport: dict[str, int],
             **options: Any) -> UI:
    context = browser.new_context(viewport=viewport, **options)
    contexts.append(context)
    context.add_init_script(TRACK_EVENT_SOURCES)
    context.add_init_script(PYTHON_EVAL)
    context.add_init_script(LONG_TASKS)
    if AXE_SCRIPT.is_file():  # axe-core from npm (scripts/build_assets.py); an init script is not subject to the CSP
        context.add_init_script(path=str(AXE_SCRIPT))
    page = context.new_page()
    recorder = UI(page=page, base_url=base_url, test_name=test_name)
    page.on("console", lambda msg: recorder.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: recorder.page_errors.append(str(exc)))
    page.on("response", lambda r: recorder.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return recorder


@pytest.fixture
def make_ui(browser: Any, server: str, request: Any) -> Iterator[Any]:
    """``make_ui(viewport=..., base_url=..., **context options)``: pages closed after the test."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, base_url: str | None = None, **options: Any) -> UI:
        return _open_ui(browser, base_url or server, request.node.name, contexts, viewport or DESKTOP, **options)

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def ui(make_ui: Any) -> UI:
    return make_ui(DESKTOP)


@pytest.fixture
def phone_ui(make_ui: Any) -> UI:
    return make_ui(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture(scope="session")
def big_server(built_assets: Path) -> Iterator[str]:
    """A server whose world has a 3,000-game prematch football list and ~300 live football games."""
    yield from _run_server(built_assets, {"SIM_PREMATCH_GAMES": "10400", "SIM_LIVE_GAMES": "1000",
                                          "SIM_PRICE_CHANGES_PER_SECOND": "2400"})
