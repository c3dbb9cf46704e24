"""The browser adapter: ``Platform`` and ``DomPort`` on Pyodide's ``js`` module.

The only module that imports ``js`` or ``pyodide``; it only runs in the browser. Every method is a
thin, direct translation, so all logic stays in the pure modules.

``oddsui_ffi`` is a JavaScript module boot.js registers before the app starts: three one-line helpers
that read an event's text in JavaScript (its length, its UTF-8 size, posting it to the parse worker),
because any JS string Python touches is converted to a Python str, which is what docs/design.md R10 avoids.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Mapping
from typing import Any

import oddsui_ffi  # type: ignore[import-not-found]  (registered by boot.js)
from js import (  # type: ignore[import-not-found]
    AbortController,
    Date,
    EventSource,
    Object,
    Worker,
    console,
    document,
    fetch,
    performance,
    window,
)
from pyodide.ffi import create_once_callable, create_proxy, jsnull, to_js  # type: ignore[import-not-found]

from .ports import WorkerReply, opens_elsewhere

__all__ = ["BrowserDom", "BrowserPlatform", "window"]


def _value(value: Any) -> Any:
    """JavaScript's ``null`` arrives as ``pyodide.ffi.jsnull`` (``undefined`` as None): both are None here."""
    return None if value is None or value is jsnull else value


class BrowserPlatform:
    def __init__(self) -> None:
        self._random = random.Random()

    def create_proxy(self, fn: Any) -> Any:
        return create_proxy(fn)

    def create_once_callable(self, fn: Any) -> Any:
        return create_once_callable(fn)

    def set_timeout(self, callback: Any, delay_ms: float) -> Any:
        return window.setTimeout(callback, max(0, int(delay_ms)))

    def clear_timeout(self, timer_id: Any) -> None:
        window.clearTimeout(timer_id)

    def set_interval(self, callback: Any, delay_ms: float) -> Any:
        return window.setInterval(callback, max(1, int(delay_ms)))

    def clear_interval(self, timer_id: Any) -> None:
        window.clearInterval(timer_id)

    def request_animation_frame(self, callback: Any) -> Any:
        return window.requestAnimationFrame(callback)

    def cancel_animation_frame(self, frame_id: Any) -> None:
        window.cancelAnimationFrame(frame_id)

    def now_ms(self) -> float:
        return float(performance.now())

    def random(self) -> float:
        return self._random.random()

    def open_event_source(self, url: str) -> Any:
        return EventSource.new(url)

    def text_units(self, event: Any) -> int:
        return int(oddsui_ffi.textUnits(event))

    def text_utf8_size(self, event: Any) -> int:
        return int(oddsui_ffi.textUtf8Size(event))

    def event_text(self, event: Any) -> str:
        data = getattr(event, "data", None)
        return "" if data is None else str(data)

    def open_worker(self, url: str) -> Any:
        return Worker.new(url, to_js({"type": "module"}, dict_converter=Object.fromEntries))

    def post_to_worker(self, worker: Any, message: Mapping[str, Any]) -> None:
        worker.postMessage(to_js(message, dict_converter=Object.fromEntries))

    def post_event_text(self, worker: Any, request_id: int, event: Any) -> None:
        oddsui_ffi.postText(worker, request_id, event)

    def read_worker_message(self, event: Any) -> WorkerReply:
        d = event.data
        data = getattr(d, "data", None)
        return WorkerReply(
            type=getattr(d, "type", None),
            id=getattr(d, "id", None),
            data=None if data is None else data.to_bytes(),
            error=getattr(d, "error", None),
            fault=getattr(d, "fault", None),
            ms=getattr(d, "ms", None),
            boot_ms=getattr(d, "bootMs", None),
        )

    async def fetch_text(self, url: str) -> tuple[int, str]:
        # the browser's fetch itself: pyodide.http (pyfetch) would add 20-30 ms to the boot's imports
        response = await fetch(url)
        return int(response.status), str(await response.text())

    async def fetch_payload(self, url: str) -> tuple[int, Any]:
        holder = await oddsui_ffi.fetchText(url)  # {status, data}: the text stays a JS string
        return int(holder.status), holder

    async def probe(self, url: str) -> tuple[int, float | None]:
        controller = AbortController.new()
        response = await fetch(url, to_js({"signal": controller.signal, "cache": "no-store"},
                                          dict_converter=Object.fromEntries))
        status = int(response.status)
        header = _value(response.headers.get("Retry-After"))
        controller.abort()  # the head is all we wanted: never read a stream's body
        retry_after = None
        if header is not None:
            try:
                retry_after = max(0.0, float(str(header)))
            except ValueError:
                retry_after = None
        return status, retry_after

    def wall_ms(self) -> float:
        return float(Date.now())

    def spawn(self, coro: Any) -> Any:
        return asyncio.ensure_future(coro)

    def utc_offset_minutes(self, epoch_s: float) -> int:
        return -int(Date.new(epoch_s * 1000).getTimezoneOffset())

    def report_error(self, exc: BaseException, context: str) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        console.error(f"[oddsui] {context}: {text}")

    def location_path(self) -> str:
        return str(window.location.pathname)

    def push_url(self, url: str) -> None:
        window.history.pushState(jsnull, "", url)


class BrowserDom:
    adopting = False

    def __init__(self, doc: Any = None) -> None:
        self.document = doc if doc is not None else document

    def by_id(self, element_id: str) -> Any:
        node = _value(self.document.getElementById(element_id))
        if node is None:
            raise LookupError(f"index.html has no element #{element_id}")
        return node

    def element(self, tag: str, cls: str = "", text: str | None = None,
                attrs: Mapping[str, str] | None = None) -> Any:
        node = self.document.createElement(tag)
        if cls:
            node.className = cls
        if text:
            node.textContent = text
        if attrs:
            for name, value in attrs.items():
                node.setAttribute(name, value)
        return node

    def fragment(self, html: str) -> list[Any]:
        template = self.document.createElement("template")
        template.innerHTML = html
        children = template.content.children
        return [children.item(i) for i in range(children.length)]

    def find(self, node: Any, selector: str) -> Any:
        return _value(node.querySelector(selector))

    def child_at(self, node: Any, index: int) -> Any:
        """The ``index``-th element child (adopting a server-rendered page, ``firstview``)."""
        return _value(node.children.item(index))

    def tag_name(self, node: Any) -> str:
        return str(node.localName)

    def append(self, parent: Any, child: Any) -> None:
        parent.appendChild(child)

    def insert_before(self, parent: Any, child: Any, ref: Any) -> None:
        if ref is None:
            parent.appendChild(child)
        else:
            parent.insertBefore(child, ref)

    def remove(self, node: Any) -> None:
        node.remove()

    def set_text(self, node: Any, text: str) -> None:
        node.textContent = text

    def set_attr(self, node: Any, name: str, value: str) -> None:
        node.setAttribute(name, value)

    def remove_attr(self, node: Any, name: str) -> None:
        node.removeAttribute(name)

    def toggle_class(self, node: Any, cls: str, on: bool) -> None:
        node.classList.toggle(cls, bool(on))

    def set_hidden(self, node: Any, hidden: bool) -> None:
        node.hidden = bool(hidden)

    def set_style(self, node: Any, prop: str, value: str) -> None:
        if value:
            node.style.setProperty(prop, value)
        else:
            node.style.removeProperty(prop)

    def closest_attr(self, event: Any, selector: str, attr: str) -> str | None:
        target = _value(getattr(event, "target", None))
        if target is None or not hasattr(target, "closest"):
            return None
        found = _value(target.closest(selector))
        if found is None:
            return None
        value = _value(found.getAttribute(attr))
        return None if value is None else str(value)

    def event_value(self, event: Any) -> str:
        target = _value(getattr(event, "target", None))
        value = _value(getattr(target, "value", "")) if target is not None else ""
        return "" if value is None else str(value)

    def event_key(self, event: Any) -> str:
        key = _value(getattr(event, "key", None))
        return "" if key is None else str(key)

    def event_shift(self, event: Any) -> bool:
        return bool(getattr(event, "shiftKey", False))

    def opens_elsewhere(self, event: Any) -> bool:
        return opens_elsewhere(event)

    def prevent_default(self, event: Any) -> None:
        event.preventDefault()

    def focus(self, node: Any) -> None:
        node.focus()

    def active_element(self) -> Any:
        return _value(self.document.activeElement)

    def contains(self, ancestor: Any, node: Any) -> bool:
        return _value(node) is not None and bool(ancestor.contains(node))

    def is_connected(self, node: Any) -> bool:
        return bool(node.isConnected)

    def measure(self, node: Any) -> tuple[float, float]:
        rect = node.getBoundingClientRect()
        return float(rect.top), float(rect.height)

    def scroll_box(self, node: Any) -> tuple[float, float, float]:
        return float(node.getBoundingClientRect().top), float(node.scrollTop), float(node.clientHeight)

    def set_scroll_top(self, node: Any, value: float) -> None:
        node.scrollTop = value
