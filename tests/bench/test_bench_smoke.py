"""The fan-out benchmark's harness works end to end against our hub (small numbers, no timing).

It runs ``python -m bench.fanout --quick --servers hub`` exactly as a person would -- the real hub
in its own process fed by the bench's Swarm feed, the load generator in its own -- and checks
that everything was counted and accounted for. Performance is the benchmark's business, not this
test's: nothing here asserts a time, a CPU figure or a memory figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.timeout(90)]


def test_quick_fanout_bench_against_the_hub_counts_every_client_and_event(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    run = subprocess.run([sys.executable, "-m", "bench.fanout", "--quick", "--servers", "hub", "--json", str(out)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=80)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "odds hub" in run.stdout and "Targets for the odds hub" in run.stdout

    result = json.loads(out.read_text())["results"][0]
    assert result["server"] == "hub" and result["ok"], result
    # The bench feed was asked exactly what a live-stream group asks.
    assert {"request_session", "get:hierarchy", "get_market_type", "get:counts-live", "get:counts-prematch",
            "get:games", "get:odds"} <= set(result["feeder_commands"])
    # Every client connected and got the snapshot; every published change is accounted for.
    assert result["clients"] == 500 and not result["connect_errors"]
    assert result["events_published"] == 50
    assert result["expected"] == 500 * 50
    assert result["delivered"] > 0
    assert result["delivered"] + result["lost"] == result["expected"]
    assert result["received_total"] == result["delivered"] + result["extra"]
    assert sum(result["delivered_histogram"].values()) == 500
    # Latency samples were matched to published changes, and the bytes were the hub's odds event.
    assert result["latency_samples"] + result["latency_missing"] == 50 * 50
    assert result["latency_samples"] > 0
    assert result["payload_matches_reference"] is True
    assert result["cpu_us_per_event"] is not None and result["rss_kib_per_idle_client"] is not None


def test_quick_fanout_bench_runs_the_cluster_rows_with_redis_counted(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    run = subprocess.run([sys.executable, "-m", "bench.fanout", "--quick", "--clients", "200", "--seconds", "2",
                          "--servers", "hub,hub-redis2", "--json", str(out)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=85)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Targets for the cluster path" in run.stdout
    results = {r["server"]: r for r in json.loads(out.read_text())["results"]}
    cluster = results["hub-redis2"]
    assert cluster["ok"], cluster
    assert len(cluster["pids"]) == 3 and cluster["cores"] == 2  # two members and redis-server
    assert cluster["hub_env"]["REUSE_PORT"] == "true" and cluster["hub_env"]["REDIS_URL"].startswith("redis://")
    assert cluster["clients"] == 200 and cluster["delivered"] + cluster["lost"] == cluster["expected"]
    assert cluster["payload_matches_reference"] is True


def test_redis_path_bench_counts_every_delivery(tmp_path: Path) -> None:
    out = tmp_path / "redis.json"
    run = subprocess.run([sys.executable, "-m", "bench.redis_path", "--seconds", "0.5", "--subscribers", "1,3",
                          "--groups", "5", "--json", str(out)], check=False, cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    for result in json.loads(out.read_text()):
        assert result["frames_per_s"] > 0
        assert result["delivered"] == result["expected_deliveries"]  # every subscriber got every frame
        assert result["redis_out_bytes_per_frame"] >= result["frame_bytes"] * result["subscribers"]
