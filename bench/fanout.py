"""SSE fan-out benchmark: the odds hub against nginx+nchan, Pushpin, a naive Python server and the floor.

``uv run python -m bench.fanout [--clients 5000 --seconds 15 --rate 10] [--quick]``

For each server in turn (same machine, same load generator, same event bytes): start it, open
``--clients`` SSE streams on one group (``GET /api/live-stream?sportId=1``), then publish
``--rate`` odds changes per second for ``--seconds`` and count what every client receives. The
floor (``bench/floor.py``: blocking sends of one prepared frame in a loop) is the least any server
can spend per delivered event on this machine; every server's CPU is also given as a multiple of
it. What is measured and how is in ``bench/README.md``; keep the two in step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.cluster.launch import RedisProcess

from . import nchan, proc, pushpin
from .feeder import HttpPublisher, Publisher, SwarmFeeder, odds_payload, seq_of
from .pushpin import GripOrigin, PushpinPublisher

REPO = Path(__file__).resolve().parent.parent
STREAM_PATH = "/api/live-stream?sportId=1"

# The single process's targets, at 5,000 clients on one group and 10 events/s.
TARGET_CPU_US = 16.0  # nginx + nchan on this machine
TARGET_RSS_KIB = 10.0
TARGET_P99_MS = 100.0
QUIET_PCT = 15.0  # other processes below this % of one core count as a quiet machine
ISSUE_REFERENCE = {"nchan": (16.0, 10.0), "naive": (43.0, 15.0)}  # measured once here: (CPU us/event, RSS KiB/client)
# The targets against the floor and nchan, measured in the same run (CPU per delivered event).
TARGET_FLOOR_RATIO = 1.3
TARGET_NCHAN_RATIO = 0.85
SATURATED_PCT = 90.0  # a process (or server) busy this much of the publishing time cannot keep up

SERVERS = ("hub", "nchan", "naive", "floor", "pushpin", "hub-redis", "hub-redis2", "nchan2")
# pushpin is opt-in: a default run would apt-get install Qt and ZeroMQ libraries that nothing else
# needs, none of the hub's targets refers to it, and its row takes as long as another server's.
DEFAULT_SERVERS = ("hub", "nchan", "naive", "floor")
PEERS = ("nchan", "pushpin", "naive", "floor")  # the single-process hub's ratio is shown to each
LABELS = {"hub": "odds hub", "nchan": "nginx+nchan", "naive": "naive python", "floor": "floor",
          "pushpin": "pushpin", "hub-redis": "hub+redis", "hub-redis2": "hub+redis x2", "nchan2": "nchan x2"}
# The targets for the cluster (Redis) path, against the single process in the same run.
CLUSTER_CPU_RATIO = 1.10  # CPU per delivered event, all server processes plus Redis
CLUSTER_RSS_RATIO = 1.05  # RSS per client: "unchanged", within measurement noise
CLUSTER_P99_RATIO = 1.2


class BenchError(Exception):
    """A server could not be measured (it did not start, refused clients, ...)."""


@dataclass
class Options:
    clients: int
    seconds: float
    rate: float
    sample: int
    batch: int
    warmup: int
    settle: float
    drain: float
    servers: list[str]
    nchan_workers: int
    install: bool
    json_path: Path | None
    quick: bool
    wait_quiet: float

    @property
    def events(self) -> int:
        return max(1, round(self.rate * self.seconds))


# -- servers under test --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_listening(port: int, popen: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise BenchError(f"exited with {popen.returncode} during start-up:\n{tail(log)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise BenchError(f"not listening on {port} after {timeout:g}s:\n{tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Server:
    """One server under test: a child process (tree) listening on ``port``, and its publisher."""

    name = "server"
    max_batch: int | None = None  # the most connections this server takes at once, if below --batch

    def __init__(self, opts: Options, tmp: Path) -> None:
        self.opts = opts
        self.tmp = tmp
        self.port = free_port()
        self.log = tmp / f"{self.name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.popens: list[subprocess.Popen[bytes]] = []  # every child this server started
        self.publisher: Publisher | None = None
        self.notes: list[str] = []
        self.cores = 1  # processes that can each use a core

    async def start(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [p.pid for p in self.popens]

    def _spawn(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            popen = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.popens.append(popen)
        self.popen = self.popen or popen
        return popen

    async def prime(self) -> None:
        """Publish change 0, so a new client has something to receive (the late-joiner snapshot)."""
        assert self.publisher is not None
        await self.publisher.publish(0)
        await self.publisher.flush()

    async def stop(self) -> None:
        if isinstance(self.publisher, HttpPublisher | PushpinPublisher):
            await self.publisher.close()
        for popen in self.popens:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(p.poll() is None for p in self.popens) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for popen in self.popens:
            if popen.poll() is None:
                self.notes.append(f"pid {popen.pid} did not exit within 10 s of SIGTERM; killed")
                popen.kill()
                popen.wait()


class HubServer(Server):
    """``python -m backend`` (uvicorn, one process) fed by :class:`SwarmFeeder` over WebSocket."""

    name = "hub"
    processes = 0  # cluster members sharing the port through SO_REUSEPORT; 0: one process, no Redis

    def __init__(self, opts: Options, tmp: Path) -> None:
        super().__init__(opts, tmp)
        self.feeder: SwarmFeeder | None = None
        self.env: dict[str, str] = {}
        self.redis: RedisProcess | None = None
        self.cores = max(1, self.processes)

    def pids(self) -> list[int]:
        redis = [self.redis.proc.pid] if self.redis is not None and self.redis.proc is not None else []
        return [*super().pids(), *redis]

    async def start(self) -> None:
        self.feeder = await SwarmFeeder().__aenter__()
        self.publisher = self.feeder
        self.env = {
            "HOST": "127.0.0.1", "PORT": str(self.port), "SWARM_WS_URL": self.feeder.url,
            "LOG_LEVEL": "WARNING",  # no access log line per stream, as for the peers
            "GROUP_GRACE": "60",  # the warm-up clients leave; keep their group for the measured ones
            "MAX_CLIENTS": str(max(10_000, self.opts.clients + self.opts.warmup + 100)),
        }
        if self.processes:
            self.redis = RedisProcess().start()
            self.env.update(REDIS_URL=self.redis.url, REUSE_PORT="true", LIVE_TRACKER_WS_URL="")
        for _ in range(max(1, self.processes)):
            self._spawn([sys.executable, "-m", "backend"], {**os.environ, **self.env})
        for popen in self.popens:
            await wait_listening(self.port, popen, self.log)
        try:
            await asyncio.wait_for(self._session(), 15)
        except TimeoutError:
            raise BenchError(f"the hub never opened a Swarm session with the bench feed:\n{tail(self.log)}") from None

    async def _session(self) -> None:
        assert self.feeder is not None
        while "request_session" not in self.feeder.commands:
            await asyncio.sleep(0.05)

    async def prime(self) -> None:
        """The feed's world starts at change 0; the first client makes the hub subscribe to it."""

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            if self.feeder is not None:
                await self.feeder.__aexit__(None, None, None)
            if self.redis is not None:
                self.redis.stop()


class HubRedisServer(HubServer):
    """One ``python -m backend`` with ``REDIS_URL``: the cluster path with a single member."""

    name = "hub-redis"
    processes = 1


class HubRedis2Server(HubServer):
    """Two cluster members on one port (SO_REUSEPORT spreads the clients between them)."""

    name = "hub-redis2"
    processes = 2


class NchanServer(Server):
    name = "nchan"
    workers: int | None = None  # None: --nchan-workers

    async def start(self) -> None:
        self.cores = self.workers or self.opts.nchan_workers
        module, note = nchan.ensure_installed(self.opts.install)
        if module is None:
            raise BenchError(note)
        if note != "already installed":
            self.notes.append(note)
        conf = nchan.write_config(self.tmp / f"nginx-{self.name}", module, self.port, self.cores,
                                  self.opts.clients + self.opts.warmup)
        self._spawn(nchan.command(conf))
        assert self.popen is not None
        await wait_listening(self.port, self.popen, self.log)
        self.publisher = HttpPublisher("127.0.0.1", self.port, "/pub")

    def pids(self) -> list[int]:
        assert self.popen is not None
        return [self.popen.pid, *proc.children(self.popen.pid)]  # master + workers


class NaiveServer(Server):
    name = "naive"

    async def start(self) -> None:
        self._spawn([sys.executable, "-m", "bench.naive_peer", "--port", str(self.port)])
        assert self.popen is not None
        await wait_listening(self.port, self.popen, self.log)
        self.publisher = HttpPublisher("127.0.0.1", self.port, "/pub")


class Nchan2Server(NchanServer):
    name = "nchan2"
    workers = 2


class FloorServer(Server):
    """``python -m bench.floor``: one thread sending one prepared frame to every socket in turn."""

    name = "floor"

    async def start(self) -> None:
        self._spawn([sys.executable, "-m", "bench.floor", "--port", str(self.port)])
        assert self.popen is not None
        await wait_listening(self.port, self.popen, self.log)
        self.publisher = HttpPublisher("127.0.0.1", self.port, "/pub")


class PushpinServer(Server):
    """Debian's pushpin (runner, condure, zurl, pushpin-proxy, pushpin-handler) with a GRIP origin here.

    Every process below the runner is counted (the runner itself too, though it only waits).
    """

    name = "pushpin"
    # Given 250 new streams at once, pushpin-proxy answers part of them 502 ("Error while proxying to
    # origin") or 500: its ZeroMQ queues to zurl and to the handler hold about 100 messages (OUT_HWM,
    # PENDING_MAX in its zhttp and zrpc managers). Browsers do not arrive 250 in one millisecond.
    max_batch = 50

    def __init__(self, opts: Options, tmp: Path) -> None:
        super().__init__(opts, tmp)
        self.publish_port = free_port()
        self.origin: GripOrigin | None = None
        self.tree: list[tuple[int, int | None]] = []  # (pid, start time) below the runner, once it listens
        # pushpin-handler (every delivery goes through it) and condure (which writes the sockets)
        # are the processes that can each use a core while publishing.
        self.cores = 2

    async def start(self) -> None:
        why = await asyncio.to_thread(pushpin.ensure_installed, self.opts.install)
        if why is not None:
            raise BenchError(why)
        publisher = PushpinPublisher("127.0.0.1", self.publish_port)
        self.origin = GripOrigin(lambda: publisher.last)
        await self.origin.start()
        conf = pushpin.write_config(self.tmp / "pushpin", self.port, self.publish_port, self.origin.port,
                                    self.opts.clients + self.opts.warmup)
        self._spawn(pushpin.command(conf))
        assert self.popen is not None
        await wait_listening(self.port, self.popen, self.log)
        await wait_listening(self.publish_port, self.popen, self.log)
        self.tree = [(pid, proc.start_time(pid)) for pid in proc.descendants(self.popen.pid)]
        await self._wait_serving()
        self.publisher = publisher

    async def _wait_serving(self, timeout: float = 30.0, attempt: float = 5.0) -> None:
        """Until a stream request is answered 200: condure listens before the proxy and the handler
        have their ZeroMQ sockets connected, and meanwhile answers 500 or nothing (each attempt
        waits ``attempt`` s for the status line)."""
        assert self.popen is not None
        started = time.monotonic()
        deadline = started + timeout
        last = "nothing"
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise BenchError(f"exited with {self.popen.returncode} during start-up:\n{tail(self.log)}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(f"GET {STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                    status = await asyncio.wait_for(reader.readline(), attempt)
                finally:
                    writer.close()
            except (OSError, TimeoutError) as exc:
                last = f"{type(exc).__name__} {exc}".strip()
            else:
                if status.startswith(b"HTTP/1.1 200"):
                    if time.monotonic() - started > attempt:
                        self.notes.append(f"the first stream request was answered {time.monotonic() - started:.0f} s "
                                          f"after pushpin listened (before: {last})")
                    return
                last = repr(status.decode(errors="replace").strip())
            await asyncio.sleep(0.1)
        raise BenchError(f"a stream request to pushpin got {last} for {timeout:g}s after it listened:\n"
                         f"{tail(self.log)}")

    def pids(self) -> list[int]:
        assert self.popen is not None
        return [self.popen.pid, *proc.descendants(self.popen.pid)]

    async def stop(self) -> None:
        try:
            await super().stop()
            for pid, started in self.tree:  # the runner stops its children; any it left are ours to end
                if started is not None and proc.start_time(pid) == started:
                    self.notes.append(f"pid {pid} ({proc.comm(pid)}) outlived the pushpin runner; killed")
                    os.kill(pid, signal.SIGKILL)
        finally:
            if self.origin is not None:
                await self.origin.close()


SERVER_CLASSES: dict[str, type[Server]] = {"hub": HubServer, "nchan": NchanServer, "naive": NaiveServer,
                                           "floor": FloorServer, "pushpin": PushpinServer,
                                           "hub-redis": HubRedisServer, "hub-redis2": HubRedis2Server,
                                           "nchan2": Nchan2Server}


# -- the load generator process --------------------------------------------------------------------

class LoadGenProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, port: int, log: Path) -> LoadGenProcess:
        err = log.open("wb")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.loadgen", "--port", str(port), "--path", STREAM_PATH,
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, limit=1 << 22)
        finally:
            err.close()  # the child has its own copy
        self = cls(process)
        await self._reply(30)
        return self

    async def command(self, reply_timeout: float = 120.0, **cmd: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.process.stdin.drain()
        return await self._reply(reply_timeout)

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise BenchError(f"the load generator exited (code {await self.process.wait()})")
        return json.loads(line)

    async def stop(self) -> None:
        if self.process.returncode is None:
            try:
                await self.command(reply_timeout=20, cmd="exit")
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, BenchError, BrokenPipeError, ConnectionResetError):
                self.process.kill()
                await self.process.wait()


# -- one measurement -------------------------------------------------------------------------------

@dataclass
class Result:
    server: str
    ok: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def others_cpu_pct(ours: list[int], seconds: float = 1.0) -> float:
    """CPU used by every process except ``ours`` and this one over ``seconds``, in % of one core."""
    m0, c0, t0 = proc.MachineCpu.read(), proc.total_cpu(ours) + _own_cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    m1, c1, t1 = proc.MachineCpu.read(), proc.total_cpu(ours) + _own_cpu(), time.monotonic()
    busy = m1.busy_fraction_since(m0) * (os.cpu_count() or 1)
    return max(0.0, 100 * (busy - (c1 - c0) / (t1 - t0)))


async def wait_until_quiet(ours: list[int], limit: float, threshold: float) -> tuple[float, float]:
    """Wait (at most ``limit`` s) until other processes use under ``threshold`` % of a core.

    Returns ``(their last reading, seconds waited)``; after ``limit`` the bench goes on regardless.
    """
    started = time.monotonic()
    others = await others_cpu_pct(ours)
    while others >= threshold and time.monotonic() - started < limit:
        others = await others_cpu_pct(ours)
    return others, time.monotonic() - started


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.inf
    rank = max(1, math.ceil(p * len(sorted_values)))
    return sorted_values[rank - 1]


async def measure(kind: str, opts: Options, tmp: Path) -> Result:
    result = Result(kind)
    server = SERVER_CLASSES[kind](opts, tmp)
    loadgen: LoadGenProcess | None = None

    def say(msg: str) -> None:
        print(f"  [{kind}] {msg}", file=sys.stderr, flush=True)

    try:
        say("starting")
        await server.start()
        pids = server.pids()
        say(f"pid(s) {pids} on port {server.port}")
        loadgen = await LoadGenProcess.start(server.port, tmp / f"loadgen-{kind}.log")
        await server.prime()
        assert server.publisher is not None

        # Warm-up: a few clients make the server create the group and run every code path once.
        warm = await loadgen.command(cmd="connect", n=opts.warmup, batch=opts.warmup, sample=0, timeout=30)
        if warm["ready"] < opts.warmup:
            raise BenchError(f"warm-up clients got no snapshot: {warm}\n{tail(server.log)}\n"
                             f"{tail(tmp / f'loadgen-{kind}.log')}")
        await loadgen.command(cmd="close_all")
        await asyncio.sleep(1.0)
        pids = server.pids()
        rss_before = proc.total_rss(pids)
        rss_before_by_pid = {pid: proc.total_rss([pid]) for pid in pids}

        batch = min(opts.batch, server.max_batch or opts.batch)
        say(f"connecting {opts.clients} clients in batches of {batch}")
        conn = await loadgen.command(cmd="connect", n=opts.clients, batch=batch, sample=opts.sample,
                                     timeout=30, reply_timeout=600)
        ready = conn["ready"]
        say(f"{ready} ready in {conn['elapsed']:.1f}s" + (f"; errors {conn['errors']}" if conn["errors"] else ""))
        if ready == 0:
            raise BenchError(f"no client got a snapshot: {conn}\n{tail(server.log)}")
        cpu_idle0, t_idle0 = proc.total_cpu(pids), time.monotonic()
        await asyncio.sleep(opts.settle)
        rss_idle = proc.total_rss(pids)
        rss_idle_by_pid = {pid: proc.total_rss([pid]) for pid in pids}
        idle_cpu_pct = 100 * (proc.total_cpu(pids) - cpu_idle0) / (time.monotonic() - t_idle0)

        # The machine may be shared: give other work a chance to finish before the window opens.
        others_before, waited = await wait_until_quiet([*pids, loadgen.pid], opts.wait_quiet, QUIET_PCT)
        if waited > 1.5:
            say(f"waited {waited:.0f}s for other processes to quieten (last {others_before:.0f}% of a core)")

        # The measured window: publish K changes on a fixed schedule, then wait for delivery.
        k = opts.events
        await loadgen.command(cmd="mark")
        say(f"publishing {k} changes at {opts.rate:g}/s")
        everyone0 = proc.all_processes()
        machine0 = proc.MachineCpu.read()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, lg0, sys0 = proc.total_cpu(pids), proc.cpu_seconds(loadgen.pid), proc.total_system(pids)
        cpu0_by_pid = {pid: proc.total_cpu([pid]) for pid in pids}
        t0 = time.monotonic()
        for seq in range(1, k + 1):
            delay = t0 + (seq - 1) / opts.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await server.publisher.publish(seq)
        t_last = time.monotonic()
        drained = False
        while time.monotonic() < t_last + opts.drain:
            status = await loadgen.command(cmd="status")
            if status["min_delivered"] >= k:
                drained = True
                break
            await asyncio.sleep(0.05)
        t1 = time.monotonic()
        cpu1, lg1, sys1 = proc.total_cpu(pids), proc.cpu_seconds(loadgen.pid), proc.total_system(pids)
        cpu_by_pid = {pid: (proc.comm(pid), round(proc.total_cpu([pid]) - cpu0_by_pid[pid], 3)) for pid in pids}
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        machine1 = proc.MachineCpu.read()
        others_top = proc.busiest_since(everyone0, {*pids, loadgen.pid, os.getpid()}, t1 - t0)
        rss_active = proc.total_rss(pids)
        out = tmp / f"report-{kind}.json"
        await loadgen.command(cmd="report", expected=k, out=str(out))
        report = json.loads(out.read_text())
        try:
            await server.publisher.flush(5)
        except (RuntimeError, TimeoutError) as exc:
            result.notes.append(f"publisher: {exc or 'some changes had no answer 5 s after the drain'}")

        # Latency: each sampled receipt of change seq, minus when seq left the publisher.
        sent_at = server.publisher.sent_at
        received: dict[int, set[int]] = {}
        latencies = []
        for client, price, t in report["samples"]:
            seq = seq_of(price)
            if 1 <= seq <= k and seq in sent_at:
                latencies.append(t - sent_at[seq])
                received.setdefault(int(client), set()).add(seq)
        latencies.sort()
        missing_changes: dict[int, int] = {}  # change -> sampled clients that never got it
        for got in received.values():
            for seq in range(1, k + 1):
                if seq not in got:
                    missing_changes[seq] = missing_changes.get(seq, 0) + 1
        expected_samples = report["sampled_clients"] * k
        missing = max(0, expected_samples - len(latencies))
        padded = latencies + [math.inf] * missing
        delivered = report["delivered"] - report["extra"]  # each client's receipts, up to the number published
        window = t1 - t0
        server_cpu = cpu1 - cpu0
        example = report["example_data"]
        example_seq = seq_of(json.loads(example)["updates"][0]["odds"][0]["price"]) if example else None
        result.data = {
            "pids": pids,
            "cores": server.cores,
            "clients_requested": opts.clients,
            "clients": report["clients"],
            "connect_errors": conn["errors"],
            "connect_seconds": conn["elapsed"],
            "connect_batch": batch,
            "open_at_end": report["open_at_end"],
            "events_published": k,
            "expected": k * report["clients"],
            "delivered": delivered,
            "received_total": report["delivered"],
            "lost": report["lost"],
            "extra": report["extra"],
            "clients_short": report["clients_short"],
            "duplicate_samples": report["duplicate_samples"],
            "delivered_histogram": report["delivered_histogram"],
            "drained": drained,
            "window_seconds": round(window, 3),
            "publish_seconds": round(t_last - t0, 3),
            "server_cpu_seconds": round(server_cpu, 3),
            "cpu_seconds_by_pid": {str(pid): list(v) for pid, v in cpu_by_pid.items()},
            "server_cpu_pct_of_core": round(100 * server_cpu / window, 1),
            "cpu_us_per_event": round(1e6 * server_cpu / delivered, 2) if delivered else None,
            # of which the kernel's (system time): the sends, and on loopback the receiving side's TCP
            "system_us_per_event": round(1e6 * (sys1 - sys0) / delivered, 2) if delivered else None,
            "rss_kib_before": rss_before,
            "rss_kib_idle": rss_idle,
            "rss_kib_active": rss_active,
            "rss_kib_by_pid": {str(pid): [rss_before_by_pid.get(pid), rss_idle_by_pid.get(pid)] for pid in pids},
            "rss_kib_per_idle_client": round((rss_idle - rss_before) / report["clients"], 2),
            "idle_cpu_pct_of_core": round(idle_cpu_pct, 1),
            "bytes_per_event": round(report["bytes"] / report["delivered"], 1) if report["delivered"] else None,
            "latency_samples": len(latencies),
            "latency_missing": missing,
            "sample_missing_changes": {str(q): n for q, n in sorted(missing_changes.items())},
            "latency_ms": {"p50": percentile(padded, 0.50) * 1e3, "p99": percentile(padded, 0.99) * 1e3,
                           "max": (padded[-1] if padded else math.inf) * 1e3},
            "loadgen_cpu_pct_of_core": round(100 * (lg1 - lg0) / window, 1),
            "feeder_cpu_pct_of_core": round(100 * ((self1.ru_utime + self1.ru_stime)
                                                   - (self0.ru_utime + self0.ru_stime)) / window, 1),
            "machine_busy_pct": round(100 * machine1.busy_fraction_since(machine0), 1),
            "machine_cpu_pct_of_core": machine1.breakdown_since(machine0, window),
            "others_cpu_pct_of_core": round(max(0.0, 100 * (machine1.busy_fraction_since(machine0) * (os.cpu_count() or 1))
                                                - 100 * (server_cpu + lg1 - lg0) / window
                                                - 100 * ((self1.ru_utime + self1.ru_stime)
                                                         - (self0.ru_utime + self0.ru_stime)) / window), 1),
            "payload_matches_reference": example is not None and example.encode() == odds_payload(example_seq),
            "errors_after_ready": report["errors_after_ready"],
            "others_cpu_pct_before_window": round(others_before, 1),
            "others_busiest": [f"{name}[{pid}] {pct:g}%" for name, pid, pct in others_top],
            "waited_for_quiet_seconds": round(waited, 1),
        }
        if isinstance(server.publisher, HttpPublisher | PushpinPublisher):
            result.data["publish_statuses"] = server.publisher.statuses
        if isinstance(server, PushpinServer) and server.origin is not None:
            result.data["origin_requests"] = server.origin.requests
        if isinstance(server, HubServer):
            result.data["hub_env"] = server.env
            if server.processes:
                result.data["rss_kib_redis"] = proc.total_rss(pids[-1:])
            result.data["feeder_commands"] = sorted(set(server.feeder.commands)) if server.feeder else []
        result.ok = True
        await loadgen.command(cmd="close_all")
    except (BenchError, OSError, TimeoutError, RuntimeError) as exc:
        result.error = str(exc) or repr(exc)
        say(f"FAILED: {result.error.splitlines()[0]}")
    finally:
        if loadgen is not None:
            await loadgen.stop()
        await server.stop()
        result.notes.extend(server.notes)
    return result


# -- report ----------------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "lost"
    return f"{value:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or math.isinf(a) or math.isinf(b):
        return "-"
    return f"{a / b:.2f}x"


def render(results: list[Result], opts: Options) -> str:
    lines: list[str] = []
    add = lines.append
    cols = [("server", 13), ("clients", 8), ("delivered", 10), ("lost", 7), ("extra", 7), ("CPU us/ev", 10), ("srv CPU%", 9),
            ("RSS KiB/cl", 11), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 8), ("B/ev", 6), ("lg CPU%", 8),
            ("others%", 8)]
    add("".join(name.rjust(width) if i else name.ljust(width) for i, (name, width) in enumerate(cols)))
    add("-" * sum(w for _, w in cols))
    by = {r.server: r for r in results}
    for r in results:
        if not r.ok:
            add(f"{LABELS[r.server]:<13}  not measured: {(r.error or '').splitlines()[0] if r.error else ''}")
            continue
        d = r.data
        lat = d["latency_ms"]
        row = [LABELS[r.server], str(d["clients"]), str(d["delivered"]), str(d["lost"]), str(d["extra"]),
               fmt(d["cpu_us_per_event"]),
               fmt(d["server_cpu_pct_of_core"], 0), fmt(d["rss_kib_per_idle_client"]), fmt(lat["p50"]),
               fmt(lat["p99"]), fmt(lat["max"]), fmt(d["bytes_per_event"], 0), fmt(d["loadgen_cpu_pct_of_core"], 0),
               fmt(d["others_cpu_pct_of_core"], 0)]
        add("".join(v.rjust(w) if i and len(v) < w else f" {v}" if i else v.ljust(w)
                    for i, (v, (_, w)) in enumerate(zip(row, cols))))  # a number wider than its column keeps a space
    add("")
    add("CPU us/ev: server CPU (user+sys, whole process tree) over the window / events delivered.  srv CPU%, lg CPU%:")
    add("of one core over the window (server, load generator).  others%: CPU of every other process on the")
    add("machine over the window (% of one core; the feeder/orchestrator excluded).  B/ev: bytes on the wire")
    add("per delivered event.  lost: events not received within the drain time; extra: events received beyond")
    add("the published ones (duplicates).  p50/p99/max over the sampled clients, a missing receipt counting as")
    add("infinitely late (shown as 'lost').")

    hub = by.get("hub")
    if hub and hub.ok:
        h = hub.data
        add("")
        add("Ratios (hub / peer; below 1.00x the hub is better):")
        for peer in PEERS:
            p = by.get(peer)
            if p and p.ok:
                q = p.data
                add(f"  hub / {LABELS[peer]:<12}  CPU/event {ratio(h['cpu_us_per_event'], q['cpu_us_per_event']):>7}   "
                    f"RSS/client {ratio(h['rss_kib_per_idle_client'], q['rss_kib_per_idle_client']):>7}   "
                    f"p99 latency {ratio(h['latency_ms']['p99'], q['latency_ms']['p99']):>7}")
            elif p:
                add(f"  hub / {LABELS[peer]:<12}  not available: {(p.error or '').splitlines()[0]}")
    lines.extend(render_floor(results, by))

    if hub and hub.ok:
        h = hub.data
        scale = "" if (opts.clients, opts.rate) == (5000, 10) else \
            f"  (targets are set for 5,000 clients x 10 ev/s; this run: {opts.clients} x {opts.rate:g} ev/s)"
        add("")
        add("Targets for the odds hub:" + scale)

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "MISS"

        cpu, rss, p99 = h["cpu_us_per_event"], h["rss_kib_per_idle_client"], h["latency_ms"]["p99"]
        add(f"  CPU per delivered event  <= {TARGET_CPU_US:g} us       {fmt(cpu, 2):>9} us    "
            f"{verdict(cpu is not None and cpu <= TARGET_CPU_US)}")
        for peer, limit in (("floor", TARGET_FLOOR_RATIO), ("nchan", TARGET_NCHAN_RATIO)):
            p = by.get(peer)
            theirs = p.data["cpu_us_per_event"] if p and p.ok else None
            label = f"CPU/event vs {LABELS[peer]}"
            if cpu is None or not theirs:
                why = "not measured in this run" if p is None else "not available"
                add(f"  {label:<24} <= {limit:.2f}x {peer:<6} {'-':>9}       n/a    ({LABELS[peer]} {why}; "
                    f"this target needs --servers hub,{peer},...)")
                continue
            x = cpu / theirs
            add(f"  {label:<24} <= {limit:.2f}x {peer:<6} {x:>8.2f}x       {verdict(x <= limit)}"
                f"   (hub {cpu:.2f} us, {LABELS[peer]} {theirs:.2f} us, same run)")
        add(f"  RSS per idle client      <= {TARGET_RSS_KIB:g} KiB      {fmt(rss, 2):>9} KiB   "
            f"{verdict(rss <= TARGET_RSS_KIB)}")
        add(f"  p99 upstream->client     <= {TARGET_P99_MS:g} ms      {fmt(p99, 1):>9} ms    "
            f"{verdict(p99 <= TARGET_P99_MS)}")
        add(f"  every event, once        lost == 0       {h['lost']:>9}       {verdict(h['lost'] == 0)}"
            f"   ({h['clients']} clients x {h['events_published']} events = {h['expected']} expected, "
            f"{h['delivered']} delivered)")
        add(f"                           extra == 0      {h['extra']:>9}       {verdict(h['extra'] == 0)}")
        add("  reference numbers measured on this machine: nchan 16 us/event, 10 KiB/client; "
            "naive Python 43 us/event, 15 KiB/client")

    lines.extend(render_cluster(by))

    warnings = []
    for r in results:
        if not r.ok:
            continue
        d, name = r.data, LABELS[r.server]
        if d["loadgen_cpu_pct_of_core"] >= SATURATED_PCT:
            warnings.append(f"{name}: the load generator used {d['loadgen_cpu_pct_of_core']:.0f}% of a core: it was "
                            "saturated, so latencies include its own queueing (upper bounds)")
        cores = r.data.get("cores", 1)  # processes that can use a core each
        demand = 100 * d["server_cpu_seconds"] / d["publish_seconds"]  # CPU needed per second of publishing
        if demand >= SATURATED_PCT * cores:
            warnings.append(f"{name}: the server needed {demand:.0f}% of a core per second of publishing: saturated "
                            "at this load, so its latency (and any loss) shows overload, and CPU/event may fall as "
                            "writes coalesce")
        by_pid = d["cpu_seconds_by_pid"]
        if len(by_pid) > 1:  # the same rule for each process of a multi-process server
            for pid, (comm, seconds) in by_pid.items():
                pct = 100 * seconds / d["publish_seconds"]
                if pct >= SATURATED_PCT and demand < SATURATED_PCT * cores:
                    warnings.append(f"{name}: {comm}[{pid}] needed {pct:.0f}% of a core per second of publishing: "
                                    "that process is saturated, so the server's latency (and any loss) shows overload")
            busy = [(comm, 100 * seconds / d["window_seconds"]) for comm, seconds in by_pid.values()]
            busy = sorted((b for b in busy if b[1] >= 1), key=lambda b: -b[1])
            if len(busy) > 1:
                warnings.append(f"{name}: CPU by process over the window (% of a core): "
                                + ", ".join(f"{comm} {pct:.0f}%" for comm, pct in busy))
        if d["machine_busy_pct"] >= 90:
            warnings.append(f"{name}: the machine was {d['machine_busy_pct']:.0f}% busy over the window (all cores)")
        if d["others_cpu_pct_of_core"] >= 10:
            warnings.append(f"{name}: other processes used {d['others_cpu_pct_of_core']:.0f}% of a core during the "
                            f"window ({', '.join(d['others_busiest'])}): the numbers, latency above all, are "
                            "disturbed; rerun on a quiet machine")
        if not d["drained"]:
            warnings.append(f"{name}: not every client had every event {opts.drain:g}s after the last publish")
        if d["clients"] < d["clients_requested"]:
            warnings.append(f"{name}: only {d['clients']} of {d['clients_requested']} clients connected "
                            f"({d['connect_errors']})")
        if not d["payload_matches_reference"]:
            warnings.append(f"{name}: the odds data received differs from the reference payload")
        if d["latency_missing"] and not d["lost"]:
            warnings.append(f"{name}: the sampled clients never got {d['latency_missing']} (client, change) pairs "
                            f"although every client's count is complete: events were lost AND others repeated "
                            f"(changes missed: {d['sample_missing_changes']})")
        if d["extra"]:
            warnings.append(f"{name}: {d['extra']} events more than published were received "
                            f"({d['duplicate_samples']} repeated changes on the sampled clients); clients by "
                            f"events received: {d['delivered_histogram']}")
        for note in r.notes:
            warnings.append(f"{name}: {note}")
    for r in results:
        if not r.ok and r.error:
            warnings.append(f"{LABELS[r.server]} not measured: {r.error}")
    if warnings:
        add("")
        add("Notes:")
        lines.extend(f"  - {w}" for w in warnings)
    return "\n".join(lines)


def render_floor(results: list[Result], by: dict[str, Result]) -> list[str]:
    """Every server's CPU per event (and, for information, RSS per client) as a multiple of the floor's.

    The floor sends one prepared frame per client with a blocking ``sendall`` and nothing else, so
    its CPU/event is what the kernel's loopback TCP and a loop cost: a server at 1.00x does no work
    of its own per delivery. Its RSS per client is little more than a socket object, so the RSS
    ratios are large and only say how much per-client state a server keeps.
    """
    floor = by.get("floor")
    if floor is None or not floor.ok:
        return []
    f = floor.data
    lines = ["", f"Against the floor (server / floor; the floor: {fmt(f['cpu_us_per_event'], 2)} us/event, "
             f"{fmt(f['rss_kib_per_idle_client'], 2)} KiB/client; RSS for information):"]
    floor_rss = f["rss_kib_per_idle_client"] if f["rss_kib_per_idle_client"] > 0 else None
    for r in results:
        if r.server == "floor" or not r.ok:
            continue
        d = r.data
        lines.append(f"  {LABELS[r.server]:>12} / floor   CPU/event {ratio(d['cpu_us_per_event'], f['cpu_us_per_event']):>7}"
                     f"   RSS/client {ratio(d['rss_kib_per_idle_client'], floor_rss):>8}")
    lines.append("  where the CPU per event goes, us (user: the server's own code and libraries; system: the kernel):")
    for r in results:
        d = r.data if r.ok else None
        if d and d.get("system_us_per_event") is not None and d["cpu_us_per_event"] is not None:
            system = d["system_us_per_event"]
            lines.append(f"  {LABELS[r.server]:>12}   user {fmt(d['cpu_us_per_event'] - system, 2):>6}"
                         f"   system {fmt(system, 2):>6}")
    return lines


def render_cluster(by: dict[str, Result]) -> list[str]:
    """The cluster (Redis) rows against the single process, and the targets for them."""
    lines: list[str] = []
    hub = by.get("hub")
    members = [by[k] for k in ("hub-redis", "hub-redis2") if k in by and by[k].ok]
    if not members:
        return lines
    lines.append("")
    lines.append("The cluster path (all server processes plus redis-server) against one process without Redis:")
    pairs = [(m, hub) for m in members]
    if "nchan2" in by and by["nchan2"].ok and "hub-redis2" in by and by["hub-redis2"].ok:
        pairs.append((by["hub-redis2"], by["nchan2"]))
    if "nchan2" in by and by["nchan2"].ok and "nchan" in by and by["nchan"].ok:
        pairs.append((by["nchan2"], by["nchan"]))
    for a, b in pairs:
        if b is None or not b.ok:
            continue
        x, y = a.data, b.data
        lines.append(f"  {LABELS[a.server]:>12} / {LABELS[b.server]:<12}  CPU/event "
                     f"{ratio(x['cpu_us_per_event'], y['cpu_us_per_event']):>7}   RSS/client "
                     f"{ratio(x['rss_kib_per_idle_client'], y['rss_kib_per_idle_client']):>7}   p99 latency "
                     f"{ratio(x['latency_ms']['p99'], y['latency_ms']['p99']):>7}")
    if hub is None or not hub.ok:
        lines.append("  (no single-process row in this run: the targets below need --servers hub,...)")
        return lines
    h = hub.data
    lines.append("")
    lines.append("Targets for the cluster path, each against the single process above:")
    for m in members:
        d = m.data
        cpu = d["cpu_us_per_event"] / h["cpu_us_per_event"] if d["cpu_us_per_event"] and h["cpu_us_per_event"] else None
        rss = (d["rss_kib_per_idle_client"] / h["rss_kib_per_idle_client"]
               if h["rss_kib_per_idle_client"] > 0 else None)
        p99 = (d["latency_ms"]["p99"] / h["latency_ms"]["p99"]
               if h["latency_ms"]["p99"] > 0 and math.isfinite(d["latency_ms"]["p99"]) else None)

        def verdict(value: float | None, limit: float) -> str:
            return "PASS" if value is not None and value <= limit else "MISS"

        name = LABELS[m.server]
        lines.append(f"  {name:<13} CPU/event <= {CLUSTER_CPU_RATIO:.2f}x  {fmt(cpu, 2):>6}x {verdict(cpu, CLUSTER_CPU_RATIO)}"
                     f"   RSS/client <= {CLUSTER_RSS_RATIO:.2f}x  {fmt(rss, 2):>6}x {verdict(rss, CLUSTER_RSS_RATIO)}"
                     f"   p99 <= {CLUSTER_P99_RATIO:.1f}x  {fmt(p99, 2):>6}x {verdict(p99, CLUSTER_P99_RATIO)}"
                     f"   lost {d['lost']} {'PASS' if d['lost'] == 0 else 'MISS'}")
        if "rss_kib_redis" in d:
            lines.append(f"  {'':<13} (redis-server RSS {d['rss_kib_redis'] / 1024:.1f} MiB; per process: "
                         + ", ".join(f"{pid} {v[1] / 1024:.0f} MiB" for pid, v in d["rss_kib_by_pid"].items()) + ")")
    if any(m.server == "hub-redis2" for m in members):
        lines.append("  hub+redis x2 shares the 2 cores with the load generator: see PERFORMANCE.md before reading it as "
                     "a scaling figure")
    return lines


def _finite(value: Any) -> Any:
    """JSON has no infinity: a latency that never arrived is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def describe_machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}, Python {platform.python_version()}"


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, help="SSE clients on the one group (default 5000; --quick 500)")
    parser.add_argument("--seconds", type=float, help="length of the publishing window (default 15; --quick 5)")
    parser.add_argument("--rate", type=float, default=10.0, help="changes published per second (default 10)")
    parser.add_argument("--sample", type=int, help="clients whose latencies are recorded (default 200; --quick 50)")
    parser.add_argument("--batch", type=int, default=250, help="connections opened per ramp step (default 250)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up clients before measuring (default 10)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before RSS is read (default 2)")
    parser.add_argument("--drain", type=float, help="seconds allowed after the last publish (default 20; --quick 10)")
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help=f"comma-separated, from: {','.join(SERVERS)} (default %(default)s)")
    parser.add_argument("--nchan-workers", type=int, default=1, help="nginx worker processes (default 1)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install nginx/nchan or pushpin")
    parser.add_argument("--wait-quiet", type=float, help="before each window, wait up to this many seconds for "
                        "other processes to use < 15%% of a core (default 30; --quick 0)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--quick", action="store_true", help="small and short: 500 clients, 5 s")
    a = parser.parse_args(argv)
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers:
        parser.error(f"unknown server(s) {unknown}; choose from {', '.join(SERVERS)}")

    def pick(value: Any, normal: Any, quick: Any) -> Any:
        return value if value is not None else (quick if a.quick else normal)

    opts = Options(clients=pick(a.clients, 5000, 500), seconds=pick(a.seconds, 15.0, 5.0), rate=a.rate,
                   sample=pick(a.sample, 200, 50), batch=a.batch, warmup=a.warmup, settle=a.settle,
                   drain=pick(a.drain, 20.0, 10.0), servers=servers, nchan_workers=a.nchan_workers,
                   install=not a.no_install, json_path=a.json, quick=a.quick,
                   wait_quiet=pick(a.wait_quiet, 30.0, 0.0))
    if opts.clients < 1 or opts.rate <= 0 or opts.seconds <= 0:
        parser.error("--clients, --rate and --seconds must be positive")
    opts.sample = min(opts.sample, opts.clients)
    return opts


def raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        raise SystemExit(f"RLIMIT_NOFILE is {soft} but {needed} descriptors are needed; raise the hard limit")


async def run(opts: Options) -> list[Result]:
    raise_nofile(opts.clients + opts.warmup + 512)
    print(f"SSE fan-out: {opts.clients} clients on one group, {opts.events} changes at {opts.rate:g}/s "
          f"({opts.seconds:g} s), latency sampled on {opts.sample} clients", flush=True)
    print(f"machine: {describe_machine()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        for kind in opts.servers:
            results.append(await measure(kind, opts, Path(tmp)))
    return results


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    import uvloop

    started = time.monotonic()
    results = uvloop.run(run(opts))
    print()
    print(render(results, opts))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if opts.json_path is not None:
        payload = {"options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
                   "machine": describe_machine(),
                   "targets": {"cpu_us_per_event": TARGET_CPU_US, "rss_kib_per_idle_client": TARGET_RSS_KIB,
                               "p99_ms": TARGET_P99_MS, "lost": 0,
                               "cpu_per_event_vs_floor": TARGET_FLOOR_RATIO,
                               "cpu_per_event_vs_nchan": TARGET_NCHAN_RATIO},
                   "results": [{"server": r.server, "ok": r.ok, "error": r.error, "notes": r.notes, **r.data}
                               for r in results]}
        opts.json_path.write_text(json.dumps(_finite(payload), indent=2))
    return 0 if all(r.ok for r in results if r.server == "hub") else 1


if __name__ == "__main__":
    sys.exit(main())
