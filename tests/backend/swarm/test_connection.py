"""The websockets adapter against scripted peers on 127.0.0.1: timeouts, backoff, malformed frames.

The happy path and re-subscription run against the real simulator in tests/integration; these
peers misbehave in ways the simulator never does.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from websockets.asyncio.server import serve

from backend.clock import FakeClock, SystemClock
from backend.swarm.connection import SwarmConnection
from backend.swarm.lifecycle import ConnState


class RecordingClock(SystemClock):
    """Real time, but every backoff sleep is recorded and shortened to 10 ms."""

    def __init__(self, connect_timeout: float = 30.0) -> None:
        self.sleeps: list[float] = []
        self.real = {0.5, connect_timeout}  # the request ticker's period and the connect timer

    async def sleep(self, seconds: float) -> None:
        if seconds in self.real:
            await asyncio.sleep(seconds)
            return
        self.sleeps.append(seconds)
        await asyncio.sleep(0.01)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


async def test_a_peer_that_never_answers_the_session_request_times_out_and_backs_off():
    async def silent(ws):
        await ws.wait_closed()

    async with serve(silent, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = RecordingClock(connect_timeout=0.2)
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=clock, connect_timeout=0.2,
                               backoff_base=1.0, backoff_cap=8.0, rng=random.Random(1))
        task = asyncio.create_task(conn.run())
        try:
            await wait_until(lambda: conn.stats.connect_failures_total >= 3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert "connect timeout (0.2s)" in conn.stats.last_error
        assert not conn.connected
        assert conn.state is ConnState.STOPPED
        # Full jitter with a doubling ceiling: attempt n waits in [0, min(8, 2**n)).
        for n, delay in enumerate(clock.sleeps[:3]):
            assert 0 <= delay <= min(8.0, 2.0**n)


async def test_a_connection_that_opens_and_closes_at_once_still_backs_off_and_grows_the_ceiling():
    sessions = 0

    async def flaky(ws):
        nonlocal sessions
        request = json.loads(await ws.recv())
        sessions += 1
        await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"sid": f"s{sessions}"}}))
        await ws.close()

    async with serve(flaky, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = RecordingClock()
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=clock, backoff_base=1.0, backoff_cap=64.0,
                               stable_after=10.0, rng=random.Random(2))
        task = asyncio.create_task(conn.run())
        try:
            await wait_until(lambda: len(clock.sleeps) >= 5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert sessions >= 5
    assert conn.backoff.failures >= 5  # never reset: no session stayed up for 10 s
    assert conn.stats.connections_opened_total >= 5 and conn.stats.connect_failures_total == 0
    # The ceilings double (1, 2, 4, ...): the sum of 5 jittered delays exceeds 1 s with this seed,
    # which it could not if every reconnect were immediate or used the first ceiling.
    assert max(clock.sleeps[:5]) > 1.0


async def test_malformed_frames_are_counted_and_skipped_and_the_socket_stays_up():
    async def noisy(ws):
        request = json.loads(await ws.recv())
        await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"sid": "s1"}}))
        await ws.send("this is not json")
        await ws.send(json.dumps({"code": "zero", "rid": 5}))  # wrong type
        await ws.send("[1,2")
        request = json.loads(await ws.recv())
        await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"data": {"ok": True}}}))
        await ws.wait_closed()

    async with serve(noisy, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=SystemClock())
        task = asyncio.create_task(conn.run())
        try:
            await wait_until(lambda: conn.connected)
            await wait_until(lambda: conn.stats.parse_errors_total == 3)
            reply = await conn.request("get", {}, timeout=5)
            assert reply.data == {"data": {"ok": True}}
            assert conn.connected and conn.session_id == "s1"
            assert conn.stats.connect_attempts_total == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_requests_wait_for_a_session_and_time_out_when_none_comes():
    conn = SwarmConnection("ws://127.0.0.1:9/", clock=SystemClock())  # never started
    with pytest.raises(Exception, match="Swarm request get timed out"):
        await conn.request("get", {}, timeout=0.05)


async def test_cancelling_the_loop_releases_the_socket_and_fails_pending_requests():
    async def mute(ws):
        request = json.loads(await ws.recv())
        await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"sid": "s1"}}))
        await ws.wait_closed()

    async with serve(mute, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=SystemClock())
        task = asyncio.create_task(conn.run())
        await wait_until(lambda: conn.connected)
        pending = asyncio.create_task(conn.request("get", {}, timeout=30))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with pytest.raises(Exception, match="closed"):
            await pending
        assert not conn.connected and conn.session_id is None
        assert len(server.connections) == 0 or all(c.state.name != "OPEN" for c in server.connections)


def test_fake_clock_is_available_for_virtual_time():
    clock = FakeClock()
    before = clock.monotonic()
    clock.advance(5)
    assert clock.monotonic() == before + 5
