"""Recording fakes of the browser ports (oddsui.ports) for CPython tests.

``FakePlatform`` has a manual clock: timers and animation frames run only when a test calls
``advance()`` / ``run_frame()``. Proxies are strict: calling a destroyed proxy or destroying one twice
raises, so lifetime bugs fail the test instead of passing silently. ``FakeEventSource`` records every
listener added and removed. ``FakeWorker`` records what the page posts to the parse worker and answers
with the real worker/parse.py when a test says so. ``FakeDom`` is a small node tree with the operations
of ``DomPort``.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import types
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from oddsui.ports import WorkerReply, opens_elsewhere

ROOT = Path(__file__).resolve().parents[2]


class ProxyError(AssertionError):
    pass


class FakeProxy:
    def __init__(self, platform: FakePlatform, fn: Callable[..., Any], once: bool) -> None:
        self.platform = platform
        self.fn = fn
        self.once = once
        self.destroyed = False
        self.calls = 0
        platform.proxies.append(self)

    def __call__(self, *args: Any) -> Any:
        if self.destroyed:
            raise ProxyError("called a destroyed proxy")
        self.calls += 1
        try:
            return self.fn(*args)
        finally:
            if self.once and not self.destroyed:
                self.destroyed = True

    def destroy(self) -> None:
        if self.destroyed:
            raise ProxyError("proxy destroyed twice")
        self.destroyed = True


class FakeEventTarget:
    def __init__(self) -> None:
        self.listeners: dict[str, list[Any]] = {}
        self.added = 0
        self.removed = 0

    def addEventListener(self, event_type: str, listener: Any) -> None:
        self.listeners.setdefault(event_type, []).append(listener)
        self.added += 1

    def removeEventListener(self, event_type: str, listener: Any) -> None:
        bucket = self.listeners.get(event_type, [])
        if listener in bucket:
            bucket.remove(listener)
            self.removed += 1

    def listener_count(self, event_type: str | None = None) -> int:
        if event_type is not None:
            return len(self.listeners.get(event_type, []))
        return sum(len(v) for v in self.listeners.values())

    def dispatch(self, event_type: str, event: Any) -> None:
        for listener in list(self.listeners.get(event_type, [])):
            listener(event)


class FakeEventSource(FakeEventTarget):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.closed = False
        self.close_calls = 0
        self.readyState = 0  # CONNECTING

    def close(self) -> None:
        self.close_calls += 1
        self.closed = True
        self.readyState = 2

    # what the browser would do
    def emit(self, event_type: str, data: str) -> None:
        self.dispatch(event_type, SimpleNamespace(data=data, type=event_type))

    def fail(self) -> None:
        """The browser gives up (HTTP error, wrong type): readyState CLOSED, then an error Event."""
        self.readyState = 2
        self.dispatch("error", SimpleNamespace(type="error"))

    def drop(self) -> None:
        """A dropped connection the browser re-opens itself: readyState CONNECTING, an error Event."""
        self.readyState = 0
        self.dispatch("error", SimpleNamespace(type="error"))

    def server_error(self, data: str) -> None:
        """A server-sent ``event: error`` (a MessageEvent with data)."""
        self.dispatch("error", SimpleNamespace(data=data, type="error"))

    def opened(self) -> None:
        self.readyState = 1
        self.dispatch("open", SimpleNamespace(type="open"))


def load_worker_parse() -> Any:
    """worker/parse.py, imported under CPython as the worker imports it (module ``oddsworker_parse``)."""
    name = "oddsworker_parse"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "worker" / "parse.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class FakeWorker(FakeEventTarget):
    """The parse worker as the page sees it. Answers only when the test calls ``ready``/``answer``."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.inits: list[Any] = []
        self.requests: dict[int, str] = {}  # id -> text, unanswered
        self.posted_ids: list[int] = []
        self.terminated = 0

    def terminate(self) -> None:
        self.terminated += 1

    # what the worker would do
    def _send(self, data: dict[str, Any]) -> None:
        self.dispatch("message", SimpleNamespace(type="message", data=data))

    def ready(self, boot_ms: float = 1500.0) -> None:
        self._send({"type": "ready", "bootMs": boot_ms})

    def fatal(self, error: str = "boot failed: no msgspec") -> None:
        self._send({"type": "fatal", "error": error})

    def crash(self, message: str = "Uncaught RangeError") -> None:
        self.dispatch("error", SimpleNamespace(type="error", message=message))

    def answer(self, request_id: int | None = None) -> int:
        """Answer one request (the oldest by default) with worker/parse.py; returns its id."""
        if request_id is None:
            request_id = min(self.requests)
        text = self.requests.pop(request_id)
        result = load_worker_parse().parse_or_error(text)
        if isinstance(result, str):
            self._send({"id": request_id, "error": result, "fault": "payload", "ms": 1.0})
        elif result is None:
            self._send({"id": request_id, "error": "not representable", "fault": "unsupported", "ms": 1.0})
        else:
            self._send({"id": request_id, "data": result, "ms": 1.0})
        return request_id

    def answer_internal_error(self, request_id: int) -> None:
        self.requests.pop(request_id)
        self._send({"id": request_id, "error": "RecursionError", "fault": "internal", "ms": 1.0})


class Deferred:
    """An answer a test releases later: a task awaiting it suspends until ``resolve``/``fail``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: FakeTask | None = None

    def __await__(self):
        while not self.done:
            yield self
        if self.error is not None:
            raise self.error
        return self.value

    def resolve(self, value: Any) -> None:
        self.done, self.value = True, value
        if self.task is not None and not self.task.done():
            self.task.step()

    def fail(self, error: BaseException) -> None:
        self.done, self.error = True, error
        if self.task is not None and not self.task.done():
            self.task.step()


class FakeTask:
    def __init__(self, coro: Any) -> None:
        self._callbacks: list[Callable[[Any], None]] = []
        self._cancelled = False
        self._exception: BaseException | None = None
        self._done = False
        self.coro = coro

    def step(self) -> None:
        try:
            waiting = self.coro.send(None)
            if isinstance(waiting, Deferred):
                waiting.task = self
        except StopIteration:
            self._finish()
        except BaseException as exc:
            self._exception = exc
            self._finish()

    def _finish(self) -> None:
        self._done = True
        for cb in self._callbacks:
            cb(self)

    def cancel(self) -> bool:
        if self._done:
            return False
        self._cancelled = True
        self.coro.close()
        self._finish()
        return True

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._done

    def exception(self) -> BaseException | None:
        return self._exception

    def add_done_callback(self, cb: Callable[[Any], None]) -> None:
        if self._done:
            cb(self)
        else:
            self._callbacks.append(cb)


class FakePlatform:
    def __init__(self, random_value: float = 0.5) -> None:
        self.now = 0.0
        self.random_value = random_value
        self.proxies: list[FakeProxy] = []
        self.timers: dict[int, tuple[float, int, Any, float | None]] = {}
        self.frames: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self.event_sources: list[FakeEventSource] = []
        self.errors: list[tuple[BaseException, str]] = []
        self.responses: dict[str, tuple[int, str]] = {}
        self.fetches: list[str] = []
        self.tasks: list[FakeTask] = []
        self.utc_offset = 0
        self.raise_errors = False
        self.workers: list[FakeWorker] = []
        self.text_reads = 0  # event texts turned into Python strings (the worker path must not)
        self.fail_open_worker = False
        self.wall_base_ms = 1_796_160_000_000.0  # 2026-12-01 (UTC); wall_ms() moves with the fake clock
        self.probe_answers: dict[str, tuple[int, float | None]] = {}  # url prefix -> (status, Retry-After)
        self.probes: list[str] = []
        self.hold_prefixes: list[str] = []  # fetches of these URLs wait until the test resolves them
        self.held: list[Deferred] = []
        self.path = "/"  # the address bar; push_url appends to history, back() pops it
        self.history: list[str] = ["/"]

    # proxies
    def create_proxy(self, fn: Callable[..., Any]) -> FakeProxy:
        return FakeProxy(self, fn, once=False)

    def create_once_callable(self, fn: Callable[..., Any]) -> FakeProxy:
        return FakeProxy(self, fn, once=True)

    def live_proxies(self) -> int:
        return sum(1 for p in self.proxies if not p.destroyed)

    # timers
    def set_timeout(self, callback: Any, delay_ms: float) -> int:
        timer_id = next(self._ids)
        self.timers[timer_id] = (self.now + max(0.0, delay_ms), next(self._seq), callback, None)
        return timer_id

    def clear_timeout(self, timer_id: Any) -> None:
        self.timers.pop(timer_id, None)

    def set_interval(self, callback: Any, delay_ms: float) -> int:
        timer_id = next(self._ids)
        self.timers[timer_id] = (self.now + delay_ms, next(self._seq), callback, float(delay_ms))
        return timer_id

    def clear_interval(self, timer_id: Any) -> None:
        self.timers.pop(timer_id, None)

    def request_animation_frame(self, callback: Any) -> int:
        frame_id = next(self._ids)
        self.frames[frame_id] = callback
        return frame_id

    def cancel_animation_frame(self, frame_id: Any) -> None:
        self.frames.pop(frame_id, None)

    def advance(self, ms: float) -> None:
        """Move the clock, firing due timers in order (including ones they schedule)."""
        end = self.now + ms
        while True:
            due = [(t[0], t[1], tid) for tid, t in self.timers.items() if t[0] <= end]
            if not due:
                break
            when, _seq, tid = min(due)
            self.now = max(self.now, when)
            when, seq, callback, interval = self.timers.pop(tid)
            if interval is not None:
                self.timers[tid] = (when + max(interval, 1.0), next(self._seq), callback, interval)
            callback()
        self.now = end

    def run_frame(self) -> int:
        """Run the animation frame callbacks pending now; returns how many ran."""
        frames, self.frames = self.frames, {}
        for callback in frames.values():
            callback(self.now)
        return len(frames)

    def now_ms(self) -> float:
        return self.now

    def random(self) -> float:
        return self.random_value

    # network
    def open_event_source(self, url: str) -> FakeEventSource:
        source = FakeEventSource(url)
        self.event_sources.append(source)
        return source

    def open_sources(self) -> list[FakeEventSource]:
        return [s for s in self.event_sources if not s.closed]

    def total_es_listeners(self) -> int:
        return sum(s.listener_count() for s in self.event_sources)

    async def fetch_text(self, url: str) -> tuple[int, str]:
        self.fetches.append(url)
        if any(url.startswith(prefix) for prefix in self.hold_prefixes):
            deferred = Deferred(url)
            self.held.append(deferred)
            return await deferred
        if url not in self.responses:
            raise OSError(f"network error fetching {url}")
        return self.responses[url]

    async def fetch_payload(self, url: str) -> tuple[int, Any]:
        status, text = await self.fetch_text(url)
        return status, SimpleNamespace(data=text)

    async def probe(self, url: str) -> tuple[int, float | None]:
        self.probes.append(url)
        for prefix, answer in self.probe_answers.items():
            if url.startswith(prefix):
                return answer
        return 200, None

    def wall_ms(self) -> float:
        return self.wall_base_ms + self.now

    # message texts and the parse worker
    def text_units(self, event: Any) -> int:
        data = getattr(event, "data", None)
        return len(data.encode("utf-16-le", "surrogatepass")) // 2 if isinstance(data, str) else -1

    def text_utf8_size(self, event: Any) -> int:
        data = getattr(event, "data", None)
        return len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else 0

    def event_text(self, event: Any) -> str:
        self.text_reads += 1
        data = getattr(event, "data", None)
        return "" if data is None else str(data)

    def open_worker(self, url: str) -> FakeWorker:
        if self.fail_open_worker:
            raise RuntimeError("SecurityError: cannot create worker")
        worker = FakeWorker(url)
        self.workers.append(worker)
        return worker

    def post_to_worker(self, worker: FakeWorker, message: Any) -> None:
        assert message.get("type") == "init", message
        worker.inits.append(message)

    def post_event_text(self, worker: FakeWorker, request_id: int, event: Any) -> None:
        assert worker.terminated == 0, "posted to a terminated worker"
        assert request_id not in worker.requests and request_id not in worker.posted_ids
        worker.requests[request_id] = event.data
        worker.posted_ids.append(request_id)

    def read_worker_message(self, event: Any) -> WorkerReply:
        d = event.data
        return WorkerReply(type=d.get("type"), id=d.get("id"), data=d.get("data"), error=d.get("error"),
                           fault=d.get("fault"), ms=d.get("ms"), boot_ms=d.get("bootMs"))

    def spawn(self, coro: Any) -> FakeTask:
        task = FakeTask(coro)
        self.tasks.append(task)
        task.step()
        return task

    def utc_offset_minutes(self, epoch_s: float) -> int:
        return self.utc_offset

    def location_path(self) -> str:
        return self.path

    def push_url(self, url: str) -> None:
        self.history.append(url)
        self.path = url

    def back(self, window: FakeEventTarget) -> None:
        """The browser's Back button: the previous entry's path, then ``popstate`` on the window."""
        self.history.pop()
        self.path = self.history[-1]
        window.dispatch("popstate", types.SimpleNamespace(type="popstate", state=None))

    def report_error(self, exc: BaseException, context: str) -> None:
        self.errors.append((exc, context))
        if self.raise_errors:
            raise exc


# ------------------------------------------------------------------------------------------------
# DOM


class FakeNode(FakeEventTarget):
    def __init__(self, tag: str, cls: str = "", text: str | None = None,
                 attrs: dict[str, str] | None = None, node_id: str | None = None) -> None:
        super().__init__()
        self.tag = tag
        self.classes = set(cls.split()) if cls else set()
        self.attrs: dict[str, str] = dict(attrs or {})
        self._text = text or ""
        self.children: list[FakeNode] = []
        self.parent: FakeNode | None = None
        self.hidden = False
        self.style: dict[str, str] = {}
        self.value = ""
        self.rect: tuple[float, float] = (0.0, 0.0)  # (top, height) a test may set: measure()
        self.scroll: tuple[float, float, float] = (0.0, 0.0, 100_000.0)  # (top, scrollTop, clientHeight)
        if node_id:
            self.attrs["id"] = node_id

    def __repr__(self) -> str:
        return f"<{self.tag} {sorted(self.classes)} {self.attrs}>"

    @property
    def text(self) -> str:
        return self._text + "".join(child.text for child in self.children)

    def own_text(self) -> str:
        return self._text

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, cls: str | None = None, attr: str | None = None) -> list[FakeNode]:
        out = []
        for node in self.iter():
            if cls is not None and cls not in node.classes:
                continue
            if attr is not None and attr not in node.attrs:
                continue
            out.append(node)
        return out

    def find(self, cls: str | None = None, attr: str | None = None) -> FakeNode:
        found = self.find_all(cls, attr)
        assert found, f"no node with class={cls} attr={attr}"
        return found[0]

    def detach(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None

    def closest(self, attr: str) -> FakeNode | None:
        node: FakeNode | None = self
        while node is not None:
            if attr in node.attrs:
                return node
            node = node.parent
        return None


class FakeDom:
    """DomPort over FakeNodes; ``ops`` counts every write."""

    adopting = False

    PAGE_IDS = (
        "sport-list", "sport-empty", "sport-search", "games", "games-empty", "toasts", "content-title",
        "content-sub", "conn-status", "conn-text", "mode-tabs", "tab-live", "tab-prematch", "count-live",
        "count-prematch", "tab-results", "menu-btn", "refresh-btn", "scrape-btn", "health-btn", "drawer-overlay", "sidebar",
        "content", "mode-panel", "content-updated", "results-dates", "welcome", "results", "loading",
        "loading-text", "details", "details-title", "details-follow", "details-close", "details-body",
        "details-head", "details-tracker", "details-live", "details-prematch", "details-tabs", "details-markets",
        "details-loading", "bottom-nav", "nav-sports", "nav-live", "nav-refresh", "health-modal",
        "health-backdrop", "health-dialog", "health-title", "health-updated", "health-close", "health-body",
        "sr-announce", "topbar", "layout",
    )

    # How index.html nests the page's nodes (delegated listeners see events from inside their container).
    PAGE_PARENTS = {
        **{name: "topbar" for name in ("menu-btn", "mode-tabs", "refresh-btn", "scrape-btn", "health-btn", "conn-status")},
        "conn-text": "conn-status", "tab-live": "mode-tabs", "tab-prematch": "mode-tabs", "tab-results": "mode-tabs",
        "count-live": "tab-live", "count-prematch": "tab-prematch",
        **{name: "layout" for name in ("drawer-overlay", "sidebar", "content", "details")},
        **{name: "sidebar" for name in ("sport-search", "sport-list", "sport-empty")},
        "mode-panel": "content",
        **{name: "mode-panel" for name in ("content-title", "content-sub", "content-updated", "results-dates",
                                           "welcome", "games", "results", "games-empty", "loading")},
        "loading-text": "loading",
        **{name: "details" for name in ("details-title", "details-follow", "details-close", "details-body")},
        **{name: "details-body" for name in ("details-head", "details-tracker", "details-live", "details-prematch",
                                             "details-tabs", "details-markets", "details-loading")},
        **{name: "bottom-nav" for name in ("nav-sports", "nav-live", "nav-refresh")},
        "health-backdrop": "health-modal", "health-dialog": "health-modal",
        **{name: "health-dialog" for name in ("health-title", "health-updated", "health-close", "health-body")},
    }

    def __init__(self) -> None:
        self.ops: Counter = Counter()
        self.root = FakeNode("body")
        self.nodes_by_id: dict[str, FakeNode] = {}
        for node_id in self.PAGE_IDS:
            self.nodes_by_id[node_id] = FakeNode("div", node_id=node_id)
        for node_id in self.PAGE_IDS:
            node = self.nodes_by_id[node_id]
            parent = self.nodes_by_id.get(self.PAGE_PARENTS.get(node_id, ""), self.root)
            parent.children.append(node)
            node.parent = parent
        self.nodes_by_id["tab-live"].attrs["data-mode"] = "live"
        self.nodes_by_id["tab-prematch"].attrs["data-mode"] = "prematch"
        self.nodes_by_id["tab-results"].attrs["data-mode"] = "results"
        for node_id in ("refresh-btn", "nav-refresh"):
            self.nodes_by_id[node_id].attrs["data-action"] = "refresh"
        self.nodes_by_id["health-btn"].attrs["data-action"] = "health"
        self.nodes_by_id["scrape-btn"].attrs["data-action"] = "scrape"
        self.nodes_by_id["nav-sports"].attrs["data-action"] = "drawer"
        self.nodes_by_id["menu-btn"].attrs["data-action"] = "drawer"
        self.nodes_by_id["nav-live"].attrs["data-action"] = "live"
        self.nodes_by_id["details-close"].attrs["data-details-action"] = "close"
        self.nodes_by_id["details-follow"].attrs["data-details-action"] = "follow"
        self.nodes_by_id["health-close"].attrs["data-modal-action"] = "close"
        self.nodes_by_id["health-backdrop"].attrs["data-modal-action"] = "close"
        for node_id in ("sport-empty", "details", "health-modal", "drawer-overlay", "results", "loading",
                        "results-dates", "details-tracker", "details-prematch"):
            self.nodes_by_id[node_id].hidden = True
        self.focused: FakeNode | None = None
        self.measure_by_class: dict[str, tuple[float, float]] = {}  # (top, height) of nodes with that class

    def writes(self) -> int:
        return sum(v for k, v in self.ops.items() if k != "by_id")

    def by_id(self, element_id: str) -> FakeNode:
        self.ops["by_id"] += 1
        return self.nodes_by_id[element_id]

    def element(self, tag: str, cls: str = "", text: str | None = None,
                attrs: dict[str, str] | None = None) -> FakeNode:
        self.ops["element"] += 1
        return FakeNode(tag, cls, text, attrs)

    def fragment(self, html: str) -> list[FakeNode]:
        self.ops["fragment"] += 1
        parser = _FragmentParser()
        parser.feed(html)
        parser.close()
        assert not parser.stack, f"unclosed tags in {html[:200]!r}"
        for node in parser.roots:
            node.parent = None
        return parser.roots

    def find(self, node: FakeNode, selector: str) -> FakeNode | None:
        self.ops["find"] += 1
        match = re.fullmatch(r'\[([\w-]+)="([^"]*)"\]', selector)
        assert match, f"FakeDom.find supports [attr=\"value\"] only, got {selector}"
        name, value = match.groups()
        for candidate in node.iter():
            if candidate is not node and candidate.attrs.get(name) == value:
                return candidate
        return None

    def append(self, parent: FakeNode, child: FakeNode) -> None:
        self.insert_before(parent, child, None)
        self.ops["insert"] -= 1
        self.ops["append"] += 1

    def insert_before(self, parent: FakeNode, child: FakeNode, ref: FakeNode | None) -> None:
        self.ops["insert"] += 1
        assert child is not parent
        child.detach()
        if ref is None:
            parent.children.append(child)
        else:
            assert ref.parent is parent, "insertBefore: ref is not a child of parent"
            parent.children.insert(parent.children.index(ref), child)
        child.parent = parent

    def remove(self, node: FakeNode) -> None:
        self.ops["remove"] += 1
        node.detach()

    def set_text(self, node: FakeNode, text: str) -> None:
        self.ops["text"] += 1
        node._text = text
        for child in list(node.children):
            child.detach()

    def set_attr(self, node: FakeNode, name: str, value: str) -> None:
        self.ops["attr"] += 1
        node.attrs[name] = value

    def remove_attr(self, node: FakeNode, name: str) -> None:
        self.ops["attr"] += 1
        node.attrs.pop(name, None)

    def toggle_class(self, node: FakeNode, cls: str, on: bool) -> None:
        self.ops["class"] += 1
        if on:
            node.classes.add(cls)
        else:
            node.classes.discard(cls)

    def set_hidden(self, node: FakeNode, hidden: bool) -> None:
        self.ops["hidden"] += 1
        node.hidden = bool(hidden)

    def set_style(self, node: FakeNode, prop: str, value: str) -> None:
        self.ops["style"] += 1
        if value:
            node.style[prop] = value
        else:
            node.style.pop(prop, None)

    def closest_attr(self, event: Any, selector: str, attr: str) -> str | None:
        target = getattr(event, "target", None)
        if target is None:
            return None
        found = target.closest(attr)
        return None if found is None else found.attrs.get(attr)

    def event_value(self, event: Any) -> str:
        return str(getattr(event.target, "value", ""))

    def event_key(self, event: Any) -> str:
        return str(getattr(event, "key", "") or "")

    def event_shift(self, event: Any) -> bool:
        return bool(getattr(event, "shiftKey", False))

    def opens_elsewhere(self, event: Any) -> bool:
        return opens_elsewhere(event)

    def prevent_default(self, event: Any) -> None:
        event.default_prevented = True

    def focus(self, node: FakeNode) -> None:
        self.ops["focus"] += 1
        self.focused = node

    def active_element(self) -> FakeNode | None:
        if self.focused is not None and not self.is_connected(self.focused):
            return None
        return self.focused

    def contains(self, ancestor: FakeNode, node: FakeNode | None) -> bool:
        while node is not None:
            if node is ancestor:
                return True
            node = node.parent
        return False

    def is_connected(self, node: FakeNode) -> bool:
        return self.contains(self.root, node)

    def measure(self, node: FakeNode) -> tuple[float, float]:
        for cls, rect in self.measure_by_class.items():
            if cls in node.classes and node.rect == (0.0, 0.0):
                return rect
        return node.rect

    def scroll_box(self, node: FakeNode) -> tuple[float, float, float]:
        return node.scroll

    def set_scroll_top(self, node: FakeNode, value: float) -> None:
        top, _old, height = node.scroll
        node.scroll = (top, float(value), height)


VOID_TAGS = {"br", "img", "input", "hr", "meta", "link"}


class _FragmentParser(HTMLParser):
    """Builds FakeNodes from the HTML the views generate (checks it is well formed)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.roots: list[FakeNode] = []
        self.stack: list[FakeNode] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: ("" if value is None else value) for name, value in attrs}
        node = FakeNode(tag, values.pop("class", ""), None, {})
        if "hidden" in values:
            values.pop("hidden")
            node.hidden = True
        style = values.pop("style", "")
        for decl in filter(None, (d.strip() for d in style.split(";"))):
            prop, _, value = decl.partition(":")
            node.style[prop.strip()] = value.strip()
        node.attrs.update(values)
        if self.stack:
            node.parent = self.stack[-1]
            self.stack[-1].children.append(node)
        else:
            self.roots.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1].tag == tag, f"mismatched </{tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        assert self.stack, f"text outside any element: {data!r}"
        node = self.stack[-1]
        if node.children:
            raise AssertionError("mixed text and element content is not generated by the views")
        node._text += data


def click(node: FakeNode, container: FakeNode, **modifiers: Any) -> SimpleNamespace:
    """Dispatch a click on ``container``'s listeners with ``node`` as the target (delegation);
    ``modifiers``: ``ctrlKey=True``, ``button=1`` and the like. Returns the event."""
    event = SimpleNamespace(target=node, type="click", default_prevented=False, **modifiers)
    container.dispatch("click", event)
    return event


def accessible_name(node: FakeNode) -> str:
    """What a screen reader calls ``node`` (simplified accessible-name computation): its
    ``aria-label``, else the text of its descendants that are neither hidden nor ``aria-hidden``."""
    if "aria-label" in node.attrs:
        return node.attrs["aria-label"]

    def text(n: FakeNode) -> str:
        if n.hidden or n.attrs.get("aria-hidden") == "true":
            return ""
        return n.own_text() + "".join(text(c) for c in n.children)

    return text(node)
