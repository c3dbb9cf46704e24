"""One game's tracker group on a fake clock, against the in-memory tracker feed: what it charges
the budget for the match state, when it says ``ready``, what it tells health, and how its clients
fare on the hub's channel and reaper (heartbeats, a stuck client dropped)."""

from __future__ import annotations

import asyncio
import json
import re
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


class Peer:
    """The ASGI side of one tracker stream: ``send`` keeps the body, or once ``stuck`` never completes
    a data write (a client that stopped reading); ``receive`` reports a disconnect only when told."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.received = bytearray()
        self.stuck = False
        self.gone = asyncio.Event()

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            return
        if self.stuck and message.get("more_body"):
            await asyncio.get_running_loop().create_future()  # never resolved
        self.received += message.get("body", b"")

    async def receive(self) -> dict:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    def pings(self) -> list[int]:
        return [int(ms) for ms in re.findall(rb"^: ping (\d+)\n\n", bytes(self.received), re.MULTILINE)]

    def goals(self) -> int:
        return bytes(self.received).count(b'"kind":"goal"')


def open_stream(tracker: TrackerService, peer: Peer) -> asyncio.Task[None]:
    """What the route does for one client of game 1: take a lease, let the game's channel serve the
    connection, give the lease back however it ends."""
    lease, group = tracker.acquire(TrackerSpec("1"))

    async def serve() -> None:
        try:
            await group.ready()
            await group.channel.serve(peer.send, peer.receive, [], tracker.preamble(), None,
                                      group.late_joiner_frames)
        finally:
            tracker.release(lease)

    return asyncio.create_task(serve())


async def test_a_tracker_stream_gets_a_heartbeat_every_interval_while_the_feed_is_quiet(tracker, clock, feed):
    peer = Peer()
    task = open_stream(tracker, peer)
    await clock.run_until(lambda: b'"type":"state"' in peer.received)
    assert peer.status == 200 and peer.pings() == []
    started = tracker.started_at
    await clock.run_until(lambda: len(peer.pings()) == 1)
    assert clock.monotonic() == started + tracker.heartbeat_interval  # the reaper's round that is due
    assert peer.pings() == [int(clock.time() * 1000)]
    await clock.run_until(lambda: len(peer.pings()) == 3)
    first, second, third = peer.pings()
    assert second - first == third - second == int(tracker.heartbeat_interval * 1000)
    assert not task.done() and tracker.registry.total_clients == 1  # the stream stays open
    peer.gone.set()
    await task
    assert tracker.registry.total_clients == 0


async def test_a_stuck_tracker_client_is_dropped_after_the_write_timeout_and_the_others_keep_going(
        tracker, clock, feed):
    healthy, stuck = Peer(), Peer()
    tasks = [open_stream(tracker, healthy), open_stream(tracker, stuck)]
    await clock.run_until(lambda: all(b'"type":"state"' in p.received for p in (healthy, stuck)))
    group = tracker.groups[TrackerSpec("1").key]
    assert tracker.registry.total_clients == 2
    stuck.stuck = True
    feed.goal("1")
    await settle()
    assert healthy.goals() == 1 and stuck.goals() == 0 and len(group.channel.parked) == 1
    parked_at = clock.monotonic()
    await clock.run_until(lambda: tracker.fanout_stats.drops.get("stuck") == 1, step=0.5)
    timeout = group.channel.write_timeout
    assert timeout <= clock.monotonic() - parked_at <= timeout + 0.5  # within one reaper round
    await settle()
    assert tasks[1].done() and tasks[1].exception() is None  # its stream ended, its lease given back
    assert tracker.registry.total_clients == 1 and len(group.channel.clients) == 1 and not group.channel.parked
    assert tracker.fanout_stats.drops == {"stuck": 1}
    feed.goal("1")
    await settle()
    assert healthy.goals() == 2 and not tasks[0].done()
    healthy.gone.set()
    await tasks[0]
