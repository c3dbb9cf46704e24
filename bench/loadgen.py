"""SSE load generator: many keep-alive stream clients in one process (asyncio + uvloop, raw sockets).

It runs as a child process of ``bench.fanout`` so that its CPU is its own and can be measured. Each
client is an ``asyncio.Protocol`` that sends one ``GET`` and then only counts: every occurrence of
``event: odds\\n`` in the body is one delivered event, however the server split or joined its writes
(a match cut by a read boundary is still found, through a short carried-over tail). A chunked body
(``Transfer-Encoding: chunked``, as the hub, the naive server, the floor and pushpin send) is
decoded first: most servers write whole events per chunk, but pushpin cuts events across chunks,
so a chunk-size line can fall inside an event. For a spread-out sample of clients it also parses
the P1 price of every ``odds`` event and records the ``time.monotonic()`` of the read that
completed it; the parent turns prices back into change numbers and receipt times into latencies.

Control is line-delimited JSON: one command per line on stdin, one reply per line on stdout.

=================================================  ============================================
command                                            reply
=================================================  ============================================
``{"cmd":"connect","n":N,"batch":B,"sample":S}``   after each batch of B connections has its
                                                   first ``odds`` event (or failed): counts
``{"cmd":"mark"}``                                 start of the measured window: remembers each
                                                   client's count, starts recording latencies
``{"cmd":"status"}``                               events delivered since the mark, open clients
``{"cmd":"report","expected":K,"out":PATH}``       writes per-client results to PATH
``{"cmd":"close_all"}``                            closes every connection, waits for the FINs
``{"cmd":"exit"}``                                 ends the process
=================================================  ============================================
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from typing import Any

EVENT = b"event: odds\n"
TAIL = len(EVENT) - 1
PRICE = re.compile(rb'"label":"1","price":([-0-9.eE+]+)')
# The hub writes "id:" before "event:", nchan after it.
DATA = re.compile(rb"event: odds\n(?:id: [^\n]*\n)?data: ([^\n]*)\n")


class StreamClient(asyncio.Protocol):
    __slots__ = (
        "baseline",
        "baseline_bytes",
        "body_started",
        "chunk_head",
        "chunk_left",
        "chunked",
        "closed",
        "count",
        "error",
        "gen",
        "head",
        "index",
        "nbytes",
        "pbuf",
        "ready",
        "sampled",
        "samples",
        "settled",
        "status",
        "tail",
        "transport",
    )

    def __init__(self, gen: LoadGen, index: int, sampled: bool) -> None:
        self.gen = gen
        self.index = index
        self.sampled = sampled
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.status = 0
        self.body_started = False
        self.chunked = False
        self.chunk_left = 0  # bytes of the current chunk's data still to come
        self.chunk_head = b""  # a chunk-size line cut by a read boundary
        self.count = 0
        self.baseline = 0
        self.nbytes = 0
        self.baseline_bytes = 0
        self.tail = b""
        self.pbuf = b""
        self.samples: list[tuple[float, float]] = []  # (price, receipt time)
        self.closed = False
        self.error: str | None = None
        self.ready = False
        self.settled = False  # ready or failed: counted once towards its batch

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        self.gen.on_open(self)
        transport.write(self.gen.request)

    def data_received(self, data: bytes) -> None:
        if self.body_started:
            self._body(data)
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return
        head, rest, self.head = self.head[:end], self.head[end + 4:], b""
        try:
            self.status = int(head[9:12])
        except ValueError:
            self.status = -1
        if self.status != 200:
            self.error = f"HTTP {self.status}"
            self.gen.on_settled(self)
            assert self.transport is not None
            self.transport.close()
            return
        self.body_started = True
        self.chunked = b"\r\ntransfer-encoding: chunked" in head.lower()
        if rest:
            self._body(rest)

    def _dechunk(self, data: bytes) -> bytes:
        """The chunk data in ``data`` (one read of a chunked body), without the framing."""
        if self.chunk_left >= len(data):  # inside a long chunk: all of it is data
            self.chunk_left -= len(data)
            return data
        out = []
        pos, n = 0, len(data)
        while pos < n:
            if self.chunk_left:
                take = min(self.chunk_left, n - pos)
                out.append(data[pos:pos + take])
                self.chunk_left -= take
                pos += take
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self.chunk_head += data[pos:]
                break
            line, self.chunk_head = (self.chunk_head + data[pos:end]).strip(), b""
            pos = end + 1
            if line:  # else the CRLF that ends a chunk's data
                self.chunk_left = int(line.split(b";")[0], 16)
        return out[0] if len(out) == 1 else b"".join(out)

    def _body(self, data: bytes) -> None:
        self.nbytes += len(data)  # bytes on the wire, framing included
        if self.chunked:
            data = self._dechunk(data)
        joined = self.tail + data
        found = joined.count(EVENT)
        self.tail = joined[-TAIL:]
        if found:
            self.count += found
            if not self.ready:
                self.ready = True
                self.gen.on_settled(self)
        if self.sampled and self.gen.recording:
            now = time.monotonic()
            buf = self.pbuf + data
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                self.pbuf = buf
                return
            done, self.pbuf = buf[:cut + 1], buf[cut + 1:]
            for match in PRICE.finditer(done):
                self.samples.append((float(match.group(1)), now))
            if self.gen.example is None and self.index == self.gen.example_client:
                match = DATA.search(done)
                if match:
                    self.gen.example = match.group(1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.error is None and not self.gen.closing:
            self.error = f"closed by server ({exc})" if exc else "closed by server"
        self.gen.on_settled(self)
        self.gen.on_lost(self)


class LoadGen:
    def __init__(self, host: str, port: int, path: str) -> None:
        self.host = host
        self.port = port
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                        f"Cache-Control: no-cache\r\n\r\n").encode()
        self.clients: list[StreamClient] = []
        self.recording = False
        self.closing = False
        self.example: bytes | None = None
        self.example_client = -1
        self._settled = 0
        self._settled_event = asyncio.Event()
        self._settle_target = 0
        self._open = 0
        self._all_closed = asyncio.Event()
        self._mark_cpu = 0.0
        self._mark_time = 0.0

    # -- callbacks from clients ----------------------------------------------------------------
    def on_open(self, client: StreamClient) -> None:
        self._open += 1
        self._all_closed.clear()

    def on_settled(self, client: StreamClient) -> None:
        if client.settled:
            return
        client.settled = True
        self._settled += 1
        if self._settled >= self._settle_target:
            self._settled_event.set()

    def on_lost(self, client: StreamClient) -> None:
        self._open -= 1
        if self._open <= 0:
            self._all_closed.set()

    # -- commands --------------------------------------------------------------------------------
    async def connect(self, n: int, batch: int, sample: int, timeout: float) -> dict[str, Any]:
        started = time.monotonic()
        first = len(self.clients)
        every = max(1, n // sample) if sample > 0 else 0
        loop = asyncio.get_running_loop()
        connect_errors: dict[str, int] = {}
        for lo in range(0, n, batch):
            count = min(batch, n - lo)
            self._settled, self._settle_target = 0, count
            self._settled_event.clear()

            async def open_one(i: int) -> None:
                sampled = bool(every) and i % every == 0 and i // every < sample
                client = StreamClient(self, first + i, sampled)
                self.clients.append(client)
                try:
                    await loop.create_connection(lambda: client, self.host, self.port)
                except OSError as exc:
                    client.closed = True
                    client.error = f"connect: {exc.strerror or exc}"
                    connect_errors[client.error] = connect_errors.get(client.error, 0) + 1
                    self.on_settled(client)

            await asyncio.gather(*(open_one(lo + i) for i in range(count)))
            try:
                await asyncio.wait_for(self._settled_event.wait(), timeout)
            except TimeoutError:
                break  # the rest would only pile up behind a server that stopped answering
        batch_clients = self.clients[first:]
        if self.example_client < 0:
            self.example_client = next((c.index for c in batch_clients if c.sampled), -1)
        errors: dict[str, int] = {}
        for c in batch_clients:
            if c.error is not None:
                errors[c.error] = errors.get(c.error, 0) + 1
        return {"requested": n, "attempted": len(batch_clients),
                "ready": sum(c.ready and not c.closed for c in batch_clients),
                "open": sum(not c.closed for c in batch_clients), "errors": errors,
                "elapsed": round(time.monotonic() - started, 3)}

    def mark(self) -> dict[str, Any]:
        for c in self.clients:
            c.baseline = c.count
            c.baseline_bytes = c.nbytes
            c.samples.clear()
            c.pbuf = b""
        self.example = None
        self.recording = True
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._mark_cpu = usage.ru_utime + usage.ru_stime
        self._mark_time = time.monotonic()
        return {"ok": True}

    def status(self) -> dict[str, Any]:
        live = [c for c in self.clients if not c.error]
        return {"delivered": sum(c.count - c.baseline for c in live),
                "min_delivered": min((c.count - c.baseline for c in live), default=0),
                "open": sum(not c.closed for c in self.clients)}

    def report(self, expected: int, out: str) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - self._mark_cpu
        wall = time.monotonic() - self._mark_time
        self.recording = False
        measured = [c for c in self.clients if c.ready]  # clients that were in the group at the mark
        delivered = [c.count - c.baseline for c in measured]
        samples: list[list[float]] = []  # [client index, price, first receipt time]
        duplicates = 0  # a sampled client saw the same change again; its first receipt is the one timed
        for c in measured:
            if c.sampled:
                first = {}
                for price, t in c.samples:
                    first.setdefault(price, t)
                duplicates += len(c.samples) - len(first)
                samples.extend([c.index, price, t] for price, t in first.items())
        histogram: dict[int, int] = {}
        for d in delivered:
            histogram[d] = histogram.get(d, 0) + 1
        result = {
            "clients": len(measured),
            "open_at_end": sum(not c.closed for c in measured),
            "expected_per_client": expected,
            "delivered": sum(delivered),
            "lost": sum(max(0, expected - d) for d in delivered),
            "extra": sum(max(0, d - expected) for d in delivered),
            "clients_short": sum(d < expected for d in delivered),
            "bytes": sum(c.nbytes - c.baseline_bytes for c in measured),
            "sampled_clients": sum(c.sampled for c in measured),
            "samples": samples,
            "duplicate_samples": duplicates,
            "delivered_histogram": {str(k): v for k, v in sorted(histogram.items())},
            "example_data": self.example.decode() if self.example else None,
            "errors_after_ready": sorted({c.error for c in measured if c.error}),
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "max_rss_kib": usage.ru_maxrss,
        }
        with open(out, "w") as f:
            json.dump(result, f)
        return {"ok": True, "out": out, "delivered": result["delivered"], "lost": result["lost"]}

    async def close_all(self, timeout: float = 15.0) -> dict[str, Any]:
        self.closing = True
        for c in self.clients:
            if c.transport is not None and not c.closed:
                c.transport.close()
        if self._open > 0:
            try:
                await asyncio.wait_for(self._all_closed.wait(), timeout)
            except TimeoutError:
                for c in self.clients:
                    if c.transport is not None and not c.closed:
                        c.transport.abort()
        still = sum(not c.closed for c in self.clients)
        self.clients = []
        self.closing = False
        self.example_client = -1
        return {"ok": True, "not_closed": still}


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _control(gen: LoadGen) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(value: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    reply({"ok": True, "nofile": _raise_nofile()})
    while line := await reader.readline():
        cmd = json.loads(line)
        name = cmd["cmd"]
        if name == "connect":
            reply(await gen.connect(cmd["n"], cmd.get("batch", 250), cmd.get("sample", 0), cmd.get("timeout", 30.0)))
        elif name == "mark":
            reply(gen.mark())
        elif name == "status":
            reply(gen.status())
        elif name == "report":
            reply(gen.report(cmd["expected"], cmd["out"]))
        elif name == "close_all":
            reply(await gen.close_all())
        elif name == "exit":
            await gen.close_all(2.0)
            reply({"ok": True})
            return
        else:
            reply({"error": f"unknown command {name!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(description="SSE load generator controlled over stdin (see module doc)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/api/live-stream?sportId=1")
    args = parser.parse_args()
    _raise_nofile()
    import uvloop

    uvloop.run(_control(LoadGen(args.host, args.port, args.path)))


if __name__ == "__main__":
    main()
