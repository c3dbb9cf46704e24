"""bench.pageburst runs end to end, small: one round of a burst of 5 loads of /live/1 against our
server (the page's render shared) and the peer (a render per request). Its JSON must be complete;
what is asserted is which loads were rendered, not a time (the times are the bench's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.timeout(120)]


def test_one_round_of_the_page_burst_bench_shares_ours_and_renders_every_peer_load(tmp_path: Path) -> None:
    out = tmp_path / "pageburst.json"
    run = subprocess.run([sys.executable, "-m", "bench.pageburst", "--bursts", "5", "--rounds", "1", "--json", str(out)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["rounds"] == 1 and set(result["bursts"]) == {"ours", "peer"}
    (ours,) = result["bursts"]["ours"]["5"]
    (peer,) = result["bursts"]["peer"]["5"]
    assert peer["renders"] == 5  # the peer renders each load
    assert 1 <= ours["renders"] <= 2  # ours: one render for the burst (two if the machine stalled past the window)
    for burst in (ours, peer):
        assert 0 < burst["p50"] <= burst["p95"] <= burst["max"] <= burst["wall"] + 0.01
        assert burst["probe"] > 0 and burst["quiet_probe"] > 0
    assert "burst of 5: wall" in run.stdout and "ours / peer" in run.stdout
