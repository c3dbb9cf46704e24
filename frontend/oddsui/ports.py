"""The two ports between pure UI logic and the browser (docs/design.md principle 7).

``Platform`` is everything with a lifetime or a clock: proxies, timers, animation frames,
EventSource, fetch, the parse worker, and error reporting. ``DomPort`` is the handful of DOM operations the views
need. ``oddsui.browser`` implements both with Pyodide's ``js`` module; the tests implement them
with recording fakes. Nothing else in the package touches ``js``.

Node, proxy, timer and event values are opaque to the logic: it only hands them back to the port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


def opens_elsewhere(event: Any) -> bool:
    """Whether a click asks the browser to open the link elsewhere (a new tab or window: Ctrl, Meta,
    Shift or Alt held, or a button other than the main one). What every ``DomPort`` answers."""
    if any(getattr(event, key, False) for key in ("ctrlKey", "metaKey", "shiftKey", "altKey")):
        return True
    return bool(getattr(event, "button", 0))


class Destroyable(Protocol):
    def destroy(self) -> None: ...


class EventTarget(Protocol):
    def addEventListener(self, event_type: str, listener: Any) -> None: ...

    def removeEventListener(self, event_type: str, listener: Any) -> None: ...


class EventSourceLike(EventTarget, Protocol):
    def close(self) -> None: ...


class WorkerLike(EventTarget, Protocol):
    def terminate(self) -> None: ...


@dataclass(frozen=True)
class WorkerReply:
    """One message from the parse worker as plain Python (worker/worker.mjs documents the protocol)."""

    type: str | None = None  # "ready" / "fatal" for lifecycle messages, None for an answer
    id: int | None = None
    data: bytes | None = None  # msgpack of the parsed payload
    error: str | None = None
    fault: str | None = None  # "payload" (the text is not JSON) or "internal" (a bug in the worker)
    ms: float | None = None  # parse time inside the worker
    boot_ms: float | None = None


class Platform(Protocol):
    """Browser services with a lifetime. Scopes call these; views and logic do not."""

    def create_proxy(self, fn: Callable[..., Any]) -> Destroyable:
        """A JS-callable handle for ``fn`` that stays valid until ``destroy()``."""

    def create_once_callable(self, fn: Callable[..., Any]) -> Destroyable:
        """A JS-callable handle that destroys itself right after its first call."""

    def set_timeout(self, callback: Any, delay_ms: float) -> Any: ...

    def clear_timeout(self, timer_id: Any) -> None: ...

    def set_interval(self, callback: Any, delay_ms: float) -> Any: ...

    def clear_interval(self, timer_id: Any) -> None: ...

    def request_animation_frame(self, callback: Any) -> Any: ...

    def cancel_animation_frame(self, frame_id: Any) -> None: ...

    def now_ms(self) -> float:
        """Monotonic milliseconds (``performance.now()``)."""

    def random(self) -> float:
        """A float in [0, 1) for jitter."""

    def open_event_source(self, url: str) -> EventSourceLike: ...

    # Message texts (docs/design.md R10). A big text goes from the EventSource event to the parse worker without
    # ever becoming a Python string; only these methods read an event's text.

    def text_units(self, event: Any) -> int:
        """Length of ``event.data`` in UTF-16 code units (JavaScript's ``length``), without reading it."""

    def text_utf8_size(self, event: Any) -> int:
        """Exact size of ``event.data`` in UTF-8 bytes."""

    def event_text(self, event: Any) -> str:
        """``event.data`` as a Python string (``""`` if it has none)."""

    def open_worker(self, url: str) -> WorkerLike:
        """``new Worker(url, {type: "module"})``."""

    def post_to_worker(self, worker: WorkerLike, message: Mapping[str, Any]) -> None:
        """Post plain data (nested dicts, lists, str, numbers) to the worker."""

    def post_event_text(self, worker: WorkerLike, request_id: int, event: Any) -> None:
        """Post ``{id: request_id, text: event.data}`` to the worker, the text staying in JavaScript."""

    def read_worker_message(self, event: Any) -> WorkerReply:
        """The ``data`` of a worker's ``message`` event, as plain Python."""

    def fetch_text(self, url: str) -> Awaitable[tuple[int, str]]:
        """GET ``url``; resolve to (status, body text). Network failures raise."""

    def fetch_payload(self, url: str) -> Awaitable[tuple[int, Any]]:
        """GET ``url``; resolve to (status, body) where the body is held like an EventSource event:
        its ``data`` is the text, left in JavaScript, so ``ParserService`` can measure it and send a
        big one to the parse worker without it ever becoming a Python string. Network failures raise."""

    def probe(self, url: str) -> Awaitable[tuple[int, float | None]]:
        """GET ``url`` only as far as its response head: (status, ``Retry-After`` in seconds or None).

        The body is not read (for a stream, the request is aborted once the head is in). Used after
        an EventSource gave up, which hides the status, to honour a 429's ``Retry-After``.
        Network failures raise."""

    def wall_ms(self) -> float:
        """Wall-clock milliseconds since the epoch (``Date.now()``): only for what is shown as a
        date or time, or sent as one (results windows); never for timeouts."""

    def spawn(self, coro: Any) -> Any:
        """Schedule a coroutine; return a task with ``cancel()``, ``done()`` and ``add_done_callback``."""

    def utc_offset_minutes(self, epoch_s: float) -> int:
        """Local time minus UTC at that instant, in minutes (east positive)."""

    def report_error(self, exc: BaseException, context: str) -> None:
        """Make an unexpected error loud (console.error in the browser)."""

    def location_path(self) -> str:
        """The address bar's path (``location.pathname``): which page the user is on."""

    def push_url(self, url: str) -> None:
        """Put ``url`` (a path on this origin) in the address bar as a new history entry
        (``history.pushState``); going back to it fires ``popstate`` on the window."""


class DomPort(Protocol):
    """The DOM operations the views use. Nodes are opaque handles."""

    # True while the port hands out the page's own nodes (firstview.AdoptingDom): ``fragment`` does
    # not read the markup it is given then, so a view may skip building it.
    adopting: bool

    def by_id(self, element_id: str) -> Any: ...

    def element(
        self, tag: str, cls: str = "", text: str | None = None, attrs: Mapping[str, str] | None = None
    ) -> Any: ...

    def fragment(self, html: str) -> list[Any]:
        """Parse trusted, escaped HTML; return its top-level elements (detached, in order)."""

    def find(self, node: Any, selector: str) -> Any:
        """``node.querySelector(selector)`` (None if nothing matches)."""

    def append(self, parent: Any, child: Any) -> None: ...

    def insert_before(self, parent: Any, child: Any, ref: Any) -> None:
        """Insert (or move) ``child`` before ``ref``; ``ref`` None appends."""

    def remove(self, node: Any) -> None: ...

    def set_text(self, node: Any, text: str) -> None: ...

    def set_attr(self, node: Any, name: str, value: str) -> None: ...

    def remove_attr(self, node: Any, name: str) -> None: ...

    def toggle_class(self, node: Any, cls: str, on: bool) -> None: ...

    def set_hidden(self, node: Any, hidden: bool) -> None: ...

    def set_style(self, node: Any, prop: str, value: str) -> None: ...

    def closest_attr(self, event: Any, selector: str, attr: str) -> str | None:
        """The ``attr`` of the nearest ancestor of ``event.target`` matching ``selector`` (or None)."""

    def event_value(self, event: Any) -> str:
        """``event.target.value`` (inputs)."""

    def event_key(self, event: Any) -> str:
        """``event.key`` of a keyboard event (``""`` for other events)."""

    def event_shift(self, event: Any) -> bool:
        """Whether Shift was held (``event.shiftKey``)."""

    def opens_elsewhere(self, event: Any) -> bool:
        """Whether a click on a link asks the browser to open it elsewhere (a new tab or window: Ctrl,
        Meta, Shift or Alt held, or a button other than the main one): the app then leaves it be."""

    def prevent_default(self, event: Any) -> None: ...

    def focus(self, node: Any) -> None:
        """``node.focus()`` (without scrolling the page when the browser supports that)."""

    def active_element(self) -> Any:
        """``document.activeElement`` (None if nothing is focused)."""

    def contains(self, ancestor: Any, node: Any) -> bool:
        """Whether ``node`` is ``ancestor`` or inside it (False for None)."""

    def is_connected(self, node: Any) -> bool:
        """Whether ``node`` is in the document."""

    def measure(self, node: Any) -> tuple[float, float]:
        """(top, height) of ``node``'s border box relative to the viewport, in CSS pixels."""

    def scroll_box(self, node: Any) -> tuple[float, float, float]:
        """(top of its box relative to the viewport, ``scrollTop``, ``clientHeight``) of a scroller."""

    def set_scroll_top(self, node: Any, value: float) -> None: ...
