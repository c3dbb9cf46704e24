"""The first view rendered on the server, with the app's own views (docs/ui.md 9).

``render_page(template, view)`` parses the page (``frontend/index.html``) into an
``htmldom.TreeDom``, builds the ``App``'s views on it exactly as the browser does, renders the
``FirstView`` with ``App.render_first_view`` -- the same method the browser runs when it adopts the
page -- and returns the page's HTML with the state (and where every created node ended up) embedded
as ``<script type="application/json" id="first-view">``. Nothing here starts a stream, a timer or a
listener: ``RenderPlatform`` runs nothing later, and the render is complete when it returns.

Pure: imports no ``js`` and no backend module (the backend calls it, ``backend/web.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .app import App
from .firstview import FIRST_VIEW_ID, FirstView, encode_for_html
from .htmldom import Element, Text, TreeDom, parse_document, serialize
from .scope import Scope

__all__ = ["RenderPlatform", "render_page", "render_tree"]

log = logging.getLogger(__name__)


class _Handle:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def destroy(self) -> None:
        self.fn = None  # type: ignore[assignment]


class RenderPlatform:
    """The ``Platform`` of a render on the server: a fixed clock, no frames (the render flushes its
    jobs itself), timers and tasks that never run, no network. Errors are logged and kept."""

    def __init__(self, wall_ms: float, utc_offset: int = 0) -> None:
        self._wall_ms = wall_ms
        self._offset = utc_offset
        self.errors: list[tuple[str, BaseException]] = []
        self._ids = 0

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def create_proxy(self, fn: Callable[..., Any]) -> _Handle:
        return _Handle(fn)

    def create_once_callable(self, fn: Callable[..., Any]) -> _Handle:
        return _Handle(fn)

    def set_timeout(self, callback: Any, delay_ms: float) -> int:
        return self._id()

    def clear_timeout(self, timer_id: Any) -> None:
        return None

    def set_interval(self, callback: Any, delay_ms: float) -> int:
        return self._id()

    def clear_interval(self, timer_id: Any) -> None:
        return None

    def request_animation_frame(self, callback: Any) -> int:
        return self._id()

    def cancel_animation_frame(self, frame_id: Any) -> None:
        return None

    def now_ms(self) -> float:
        return 0.0

    def wall_ms(self) -> float:
        return self._wall_ms

    def random(self) -> float:
        return 0.5

    def utc_offset_minutes(self, epoch_s: float) -> int:
        return self._offset

    def spawn(self, coro: Any) -> Any:
        coro.close()  # a render starts no task
        return None

    def report_error(self, exc: BaseException, context: str) -> None:
        self.errors.append((context, exc))
        log.warning("first view: %s: %s", context, exc)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"a server render has no {name}(): the first view must not need it")


def render_tree(template: str, view: FirstView) -> tuple[str | None, Element, TreeDom]:
    """Render ``view`` into the parsed ``template``; returns ``(doctype, root, dom)`` and fills
    ``view.creations``."""
    doctype, root = parse_document(template)
    dom = TreeDom(root, defer_fragments=True)  # serialized once: markup nobody reads stays markup
    platform = RenderPlatform(view.wall_ms, view.utc_offset)
    scope = Scope(platform, name="first-view")
    try:
        app = App(platform, dom, scope)
        app._build_views()
        app.render_first_view(view)
    finally:
        scope.close()
    view.creations = dom.creation_paths()
    return doctype, root, dom


def render_page(template: str, view: FirstView, head: list[Element] | None = None,
                rewrite: Callable[[Element], None] | None = None, embed_state: bool = True) -> str:
    """The page's HTML with ``view`` rendered and (unless ``embed_state`` is false: a page no script
    will adopt) embedded. ``head`` elements are appended to ``<head>`` (preload hints); ``rewrite``
    may change the tree before it is serialized (asset URLs)."""
    doctype, root, dom = render_tree(template, view)
    body = next(node for node in root.iter() if node.tag == "body")
    head_node = next(node for node in root.iter() if node.tag == "head")
    for element in head or ():
        head_node.append(element)
    if rewrite is not None:
        rewrite(root)
    if embed_state:
        script = Element("script", {"type": "application/json", "id": FIRST_VIEW_ID})
        script.append(Text(encode_for_html(view)))
        body.append(script)
    return (f"<!{doctype}>\n" if doctype else "") + serialize(root) + "\n"
