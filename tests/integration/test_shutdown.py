"""SIGTERM with thousands of open SSE streams: `python -m backend` exits within seconds."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
STREAMS = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def open_stream(port: int, path: str) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while b": ready" not in data:
        chunk = await reader.read(65536)
        assert chunk, "stream closed before its preamble"
        data += chunk
    return writer


async def until_the_feed_is_connected(http: httpx.AsyncClient) -> None:
    """Wait (at most ~20 s) until the server answers and its health says the Swarm feed is up."""
    for _ in range(200):
        try:
            if (await http.get("/api/health")).json()["swarm_ws"]["connected"]:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)


async def test_sigterm_with_thousands_of_open_streams_exits_within_seconds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    port = free_port()
    env = {**os.environ, "PORT": str(port), "SIM_LIVE_GAMES": "30", "SIM_PREMATCH_GAMES": "100",
           "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, env=env,  # noqa: ASYNC220 (starts at once)
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    writers: list[asyncio.StreamWriter] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await until_the_feed_is_connected(http)
            paths = ["/api/counts-stream", "/api/live-stream?sportId=1", "/api/live-game-stream?gameId=1"]
            for batch in range(0, STREAMS, 250):
                writers += await asyncio.gather(*(open_stream(port, paths[i % 3]) for i in range(batch, batch + 250)))
            assert (await http.get("/api/health")).json()["swarm_ws"]["clients"] == STREAMS
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
        elapsed = time.monotonic() - started
        # uvicorn re-raises the signal it caught once it has shut down cleanly.
        assert code in (0, -signal.SIGTERM), proc.stdout.read().decode()[-3000:] if proc.stdout else code
        assert elapsed < 5.0, f"shutdown took {elapsed:.1f}s"
    finally:
        for w in writers:
            w.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


STUCK = 40


def stuck_client(port: int, path: str) -> socket.socket:
    """A client that asks for a stream and never reads: its receive window is tiny, so the server's
    writes to it soon wait on a full buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return sock


async def test_sigterm_with_clients_whose_buffers_are_full_does_not_wait_on_them():
    """Clients that stopped reading (their writes parked on full buffers, not yet dropped as stuck)
    do not hold the shutdown up: their connections are reset, not closed gracefully behind
    megabytes of queued data."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "SIM_LIVE_GAMES": "30", "SIM_PREMATCH_GAMES": "100",
           "SIM_PRICE_CHANGES_PER_SECOND": "3000", "WRITE_TIMEOUT": "120", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, env=env,  # noqa: ASYNC220 (starts at once)
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stuck: list[socket.socket] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await until_the_feed_is_connected(http)
            game_ids: list[int] = []
            async with http.stream("GET", "/api/live-stream?sportId=1") as response:
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "games":
                        game_ids = [game["id"] for game in json.loads(line[6:])["data"]]
                        break
            assert game_ids
            # a game's stream sends the whole game at every change: the buffers fill in seconds
            stuck = [stuck_client(port, f"/api/live-game-stream?gameId={game_ids[i % len(game_ids)]}")
                     for i in range(STUCK)]

            async def parked() -> int:
                return (await http.get("/api/health")).json()["swarm_ws"]["parked_writes_total"]

            for _ in range(600):
                if await parked() >= STUCK // 2:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the stuck clients' writes never waited: {(await http.get('/api/health')).json()['swarm_ws']}")
            health = (await http.get("/api/health")).json()["swarm_ws"]
            assert health["clients"] == STUCK and not health["client_drops"].get("stuck")  # still connected
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
        elapsed = time.monotonic() - started
        log = proc.stdout.read().decode() if proc.stdout else ""
        assert code in (0, -signal.SIGTERM), log[-3000:]
        assert elapsed < 2.0, f"shutdown took {elapsed:.1f}s with {STUCK} stuck clients"
        assert "without completing response" not in log and "ERROR" not in log, log[-3000:]
        ended = 0
        for sock in stuck:  # what was queued, then the reset (or, for one nothing was left for, the end)
            sock.settimeout(5)
            try:
                while sock.recv(1 << 20):
                    pass
                ended += 1
            except ConnectionResetError:
                ended += 1
        assert ended == STUCK
    finally:
        for sock in stuck:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
