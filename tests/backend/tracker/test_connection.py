"""One game's tracker connection on a fake clock, against the in-memory tracker feed."""

from __future__ import annotations

import asyncio

import pytest

from backend.clock import FakeClock
from backend.tracker.connection import TrackerConnection, TrackerStats
from backend.tracker.session import TrackerSession
from tests.support.fake_feed import FakeTrackerFeed


async def test_a_socket_that_opens_as_the_connection_is_cancelled_is_still_closed():
    feed = FakeTrackerFeed(["1"])
    task: asyncio.Task[None] | None = None

    async def connect(url: str):
        sock = await feed.connect(url)
        assert task is not None
        asyncio.get_running_loop().call_soon(task.cancel)  # lands before within() hands the socket back
        return sock

    conn = TrackerConnection("ws://tracker/", TrackerSession("1"), lambda events: None, clock=FakeClock(),
                             stats=TrackerStats(), connector=connect)
    task = asyncio.ensure_future(conn.run())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(feed.sockets) == 1 and feed.open_sockets() == []
