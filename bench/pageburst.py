"""A burst of page loads: many browsers load one server-rendered page at once while another client
asks the server something small over and over -- with the page's render shared, against a server that
renders a page for every request (the peer), both in the same run.

    uv run python -m bench.pageburst [--bursts 20,100] [--rounds 3] [--path /live/1] [--json out.json]

It starts two ``python -m backend`` servers on free ports: ours with its default settings (a page is
shared by the requests that arrive while it renders and for ``PAGE_SHARE_SECONDS``, 0.5 s, from the
start of its render), and the peer with ``PAGE_SHARE_SECONDS=-1`` (no sharing). Each round, for each
burst size and for each server (the order alternating), it sends the burst (``size`` concurrent GETs
of ``--path`` with ``Accept-Encoding: br``, one connection each) and waits for every answer, while a
probe (a process of its own) GETs ``/api/health`` one request after another. It records:

- the burst's wall time and each load's latency (median, 95th percentile, slowest);
- how many of the loads were rendered (a response without ``shared`` in its ``Server-Timing``);
- the probe's slowest answer during the burst, and in the second before it: what every other client
  of the server waits meanwhile (a page render runs in a thread, but holds the GIL in pure Python,
  so the event loop that writes every stream's events gets its turns less often).

Medians over the rounds, and ours against the peer's. Both servers run side by side on this
machine's two cores with their own simulators, so the idle one is load on the busy one, the same for
both; the numbers compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from bench.fanout import percentile  # nearest rank
from bench.firstpaint import ROOT, start_server

OURS_SETTINGS = {"PAGE_SHARE_SECONDS": "0.5"}  # the default, set: not whatever the caller's shell has
PEER_SETTINGS = {"PAGE_SHARE_SECONDS": "-1"}


def probe(base: str) -> None:
    """GET /api/health, one after another on one connection, printing ``sent seconds`` per answer
    (``time.monotonic``, which is the same clock in every process here) until terminated. It runs as
    a process of its own: in the bench's, it would wait on the burst's client work too."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    while True:
        sent = time.monotonic()
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"/api/health answered {response.status}")
        print(f"{sent:.6f} {time.monotonic() - sent:.6f}", flush=True)
        time.sleep(0.01)


def slowest(answers: list[tuple[float, float]], start: float, end: float) -> float:
    return max((seconds for sent, seconds in answers if start <= sent <= end), default=0.0)


async def one_burst(base: str, path: str, size: int) -> dict[str, Any]:
    prober = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.pageburst", "--probe", base,
                                                  cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        await asyncio.wait_for(prober.stdout.readline(), 30)  # it is asking
        await asyncio.sleep(1.0)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

            async def load() -> tuple[float, bool]:
                started = time.monotonic()
                response = await client.get(path, headers={"accept-encoding": "br"})
                response.raise_for_status()
                return time.monotonic() - started, "shared" in response.headers.get("server-timing", "")

            start = time.monotonic()
            results = await asyncio.gather(*(load() for _ in range(size)))
            end = time.monotonic()
        await asyncio.sleep(0.1)  # the probe's answer in flight at the end is in
    finally:
        prober.terminate()
        out, _ = await prober.communicate()
    answers = [(float(sent), float(seconds)) for sent, seconds in (line.split() for line in out.decode().splitlines())]
    latencies = [seconds for seconds, _shared in results]
    return {"wall": end - start, "p50": statistics.median(latencies), "p95": percentile(sorted(latencies), 0.95),
            "max": max(latencies), "renders": sum(1 for _seconds, shared in results if not shared),
            "probe": slowest(answers, start, end), "quiet_probe": slowest(answers, start - 1.0, start)}


async def warm_up(base: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(100):
            response = await client.get(path)
            if response.status_code == 200 and 'class="game-row' in response.text:
                return
            await asyncio.sleep(0.2)
    raise SystemExit(f"{base}{path} shows no games")


METRICS = ("wall", "p50", "p95", "max", "renders", "probe", "quiet_probe")


async def run(servers: dict[str, str], path: str, bursts: list[int], rounds: int) -> dict[str, Any]:
    for base in servers.values():
        await warm_up(base, path)
    bursts_out: dict[str, dict[str, list[dict[str, Any]]]] = {name: {str(size): [] for size in bursts}
                                                              for name in servers}
    order = list(servers)
    for round_ in range(rounds):
        for size in bursts:
            for name in order if round_ % 2 == 0 else order[::-1]:
                bursts_out[name][str(size)].append(await one_burst(servers[name], path, size))
                await asyncio.sleep(1.0)  # the renders' garbage collected, the queue empty
    medians = {name: {size: {metric: statistics.median(b[metric] for b in runs) for metric in METRICS}
                      for size, runs in by_size.items()} for name, by_size in bursts_out.items()}
    return {"bursts": bursts_out, "medians": medians}


def report(result: dict[str, Any], path: str, rounds: int) -> str:
    medians = result["medians"]
    lines = [f"{path}: a burst of concurrent loads, medians of {rounds} rounds (seconds; renders: of the loads;",
             "probe: the slowest /api/health answer during the burst, and in the second before it)", ""]
    header = f"{'':>6} {'server':<6} {'wall':>7} {'p50':>7} {'p95':>7} {'slowest':>8} {'renders':>8} " \
             f"{'probe':>7} {'(quiet)':>8}"
    lines.append(header)
    for size in medians["ours"]:
        for name in ("ours", "peer"):
            m = medians[name][size]
            lines.append(f"{size:>6} {name:<6} {m['wall']:7.3f} {m['p50']:7.3f} {m['p95']:7.3f} {m['max']:8.3f} "
                         f"{m['renders']:8.0f} {m['probe']:7.3f} {m['quiet_probe']:8.3f}")
    lines += ["", "ours / peer (below 1: ours is faster)"]
    for size in medians["ours"]:
        ours, peer = medians["ours"][size], medians["peer"][size]
        parts = [f"{metric} {ours[metric] / peer[metric]:.2f}x" for metric in ("wall", "p50", "p95", "probe")
                 if peer[metric] > 0]
        lines.append(f"  burst of {size}: " + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bursts", default="20,100", help="burst sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", default="/live/1", help="the page loaded")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)  # the probe process (probe())
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe)
        return 0
    bursts = [int(size) for size in args.bursts.split(",") if size.strip()]

    procs = []
    try:
        ours_proc, ours = start_server(**OURS_SETTINGS)
        procs.append(ours_proc)
        peer_proc, peer = start_server(**PEER_SETTINGS)
        procs.append(peer_proc)
        result = asyncio.run(run({"ours": ours, "peer": peer}, args.path, bursts, args.rounds))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)
    print(report(result, args.path, args.rounds))
    if args.json is not None:
        args.json.write_text(json.dumps({"path": args.path, "rounds": args.rounds, **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
