"""Starting the parts of a cluster on one machine as child processes: redis-server, the feed
simulator and the backends. Used by ``python -m backend.cluster`` and by the tests.

Every child is started in its own session, so a Ctrl-C at the terminal reaches only the launcher,
which stops them in order: the backends first (they end their streams and release their leases),
then the feed, then Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from backend.settings import Settings

REPO = Path(__file__).resolve().parents[2]


class LaunchError(RuntimeError):
    """A part of the cluster could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM to the child's whole session, SIGKILL if it has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


@dataclass
class RedisProcess:
    """A private redis-server on a loopback port: no persistence, its working files in a temporary
    directory that goes with it."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    directory: str = ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LaunchError("redis-server is not installed (scripts/setup --cluster installs Debian's)")
        self.port = self.port or free_port()
        self.directory = tempfile.mkdtemp(prefix="odds-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory, "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LaunchError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5.0)
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class SimulatorProcess:
    """``python -m backend.simulator`` on a free port, configured from the ``SIM_*`` settings."""

    settings: Settings
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    @property
    def tracker_url(self) -> str:
        return self.url + "tracker"

    def arguments(self) -> list[str]:
        s = self.settings
        args = ["--host", "127.0.0.1", "--port", str(s.sim_port or 0), "--log-level", s.log_level]
        for flag, value in (("--seed", s.sim_seed), ("--live", s.sim_live_games),
                            ("--prematch", s.sim_prematch_games), ("--rate", s.sim_price_changes_per_second),
                         ("--time-scale", s.sim_time_scale)):
            if value is not None:
                args += [flag, str(value)]
        return args

    def start(self) -> SimulatorProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "backend.simulator", *self.arguments()], cwd=REPO,
                                     stdout=subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None
        # its first line names the Swarm feed's URL (or EOF: it died)
        line = self.proc.stdout.readline().decode()
        url = next((word for word in line.split() if word.startswith("ws://")), None)
        if url is None:
            self.stop()
            raise LaunchError(f"the simulator did not start (exit code {self.proc.returncode}, "
                              f"first line {line.strip()!r})")
        self.url = url
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10.0)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


@dataclass
class BackendProcess:
    """One ``python -m backend`` member of the cluster."""

    env: Mapping[str, str]
    stdout: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = field(default=0.0)

    def start(self) -> BackendProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, env=dict(self.env),
                                     stdout=self.stdout, stderr=subprocess.STDOUT if self.stdout else None,
                                     start_new_session=True)
        self.started_at = time.monotonic()
        return self

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)


def member_env(base: Mapping[str, str], *, redis_url: str, swarm_url: str, tracker_url: str,
               **extra: str) -> dict[str, str]:
    """The environment of a cluster member: the launcher's, with the shared store and feeds."""
    env = {**base, "REDIS_URL": redis_url, "SWARM_WS_URL": swarm_url, "LIVE_TRACKER_WS_URL": tracker_url}
    env.update(extra)
    return env
