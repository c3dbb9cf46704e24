"""What Redis carries per event in a cluster, and where it saturates.

``uv run python -m bench.redis_path [--seconds 5] [--subscribers 1,10,50] [--groups 100] [--frame 500]``

A private redis-server; the leader's real write path (:meth:`RedisStore.publish_many`: the fenced
Lua script that numbers a frame, appends it to the group's stream and publishes it) driven as fast
as it goes for ``--seconds`` over ``--groups`` groups; and ``S`` subscriber connections, each
following every group's channel as an edge process would, in a separate process that only counts
what arrives (raw RESP over a socket, so the reading side costs next to nothing). For each ``S`` it
prints frames/s written, Redis's CPU per frame and per delivered message, the writer's CPU per
frame, bytes out of Redis per frame, and the event rate at which Redis would use one whole core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time

from backend.cluster.launch import RedisProcess
from backend.cluster.redis_store import RedisStore

from . import proc

COUNTER = r"""
import socket, sys, time, selectors
port, conns, channels, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(","), float(sys.argv[4])
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    cmd = "*%d\r\n$9\r\nSUBSCRIBE\r\n" % (len(channels) + 1) + "".join("$%d\r\n%s\r\n" % (len(c), c) for c in channels)
    s.sendall(cmd.encode()); s.setblocking(False); socks.append(s)
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
marker, counts, tails, total = b"$7\r\nmessage\r\n", [0] * conns, [b""] * conns, 0
index = {s: i for i, s in enumerate(socks)}
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, _ in sel.select(0.2):
        s = key.fileobj; i = index[s]
        try:
            data = s.recv(1 << 20)
        except BlockingIOError:
            continue
        total += len(data)
        joined = tails[i] + data
        counts[i] += joined.count(marker)
        tails[i] = joined[-(len(marker) - 1):]
print(sum(counts), total, flush=True)
"""


async def run_one(redis: RedisProcess, subscribers: int, groups: int, frame_bytes: int, seconds: float) -> dict:
    store = RedisStore(redis.url)
    token = await store.acquire_lease("bench", "writer", 60)
    assert token is not None
    keys = [f"g{i}" for i in range(groups)]
    channels = [store.channel("hub", k, "e1") for k in keys]
    counter = _start_counter(redis, subscribers, channels, seconds + 2)
    await asyncio.sleep(0.3)
    frame = b"event: odds\ndata: " + b"x" * max(0, frame_bytes - 20) + b"\n\n"
    redis_pid = redis.proc.pid  # type: ignore[union-attr]
    cpu0, self0 = proc.cpu_seconds(redis_pid), resource.getrusage(resource.RUSAGE_SELF)
    out0 = _info(redis)["total_net_output_bytes"]
    written, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        batch = [(keys[(written + j) % groups], "e1", frame, None) for j in range(200)]
        results = await store.publish_many("hub", "bench", token, 2048, batch)
        written += sum(1 for r in results if isinstance(r, int))
    elapsed = time.monotonic() - t0
    cpu1, self1 = proc.cpu_seconds(redis_pid), resource.getrusage(resource.RUSAGE_SELF)
    out1 = _info(redis)["total_net_output_bytes"]
    delivered, received = (int(x) for x in counter.stdout.readline().split())
    counter.wait(10)
    await store.close()
    redis_cpu = cpu1 - cpu0
    writer_cpu = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    _info(redis, "FLUSHALL")
    return {
        "subscribers": subscribers, "groups": groups, "frame_bytes": len(frame), "seconds": round(elapsed, 2),
        "frames_per_s": round(written / elapsed), "redis_cpu_pct": round(100 * redis_cpu / elapsed, 1),
        "redis_us_per_frame": round(1e6 * redis_cpu / written, 2),
        "redis_us_per_delivery": round(1e6 * redis_cpu / max(1, delivered), 3),
        "writer_us_per_frame": round(1e6 * writer_cpu / written, 2),
        "delivered": delivered, "expected_deliveries": written * subscribers,
        "redis_out_bytes_per_frame": round((out1 - out0) / written),
        "frames_per_s_at_one_core": round(written / redis_cpu) if redis_cpu else None,
    }


def _start_counter(redis: RedisProcess, subscribers: int, channels: list[str], seconds: float) -> subprocess.Popen[str]:
    """The subscribers' process; returns once every connection is subscribed (blocking: nothing else runs)."""
    counter = subprocess.Popen([sys.executable, "-c", COUNTER, str(redis.port), str(subscribers), ",".join(channels),
                                str(seconds)], stdout=subprocess.PIPE, text=True)
    assert counter.stdout is not None
    assert counter.stdout.readline().strip() == "ready"
    return counter


def _info(redis: RedisProcess, *command: str) -> dict[str, int]:
    text = subprocess.run(["redis-cli", "-p", str(redis.port), *(command or ("INFO", "stats"))], capture_output=True,
                          text=True, check=True).stdout
    return {k: int(v) for k, _, v in (line.strip().partition(":") for line in text.splitlines())
            if v.strip().isdigit()}


async def main_async(args: argparse.Namespace) -> list[dict]:
    redis = RedisProcess().start()
    try:
        results = []
        for s in args.subscribers:
            print(f"  {s} subscriber connection(s) ...", file=sys.stderr, flush=True)
            results.append(await run_one(redis, s, args.groups, args.frame, args.seconds))
        return results
    finally:
        redis.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_path", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--subscribers", default="1,10,50", help="subscriber connections (processes) to try")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--frame", type=int, default=500, help="bytes per frame (an odds event is 300-600)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    args.subscribers = [int(x) for x in args.subscribers.split(",")]
    print(f"Redis path: the leader's publish script as fast as it goes, {args.groups} groups, "
          f"{args.frame}-byte frames, {os.cpu_count()} cores")
    results = asyncio.run(main_async(args))
    cols = ["subs", "frames/s", "redis CPU%", "redis us/frame", "us/delivery", "writer us/frame", "out B/frame",
            "lost", "frames/s @1 core"]
    print("".join(c.rjust(16) for c in cols))
    for r in results:
        row = [r["subscribers"], r["frames_per_s"], r["redis_cpu_pct"], r["redis_us_per_frame"],
               r["redis_us_per_delivery"], r["writer_us_per_frame"], r["redis_out_bytes_per_frame"],
               r["expected_deliveries"] - r["delivered"], r["frames_per_s_at_one_core"]]
        print("".join(str(v).rjust(16) for v in row))
    print("\nredis us/frame: redis-server CPU over the run / frames written (its work for each frame: the script "
          "and delivering to every subscriber).\nus/delivery: the same per message delivered to one subscriber.  "
          "writer us/frame: this process's CPU (redis-py, the pipelined script calls).\n"
          "frames/s @1 core: the frame rate at which redis-server would use a whole core with this many subscribers.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
