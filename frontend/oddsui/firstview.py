"""The state a server-rendered page carries, and adopting that page in the browser (docs/ui.md 9).

The server renders the first view with the app's own views (``ssr.render_page``) from a
``FirstView``: the mode and sport the URL names, the hierarchy, and for each stream the browser will
open (``sport``, ``counts``) the events of its snapshot and the SSE id it was taken at. The page
embeds that state as JSON (``<script type="application/json" id="first-view">``) together with
``creations``: where every node the views created ended up, in the order they created them.

When Pyodide is ready, the app renders the same state again (``App.render_first_view``) through an
``AdoptingDom``: every element or fragment the views ask for is the page's node at the next recorded
place, and every write is skipped (it would write what is already there). So the views end up holding
the page's own nodes, the page is not touched (no flash, focus and scroll kept), and from
``adopt_done()`` on the port writes through as usual. If the page differs from what the state
renders to -- a node is missing or of another tag, more or fewer nodes than recorded -- it raises
``AdoptError`` and the caller starts over without the first view.

Pure: runs under CPython (the server, the tests) and Pyodide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

__all__ = ["FIRST_VIEW_ID", "AdoptError", "AdoptingDom", "FirstView", "StreamSnapshot", "encode_for_html"]

FIRST_VIEW_ID = "first-view"  # the <script type="application/json"> element that holds the state


class StreamSnapshot(msgspec.Struct, forbid_unknown_fields=False):
    """One stream at the instant the page was rendered: its events (name, JSON payload) as a new
    client would have got them, and the id they end at (the client resumes after it)."""

    name: str  # "sport" (the mode's sport stream) or "counts"
    url: str
    last_event_id: str
    events: list[tuple[str, msgspec.Raw]] = []


class FirstView(msgspec.Struct, forbid_unknown_fields=False):
    mode: str
    sport_id: str | None = None
    wall_ms: float = 0.0  # the server's wall clock when it rendered ("Updated hh:mm")
    utc_offset: int = 0  # the minutes east of UTC the server rendered local times in
    hierarchy: msgspec.Raw = msgspec.Raw(b"null")  # the /api/hierarchy body (null: none)
    streams: list[StreamSnapshot] = []
    # Per creating call (``element`` or ``fragment``): where each node it made ended up,
    # ``[id of the nearest ancestor with one, child index, ...]`` (``htmldom.TreeDom.path_of``).
    creations: list[list[list[Any] | None]] = []

    @classmethod
    def from_json(cls, text: str | bytes) -> FirstView:
        try:
            return msgspec.json.decode(text, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"first view state: {exc}") from exc


def encode_for_html(view: FirstView) -> str:
    """The state as JSON that is safe inside a ``<script>`` element: every ``<`` (only ever inside a
    JSON string) is written as ``\\u003c``, so no ``</script>`` or ``<!--`` can end or alter it."""
    return msgspec.json.encode(view).replace(b"<", b"\\u003c").decode()


class AdoptError(RuntimeError):
    """The page is not what the first view's state renders to; start without adopting it."""


_WRITES = ("append", "insert_before", "remove", "set_text", "set_attr", "remove_attr", "toggle_class",
           "set_hidden", "set_style", "set_scroll_top", "focus")


class AdoptingDom:
    """A ``DomPort`` over ``inner`` that, until ``adopt_done()``, hands out the page's nodes instead of
    creating new ones and skips every write. ``inner`` must offer ``child_at(node, index)``."""

    def __init__(self, inner: Any, creations: Sequence[Sequence[Sequence[Any] | None]]) -> None:
        self.inner = inner
        self._creations = list(creations)
        self._next = 0
        self.adopting = True
        self.skipped_writes = 0
        # The first mismatch, kept: the views mostly create nodes inside frame jobs, whose errors the
        # batcher reports and swallows, so adopt_done() raises it again where the app can act on it.
        self.error: AdoptError | None = None

    def _failed(self, message: str) -> AdoptError:
        error = AdoptError(message)
        if self.error is None:
            self.error = error
        return error

    # -- adoption --------------------------------------------------------------------------------
    def _resolve(self, path: Sequence[Any] | None) -> Any:
        if not path:
            raise self._failed("a node the views create is not on the page")
        anchor, *steps = path
        try:
            node = self.inner.by_id(str(anchor))
        except LookupError as exc:
            raise self._failed(f"the page has no #{anchor}") from exc
        for index in steps:
            node = self.inner.child_at(node, int(index))
            if node is None:
                raise self._failed(f"the page has no node at {list(path)}")
        return node

    def _take(self, count: int | None) -> list[Any]:
        if self._next >= len(self._creations):
            raise self._failed(f"the views create more than the {len(self._creations)} recorded nodes")
        paths = self._creations[self._next]
        self._next += 1
        if count is not None and len(paths) != count:
            raise self._failed(f"creation {self._next}: the page has {len(paths)} nodes, the views make {count}")
        return [self._resolve(path) for path in paths]

    def adopt_done(self) -> None:
        """Everything is adopted: write through from now on. Raises ``AdoptError`` if any node the
        views made did not match the page (even where a frame job swallowed the error), or if they
        created fewer nodes than the page holds (it would keep nodes nobody owns)."""
        if not self.adopting:
            return
        self.adopting = False
        # From now on a plain pass-through: the inner port's methods, without this class in between.
        for name in (*_WRITES, "element", "fragment"):
            setattr(self, name, getattr(self.inner, name))
        if self.error is not None:
            raise self.error
        if self._next != len(self._creations):
            raise self._failed(f"the views created {self._next} of the page's {len(self._creations)} recorded nodes")

    def element(self, tag: str, cls: str = "", text: str | None = None,
                attrs: Mapping[str, str] | None = None) -> Any:
        if not self.adopting:
            return self.inner.element(tag, cls, text, attrs)
        (node,) = self._take(1)
        name = self.inner.tag_name(node)
        if name != tag.lower():
            raise self._failed(f"the page has <{name}> where the views make <{tag}>")
        return node

    def fragment(self, html: str) -> list[Any]:
        if not self.adopting:
            return self.inner.fragment(html)
        return self._take(None)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in _WRITES:
            setattr(self, name, method)  # a read: looked up here once
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if self.adopting:
                self.skipped_writes += 1
                return None
            return method(*args, **kwargs)

        return write
