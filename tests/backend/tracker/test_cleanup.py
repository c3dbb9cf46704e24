"""docs/design.md R9 for the live tracker: when closing its upstream socket raises, the failure is
logged and the rest of the cleanup still runs -- the group leaves every map, its client is released,
the budget is given back, health hears the game's last report, and nothing is left in the registry.

On a fake clock against the in-memory tracker feed, whose sockets here refuse to close.
"""

from __future__ import annotations

import asyncio
import logging

from backend.clock import FakeClock
from backend.health.reports import TrackerReport
from backend.lifecycle import ConnState
from backend.settings import Settings
from backend.tracker.groups import TrackerGroup, TrackerSpec
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeTrackerFeed, FakeTrackerSocket


class UnclosableSocket(FakeTrackerSocket):
    """A socket whose close raises, and leaves it open: the worst a close can do."""

    def __init__(self, feed: FakeTrackerFeed) -> None:
        super().__init__(feed)
        self.close_calls = 0
        self.transport = self  # what the connection aborts when a close fails
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    async def close(self) -> None:
        self.close_calls += 1
        raise RuntimeError("close blew up")


class UnclosableFeed(FakeTrackerFeed):
    async def connect(self, url: str) -> FakeTrackerSocket:
        sock = UnclosableSocket(self)
        self.sockets.append(sock)
        return sock


class Reports:
    def __init__(self) -> None:
        self.got: list[TrackerReport] = []

    def report(self, report) -> None:
        self.got.append(report)


async def test_a_group_whose_socket_will_not_close_still_closes_completely(caplog):
    clock = FakeClock()
    feed = UnclosableFeed(["1"])
    reports = Reports()
    options = Settings(group_grace=2.0, tracker_idle_timeout=1e6)
    async with TrackerService(options, clock, "ws://tracker/", reporter=reports, connector=feed.connect) as tracker:
        lease, group = tracker.acquire(TrackerSpec("1"))
        assert isinstance(group, TrackerGroup)
        await clock.run_until(lambda: group.upstream_connected and group.session.state is not None)
        assert tracker.budget.cache_bytes > 0 and tracker.registry.total_clients == 1
        connection = group.connection
        tracker.release(lease)  # the last client leaves; after the grace period the group closes
        with caplog.at_level(logging.ERROR):
            await clock.run_until(lambda: not tracker.groups)
            await tracker.idle()
        [sock] = feed.sockets
        assert sock.close_calls == 1  # it was asked, it raised ...
        assert "closing the socket failed; continuing" in caplog.text  # ... which was logged, where it happened
        assert sock.aborted  # ... and the socket was dropped all the same: no descriptor kept
        # ... and every later step ran: the connection ended, the group left every map, its client and
        # its bytes are given back, and health was told the game is down with no clients
        assert connection.state is ConnState.STOPPED and not group._tasks
        assert group.closed and group.channel.closed
        assert ("tracker", "1") not in tracker.groups and ("tracker", "1") not in tracker.registry
        assert len(tracker.registry) == 0 and tracker.registry.total_clients == 0
        assert tracker.budget.cache_bytes == 0 and tracker.budget.ring_bytes == 0
        last = reports.got[-1]
        assert (last.game_id, last.sse_clients, last.upstream_connected) == ("1", 0, False)
        # the game can be followed again at once, on a fresh group and socket
        lease, again = tracker.acquire(TrackerSpec("1"))
        assert again is not group
        await clock.run_until(lambda: again.upstream_connected)
        assert len(feed.sockets) == 2
        tracker.release(lease)


async def test_a_stalled_socket_that_will_not_close_is_abandoned_and_the_game_reconnects(caplog):
    clock = FakeClock()
    feed = UnclosableFeed(["1"])  # the state, then silence: the connection stalls
    options = Settings(tracker_idle_timeout=20.0, swarm_backoff_base=0.5, swarm_backoff_cap=1.0)
    async with TrackerService(options, clock, "ws://tracker/", connector=feed.connect) as tracker:
        lease, group = tracker.acquire(TrackerSpec("1"))
        await clock.run_until(lambda: group.upstream_connected)
        with caplog.at_level(logging.ERROR):
            await clock.run_until(lambda: tracker.stats.stalls_total == 1)
            await clock.run_until(lambda: len(feed.sockets) == 2 and group.upstream_connected, limit=60)
        # asked to close once, it raised, was logged, and aborted (not asked again as the loop ended)
        assert feed.sockets[0].close_calls == 1 and feed.sockets[0].aborted
        assert "closing the stalled socket failed; abandoning it" in caplog.text
        assert group.session.state is not None and tracker.registry.total_clients == 1
        tracker.release(lease)
        await clock.run_until(lambda: not tracker.groups)
        await tracker.idle()
        assert len(tracker.registry) == 0 and tracker.budget.cache_bytes == 0
    await asyncio.sleep(0)
