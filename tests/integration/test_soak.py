"""The soak tool's quick variant (``python -m bench.soak --cycles 500``): 500 connect/disconnect cycles
over real sockets across every stream kind -- clean closes, resets, half-read streams, resumes --
and the server is back at its baseline afterwards: no group, no client, nothing retained, the same
descriptors and asyncio tasks, no instance of its classes left over, tracemalloc growth under 1 MB.
Behaviour only: nothing here asserts a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(150)
def test_500_cycles_leave_the_server_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, "-m", "bench.soak", "--cycles", "500", "--warmup", "150",
                          "--concurrency", "16", "--json", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=140, check=False)
    assert out.exists(), run.stdout + run.stderr
    result = json.loads(out.read_text())
    failed = result["checks"]["failed"]
    assert not failed, (failed, run.stdout[-3000:])
    assert run.returncode == 0
    assert result["cycles"] == 500 and set(result["by_kind"]) == {"live", "prematch", "game", "counts", "tracker"}
    assert set(result["by_ending"]) == {"clean", "reset", "half", "resume"}
    assert result["resume_outcomes"].get("resumed", 0) > 0  # resumes really continued from their id
    assert result["end"]["fds"] == result["baseline"]["fds"]
    assert result["end"]["tasks"] == result["baseline"]["tasks"]
