"""``python -m backend.cluster``: a whole cluster on this machine until Ctrl-C.

It starts a private redis-server (unless ``REDIS_URL`` names one), one feed simulator (unless
``SWARM_WS_URL`` names a feed) and ``--processes`` backends that all bind ``PORT`` with
SO_REUSEPORT, so the cluster has one URL and the kernel spreads the browsers among the processes.
A backend that exits is started again (a crash, or ``kill -9`` to watch a leader change hands).
Every other setting comes from the environment as for ``python -m backend``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from types import FrameType

from backend.settings import Settings, SettingsError

from .launch import BackendProcess, LaunchError, RedisProcess, SimulatorProcess, member_env

RESTART_DELAY = 1.0  # seconds before a backend that exited is started again


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m backend.cluster", description=__doc__.split("\n\n")[1])
    parser.add_argument("--processes", type=int, default=3, help="backend processes (default %(default)s)")
    parser.add_argument("--no-restart", action="store_true", help="leave a backend that exits stopped")
    args = parser.parse_args(argv)
    if not 1 <= args.processes <= 64:
        parser.error("--processes must be between 1 and 64")
    return args


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Launcher:
    def __init__(self, settings: Settings, processes: int, restart: bool) -> None:
        self.settings = settings
        self.count = processes
        self.restart = restart
        self.redis: RedisProcess | None = None
        self.feed: SimulatorProcess | None = None
        self.backends: list[BackendProcess] = []
        self.stopping = False

    def start(self) -> None:
        s = self.settings
        redis_url = s.redis_url
        if not redis_url:
            self.redis = RedisProcess().start()
            redis_url = self.redis.url
        swarm_url, tracker_url = s.swarm_ws_url, s.live_tracker_ws_url
        if not swarm_url:
            self.feed = SimulatorProcess(s).start()
            swarm_url, tracker_url = self.feed.url, tracker_url or self.feed.tracker_url
        env = member_env(os.environ, redis_url=redis_url, swarm_url=swarm_url, tracker_url=tracker_url,
                         REUSE_PORT="true")
        self.backends = [BackendProcess(env).start() for _ in range(self.count)]
        local = s.host in ("127.0.0.1", "0.0.0.0", "")
        deadline = time.monotonic() + 120
        while not answers(f"http://{'127.0.0.1' if local else s.host}:{s.port}/api/health"):
            if self.stopping:
                return
            if any(b.exit_code is not None for b in self.backends) or time.monotonic() > deadline:
                raise LaunchError("the backends did not start (see their log above)")
            time.sleep(0.2)
        print(f"Odds browser cluster: http://{'localhost' if local else s.host}:{s.port}/  ({self.count} processes, Redis at {redis_url}, "
              f"feed at {swarm_url}; /api/health shows them)", flush=True)

    def watch(self) -> None:
        while not self.stopping:
            for i, backend in enumerate(self.backends):
                code = backend.exit_code
                if code is None or self.stopping:
                    continue
                if not self.restart:
                    print(f"cluster: process {backend.proc.pid} exited ({code})", file=sys.stderr, flush=True)
                    self.backends[i] = BackendProcess(backend.env)  # not started: exit_code None
                    continue
                print(f"cluster: process {backend.proc.pid} exited ({code}); starting another", file=sys.stderr,
                      flush=True)
                time.sleep(RESTART_DELAY)
                self.backends[i] = BackendProcess(backend.env).start()
            time.sleep(0.2)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def close(self) -> None:
        for backend in self.backends:  # the members first: they end their streams and release leases
            if backend.proc is not None and backend.proc.poll() is None:
                os.killpg(backend.proc.pid, signal.SIGTERM)
        for backend in self.backends:
            backend.stop()
        if self.feed is not None:
            self.feed.stop()
        if self.redis is not None:
            self.redis.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"invalid setting: {exc}", file=sys.stderr)
        return 2
    launcher = Launcher(settings, args.processes, restart=not args.no_restart)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        launcher.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        launcher.start()
        launcher.watch()
    except LaunchError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        launcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
