"""The fan-out benchmark's harness works end to end against our hub and its peers (small numbers, no timing).

It runs ``python -m bench.fanout --quick --servers hub`` exactly as a person would -- the real hub
in its own process fed by the bench's Swarm feed, the load generator in its own -- and checks
that everything was counted and accounted for; likewise the floor (next to the hub, for the
targets against it), pushpin (skipped where it cannot be installed: not root, no apt-get) and the
cluster rows. Performance is the benchmark's business, not this test's: nothing here asserts a
time, a CPU figure or a memory figure.
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


def test_quick_fanout_bench_runs_the_floor_and_judges_the_hub_against_it(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    run = subprocess.run([sys.executable, "-m", "bench.fanout", "--quick", "--clients", "200", "--seconds", "2",
                          "--servers", "hub,floor", "--json", str(out)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=80)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Against the floor" in run.stdout and "CPU/event vs floor" in run.stdout
    results = {r["server"]: r for r in json.loads(out.read_text())["results"]}
    floor = results["floor"]
    assert floor["ok"], floor
    assert len(floor["pids"]) == 1 and floor["cores"] == 1
    assert floor["clients"] == 200 and not floor["connect_errors"]
    assert floor["expected"] == 200 * 20
    assert floor["delivered"] + floor["lost"] == floor["expected"]
    assert floor["received_total"] == floor["delivered"] + floor["extra"]
    assert floor["latency_samples"] + floor["latency_missing"] == 50 * 20
    assert floor["payload_matches_reference"] is True
    assert floor["publish_statuses"] == {"204": 21}  # change 0 (the snapshot) and the window's 20
    assert floor["cpu_us_per_event"] is not None
    for r in results.values():  # the kernel's share is a part of the whole
        assert 0 <= r["system_us_per_event"] <= r["cpu_us_per_event"] + 0.01, r
    assert "where the CPU per event goes" in run.stdout


def test_the_floor_and_pushpin_frame_an_event_as_the_hub_does() -> None:
    from backend.hub.fanout import sse_event
    from bench import floor, pushpin
    from bench.feeder import odds_payload

    data = odds_payload(7)
    assert floor.sse_frame(data, "floor000.1-8") == sse_event("odds", data, "floor000.1-8")
    assert pushpin.frame(7) == sse_event("odds", data, floor.event_id(8))
    assert floor.chunk(b"abc") == b"3\r\nabc\r\n"


def test_the_load_generator_counts_events_cut_across_chunks_and_reads() -> None:
    import random

    from bench import floor
    from bench.loadgen import StreamClient

    class Gen:  # what a StreamClient calls back on its load generator before the window
        recording = False

        def on_settled(self, client: StreamClient) -> None:
            pass

    frames = [floor.sse_frame(b'{"n":%d}' % i, floor.event_id(i)) for i in range(200)]
    body = b"".join(frames)
    rnd = random.Random(11)
    wire, pos = b"", 0
    while pos < len(body):  # chunks that cut events anywhere, as pushpin's do
        size = rnd.randint(1, 400)
        wire, pos = wire + floor.chunk(body[pos:pos + size]), pos + size
    client = StreamClient(Gen(), 0, sampled=False)  # type: ignore[arg-type]
    client.data_received(floor.HEAD + wire[:5])
    pos = 5
    while pos < len(wire):  # reads that cut chunk-size lines and CRLFs anywhere
        size = rnd.randint(1, 64)
        client.data_received(wire[pos:pos + size])
        pos += size
    assert client.chunked and client.count == 200
    assert client.nbytes == len(wire)


@pytest.mark.timeout(200)  # the first run on a fresh machine installs pushpin (apt-get); the run is ~15 s
def test_quick_fanout_bench_runs_pushpin_with_every_process_counted(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    for _attempt in range(2):
        run = subprocess.run([sys.executable, "-m", "bench.fanout", "--quick", "--clients", "200", "--seconds", "2",
                              "--servers", "pushpin", "--json", str(out)],
                             check=False, cwd=REPO, capture_output=True, text=True, timeout=90)
        assert run.returncode == 0, run.stdout + run.stderr
        result = json.loads(out.read_text())["results"][0]
        # Now and then a fresh pushpin serves nothing: its handler logs "received message out of
        # sequence" and the warm-up clients get no snapshot (seen once in a clean-clone CI run).
        # That is the peer failing to start, not the harness: a second pushpin is started once.
        if result["ok"] or not (result["error"] or "").startswith("warm-up clients got no snapshot"):
            break
    if not result["ok"] and (result["error"] or "").startswith(("pushpin not installed", "apt-get install")):
        pytest.skip(result["error"])  # not root, no apt-get, or no package registry: pushpin cannot run here
    assert result["ok"], result
    # The runner and its four services, each counted.
    names = sorted(name for name, _ in result["cpu_seconds_by_pid"].values())
    assert names == ["condure", "pushpin", "pushpin-handler", "pushpin-proxy", "zurl"]
    assert len(result["rss_kib_by_pid"]) == 5
    assert result["clients"] == 200 and result["connect_batch"] == 50
    # Pushpin now and then closes a stream it holds while the others connect: 2 of 200, "closed by
    # server", in about one run in nine here. That is the peer's doing, and the bench reports it;
    # any other error, or more of them, is the harness's.
    closed = result["connect_errors"]
    assert set(closed) <= {"closed by server"} and sum(closed.values()) <= 2, closed
    assert result["origin_requests"] >= 200 + 10  # every client and warm-up client asked the origin
    assert result["delivered"] + result["lost"] == result["expected"] == 200 * 20
    assert result["latency_samples"] + result["latency_missing"] == 50 * 20
    assert result["payload_matches_reference"] is True
    assert result["publish_statuses"] == {"200": 21}
