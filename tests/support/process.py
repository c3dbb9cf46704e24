"""``python -m backend`` in a child process, exactly as deployed, with its log in a file.

For tests that need what only a process has: its own open-file limit, its real uvicorn Config,
its whole log (uvicorn's lines included) to search for error-level lines and tracebacks.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMALL_WORLD_ENV = {"SIM_LIVE_GAMES": "40", "SIM_PREMATCH_GAMES": "200", "SIM_PRICE_CHANGES_PER_SECOND": "200",
                   "LOG_LEVEL": "WARNING"}
# A line of ours ("<time> ERROR name: ..."), uvicorn's ("ERROR:    ..."), or a traceback.
ERROR_LINE = re.compile(r"\S+ \S+ (ERROR|CRITICAL) |(ERROR|CRITICAL):|Traceback ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class BackendProcess:
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def error_lines(self, since: int = 0) -> list[str]:
        """Error-level lines and tracebacks in the log from character ``since`` on."""
        return [line for line in self.log()[since:].splitlines() if ERROR_LINE.match(line)]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


@contextmanager
def backend_process(env: dict[str, str] | None = None, open_files: int | None = None,
                    start_timeout: float = 60.0) -> Iterator[BackendProcess]:
    """Start the server, wait until ``/api/hierarchy`` answers 200, SIGTERM it afterwards.

    ``open_files`` sets the child's soft RLIMIT_NOFILE (its hard limit stays).
    """
    port = free_port()
    full_env = {**os.environ, **SMALL_WORLD_ENV, "HOST": "127.0.0.1", "PORT": str(port), **(env or {})}
    log_file = tempfile.NamedTemporaryFile(prefix="backend-", suffix=".log", delete=False)
    log_path = Path(log_file.name)

    def limit_files() -> None:
        if open_files is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, env=full_env, stdout=log_file,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=limit_files)
    server = BackendProcess(port, proc, log_path)
    try:
        deadline = time.monotonic() + start_timeout
        while _status(f"{server.base_url}/api/hierarchy") != 200:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {start_timeout} s:\n{server.log()[-4000:]}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log_file.close()
        if os.environ.get("KEEP_SERVER_LOG"):
            print(f"server log: {log_path}")
        else:
            log_path.unlink(missing_ok=True)
