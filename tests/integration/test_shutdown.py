"""SIGTERM with thousands of open SSE streams: `python -m backend` exits within seconds."""

from __future__ import annotations

import asyncio
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
            for _ in range(200):
                try:
                    if (await http.get("/api/health")).json()["swarm_ws"]["connected"]:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
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
