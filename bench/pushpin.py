"""The Pushpin peer: Debian's ``pushpin`` (a GRIP proxy) run as a child, with its origin in the bench.

:func:`ensure_installed` finds ``/usr/bin/pushpin`` and, if it is missing and we are root on
Debian, installs the ``pushpin`` package with apt-get (it brings ``condure`` and ``zurl``; the
packaged service is never started by us, and ``policy-rc.d`` or the init system decides whether
apt starts it). :func:`write_config` writes a self-contained config into a temp dir: its own
``pushpin.conf`` and ``routes``, every ZeroMQ socket an ``ipc://`` path in that dir (no fixed TCP
ports that another instance or test could hold), clients on a free loopback port, the HTTP publish
endpoint (``POST /publish/``) on another.

A stream client's request goes condure -> pushpin-proxy -> zurl -> :class:`GripOrigin`, which
answers with GRIP hold headers (``Grip-Hold: stream``, ``Grip-Channel: odds``) and the last event
as the body (the counterpart of the hub's late-joiner snapshot); pushpin-proxy hands the held
stream to pushpin-handler. A publish goes :class:`PushpinPublisher` -> pushpin-handler's HTTP
control server, and from the handler one ZeroMQ message per subscriber to condure, which writes
the socket (pushpin-proxy and zurl are not on the publish path).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .feeder import odds_payload, read_response
from .floor import event_id, sse_frame

PUSHPIN = "/usr/bin/pushpin"
PACKAGES = ("pushpin",)
INTERNAL_CONF = "/usr/lib/pushpin/internal.conf"  # the package's own socket specs, included first
CHANNEL = "odds"
STREAM_PATH = "/api/live-stream"


def ensure_installed(allow_install: bool) -> str | None:
    """None when pushpin can run, else why not (as :func:`bench.nchan.ensure_installed`)."""
    if os.access(PUSHPIN, os.X_OK) and os.path.exists(INTERNAL_CONF):
        return None
    if not allow_install:
        return "pushpin not installed and --no-install given"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "pushpin not installed and cannot apt-get install it (needs root on Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:  # stale package lists: refresh once and retry
        subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True, timeout=300)
        result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 or not os.access(PUSHPIN, os.X_OK):
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return "apt-get install " + " ".join(PACKAGES) + " failed: " + " / ".join(tail)
    return None


def write_config(directory: Path, port: int, publish_port: int, origin_port: int, max_clients: int) -> Path:
    """``pushpin.conf`` and ``routes`` in ``directory``; returns the path of ``pushpin.conf``.

    Settings are the package's (``/etc/pushpin/pushpin.conf``) except: paths and ports; condure
    for connections (the package's default when condure is installed) and zurl started by the
    runner (the package otherwise expects the system's zurl service); ``log_level=1`` (warnings:
    no line per request or publish, as the other servers run); and no ``message_rate`` /
    ``message_hwm``. The packaged file sets 2,500 and 25,000, which pace *deliveries* (one action
    per subscriber per message, in pushpin-handler's RateLimiter) and drop beyond the high-water
    mark: at 5,000 clients x 10 events/s (50,000 deliveries/s) the bench would measure the limiter.
    Unset, the handler delivers every message at once, as the other servers do.
    """
    run, logs = directory / "run", directory / "logs"
    run.mkdir(parents=True, exist_ok=True)
    logs.mkdir(exist_ok=True)
    (directory / "routes").write_text(f"*,path_beg={STREAM_PATH} 127.0.0.1:{origin_port}\n")
    conf = directory / "pushpin.conf"
    conf.write_text(f"""\
[global]
include={INTERNAL_CONF}
rundir={run}
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:{port}
logdir={logs}
log_level=1
client_buffer_size=8192
client_maxconn={max_clients + 1024}
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=routes
# The runner's zurl binds in the rundir; the package's internal.conf points at the system's zurl.
zurl_out_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in
zurl_out_stream_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in-stream
zurl_in_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-out
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
sig_iss=pushpin
sig_key=bench
updates_check=off

[handler]
push_in_spec=ipc://{run}/push-in
push_in_sub_specs=ipc://{run}/push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={publish_port}
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{run}/stats
command_spec=ipc://{run}/command
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
""")
    return conf


def command(conf: Path) -> list[str]:
    return [PUSHPIN, "--config", str(conf), "--merge-output"]


def frame(seq: int) -> bytes:
    """What every client receives for change ``seq``: the hub's ``odds`` event, ``id:`` line first."""
    return sse_frame(odds_payload(seq), event_id(seq + 1))


class GripOrigin:
    """Pushpin's backend: a tiny HTTP/1.1 server on the bench's event loop, in the bench process.

    It answers ``GET /api/live-stream...`` with ``Grip-Hold: stream`` on channel ``odds`` and
    ``snapshot()`` (the last event published) as the body, which pushpin sends to the client
    before holding the stream open. It only works while clients connect (the ramp), never in the
    measured window; like the hub's Swarm feed it lives in the bench process, so its CPU is the
    bench's, not pushpin's.
    """

    HEADERS = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               b"Grip-Hold: stream\r\nGrip-Channel: " + CHANNEL.encode() + b"\r\n")

    def __init__(self, snapshot: Callable[[], bytes]) -> None:
        self.snapshot = snapshot
        self.port = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every connection (zurl keeps some open), waiting for their tasks."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._connections:
            writer.close()  # the reader sees EOF: each connection's task ends on its own
        await asyncio.gather(*self._connections.values(), return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while True:  # zurl may keep the connection alive for the next request
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if not head.startswith(b"GET " + STREAM_PATH.encode()):
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                body = self.snapshot()
                writer.write(self.HEADERS + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._connections.pop(writer, None)
            writer.close()


class PushpinPublisher:
    """Publishes :func:`frame` to pushpin's HTTP control API, ``POST /publish/``, format ``http-stream``.

    The handler's control server answers ``Connection: close`` and refuses a second request on the
    connection, so each change goes on a new connection, without waiting for the previous one's
    answer (a saturated server must not pace its publisher; see :class:`bench.feeder.HttpPublisher`).
    ``sent_at[seq]`` is taken before connecting: the connection is part of pushpin's publish path.
    Two changes in flight at once could reach the handler out of order; nothing in the bench counts
    on the order.
    """

    def __init__(self, host: str, port: int, channel: str = CHANNEL) -> None:
        self.host = host
        self.port = port
        self.channel = channel
        self.sent_at: dict[int, float] = {}
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.last = b""  # the newest frame: the origin's snapshot for a new client
        self._pending: set[asyncio.Task[None]] = set()

    async def publish(self, seq: int) -> None:
        data = frame(seq)
        self.last = data
        body = json.dumps({"items": [{"channel": self.channel, "id": str(seq),
                                      "formats": {"http-stream": {"content": data.decode()}}}]}).encode()
        request = (f"POST /publish/ HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        self.sent_at[seq] = time.monotonic()
        task = asyncio.create_task(self._post(request))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, request: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(request)
                status = await read_response(reader)
                self.statuses[status] = self.statuses.get(status, 0) + 1
            finally:
                writer.close()
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait for every publish so far to be answered; raise if one failed or was not 2xx."""
        if self._pending:
            await asyncio.wait_for(asyncio.gather(*self._pending), timeout)
        bad = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        if self.errors or bad:
            raise RuntimeError(f"publishing to pushpin failed: {self.errors[:3] or bad}")

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
