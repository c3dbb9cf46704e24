"""A loopback TCP proxy that injects faults, counted: latency, resets, stalls, one-byte slicing, half-open.

``FaultProxy(target_port)`` listens on 127.0.0.1 and forwards every connection to
``127.0.0.1:target_port`` with two pumps, one per direction (``up``: client to target, ``down``:
target to client). Each pump is a delay line: a reader takes bytes off its source (pausing when
64 KiB are held, so a stalled pump backs the source up through TCP, as a real stall does) and a
writer delivers them when due. Faults act on one connection:

=============  ============================================================================================
``latency``    every chunk of one direction arrives ``seconds`` (``ms`` of added delay) later, in order
``reset``      both sockets are closed with ``SO_LINGER`` 0: each side gets a TCP reset
``stall``      one direction forwards nothing for ``seconds`` (the source is not read either), then resumes
``slice``      one direction is written one byte per write (each awaited) for ``seconds``
``half_open``  one direction stops for good without closing anything; when the other side then closes,
               the far side is *not* told for ``hold`` seconds (as when a client vanishes), then closed
=============  ============================================================================================

Faults come from a script (:class:`Schedule`: ``[{"at": s, "fault": name, ...}]``, as JSON) or from
a seeded random source (:class:`RandomFaults`: rate, mix, durations), and every one injected is
counted by kind and direction (``counts``); one with no connection to act on is retried later, not
counted. ``python -m bench.faultproxy`` runs one proxy from the command line for a bounded time and
prints what it injected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAULTS = ("latency", "reset", "stall", "slice", "half_open")
HELD_BYTES = 64 * 1024  # a pump reads no more while this much waits to be written


@dataclass
class Fault:
    kind: str
    direction: str = "down"  # up (client -> target) | down (target -> client); ignored by reset
    seconds: float = 1.0  # latency, stall, slice: how long it lasts
    ms: float = 50.0  # latency: the delay added
    hold: float = 20.0  # half_open: how long the far side stays open after the near side closed

    def describe(self) -> str:
        if self.kind == "reset":
            return "reset"
        extra = {"latency": f"{self.ms:g} ms for {self.seconds:g}s", "stall": f"{self.seconds:g}s",
                 "slice": f"{self.seconds:g}s", "half_open": f"hold {self.hold:g}s"}[self.kind]
        return f"{self.kind} {self.direction} {extra}"


class Pump:
    """One direction of one connection: reads ``src``, writes ``dst``, obeying the faults set on it."""

    def __init__(self, conn: ProxyConnection, name: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.name = name
        self.src = src
        self.dst = dst
        self.held: deque[tuple[float, bytes]] = deque()
        self.held_bytes = 0
        self.latency = 0.0
        self.latency_until = 0.0
        self.stalled_until = 0.0
        self.slice_until = 0.0
        self.halted = False
        self.eof = False
        self.bytes = 0
        self._wake = asyncio.Event()  # something to write, or a fault ended
        self._room = asyncio.Event()  # the writer made room, or a fault ended
        self._room.set()

    def poke(self) -> None:
        self._wake.set()
        self._room.set()

    def _blocked(self, now: float) -> float:
        """Seconds this pump must stay still from ``now`` (inf: halted)."""
        if self.halted:
            return float("inf")
        return max(0.0, self.stalled_until - now)

    async def _still(self) -> None:
        while True:
            wait = self._blocked(time.monotonic())
            if wait <= 0:
                return
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), None if wait == float("inf") else wait)
            except TimeoutError:
                pass

    async def read_loop(self) -> None:
        try:
            while True:
                await self._still()
                while self.held_bytes >= HELD_BYTES:
                    self._room.clear()
                    await self._room.wait()
                    await self._still()
                try:
                    data = await self.src.read(65536)
                except ConnectionResetError:
                    if self.conn.half_open is None:  # a reset is passed on as a reset
                        self.conn.close(reset=True)
                    break
                if not data:
                    break
                now = time.monotonic()
                delay = self.latency if now < self.latency_until else 0.0
                self.held.append((now + delay, data))
                self.held_bytes += len(data)
                self._wake.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof = True
            self._wake.set()

    async def write_loop(self) -> None:
        try:
            while True:
                while not self.held:
                    if self.eof:
                        self.conn.source_ended(self)
                        return
                    self._wake.clear()
                    await self._wake.wait()
                await self._still()
                due, data = self.held[0]
                now = time.monotonic()
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                self.held.popleft()
                self.held_bytes -= len(data)
                self._room.set()
                if time.monotonic() < self.slice_until:
                    for i in range(len(data)):
                        self.dst.write(data[i:i + 1])
                        await self.dst.drain()
                        await asyncio.sleep(0)  # one byte per write, each its own segment (TCP_NODELAY)
                        if self._blocked(time.monotonic()) > 0:  # stalled or halted mid-chunk
                            rest = data[i + 1:]
                            if rest:
                                self.held.appendleft((0.0, rest))
                                self.held_bytes += len(rest)
                            break
                else:
                    self.dst.write(data)
                    await self.dst.drain()
                self.bytes += len(data)
        except (ConnectionError, OSError):
            self.conn.close(reset=True)


class ProxyConnection:
    """One proxied connection: the accepted client socket, the socket to the target, two pumps."""

    def __init__(self, proxy: FaultProxy, n: int, client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 target: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.n = n
        self.client_w = client[1]
        self.target_w = target[1]
        self.up = Pump(self, "up", client[0], target[1])
        self.down = Pump(self, "down", target[0], client[1])
        self.closed = False
        self.half_open: str | None = None  # the halted direction
        self.hold = 0.0
        self.opened_at = time.monotonic()
        self.tasks = [asyncio.create_task(coro) for coro in (self.up.read_loop(), self.up.write_loop(),
                                                             self.down.read_loop(), self.down.write_loop())]
        self._hold_task: asyncio.Task[None] | None = None

    def pump(self, direction: str) -> Pump:
        return self.up if direction == "up" else self.down

    def source_ended(self, pump: Pump) -> None:
        """``pump``'s source closed and everything it sent was delivered: pass the end on, unless a
        half-open fault says the far side must not hear of it yet."""
        if self.closed:
            return
        if self.half_open is not None:
            if self._hold_task is None:
                self._hold_task = asyncio.create_task(self._close_after(self.hold))
            return
        writer = pump.dst
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass
        if self.up.eof and self.down.eof:
            self.close()

    async def _close_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.close()

    def apply(self, fault: Fault) -> None:
        now = time.monotonic()
        if fault.kind == "reset":
            self.close(reset=True)
            return
        pump = self.pump(fault.direction)
        if fault.kind == "latency":
            pump.latency, pump.latency_until = fault.ms / 1000, now + fault.seconds
        elif fault.kind == "stall":
            pump.stalled_until = max(pump.stalled_until, now + fault.seconds)
        elif fault.kind == "slice":
            pump.slice_until = max(pump.slice_until, now + fault.seconds)
        elif fault.kind == "half_open":
            pump.halted = True
            self.half_open, self.hold = fault.direction, fault.hold
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")
        pump.poke()
        if fault.kind in ("stall",):
            asyncio.get_running_loop().call_later(fault.seconds + 0.001, pump.poke)

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client_w, self.target_w):
            try:
                if reset:
                    sock = writer.transport.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                else:
                    writer.close()
            except (OSError, RuntimeError):
                pass
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        if self._hold_task is not None and self._hold_task is not current:
            self._hold_task.cancel()
        self.proxy._forget(self)


@dataclass
class FaultProxy:
    """``await start()``, then clients connect to ``port``; ``inject(fault)`` acts on one live
    connection (a random one, from ``rng``) and counts it; ``await close()`` ends everything."""

    target_port: int
    port: int = 0
    name: str = "proxy"
    target_host: str = "127.0.0.1"
    rng: random.Random = field(default_factory=random.Random)
    eligible: Callable[[ProxyConnection], bool] | None = None  # which connections a fault may hit

    def __post_init__(self) -> None:
        self.connections: dict[int, ProxyConnection] = {}
        self.counts: Counter[str] = Counter()
        self.accepted = 0
        self.connect_failures = 0
        self.blackout_connections = 0
        self.bytes = Counter[str]()
        self._server: asyncio.Server | None = None
        self._n = 0
        self.log: list[tuple[float, str, int, str]] = []  # (time, proxy, connection, fault)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await asyncio.wait_for(asyncio.open_connection(self.target_host, self.target_port,
                                                                    limit=1 << 20), 10)
        except (OSError, TimeoutError):
            self.connect_failures += 1
            writer.transport.abort()
            return
        for w in (writer, target[1]):
            sock = w.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._n += 1
        self.accepted += 1
        conn = ProxyConnection(self, self._n, (reader, writer), target)
        self.connections[self._n] = conn

    def _forget(self, conn: ProxyConnection) -> None:
        self.connections.pop(conn.n, None)
        self.bytes["up"] += conn.up.bytes
        self.bytes["down"] += conn.down.bytes

    def live(self) -> list[ProxyConnection]:
        return [c for c in self.connections.values() if not c.closed and c.half_open is None
                and (self.eligible is None or self.eligible(c))]

    def inject(self, fault: Fault, conn: ProxyConnection | None = None) -> ProxyConnection | None:
        """Apply ``fault`` to ``conn`` (or a random live connection); returns it, or None if there was
        none to act on (nothing counted)."""
        if conn is None:
            live = self.live()
            if not live:
                return None
            conn = self.rng.choice(live)
        conn.apply(fault)
        key = fault.kind if fault.kind == "reset" else f"{fault.kind}:{fault.direction}"
        self.counts[key] += 1
        self.log.append((time.time(), self.name, conn.n, fault.describe()))
        return conn

    def inject_all(self, fault: Fault) -> int:
        """Apply ``fault`` to every live connection at once (a blackout); counted once, as
        ``<kind>:all``, with the connections it hit in ``blackout_connections``."""
        conns = self.live()
        for conn in conns:
            conn.apply(fault)
        self.counts[f"{fault.kind}:all"] += 1
        self.blackout_connections += len(conns)
        self.log.append((time.time(), self.name, 0, f"{fault.describe()} x{len(conns)}"))
        return len(conns)

    @property
    def injected(self) -> int:
        return sum(self.counts.values())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.close(reset=True)
        if self._server is not None:
            await self._server.wait_closed()


# -- what to inject, and when ------------------------------------------------------------------------

DEFAULT_MIX = {"latency": 0.2, "reset": 0.25, "stall": 0.2, "slice": 0.2, "half_open": 0.15}


@dataclass
class RandomFaults:
    """Faults from a seeded random source: ``next()`` gives the next one (kind by ``mix``, direction
    at random, durations within bounds)."""

    seed: int = 1
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    max_seconds: float = 3.0
    max_ms: float = 200.0
    hold: float = 20.0
    directions: tuple[str, ...] = ("up", "down")

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        unknown = set(self.mix) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")

    def next(self) -> Fault:
        kind = self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        return Fault(kind, direction=self.rng.choice(self.directions),
                     seconds=round(self.rng.uniform(0.2, self.max_seconds), 2),
                     ms=round(self.rng.uniform(5, self.max_ms), 1), hold=self.hold)


@dataclass
class Schedule:
    """A script: ``[{"at": seconds, "fault": kind, "direction": ..., "seconds": ..., "ms": ..., "hold": ...}]``."""

    items: list[tuple[float, Fault]]

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        items = []
        for entry in json.loads(text):
            entry = dict(entry)
            at = float(entry.pop("at"))
            kind = entry.pop("fault")
            if kind not in FAULTS:
                raise ValueError(f"unknown fault {kind!r}")
            items.append((at, Fault(kind, **entry)))
        return cls(sorted(items, key=lambda item: item[0]))


async def run_schedule(proxy: FaultProxy, schedule: Schedule, retry: float = 0.1,
                       give_up: float = 30.0) -> list[Fault]:
    """Inject each scripted fault at its time (a fault with no connection to act on is retried every
    ``retry`` s for up to ``give_up`` s); returns those that never found one."""
    t0 = time.monotonic()
    missed = []
    for at, fault in schedule.items:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        deadline = time.monotonic() + give_up
        while proxy.inject(fault) is None:
            if time.monotonic() > deadline:
                missed.append(fault)
                break
            await asyncio.sleep(retry)
    return missed


async def run_random(proxy: FaultProxy, faults: RandomFaults, count: int, rate: float, deadline: float,
                     retry: float = 0.1) -> int:
    """Inject ``count`` random faults at ``rate`` per second (Poisson) until ``deadline``; returns how
    many were injected."""
    done = 0
    while done < count and time.monotonic() < deadline:
        await asyncio.sleep(faults.rng.expovariate(rate))
        fault = faults.next()
        while proxy.inject(fault) is None:
            if time.monotonic() >= deadline:
                return done
            await asyncio.sleep(retry)
        done += 1
    return done


# -- command line -------------------------------------------------------------------------------------

def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        mix[name.strip()] = float(weight or 1)
    return mix


async def _main(args: argparse.Namespace, schedule: Schedule | None) -> dict[str, Any]:
    host, _, port = args.target.rpartition(":")
    if host not in ("127.0.0.1", "localhost", ""):
        raise SystemExit("the target must be on 127.0.0.1")
    proxy = await FaultProxy(int(port), port=args.listen, rng=random.Random(args.seed)).start()
    print(f"proxy 127.0.0.1:{proxy.port} -> 127.0.0.1:{port}", flush=True)
    deadline = time.monotonic() + args.seconds
    try:
        if schedule is not None:
            await asyncio.wait_for(run_schedule(proxy, schedule), args.seconds)
        else:
            faults = RandomFaults(seed=args.seed, mix=parse_mix(args.mix) if args.mix else dict(DEFAULT_MIX),
                                  max_seconds=args.max_seconds, hold=args.hold)
            await run_random(proxy, faults, args.faults, args.rate, deadline)
        await asyncio.sleep(max(0.0, min(args.linger, deadline - time.monotonic())))
    except TimeoutError:
        pass
    finally:
        await proxy.close()
    return {"accepted": proxy.accepted, "injected": proxy.injected, "counts": dict(proxy.counts),
            "bytes": dict(proxy.bytes), "connect_failures": proxy.connect_failures}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faultproxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=int, default=0, help="port to listen on, on 127.0.0.1 (default: a free one)")
    p.add_argument("--target", required=True, help="127.0.0.1:PORT to forward to")
    p.add_argument("--faults", type=int, default=100, help="random faults to inject (default %(default)s)")
    p.add_argument("--rate", type=float, default=1.0, help="random faults per second (default %(default)s)")
    p.add_argument("--mix", help="weights, e.g. reset=2,stall=1,latency=1,slice=1,half_open=1")
    p.add_argument("--max-seconds", type=float, default=3.0, help="longest stall/slice/latency (default %(default)s)")
    p.add_argument("--hold", type=float, default=20.0, help="half-open hold in seconds (default %(default)s)")
    p.add_argument("--schedule", help="a JSON script of faults instead of random ones")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seconds", type=float, default=600.0, help="stop after this long at most (default %(default)s)")
    p.add_argument("--linger", type=float, default=5.0, help="keep proxying this long after the last fault")
    args = p.parse_args(argv)
    schedule = Schedule.from_json(Path(args.schedule).read_text()) if args.schedule else None
    result = asyncio.run(_main(args, schedule))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
