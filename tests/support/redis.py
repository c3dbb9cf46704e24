"""A real redis-server for the tests (``backend.cluster.launch.RedisProcess``: a free loopback port,
no persistence, a temporary directory).

``scripts/setup --browser`` installs Debian's ``redis-server`` when it is missing; without it the
tests that need it fail with a message saying so (they are not skipped: the cluster is a feature).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from backend.cluster.launch import RedisProcess


class RedisServer(RedisProcess):
    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
