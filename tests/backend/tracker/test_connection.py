"""One game's tracker connection on a fake clock, against the in-memory tracker feed and against
scripted peers on 127.0.0.1 that misbehave as the simulator never does (a feed that drops every
connection at once, one that accepts TCP and never answers the WebSocket handshake). The sockets
are real; every timer (the connect timeout, the backoff) is on the FakeClock, so no test waits for one.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from oddsui.tracker_feed import MatchState, Score, Teams, encode_frame
from websockets.asyncio.server import serve

from backend.backoff import ceiling
from backend.clock import FakeClock
from backend.lifecycle import ConnState
from backend.tracker.connection import TrackerConnection, TrackerStats
from backend.tracker.session import Snapshot, TrackerSession
from tests.support.fake_feed import FakeTrackerFeed
from tests.support.waits import recorded_delays, ride_backoffs, stop, until


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


async def test_a_feed_that_sends_the_state_and_hangs_up_at_once_still_backs_off_and_grows_the_ceiling():
    subscriptions = 0
    state = encode_frame(MatchState(game_id="1", seq=0, sport="football", teams=Teams("A", "B"),
                                    score=Score())).decode()

    async def hang_up(ws):
        nonlocal subscriptions
        await ws.recv()  # the subscription
        subscriptions += 1
        await ws.send(state)
        await ws.close()

    async with serve(hang_up, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = FakeClock()
        events = []
        conn = TrackerConnection(f"ws://127.0.0.1:{port}/tracker", TrackerSession("1"), events.extend,
                                 clock=clock, stats=TrackerStats(), backoff_base=1.0, backoff_cap=64.0,
                                 stable_after=10.0, rng=random.Random(2))
        delays = await ride_backoffs(conn, clock, 5)
    assert subscriptions >= 5
    assert conn.stats.connections_opened_total >= 5  # each one delivered the state: a live connection
    assert conn.stats.connect_failures_total == 0
    assert sum(isinstance(e, Snapshot) for e in events) >= 5
    assert conn.backoff.failures >= 5  # never reset: no connection stayed up for 10 s
    for n, delay in enumerate(delays[:5]):
        assert 0 <= delay <= ceiling(n, 1.0, 64.0)
    # The ceilings double (1, 2, 4, ...): with this seed the largest of 5 delays exceeds 1 s, which it
    # could not if every reconnect were immediate or stayed on the first ceiling.
    assert max(delays[:5]) > 1.0


async def test_a_feed_that_accepts_tcp_but_never_answers_the_handshake_times_out_on_the_clock_and_backs_off():
    handshakes: list[bytes] = []
    hung_up = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal hung_up
        request = b""
        while chunk := await reader.read(4096):  # read whatever comes, say nothing
            request += chunk
            if b"\r\n\r\n" in request and request not in handshakes:
                handshakes.append(request)
        hung_up += 1  # the client closed its end
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock()
    events = []
    conn = TrackerConnection(f"ws://127.0.0.1:{port}/tracker", TrackerSession("1"), events.extend, clock=clock,
                             stats=TrackerStats(), connect_timeout=30.0, backoff_base=1.0, backoff_cap=8.0,
                             rng=random.Random(1))
    delays = recorded_delays(conn)
    task = asyncio.create_task(conn.run())
    try:
        for attempt in range(3):
            await until(lambda n=attempt: len(handshakes) > n)  # the upgrade request arrived, unanswered
            assert b"upgrade: websocket" in handshakes[-1].lower()
            clock.advance(29.5)
            await asyncio.sleep(0.01)
            assert conn.stats.connect_failures_total == attempt  # not yet: 30 s of fake time
            assert conn.state is ConnState.CONNECTING
            clock.advance(0.5)
            await until(lambda n=attempt: len(delays) > n)
            assert conn.stats.connect_failures_total == attempt + 1
            assert conn.stats.last_error == "tracker connect timeout (30s)"
            assert conn.state is ConnState.BACKOFF
            await until(lambda n=attempt: hung_up > n)  # the half-open socket was closed, not left behind
            clock.advance(delays[-1])
    finally:
        await stop(task)
        server.close()
        await server.wait_closed()
    assert events == [] and conn.stats.connections_opened_total == 0
    for n, delay in enumerate(delays[:3]):
        assert 0 <= delay <= ceiling(n, 1.0, 8.0)
