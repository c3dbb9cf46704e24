"""Child processes for the soak and chaos tools: ``python -m backend`` and ``python -m backend.simulator``.

Each child runs in its own session with its output in a log file, answers on 127.0.0.1 only, and
is stopped by its own pid (SIGTERM, then SIGKILL after a bound). Plain-HTTP helpers read its JSON
endpoints with a fresh connection each time (``Connection: close``), so a read never leaves a
kept-alive socket or task behind in the server to be counted by the next one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SMALL_WORLD = {"SIM_LIVE_GAMES": "40", "SIM_PREMATCH_GAMES": "200"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Child:
    """One child process with its log; ``stop()`` ends it by its pid."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def error_lines(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines()
                if " ERROR " in line or " CRITICAL " in line or line.startswith(("Traceback", "ERROR:"))]


def http_json(port: int, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """GET ``path`` on 127.0.0.1:``port`` on a fresh connection: ``(status, JSON or None)``."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


async def ahttp_json(port: int, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    return await asyncio.to_thread(http_json, port, path, timeout)


def backend(env: dict[str, str], log: Path, port: int | None = None) -> tuple[Child, int]:
    """``python -m backend`` on 127.0.0.1 (a free port unless given), with ``env`` over ours."""
    port = port or free_port()
    full = {**os.environ, "LOG_LEVEL": "WARNING", **env, "HOST": "127.0.0.1", "PORT": str(port)}
    return Child("backend", [sys.executable, "-m", "backend"], full, log), port


def simulator(args: list[str], log: Path, port: int | None = None) -> tuple[Child, int]:
    """``python -m backend.simulator`` on 127.0.0.1 (a free port unless given)."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "backend.simulator", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "WARNING", *args]
    return Child("simulator", cmd, dict(os.environ), log), port


async def wait_http(child: Child, port: int, path: str, timeout: float = 60.0, ok: Any = None) -> Any:
    """Poll ``path`` until it answers 200 (and ``ok(body)`` when given); returns the body."""
    deadline = time.monotonic() + timeout
    while True:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{tail(child.log)}")
        status, body = await ahttp_json(port, path, 5.0)
        if status == 200 and (ok is None or ok(body)):
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name}: {path} not ready within {timeout:g}s:\n{tail(child.log)}")
        await asyncio.sleep(0.2)


async def wait_listening(child: Child, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{tail(child.log)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} not listening on {port}:\n{tail(child.log)}") from None
            await asyncio.sleep(0.1)


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1
