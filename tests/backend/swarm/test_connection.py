"""The websockets adapter against scripted peers on 127.0.0.1: timeouts, backoff, malformed frames,
stalls and expired sessions. Time is a FakeClock: the sockets are real, no test waits for a timer.

The happy path and re-subscription run against the real simulator in tests/integration; these
peers misbehave in ways the simulator never does.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from websockets.asyncio.server import serve

from backend.clock import FakeClock
from backend.lifecycle import ConnState
from backend.swarm.connection import SwarmConnection
from backend.swarm.messages import CODE_SESSION_LOST
from tests.support.waits import recorded_delays, ride_backoffs, stop, until


def session_reply(request: dict, sid: str = "s1") -> str:
    return json.dumps({"code": 0, "rid": request["rid"], "data": {"sid": sid}})


async def test_a_peer_that_never_answers_the_session_request_times_out_and_backs_off():
    requests = []

    async def silent(ws):
        async for message in ws:
            requests.append(message)

    async with serve(silent, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = FakeClock()
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=clock, connect_timeout=30.0,
                               backoff_base=1.0, backoff_cap=8.0, rng=random.Random(1))
        delays = recorded_delays(conn)
        task = asyncio.create_task(conn.run())
        try:
            for attempt in range(3):
                await until(lambda n=attempt: len(requests) > n)  # the session request went out
                clock.advance(29.5)
                await asyncio.sleep(0.01)
                assert conn.stats.connect_failures_total == attempt  # not yet: 30 s of fake time
                clock.advance(0.5)
                await until(lambda n=attempt: len(delays) > n)
                clock.advance(delays[-1])
        finally:
            await stop(task)
        assert "Failed to get Swarm session id" in conn.stats.last_error
        assert conn.stats.connect_failures_total >= 3 and not conn.connected
        assert conn.state is ConnState.STOPPED
        # Full jitter with a doubling ceiling: attempt n waits in [0, min(8, 2**n)).
        for n, delay in enumerate(delays[:3]):
            assert 0 <= delay <= min(8.0, 2.0**n)


async def test_a_connection_that_opens_and_closes_at_once_still_backs_off_and_grows_the_ceiling():
    sessions = 0

    async def flaky(ws):
        nonlocal sessions
        request = json.loads(await ws.recv())
        sessions += 1
        await ws.send(session_reply(request, f"s{sessions}"))
        await ws.close()

    async with serve(flaky, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = FakeClock()
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=clock, backoff_base=1.0, backoff_cap=64.0,
                               stable_after=10.0, rng=random.Random(2))
        delays = await ride_backoffs(conn, clock, 5)
    assert sessions >= 5
    assert conn.backoff.failures >= 5  # never reset: no session stayed up for 10 s
    assert conn.stats.connections_opened_total >= 5
    # The ceilings double (1, 2, 4, ...): with this seed the largest of 5 delays exceeds 1 s, which it
    # could not if every reconnect were immediate or used the first ceiling.
    assert max(delays[:5]) > 1.0


async def test_malformed_frames_are_counted_and_skipped_and_the_socket_stays_up():
    async def noisy(ws):
        await ws.send(session_reply(json.loads(await ws.recv())))
        await ws.send("this is not json")
        await ws.send(json.dumps({"code": "zero", "rid": 5}))  # wrong type
        await ws.send("[1,2")
        await ws.send("[" * 5000 + "]" * 5000)  # absurdly deep
        request = json.loads(await ws.recv())
        await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"data": {"ok": True}}}))
        await ws.wait_closed()

    async with serve(noisy, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=FakeClock())
        task = asyncio.create_task(conn.run())
        try:
            await until(lambda: conn.connected)
            await until(lambda: conn.stats.parse_errors_total == 4)
            reply = await asyncio.wait_for(conn.request("get", {}, timeout=5), 5)
            assert reply.data == {"data": {"ok": True}}
            assert conn.connected and conn.session_id == "s1"
            assert conn.stats.connect_attempts_total == 1
        finally:
            await stop(task)


async def test_requests_wait_for_a_session_and_time_out_when_none_comes():
    clock = FakeClock()
    conn = SwarmConnection("ws://127.0.0.1:9/", clock=clock, rng=random.Random(3))  # nothing listens there
    task = asyncio.create_task(conn.run())
    try:
        pending = asyncio.create_task(conn.request("get", {}, timeout=5))
        await until(lambda: conn.stats.connect_failures_total >= 1)
        assert not pending.done()
        await clock.run_until(pending.done, limit=10)
        with pytest.raises(Exception, match="Swarm request get timed out"):
            await pending
    finally:
        await stop(task)


async def test_a_request_on_a_connection_that_is_not_running_fails_at_once():
    conn = SwarmConnection("ws://127.0.0.1:9/", clock=FakeClock())
    with pytest.raises(Exception, match="not running"):
        await conn.request("get", {}, timeout=5)


async def test_cancelling_the_loop_releases_the_socket_and_fails_pending_requests():
    async def mute(ws):
        await ws.send(session_reply(json.loads(await ws.recv())))
        await ws.wait_closed()

    async with serve(mute, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=FakeClock())
        task = asyncio.create_task(conn.run())
        await until(lambda: conn.connected)
        pending = asyncio.create_task(conn.request("get", {}, timeout=30))
        await asyncio.sleep(0.01)
        await stop(task)
        with pytest.raises(Exception, match="closed|stopped"):
            await pending
        assert not conn.connected and conn.session_id is None
        await until(lambda: all(c.state.name != "OPEN" for c in server.connections))


async def test_a_feed_that_goes_quiet_is_probed_and_replaced_within_seconds():
    # A socket that stays open but answers nothing is noticed by the liveness probe (docs/api.md D6), in
    # idle_probe + probe_timeout seconds, then the normal reconnect brings a new session.
    connections = 0
    subscribes = []

    async def goes_quiet(ws):
        nonlocal connections
        connections += 1
        await ws.send(session_reply(json.loads(await ws.recv()), f"s{connections}"))
        async for message in ws:
            request = json.loads(message)
            if request["params"].get("subscribe") and connections == 1:
                subscribes.append(request)
                await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"subid": "1", "data": {}}}))
            elif request["params"].get("subscribe"):
                subscribes.append(request)  # the second connection: accepted, then the test ends
                await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"subid": "2", "data": {}}}))
            # everything else -- the probe -- goes unanswered

    async with serve(goes_quiet, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock = FakeClock()
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=clock, idle_probe=3.0, probe_timeout=2.0,
                               rng=random.Random(4))
        snapshots = []
        task = asyncio.create_task(conn.run())
        try:
            await until(lambda: conn.connected)
            conn.subscribe({"game": ["id"]}, {}, lambda tree, delta: snapshots.append(delta))
            await until(lambda: snapshots == [None])
            start = clock.monotonic()
            while conn.stats.stalls_total == 0:
                clock.advance(0.5)
                await asyncio.sleep(0.005)
            assert clock.monotonic() - start <= 6.0
            assert conn.stats.stalls_total == 1 and "stalled" in conn.stats.last_error
            await clock.run_until(lambda: len(snapshots) == 2, limit=60)
            assert snapshots == [None, None] and connections == 2  # resubscribed on the new session
        finally:
            await stop(task)


async def test_an_expired_session_is_renewed_on_the_same_socket_and_subscriptions_restored():
    # A lost session (docs/api.md D3), against a peer that forgets it after the first subscription.
    sessions = []

    async def forgetful(ws):
        session = None
        async for message in ws:
            request = json.loads(message)
            if request["command"] == "request_session":
                session = f"s{len(sessions) + 1}"
                sessions.append(session)
                await ws.send(session_reply(request, session))
            elif request["params"].get("subscribe"):
                await ws.send(json.dumps({"code": 0, "rid": request["rid"],
                                          "data": {"subid": session, "data": {"game": {"1": {"id": 1}}}}}))
            elif session == "s1":
                session = None
                await ws.send(json.dumps({"code": CODE_SESSION_LOST, "rid": request["rid"], "msg": "no session"}))
            else:
                await ws.send(json.dumps({"code": 0, "rid": request["rid"], "data": {"data": {"answer": session}}}))

    async with serve(forgetful, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = SwarmConnection(f"ws://127.0.0.1:{port}/", clock=FakeClock())
        deliveries = []
        task = asyncio.create_task(conn.run())
        try:
            await until(lambda: conn.connected)
            conn.subscribe({"game": ["id"]}, {}, lambda tree, delta: deliveries.append((dict(tree), delta)))
            await until(lambda: len(deliveries) == 1)
            reply = await asyncio.wait_for(conn.request("get", {"what": {}}, timeout=10), 5)
            assert reply.data == {"data": {"answer": "s2"}}  # answered in the new session
            await until(lambda: len(deliveries) == 2)
            assert deliveries[1] == ({"game": {"1": {"id": 1}}}, None)  # a fresh snapshot
            assert sessions == ["s1", "s2"] and conn.session_id == "s2"
            assert conn.stats.session_expiries_total == 1 and conn.stats.connect_attempts_total == 1
        finally:
            await stop(task)
