"""Requests for one page share its render (backend/firstpaint.py): a request that goes away does not
take the others' page with it, and a render no request waits for any more is cancelled (the server
stopping cancels every request), so it does not go on reading the hub after its callers are gone.

The hub here is a fake whose hierarchy read waits until the test lets it go (the render is held at
its first await, where a cancellation reaches it) and which has no streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from backend.firstpaint import FirstPaint
from backend.hub.base import Unavailable

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class HeldHierarchy:
    def __init__(self) -> None:
        self.reads = 0
        self.cancelled = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self.reads += 1
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return {"sport": {}}, {"cached": True}


def no_streams(spec: Any, internal: bool = False) -> Any:
    raise Unavailable("no streams in this test")  # the page renders without them


def request(path: str, hub: Any, tz: str = "") -> Any:
    return SimpleNamespace(url=SimpleNamespace(path=path), headers={"accept-encoding": "identity"},
                           cookies={"tzo": tz} if tz else {}, app=SimpleNamespace(state=SimpleNamespace(hub=hub)))


async def test_a_render_goes_on_for_the_requests_still_waiting_and_stops_when_none_is(tmp_path: Path) -> None:
    hierarchy = HeldHierarchy()
    hub = SimpleNamespace(clock=SimpleNamespace(time=time.time), hierarchy=hierarchy, ensure=no_streams)
    painter = FirstPaint(FRONTEND / "index.html", tmp_path / "manifest.json", share_for=60)

    first = asyncio.create_task(painter.respond(request("/live", hub)))
    second = asyncio.create_task(painter.respond(request("/live", hub)))
    await asyncio.wait_for(hierarchy.entered.wait(), 5)
    await asyncio.sleep(0)
    assert hierarchy.reads == 1  # one render for both
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert hierarchy.cancelled == 0  # the second still waits for it
    hierarchy.release.set()
    page = await asyncio.wait_for(second, 10)
    assert b'href="/live"' in page.content and "shared" in page.headers["server-timing"]

    # another page, whose only request goes away: its render is cancelled, and not given to the next
    hierarchy.release.clear()
    hierarchy.entered.clear()
    alone = asyncio.create_task(painter.respond(request("/live", hub, tz="60")))
    await asyncio.wait_for(hierarchy.entered.wait(), 5)
    alone.cancel()
    await asyncio.gather(alone, return_exceptions=True)
    await asyncio.sleep(0)
    assert hierarchy.cancelled == 1
    hierarchy.release.set()
    again = await asyncio.wait_for(painter.respond(request("/live", hub, tz="60")), 10)
    assert b'href="/live"' in again.content and "shared" not in again.headers["server-timing"]
    assert hierarchy.reads == 3
