"""Fan-out: encode once, the ring as shared backlog, parked/stuck/failing clients, resume.

The channel is driven with fake ASGI ``send`` coroutines on a private event loop and a fake clock,
so every timing rule (write timeout, retries) is exercised without sleeping.
"""

from __future__ import annotations

import asyncio
import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from backend.clock import FakeClock
from backend.hub.fanout import PADDING, Channel, Client, FanoutStats, ReplayRing, sse_comment, sse_event

ID_RE = re.compile(rb"id: (\S+)-(\d+)\nevent: (\w+)\ndata: ([^\n]*)\n\n")


class FakePeer:
    """An ASGI ``send`` that accepts, blocks until released, or raises -- as told."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.mode = "ok"
        self.received = bytearray()
        self.finished = False
        self.gate: asyncio.Future[None] | None = None
        self.attempts = 0

    async def send(self, message: dict) -> None:
        self.attempts += message.get("more_body", False)  # data writes; the final close is not one
        if self.mode == "fail":
            raise OSError("connection reset")
        if self.mode == "block":
            self.gate = self.loop.create_future()
            await self.gate
        self.received += message["body"]
        if not message.get("more_body", False):
            self.finished = True

    def release(self) -> None:
        self.mode = "ok"
        if self.gate is not None and not self.gate.done():
            self.gate.set_result(None)

    def seqs(self) -> list[int]:
        return [int(m.group(2)) for m in ID_RE.finditer(bytes(self.received))]


def drain(loop: asyncio.AbstractEventLoop) -> None:
    for _ in range(5):
        loop.run_until_complete(asyncio.sleep(0))


def make_channel(clock: FakeClock, **kw) -> Channel:
    kw.setdefault("retry_delay", 0.0)
    return Channel("test", "ep.1", clock=clock, stats=FanoutStats(), **kw)


# -- unit behaviour -------------------------------------------------------------------------------

def test_frames_are_exact_sse():
    assert sse_event("odds", b'{"a":1}') == b'event: odds\ndata: {"a":1}\n\n'
    assert sse_event("odds", b"{}", "e-3") == b"id: e-3\nevent: odds\ndata: {}\n\n"
    assert sse_comment("ready 5") == b": ready 5\n\n"
    assert PADDING == b": " + b" " * 2048 + b"\n\n"


class FakeTransport:
    """What ``backlogged`` and ``abort_connection`` reach through a server's ``send``."""

    def __init__(self, unsent: int) -> None:
        self.unsent = unsent
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def get_extra_info(self, name: str) -> None:
        return None

    def abort(self) -> None:
        self.aborted = True


class FakeCycle(FakePeer):
    """A peer whose ``send`` is a method of an object holding its transport, as uvicorn's is."""

    def __init__(self, loop: asyncio.AbstractEventLoop, unsent: int) -> None:
        super().__init__(loop)
        self.transport = FakeTransport(unsent)


def test_a_client_whose_transport_still_holds_bytes_is_reset_not_closed_behind_them():
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        channel = make_channel(clock)
        keeping_up, behind = FakeCycle(loop, 0), FakeCycle(loop, 256 * 1024)
        clients = [Client(peer.send, 0) for peer in (keeping_up, behind)]

        async def publish_then_close() -> None:
            for client in clients:
                channel.attach(client)
            channel.publish("odds", {"n": 1})
            for _ in range(3):
                await asyncio.sleep(0)
            channel.close_all("group closed")

        loop.run_until_complete(publish_then_close())
        # the one keeping up gets the end of its response; the other's connection is reset at once
        assert keeping_up.finished and not keeping_up.transport.aborted
        assert behind.transport.aborted and not behind.finished
        assert channel.stats.aborted == 1
    finally:
        loop.close()


def test_one_publish_reaches_every_client_as_the_same_bytes_object():
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        chunks: list[bytes] = []

        async def send(message):
            chunks.append(message["body"])

        async def scenario():
            ch = make_channel(clock)
            for _ in range(3):
                ch.attach(Client(send, ch.seq))
            ch.publish("odds", {"x": 1})
            ch.publish("odds", {"x": 2})
            await asyncio.sleep(0)
            return ch

        ch = loop.run_until_complete(scenario())
        assert len(chunks) == 3 and chunks[0] is chunks[1] is chunks[2]  # two events, one write each
        assert chunks[0].count(b"event: odds") == 2
        assert ch.stats.writes == 3
    finally:
        loop.close()


# -- the replay ring --------------------------------------------------------------------------------

class RingMachine(RuleBasedStateMachine):
    @initialize(max_frames=st.integers(1, 12), max_bytes=st.integers(1, 300))
    def setup(self, max_frames, max_bytes):
        self.ring = ReplayRing(max_frames, max_bytes)
        self.all: list[bytes] = []

    @rule(frame=st.binary(min_size=1, max_size=50))
    def append(self, frame):
        assert self.ring.append(frame) == len(self.all) + 1
        self.all.append(frame)

    @rule(data=st.data())
    def resume(self, data):
        pos = data.draw(st.integers(-2, len(self.all) + 2))
        got = self.ring.after(pos)
        if got is None:
            assert not self.ring.covers(pos)
            assert pos < 0 or pos > len(self.all) or pos < self.ring.first_seq - 1
        else:
            assert got == b"".join(self.all[pos:])  # exactly the missed frames, in order

    @invariant()
    def bounded(self):
        if self.all:
            assert 1 <= len(self.ring) <= self.ring.max_frames
            assert len(self.ring) == 1 or self.ring.nbytes <= self.ring.max_bytes
            assert self.ring.after(self.ring.seq - 1) == self.all[-1]  # the newest frame is always kept


TestReplayRing = RingMachine.TestCase


# -- the channel as a state machine --------------------------------------------------------------------

class ChannelMachine(RuleBasedStateMachine):
    peers = Bundle("peers")

    @initialize()
    def setup(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FakeClock()
        self.channel = make_channel(self.clock, ring_frames=16, ring_bytes=100_000, write_timeout=15.0, slice_size=2,
                                    max_retries=3)
        self.clients: dict[int, tuple[Client, FakePeer, int]] = {}  # id -> (client, peer, joined_at_seq)
        self.good: set[int] = set()  # peers that never blocked or failed
        self.n = 0
        self.dropped_by_server = 0

    def teardown(self):
        self.channel.close_all("shutdown")
        drain(self.loop)
        self.loop.close()
        asyncio.set_event_loop(None)

    def run(self, coro_fn):
        async def wrapper():
            coro_fn()
        self.loop.run_until_complete(wrapper())
        drain(self.loop)

    @rule(target=peers)
    def join(self):
        peer = FakePeer(self.loop)
        client = Client(peer.send, self.channel.seq)
        self.run(lambda: self.channel.attach(client))
        self.n += 1
        self.clients[self.n] = (client, peer, self.channel.seq)
        self.good.add(self.n)
        return self.n

    @rule(count=st.integers(1, 4), interleave=st.booleans())
    def publish(self, count, interleave):
        async def go():
            for i in range(count):
                self.channel.publish_raw("odds", b'{"n":%d}' % i)
                if interleave:  # let a flush slice run between two events
                    await asyncio.sleep(0)
        self.loop.run_until_complete(go())
        drain(self.loop)

    @rule(ident=peers, mode=st.sampled_from(["block", "fail"]))
    def misbehave(self, ident, mode):
        client, peer, _ = self.clients[ident]
        if not client.closed:
            peer.mode = mode
            self.good.discard(ident)

    @rule(ident=peers)
    def recover(self, ident):
        client, peer, _ = self.clients[ident]
        self.run(peer.release)

    @rule(ident=peers)
    def leave(self, ident):
        client, peer, _ = self.clients[ident]
        self.run(lambda: self.channel.detach(client))
        client.closed = True
        self.good.discard(ident)

    @rule(dt=st.sampled_from([1.0, 7.5, 16.0]))
    def time_passes(self, dt):
        self.clock.advance(dt)
        self.run(self.channel.check_stuck)

    @rule()
    def heartbeat(self):
        self.run(lambda: self.channel.heartbeat(sse_comment("ping")))

    @invariant()
    def memory_is_bounded_by_the_ring(self):
        if not hasattr(self, "channel"):
            return
        assert len(self.channel.ring) <= 16
        assert self.channel.parked <= set(self.channel.clients)
        assert all(not c.closed for c in self.channel.clients)

    @invariant()
    def good_clients_are_never_held_up_and_see_every_event_once_in_order(self):
        if not hasattr(self, "channel"):
            return
        for ident in self.good:
            client, peer, joined = self.clients[ident]
            assert client.pos == self.channel.seq
            assert peer.seqs() == list(range(joined + 1, self.channel.seq + 1))

    @invariant()
    def every_client_sees_a_gapless_prefix(self):
        if not hasattr(self, "channel"):
            return
        for _client, peer, joined in self.clients.values():
            seqs = peer.seqs()
            assert seqs == list(range(joined + 1, joined + 1 + len(seqs)))

    @invariant()
    def stuck_and_failing_clients_are_dropped_and_counted(self):
        if not hasattr(self, "channel"):
            return
        now = self.clock.monotonic()
        for client in self.channel.parked:
            assert now - client.parked_since < 15.0
        for client, peer, _ in self.clients.values():
            if peer.mode == "fail" and client in self.channel.clients:
                assert client.failures <= 3
        drops = self.channel.stats.drops
        closed_by_server = sum(1 for c, _, _ in self.clients.values() if c.close_reason is not None)
        assert sum(drops.values()) == closed_by_server
        assert set(drops) <= {"stuck", "write_failed", "lagging"}


TestChannel = ChannelMachine.TestCase
TestChannel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_a_failing_client_is_retried_three_times_then_dropped():
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        ch = make_channel(clock, retry_delay=0.05)
        peer = FakePeer(loop)
        peer.mode = "fail"
        client = Client(peer.send, 0)

        async def go():
            ch.attach(client)
            ch.publish_raw("odds", b"{}")
            for _ in range(20):
                await asyncio.sleep(0)
                clock.advance_to_next()  # the retry delays run on the clock

        loop.run_until_complete(go())
        assert peer.attempts == 4  # the first write and three retries
        assert client.closed and client.close_reason == "write_failed"
        assert ch.stats.drops == {"write_failed": 1} and client not in ch.clients
    finally:
        loop.close()


def test_a_parked_client_catches_up_from_the_ring_or_is_dropped_when_it_fell_out():
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        ch = make_channel(clock, ring_frames=6)
        slow, behind = FakePeer(loop), FakePeer(loop)
        a, b = Client(slow.send, 0), Client(behind.send, 0)

        async def go():
            ch.attach(a)
            ch.attach(b)
            slow.mode = behind.mode = "block"
            ch.publish_raw("odds", b"1")
            await asyncio.sleep(0)
            ch.publish_raw("odds", b"2")
            ch.publish_raw("odds", b"3")
            slow.release()
            for _ in range(5):
                await asyncio.sleep(0)
            for i in range(4, 9):
                ch.publish_raw("odds", b"%d" % i)
            behind.release()
            for _ in range(5):
                await asyncio.sleep(0)

        loop.run_until_complete(go())
        assert slow.seqs() == list(range(1, 9)) and a.pos == 8
        assert b.closed and b.close_reason == "lagging" and ch.stats.drops == {"lagging": 1}
    finally:
        loop.close()


def test_resume_positions():
    clock = FakeClock()
    ch = make_channel(clock, ring_frames=3)
    loop = asyncio.new_event_loop()
    try:
        async def go():
            for i in range(5):
                ch.publish_raw("odds", b"%d" % i)
        loop.run_until_complete(go())
    finally:
        loop.close()
    assert ch.resume_position("ep.1-4") == 4 and ch.resume_position("ep.1-2") == 2
    assert ch.resume_position("ep.1-1") is None  # no longer covered: snapshot
    assert ch.resume_position("ep.2-4") is None  # another incarnation of the group
    assert ch.resume_position("garbage") is None and ch.resume_position(None) is None
    assert ch.resume_position("ep.1-9") is None  # from the future


def test_events_published_between_flush_slices_reach_every_client_exactly_once():
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        ch = make_channel(clock, slice_size=2)
        peers = [FakePeer(loop) for _ in range(7)]

        async def go():
            for peer in peers:
                ch.attach(Client(peer.send, 0))
            ch.publish_raw("odds", b"1")
            for n in range(2, 6):  # one more event after each slice of two clients
                await asyncio.sleep(0)
                ch.publish_raw("odds", b"%d" % n)
            for _ in range(10):
                await asyncio.sleep(0)

        loop.run_until_complete(go())
        assert [p.seqs() for p in peers] == [[1, 2, 3, 4, 5]] * 7
    finally:
        loop.close()


# -- the hub-wide memory budget ---------------------------------------------------------------------

def test_the_budget_trims_the_oldest_replay_of_the_whole_hub_first_and_in_bulk():
    from backend.hub.fanout import FRAME_OVERHEAD, MemoryBudget

    clock = FakeClock(start=100.0)
    budget = MemoryBudget(limit=10 * (100 + FRAME_OVERHEAD), low_water=0.5)
    old, new = ReplayRing(1000, 10**9, budget, clock.monotonic), ReplayRing(1000, 10**9, budget, clock.monotonic)
    for _ in range(4):
        old.append(b"o" * 100)
    clock.advance(1.0)
    for _ in range(6):
        new.append(b"n" * 100)
    assert budget.used == 10 * (100 + FRAME_OVERHEAD) and budget.trimmed_frames == 0
    clock.advance(1.0)
    new.append(b"n" * 100)  # one over: trim to half the limit, oldest second first
    assert budget.used <= budget.limit * 0.5
    assert len(old) == 0 and budget.trimmed_frames == 10 - len(new) + 1
    assert new.after(new.seq - 1) is not None  # the newest frames stay
    assert not new.covers(0)  # a resume from before the trim needs a snapshot


def test_cached_payloads_count_against_the_budget_and_are_never_trimmed():
    from backend.hub.fanout import MemoryBudget, Retained

    budget = MemoryBudget(limit=1000)
    ring = ReplayRing(100, 10**9, budget)
    cache = Retained(budget)
    cache.set(1100)
    ring.append(b"x" * 200)
    assert budget.cache_bytes == 1100 and len(ring) == 0 and budget.over  # the ring gave way, the cache stays
    cache.set(100)
    cache.release()
    assert budget.cache_bytes == 0 and not budget.over
    budget.remove_ring(ring)
    assert budget.ring_bytes == 0
