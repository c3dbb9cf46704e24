"""The page, rendered on the server from the hub's current state (docs/ui.md 9, docs/design.md).

``FirstPaint.respond(request)`` answers ``/``, ``/live[/<sportId>]``, ``/prematch[/<sportId>]`` and
``/results[/<sportId>]``: it reads, at one instant per stream, the snapshot a new client of that
stream would get and the SSE id it ends at (holding the group for ``HOLD_SECONDS`` so the browser's
resume finds it), renders the page with the front end's own views (``oddsui.ssr.render_page``) and
sends it small-headed and uncached (``no-store``: it carries live state), brotli- or
gzip-compressed as ``Accept-Encoding`` allows. The page links its style and script by their hashed
URLs, named by ``manifest.json``, which it also embeds (boot.js then needs no request before it
starts, and names Pyodide's files from it).

Requests for the same page (the same view, time-zone cookie and encoding) share one render: those
that arrive while it runs, and those that arrive up to ``share_for`` seconds after it began (a
negative ``share_for``: none, every request renders its own, as ``bench/pageburst.py``'s peer). A burst
of loads of one page then costs one render instead of queueing a render each. A shared page is as
good as a fresh one: it is one instant of each stream, and the browser resumes each from the id it
carries, so it gets every event since (docs/ui.md 9).

Which streams a view carries is which streams the app opens for it: a live sport's stream (it
carries the counts), a prematch sport's stream and the counts stream, or the counts stream alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli
import msgspec
from litestar import Request, Response
from oddsui.firstview import FirstView, StreamSnapshot
from oddsui.htmldom import Element, Text, detach
from oddsui.render import parse_page_url
from oddsui.ssr import render_page

from backend.http import accepted_encodings  # the one negotiation, shared with the static files
from backend.hub import specs
from backend.hub.base import LimitExceeded, Unavailable
from backend.hub.caches import HierarchyCache

log = logging.getLogger(__name__)

HOLD_SECONDS = 30.0  # a rendered page keeps its groups this long: the browser resumes within it
SNAPSHOT_WAIT = 1.5  # how long a render waits for a new group's first snapshot (its first list)
HIERARCHY_WAIT = 2.0
RENDERS_AT_ONCE = 2  # page renders (pure Python, in a thread: they share the GIL with the fan-out)
TZ_COOKIE = "tzo"  # minutes east of UTC, set by boot.js: local times render right on the next visit
SHARED_PAGES = 256  # pages kept for sharing at once; past it the oldest is no longer shared


_young = threading.Lock()
_rendering = 0
_gc_was_enabled = True


@contextlib.contextmanager
def render_objects_die_young() -> Iterator[None]:
    """Hold the cycle collector off while a render runs, then collect the youngest generation.

    A render builds a whole app (views, rows, a document tree) and drops it: some 6,000 objects in
    reference cycles, alive for the 30-40 ms it runs. With the collector on, they outlived enough
    young collections to reach the oldest generation, and every few renders a full collection of
    the whole process (the hub's state, the streams) freed them: 40-100 ms with the event loop
    stopped, so every stream's events waited too. With it off until the render ends, they are all
    still young: one collection of the youngest generation frees them (under 6 ms here) and no
    full collection is due to them. Renders in two threads share one off period."""
    global _rendering, _gc_was_enabled
    with _young:
        if _rendering == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _rendering += 1
    try:
        yield
    finally:
        with _young:
            _rendering -= 1
            collect = _rendering == 0 and _gc_was_enabled
            if collect:
                gc.enable()
        if collect:
            gc.collect(0)


def _frames_to_events(frames: list[bytes]) -> list[tuple[str, msgspec.Raw]]:
    events: list[tuple[str, msgspec.Raw]] = []
    for frame in frames:
        name, data = None, None
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if name and data is not None:
            events.append((name, msgspec.Raw(data)))
    return events


def names_sport(hierarchy: dict[str, Any] | None, sport_id: str | None) -> bool:
    """Whether the hierarchy names ``sport_id`` (no sport, None, always is)."""
    sports = (hierarchy or {}).get("sport")
    return sport_id is None or (isinstance(sports, dict) and sport_id in sports)


def utc_offset(request: Request) -> int:
    """The browser's offset from UTC in minutes, from boot.js's cookie; 0 without a valid one."""
    cookie = request.cookies.get(TZ_COOKIE, "")
    if re.fullmatch(r"-?[0-9]{1,3}", cookie) and abs(int(cookie)) <= 840:
        return int(cookie)
    return 0


@dataclass(frozen=True)
class Page:
    body: bytes
    encoding: str | None
    timing: str  # the render's Server-Timing entries


@dataclass
class _Render:
    began: float  # time.monotonic() when it was started
    task: asyncio.Task[Page]
    waiters: int = 0  # requests awaiting it now; the last one's going away cancels it


class FirstPaint:
    def __init__(self, template_path: Path, manifest_path: Path, share_for: float = 0.5) -> None:
        self.template_path = template_path
        self.manifest_path = manifest_path
        self.share_for = share_for
        self._cache: dict[Path, tuple[float, Any]] = {}
        self._renders: asyncio.Semaphore | None = None  # made in the server's loop, on first use
        # (view, utc offset, encoding, plain) -> its render, running or done within share_for; oldest first
        self._shared: dict[tuple[Any, ...], _Render] = {}

    # -- inputs, re-read when their file changes ------------------------------------------------------
    def _read(self, path: Path, parse: Any) -> Any:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            cached = self._cache[path] = (mtime, parse(path.read_bytes()))
        return cached[1]

    def manifest(self) -> dict[str, Any] | None:
        return self._read(self.manifest_path, json.loads)

    def core_hash(self) -> str | None:
        """The hash in the Pyodide folder's URL (``/immutable/pyodide-<hash>/``), from the manifest."""
        manifest = self.manifest()
        index = (manifest or {}).get("pyodide", {}).get("indexURL", "")
        match = re.fullmatch(r"/immutable/pyodide-([0-9a-f]+)/", index)
        return match.group(1) if match else None

    # -- the view a URL names ------------------------------------------------------------------------
    @staticmethod
    def view_of(path: str) -> tuple[str, str | None] | None:
        return parse_page_url(path)  # the front end's own reading of a page URL (the app's popstate too)

    async def _snapshot(self, hub: Any, spec: Any, name: str, url: str, wanted: str) -> StreamSnapshot | None:
        """The stream's snapshot and id, read at one instant; None if the hub cannot serve it now."""
        try:
            lease, group = hub.ensure(spec, internal=True)
        except (LimitExceeded, Unavailable) as exc:
            log.info("first view without %s: %s", url, exc)
            return None
        asyncio.get_running_loop().call_later(HOLD_SECONDS, self._release, hub, lease)
        try:
            await asyncio.wait_for(group.ready(), SNAPSHOT_WAIT)
            for _ in range(int(SNAPSHOT_WAIT / 0.02)):
                frames = group.late_joiner_frames()
                if group.failed is not None or any(f.startswith(f"event: {wanted}\n".encode()) for f in frames):
                    break
                await asyncio.sleep(0.02)
        except TimeoutError:
            pass
        # No await from here on: the snapshot and its id are one instant of the stream.
        frames = group.late_joiner_frames()
        return StreamSnapshot(name=name, url=url, last_event_id=group.channel.event_id(),
                              events=_frames_to_events(frames))

    def _release(self, hub: Any, lease: Any) -> None:
        try:
            hub.release(lease)
        except Exception:  # the hub shut down meanwhile: nothing to give back
            log.debug("first view: releasing a held group failed", exc_info=True)

    async def state(self, hub: Any, mode: str, sport_id: str | None, offset: int) -> FirstView:
        if hub is None:
            return FirstView(mode=mode, sport_id=sport_id, utc_offset=offset)
        view = FirstView(mode=mode, sport_id=sport_id, wall_ms=hub.clock.time() * 1000, utc_offset=offset)
        try:
            data, flags = await asyncio.wait_for(hub.hierarchy.get(), HIERARCHY_WAIT)
            view.hierarchy = msgspec.Raw(msgspec.json.encode({**data, **flags}))
        except Exception as exc:  # the page renders without names; the app fetches them itself
            log.info("first view without the hierarchy: %s", exc)
            data = {}
        if not names_sport(data, sport_id):
            # a sport the hierarchy does not name: the mode's page, and no group is made for it (a
            # URL must not be a way to have the hub subscribe upstream to anything it is asked)
            sport_id = view.sport_id = None
        streams: list[tuple[Any, str, str, str]] = []
        if sport_id is not None and mode == "live":
            streams.append((specs.parse_live({"sportId": sport_id}), "sport", f"/api/live-stream?sportId={sport_id}",
                            "games"))
        elif sport_id is not None and mode == "prematch":
            streams.append((specs.parse_prematch({"sportId": sport_id}), "sport",
                            f"/api/prematch-stream?sportId={sport_id}", "games"))
        if not (mode == "live" and sport_id is not None):
            streams.append((specs.parse_counts({}), "counts", "/api/counts-stream", "live_counts"))
        found = await asyncio.gather(*(self._snapshot(hub, spec, name, url, wanted)
                                       for spec, name, url, wanted in streams if not isinstance(spec, str)))
        view.streams = [snapshot for snapshot in found if snapshot is not None]
        return view

    # -- the page ----------------------------------------------------------------------------------------
    def _head(self, manifest: dict[str, Any]) -> list[Element]:
        """The manifest, and no hint: nothing of Pyodide's is fetched while the page paints. Its two
        big files, fetched then, delayed a first visit's first paint by 0.1 s (and a returning
        browser's, from its cache, as much); the modules its boot imports (1.5 MB of JavaScript),
        preloaded from here, by 20-30 % on a first visit. boot.js fetches the files once it runs and
        preloads the modules after the first frame (docs/ui.md 9)."""
        data = Element("script", {"type": "application/json", "id": "manifest"})
        data.append(Text(json.dumps(manifest, separators=(",", ":")).replace("<", "\\u003c")))
        return [data]

    def _rewrite(self, manifest: dict[str, Any], plain: bool = False) -> Any:
        page = manifest.get("page", {})

        def rewrite(root: Element) -> None:
            # The page's assets are named in its <head>; the body (rows still held as HTML, see
            # htmldom.split_fragment) is not walked.
            head = next(node for node in root.element_children() if node.tag == "head")
            scripts = []
            for node in head.iter():
                if node.tag == "link" and node.attrs.get("rel") == "stylesheet" and page.get("css"):
                    node.attrs["href"] = page["css"]
                elif node.tag == "script" and node.attrs.get("type") == "module":
                    scripts.append(node)
                    if page.get("boot"):
                        node.attrs["src"] = page["boot"]
            if plain:
                for node in scripts:
                    detach(node)

        return rewrite

    async def respond(self, request: Request, path: str | None = None, plain: bool = False) -> Response[bytes]:
        """The page for ``path`` (the request's own by default). ``plain``: the same render with no
        script, no manifest and no embedded state -- a plain server-rendered page, the floor
        ``bench/firstpaint.py`` measures against (only mounted with ``BENCH_PAGES``).

        ``Server-Timing`` says where the render's time went (``state``: reading the streams'
        snapshots; ``queue``: waiting for one of the ``RENDERS_AT_ONCE`` render slots; ``render``:
        the views on the tree and the serialization; ``compress``), and for a page shared with an
        earlier request, ``shared``: how long this one waited for it."""
        view_of = self.view_of(request.url.path if path is None else path)
        if view_of is None:
            return Response(b"Not found", status_code=404, media_type="text/plain")
        hub = getattr(request.app.state, "hub", None)
        encoding = next(iter(accepted_encodings(request.headers.get("accept-encoding"))), None)
        key = (self._named(view_of, hub), utc_offset(request), encoding, plain)
        render = self._shareable(key)
        shared = render is not None
        if render is None:
            task = asyncio.get_running_loop().create_task(
                self._render(hub, *key),
                context=contextvars.Context())  # the render is no one request's: none of their context
            render = self._keep(key, task)
        t0 = time.perf_counter()
        render.waiters += 1
        try:
            page = await asyncio.shield(render.task)  # one request going away does not cancel the others' page
        except asyncio.CancelledError:
            if render.waiters == 1:  # the last one waiting for it went away (a closed tab, the server stopping)
                self._forget(key, render)  # no later request may wait for it
                render.task.cancel()
            raise
        except Exception as exc:  # each waiter its own error: the shared one's traceback would grow with each
            raise RuntimeError(f"rendering {request.url.path} failed") from exc
        finally:
            render.waiters -= 1
        timing = page.timing
        if shared:
            timing += f", shared;dur={(time.perf_counter() - t0) * 1000:.1f}"
        headers = {"cache-control": "no-store", "vary": "Accept-Encoding", "server-timing": timing}
        if page.encoding is not None:
            headers["content-encoding"] = page.encoding
        return Response(page.body, media_type="text/html", headers=headers)

    @staticmethod
    def _named(view_of: tuple[str, str | None], hub: Any) -> tuple[str, str | None]:
        """The view, with a sport the loaded hierarchy does not name dropped, as ``state`` drops it:
        ``/live/<any number>`` is then the same page as ``/live`` and shares its render."""
        mode, sport_id = view_of
        data = getattr(getattr(hub, "hierarchy", None), "data", None)  # None until it is first loaded
        if HierarchyCache.sport_count(data) > 0 and not names_sport(data, sport_id):
            return mode, None
        return view_of

    def _shareable(self, key: tuple[Any, ...]) -> _Render | None:
        """The render ``key``'s request may have: one still running, or one done within the window
        (a done one is forgotten when its window ends, a failed one at once)."""
        render = self._shared.get(key)
        if render is None or not render.task.done():
            return render
        task = render.task
        fresh = time.monotonic() - render.began <= self.share_for
        return render if fresh and not task.cancelled() and task.exception() is None else None

    def _forget(self, key: tuple[Any, ...], render: _Render) -> None:
        if self._shared.get(key) is render:
            del self._shared[key]

    def _keep(self, key: tuple[Any, ...], task: asyncio.Task[Page]) -> _Render:
        """Offer ``task``'s page to the next requests of ``key`` until ``share_for`` after now."""
        render = _Render(time.monotonic(), task)
        if self.share_for < 0:
            return render
        self._shared.pop(key, None)
        while len(self._shared) >= SHARED_PAGES:  # the oldest make way: a flood of other pages cannot
            del self._shared[next(iter(self._shared))]  # stop this one being shared
        self._shared[key] = render
        loop = asyncio.get_running_loop()

        def done(task: asyncio.Task[Page]) -> None:
            if task.cancelled() or task.exception() is not None:
                self._forget(key, render)
            else:
                loop.call_later(max(0.0, render.began + self.share_for - time.monotonic()), self._forget, key, render)

        task.add_done_callback(done)
        return render

    async def _render(self, hub: Any, view_of: tuple[str, str | None], offset: int, encoding: str | None,
                      plain: bool) -> Page:
        mode, sport_id = view_of
        t0 = time.perf_counter()
        view = await self.state(hub, mode, sport_id, offset)
        t1 = time.perf_counter()
        template = self._read(self.template_path, bytes.decode)
        manifest = self.manifest() or {}
        head = self._head(manifest) if manifest and not plain else []
        rewrite = self._rewrite(manifest, plain)

        def render_and_compress() -> tuple[bytes, float]:
            with render_objects_die_young():
                html = render_page(template, view, head, rewrite, not plain).encode()
            rendered = time.perf_counter()
            if encoding == "br":
                html = brotli.compress(html, quality=5)
            elif encoding == "gzip":
                html = gzip.compress(html, 6, mtime=0)
            return html, rendered

        if self._renders is None:
            self._renders = asyncio.Semaphore(RENDERS_AT_ONCE)
        async with self._renders:  # a burst of page loads queues here instead of slowing every stream
            t_start = time.perf_counter()
            body, t2 = await asyncio.to_thread(render_and_compress)
        t3 = time.perf_counter()
        timing = (f"state;dur={(t1 - t0) * 1000:.1f}, queue;dur={(t_start - t1) * 1000:.1f}, "
                  f"render;dur={(t2 - t_start) * 1000:.1f}, compress;dur={(t3 - t2) * 1000:.1f}")
        return Page(body, encoding, timing)
