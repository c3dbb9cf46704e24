"""The upstream connection as a state machine: a fake feed at the socket boundary, a fake clock.

The feed decides how each connection attempt goes (refused, hanging, accepted without a session,
accepted); time moves only when a rule says so. Properties: an attempt never outlives the connect
timeout, every reconnect delay is full jitter under the doubling ceiling, at most one socket is
open, and whenever a session is live the feed holds exactly the subscriptions the hub has open.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from websockets.exceptions import ConnectionClosedOK

from backend.backoff import ceiling
from backend.clock import FakeClock
from backend.lifecycle import ConnState
from backend.swarm.connection import SwarmConnection

CONNECT_TIMEOUT = 30.0
BASE, CAP = 1.0, 16.0
_END = object()


class FakeSocket:
    def __init__(self, feed: FakeFeed, answers_session: bool) -> None:
        self.feed = feed
        self.answers_session = answers_session
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False
        self.subs: set[str] = set()

    async def send(self, data, text=True):
        if self.closed:
            raise ConnectionClosedOK(None, None)
        msg = json.loads(data)
        command, rid = msg["command"], msg["rid"]
        if command == "request_session":
            if self.answers_session:
                self.reply({"code": 0, "rid": rid, "data": {"sid": f"sid{next(self.feed.ids)}"}})
        elif command == "get" and msg["params"].get("subscribe"):
            subid = str(next(self.feed.ids))
            self.subs.add(subid)
            self.reply({"code": 0, "rid": rid, "data": {"subid": subid, "data": {"game": {}}}})
        elif command == "get":  # the liveness probe
            self.reply({"code": 0, "rid": rid, "data": {"data": {}}})
        elif command == "unsubscribe":
            self.subs.discard(str(msg["params"]["subid"]))
            self.reply({"code": 0, "rid": rid, "data": {}})

    def reply(self, frame) -> None:
        self.incoming.put_nowait(json.dumps(frame))

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.incoming.get()
        if item is _END:
            raise StopAsyncIteration
        return item

    async def close(self):
        if not self.closed:
            self.closed = True
            self.incoming.put_nowait(_END)


class FakeFeed:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.outcomes: list[str] = []
        self.ids = itertools.count(1)
        self.sockets: list[FakeSocket] = []
        self.attempt_started: float | None = None

    async def connect(self, url: str):
        self.attempt_started = self.clock.monotonic()
        outcome = self.outcomes.pop(0) if self.outcomes else "accept"
        if outcome == "refuse":
            raise ConnectionRefusedError("refused")
        if outcome == "hang":
            await asyncio.get_running_loop().create_future()
        sock = FakeSocket(self, answers_session=(outcome == "accept"))
        self.sockets.append(sock)
        return sock

    @property
    def open_sockets(self) -> list[FakeSocket]:
        return [s for s in self.sockets if not s.closed]


class ConnectionMachine(RuleBasedStateMachine):
    handles = Bundle("handles")

    @initialize(seed=st.integers(0, 2**16))
    def setup(self, seed):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FakeClock()
        self.feed = FakeFeed(self.clock)
        self.conn = SwarmConnection("ws://feed/", clock=self.clock, connect_timeout=CONNECT_TIMEOUT,
                                    backoff_base=BASE, backoff_cap=CAP, stable_after=10.0,
                                    rng=random.Random(seed), connector=self.feed.connect)
        self.delays: list[tuple[float, int]] = []  # every reconnect delay, with the failures before it
        next_delay = self.conn.backoff.next_delay

        def recording_next_delay() -> float:
            delay = next_delay()
            self.delays.append((delay, self.conn.backoff.failures))
            return delay

        self.conn.backoff.next_delay = recording_next_delay  # type: ignore[method-assign]
        self.task = self.loop.create_task(self.conn.run())
        self.open_handles: set = set()
        self.settle()

    def settle(self) -> None:
        for _ in range(30):
            self.loop.run_until_complete(asyncio.sleep(0))

    def teardown(self):
        self.task.cancel()
        self.settle()
        assert self.conn.state is ConnState.STOPPED
        assert not self.feed.open_sockets  # cancelling releases the socket
        self.loop.close()
        asyncio.set_event_loop(None)

    @rule(outcome=st.sampled_from(["refuse", "hang", "mute", "accept"]))
    def next_attempt_goes(self, outcome):
        self.feed.outcomes.append(outcome)

    @rule(dt=st.sampled_from([0.5, 3.0, 12.0, 31.0]))
    def time_passes(self, dt):
        self.clock.advance(dt)
        self.settle()

    @rule()
    def feed_drops_the_socket(self):
        for sock in self.feed.open_sockets:
            self.loop.run_until_complete(sock.close())
        self.settle()

    @rule(target=handles)
    def subscribe(self):
        handle = self.conn.subscribe({"game": ["id"]}, {}, lambda tree, delta: None)
        self.open_handles.add(handle)
        self.settle()
        return handle

    @rule(handle=handles)
    def unsubscribe(self, handle):
        handle.close()
        self.open_handles.discard(handle)
        self.settle()

    @invariant()
    def an_attempt_never_outlives_the_connect_timeout(self):
        if self.conn.state in (ConnState.CONNECTING, ConnState.SESSION):
            assert self.clock.monotonic() - self.feed.attempt_started < CONNECT_TIMEOUT

    @invariant()
    def reconnect_delays_are_full_jitter_under_the_doubling_ceiling(self):
        for delay, failures in self.delays:
            assert 0.0 <= delay <= ceiling(failures - 1, BASE, CAP)

    @invariant()
    def at_most_one_socket_is_open(self):
        assert len(self.feed.open_sockets) <= 1

    @invariant()
    def a_live_session_holds_exactly_the_open_subscriptions(self):
        if self.conn.connected:
            (sock,) = self.feed.open_sockets
            assert all(h.active for h in self.open_handles)
            assert sock.subs == {h._sub.subid for h in self.open_handles}


TestConnection = ConnectionMachine.TestCase
TestConnection.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
