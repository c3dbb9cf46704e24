"""The fault proxy forwards both ways and injects each fault as it says, counting what it injected."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from bench.faultproxy import Fault, FaultProxy, RandomFaults, Schedule, run_schedule


class Peer:
    """A loopback server that keeps every accepted connection's streams."""

    def __init__(self) -> None:
        self.conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Peer:
        async def accept(reader, writer):
            self.conns.append((reader, writer))

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def accepted(self, n: int = 1) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in range(200):
            if len(self.conns) >= n:
                return self.conns[n - 1]
            await asyncio.sleep(0.01)
        raise TimeoutError("not accepted")

    async def close(self) -> None:
        for _, w in self.conns:
            w.transport.abort()
        self.server.close()


@pytest.fixture
async def pair():
    peer = await Peer().start()
    proxy = await FaultProxy(peer.port, rng=random.Random(1)).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    far_r, far_w = await peer.accepted()
    await asyncio.sleep(0.05)
    yield proxy, (reader, writer), (far_r, far_w)
    writer.transport.abort()
    await proxy.close()
    await peer.close()


async def read_exactly(reader: asyncio.StreamReader, n: int, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), timeout)


async def test_bytes_flow_both_ways_and_an_end_is_passed_on(pair):
    proxy, (reader, writer), (far_r, far_w) = pair
    writer.write(b"ping")
    assert await read_exactly(far_r, 4) == b"ping"
    far_w.write(b"pong")
    assert await read_exactly(reader, 4) == b"pong"
    writer.write_eof()
    assert await asyncio.wait_for(far_r.read(), 5) == b""
    assert proxy.injected == 0 and proxy.accepted == 1


async def test_a_reset_reaches_both_sides_as_a_reset(pair):
    proxy, (reader, _), (far_r, _) = pair
    assert proxy.inject(Fault("reset")) is not None
    for r in (reader, far_r):
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(10), 5)
    assert proxy.counts == {"reset": 1} and not proxy.connections


async def test_latency_delays_one_direction_and_keeps_the_order(pair):
    proxy, (reader, _), (_, far_w) = pair
    proxy.inject(Fault("latency", "down", seconds=5, ms=300))
    started = time.monotonic()
    for i in range(5):
        far_w.write(b"%d" % i)
        await asyncio.sleep(0.01)
    assert await read_exactly(reader, 5) == b"01234"
    assert time.monotonic() - started >= 0.29
    assert proxy.counts == {"latency:down": 1}


async def test_a_stall_holds_everything_back_for_its_time_then_delivers_it(pair):
    proxy, (reader, writer), (far_r, far_w) = pair
    proxy.inject(Fault("stall", "down", seconds=0.5))
    far_w.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(4), 0.3)
    writer.write(b"up")  # the other direction is not stalled
    assert await read_exactly(far_r, 2) == b"up"
    assert await read_exactly(reader, 4, 2) == b"held"


async def test_slicing_writes_one_byte_per_write(pair):
    proxy, (reader, _), (_, far_w) = pair
    conn = proxy.inject(Fault("slice", "down", seconds=5))
    far_w.write(b"x" * 300)
    reads = 0
    got = b""
    while len(got) < 300:
        got += await asyncio.wait_for(reader.read(300), 5)
        reads += 1
    assert got == b"x" * 300 and reads > 10  # in many pieces (the reader may take a few bytes at once)
    assert conn.down.bytes == 300


async def test_half_open_stops_one_direction_and_hides_the_close_for_the_hold(pair):
    proxy, (reader, writer), (far_r, far_w) = pair
    proxy.inject(Fault("half_open", "down", hold=0.8))
    far_w.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(4), 0.3)
    writer.write(b"still up")  # the other direction still flows
    assert await read_exactly(far_r, 8) == b"still up"
    writer.close()  # the client gives up: the far side does not hear of it during the hold
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(far_r.read(10), 0.4)
    assert await asyncio.wait_for(far_r.read(10), 2) == b""  # then it is closed
    assert proxy.counts == {"half_open:down": 1} and not proxy.live()


async def test_a_scripted_schedule_and_a_seeded_random_source():
    peer = await Peer().start()
    proxy = await FaultProxy(peer.port).start()
    try:
        script = Schedule.from_json(json.dumps([{"at": 0.05, "fault": "stall", "direction": "up", "seconds": 0.1},
                                                {"at": 0.1, "fault": "reset"}]))
        assert [f.kind for _, f in script.items] == ["stall", "reset"]
        _, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await peer.accepted()
        assert await run_schedule(proxy, script) == []
        assert proxy.counts == {"stall:up": 1, "reset": 1}
        writer.transport.abort()
        a, b = RandomFaults(seed=3), RandomFaults(seed=3)
        assert [a.next() for _ in range(20)] == [b.next() for _ in range(20)]
        with pytest.raises(ValueError):
            Schedule.from_json('[{"at": 0, "fault": "meteor"}]')
    finally:
        await proxy.close()
        await peer.close()
