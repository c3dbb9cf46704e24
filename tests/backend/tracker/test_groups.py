"""One game's tracker group on a fake clock, against the in-memory tracker feed: what it charges
the budget for the match state, when it says ``ready``, and what it tells health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from oddsui.tracker_feed import MatchEnd, encode_frame

from backend.clock import FakeClock
from backend.health.reports import TrackerReport
from backend.hub.fanout import Client, encode_json
from backend.settings import Settings
from backend.tracker.groups import TrackerGroup, TrackerSpec
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeTrackerFeed


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed() -> FakeTrackerFeed:
    return FakeTrackerFeed(["1"])


@pytest_asyncio.fixture
async def tracker(clock, feed) -> AsyncIterator[TrackerService]:
    options = Settings(swarm_backoff_base=0.5, swarm_backoff_cap=2.0, tracker_idle_timeout=1e6)
    async with TrackerService(options, clock, "ws://tracker/", connector=feed.connect) as service:
        yield service


async def followed(tracker: TrackerService, clock: FakeClock) -> TrackerGroup:
    _lease, group = tracker.acquire(TrackerSpec("1"))
    assert isinstance(group, TrackerGroup)
    await clock.run_until(lambda: group.session.state is not None)
    return group


async def test_the_budget_follows_the_state_as_its_timeline_grows_to_its_cap(tracker, clock, feed):
    group = await followed(tracker, clock)
    for goal in range(1, 260):  # past the 200 events a timeline keeps
        feed.goal("1")
        await settle()
        exact = len(encode_json(group.session.state))
        assert abs(tracker.budget.cache_bytes - exact) <= exact // 50, goal  # within 2 %, every frame
    assert len(group.session.state.timeline) == 200


class Reader:
    """An attached SSE client of a group: what it got, as (event name, data) pairs."""

    def __init__(self, group: TrackerGroup) -> None:
        self.received = bytearray(b"".join(group.late_joiner_frames()))
        group.channel.attach(Client(self.send, group.channel.seq))

    async def send(self, message: dict) -> None:
        self.received += message.get("body", b"")

    def events(self) -> list[str]:
        """Each message: its event name, or the frame type of an unnamed one."""
        names = []
        for block in bytes(self.received).split(b"\n\n"):
            lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
            if b"event" in lines:
                names.append(lines[b"event"].decode())
            elif b"data" in lines:
                names.append(json.loads(lines[b"data"])["type"])
        return names


async def test_ready_comes_once_per_connection_that_delivers_a_state_not_per_attempt(tracker, clock, feed):
    group = await followed(tracker, clock)
    early = Reader(group)  # joined while the first connection is up: its opening says ready
    assert early.events() == ["ready", "state"]
    feed.refuse_connections = True
    await feed.open_sockets("1")[0].close()
    await clock.run_until(lambda: tracker.stats.connect_failures_total >= 10)  # ten attempts fail
    late = Reader(group)  # joined while the feed is away: the state so far, no ready
    assert late.events() == ["state"]
    assert early.events() == ["ready", "state"]  # no ready for the attempts that failed
    feed.refuse_connections = False
    await clock.run_until(lambda: group.upstream_connected)
    await settle()
    assert early.events() == ["ready", "state", "ready", "state"]  # the new connection: ready, its state
    assert late.events() == ["state", "ready", "state"]
    feed.goal("1")
    await settle()
    assert Reader(group).events() == ["ready", "state"]  # a client joining now: the state with the goal
    assert early.events()[-1] == "event"


async def test_the_first_client_of_a_game_hears_ready_with_the_first_state(tracker, clock, feed):
    _lease, group = tracker.acquire(TrackerSpec("1"))
    first = Reader(group)
    assert first.events() == []  # nothing yet: the socket is not even open
    await clock.run_until(lambda: group.session.state is not None)
    await settle()
    assert first.events() == ["ready", "state"]


class Recorder:
    def __init__(self) -> None:
        self.reports: list[TrackerReport] = []

    def report(self, report: TrackerReport) -> None:
        self.reports.append(report)


async def test_health_hears_of_every_text_the_feed_sent_as_the_trackers_own_count_does(clock, feed):
    recorder = Recorder()
    options = Settings(tracker_idle_timeout=1e6)
    async with TrackerService(options, clock, "ws://tracker/", reporter=recorder, connector=feed.connect) as tracker:
        group = await followed(tracker, clock)
        sock = feed.open_sockets("1")[0]
        feed.goal("1")
        goal = feed.games["1"].state.timeline[-1]
        sock.push(encode_frame(goal).decode())  # a duplicate: dropped
        sock.push("not a frame")  # malformed
        sock.push(encode_frame(MatchEnd(game_id="1", seq=goal.seq + 1, score=goal.score)).decode())
        await settle()
        assert group.session.ended and tracker.stats.messages_total == 5
        group.report(clock.monotonic(), 1, force=True)
        sent = sum(r.delta_messages for r in recorder.reports)
        assert sent == tracker.stats.messages_total == 5  # the state, the goal, the duplicate, the malformed, the end
        assert sum(r.delta_parse_errors for r in recorder.reports) == tracker.stats.parse_errors_total == 1
