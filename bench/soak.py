"""Soak: thousands of SSE connect/disconnect cycles, then the server must be back where it started.

``python -m bench.soak`` starts ``python -m backend`` as a child (embedded simulator, small world,
``DEBUG_INTROSPECTION=1``, a short ``GROUP_GRACE``) and runs ``--cycles`` cycles (10,000) over real
sockets from ``--concurrency`` workers, across every stream kind -- ``/api/live-stream``,
``/api/prematch-stream``, ``/api/live-game-stream``, ``/api/counts-stream``, ``/api/live-tracker`` --
each ending one of four ways:

* ``clean``: read for a while, then close (FIN);
* ``reset``: read for a while, then a TCP reset (``SO_LINGER`` 0);
* ``half``: a 4 KiB receive buffer, read the head and at most one chunk, stop reading with data
  pending, wait, then close (with unread bytes queued, that close is a reset too);
* ``resume``: reconnect with the ``Last-Event-ID`` an earlier cycle of the same stream stopped at;
  the opening must continue exactly after it (same epoch, next seq) or be a snapshot (events
  without ids, then the id-only message), never anything else.

Every connection is checked as it goes: status 200 and ``text/event-stream``, the preamble
(``retry:``), the opening as above, ids consecutive after it, no event without an id after the
opening. A warm-up (5 % of the cycles, at least 200) comes first; then the baseline is taken with
no client connected: open descriptors (``/proc/<pid>/fd``), asyncio tasks (the introspection
endpoint, after a ``gc``), and ``tracemalloc`` starts. After the last cycle and the grace period the
server must be back at it: no group, no client, nothing retained in the replay rings or caches
(``/api/health``), the same descriptors and tasks, and less than ``--max-growth`` (1 MB) allocated
and not freed. It prints every figure and exits 1 if a check failed. ``--minutes`` bounds the
cycling phase; the whole run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import children
from bench.sseclient import HttpError, Message, SseConnection

KINDS = {"live": 0.28, "prematch": 0.18, "game": 0.2, "counts": 0.14, "tracker": 0.2}
ENDINGS = {"clean": 0.3, "reset": 0.25, "half": 0.2, "resume": 0.25}
TAKE_BUDGET = 120.0  # seconds to wait for the server to come back to its baseline


def parse_id(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    epoch, _, seq = value.rpartition("-")
    return (epoch, int(seq)) if epoch and seq.isdigit() else None


@dataclass
class Options:
    cycles: int = 10_000
    minutes: float = 20.0
    concurrency: int = 32
    grace: float = 1.0
    hold_ms: float = 300.0
    rate: float = 100.0
    seed: int = 1
    max_growth: int = 1_000_000
    warmup: int | None = None
    json_path: str | None = None
    keep_log: bool = False


@dataclass
class Targets:
    live: list[str] = field(default_factory=list)  # sport ids
    prematch: list[str] = field(default_factory=list)
    games: list[str] = field(default_factory=list)  # game ids (live and prematch)
    live_games: list[str] = field(default_factory=list)

    def path(self, kind: str, rng: random.Random) -> str:
        if kind == "live":
            return f"/api/live-stream?sportId={rng.choice(self.live)}"
        if kind == "prematch":
            return f"/api/prematch-stream?sportId={rng.choice(self.prematch)}"
        if kind == "game":
            return f"/api/live-game-stream?gameId={rng.choice(self.games)}"
        if kind == "tracker":
            return f"/api/live-tracker?gameId={rng.choice(self.live_games)}"
        return "/api/counts-stream"


class Opening:
    """Checks one connection's messages against docs/api.md 0 ("The stream preamble", "Event ids and
    resume"): an opening, then numbered events in order. Violations are collected, not raised."""

    def __init__(self, resume_from: str | None) -> None:
        self.resume_from = parse_id(resume_from)
        self.pos: tuple[str, int] | None = None  # where the client stands once the opening is over
        self.how: str | None = None  # resumed | snapshot | None (nothing came yet)
        self.problems: list[str] = []
        self.events = 0
        self.errors: list[str] = []

    def take(self, msg: Message) -> None:
        mid = parse_id(msg.id) if msg.id is not None else None
        if msg.data is not None and msg.event == "error":
            self.errors.append(msg.data[:100])
        if self.pos is None:
            if msg.id is None:
                if msg.data is None:
                    self.problems.append("a message with neither id nor data")
                return  # a snapshot's message (no id), before the id-only message
            if mid is None:
                self.problems.append(f"an id that is not ours: {msg.id!r}")
                return
            if msg.data is None:
                self.how, self.pos = "snapshot", mid
                return
            # an event with an id first: only a resume may start so, exactly after its id
            if self.resume_from is None:
                self.problems.append(f"a new client's first numbered message is an event ({msg.id})")
            elif mid != (self.resume_from[0], self.resume_from[1] + 1):
                self.problems.append(f"resume from {self.resume_from} continued at {mid}")
            self.how, self.pos = "resumed", mid
            self.events += 1
            return
        if mid is None or msg.data is None:
            self.problems.append(f"after the opening, a message without {'id' if mid is None else 'data'}")
            return
        if mid != (self.pos[0], self.pos[1] + 1):
            self.problems.append(f"after {self.pos} came {mid}")
        self.pos = mid
        self.events += 1


@dataclass
class Tally:
    cycles: int = 0
    by_kind: Counter = field(default_factory=Counter)
    by_ending: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # resumed, snapshot, snapshot_new_epoch, ...
    failures: Counter = field(default_factory=Counter)  # connect errors, http statuses
    problems: list[str] = field(default_factory=list)
    group_errors: Counter = field(default_factory=Counter)
    events: int = 0
    bytes_in: int = 0


class Soak:
    def __init__(self, opts: Options, port: int, targets: Targets, tally: Tally) -> None:
        self.opts = opts
        self.port = port
        self.targets = targets
        self.tally = tally
        self.last_ids: dict[str, str] = {}

    async def run(self, cycles: int, deadline: float, seed: int) -> None:
        queue = iter(range(cycles))

        async def worker(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            for _ in queue:
                if time.monotonic() > deadline:
                    return
                await self.cycle(rng)

        await asyncio.gather(*(worker(n) for n in range(self.opts.concurrency)))

    async def cycle(self, rng: random.Random) -> None:
        t = self.tally
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        ending = rng.choices(list(ENDINGS), weights=list(ENDINGS.values()))[0]
        path = self.targets.path(kind, rng)
        resume_from = self.last_ids.get(path) if ending == "resume" else None
        if ending == "resume" and resume_from is None:
            ending = "clean"
        t.cycles += 1
        t.by_kind[kind] += 1
        t.by_ending[ending] += 1
        conn = SseConnection("127.0.0.1", self.port, path, last_event_id=resume_from,
                             rcvbuf=4096 if ending == "half" else None)
        try:
            await conn.open()
        except HttpError as exc:
            t.failures[f"http {exc.status}"] += 1
            conn.close()
            return
        except (OSError, TimeoutError) as exc:
            t.failures[f"connect: {type(exc).__name__}"] += 1
            conn.close()
            return
        check = Opening(resume_from)
        hold = rng.uniform(0, self.opts.hold_ms) / 1000
        try:
            if ending == "half":
                await asyncio.wait_for(conn.read(2048), 5)  # at most one small read, then no more
                conn.pause_reading()
                await asyncio.sleep(hold)
            else:
                await self._read(conn, check, hold)
        except (OSError, TimeoutError, EOFError):
            t.failures[f"{kind}: broken while reading"] += 1
        finally:
            conn.close(reset=ending == "reset")
        t.bytes_in += conn.bytes_in
        t.events += check.events
        if ending != "half" and conn.parser.retry_ms is None and conn.bytes_in > 0:
            check.problems.append("no retry: in the preamble")
        for problem in check.problems:
            t.problems.append(f"{path} ({ending}): {problem}")
        for error in check.errors:
            t.group_errors[f"{kind}: {error}"] += 1
        if ending == "resume":
            t.outcomes[self._classify(check, resume_from)] += 1
        if ending != "half" and conn.parser.last_event_id:
            self.last_ids[path] = conn.parser.last_event_id

    async def _read(self, conn: SseConnection, check: Opening, hold: float) -> None:
        stop = time.monotonic() + hold
        while True:
            left = stop - time.monotonic()
            if check.pos is None:
                left = max(left, 3.0)  # always wait for the opening to complete (a new group: the snapshot)
            if left <= 0 or conn.ended:
                return
            try:
                items = await asyncio.wait_for(conn.read(), left)
            except TimeoutError:
                return
            for item in items:
                if isinstance(item, Message):
                    check.take(item)

    @staticmethod
    def _classify(check: Opening, resume_from: str | None) -> str:
        start = parse_id(resume_from)
        if check.how is None:
            return "resumed_nothing_new"  # (or an opening slower than the hold: nothing to tell)
        if check.how == "resumed":
            return "resumed"
        assert check.pos is not None and start is not None
        return "snapshot_same_epoch" if check.pos[0] == start[0] else "snapshot_new_epoch"


async def discover(port: int, want_live: int = 4, want_prematch: int = 3) -> Targets:
    """Sports with live games, prematch sports and game ids, as a browser finds them (the streams)."""
    status, hierarchy = await children.ahttp_json(port, "/api/hierarchy")
    if status != 200:
        raise RuntimeError(f"/api/hierarchy answered {status}")
    sports = sorted(hierarchy["sport"], key=int)
    targets = Targets()

    async def games_of(path: str) -> list[dict[str, Any]]:
        conn = SseConnection("127.0.0.1", port, path)
        try:
            await conn.open()
            end = time.monotonic() + 15
            while time.monotonic() < end:
                for item in await asyncio.wait_for(conn.read(), end - time.monotonic()):
                    if isinstance(item, Message) and item.event == "games" and item.data:
                        return json.loads(item.data)["data"]
        finally:
            conn.close()
        return []

    live = await asyncio.gather(*(games_of(f"/api/live-stream?sportId={s}") for s in sports))
    ranked = sorted(zip(sports, live), key=lambda sl: -len(sl[1]))
    targets.live = [s for s, g in ranked[:want_live] if g] or [ranked[0][0]]
    targets.live_games = [str(g["id"]) for _, games in ranked for g in games][:8]
    pre = await asyncio.gather(*(games_of(f"/api/prematch-stream?sportId={s}") for s in sports[:6]))
    ranked_pre = sorted(zip(sports[:6], pre), key=lambda sl: -len(sl[1]))
    targets.prematch = [s for s, g in ranked_pre[:want_prematch] if g] or [ranked_pre[0][0]]
    targets.games = targets.live_games[:5] + [str(g["id"]) for _, games in ranked_pre for g in games][:5]
    if not targets.live_games:
        raise RuntimeError("the simulated world has no live game")
    return targets


async def settle(port: int, pid: int, grace: float, want: dict[str, Any] | None, budget: float) -> dict[str, Any]:
    """Wait until no group and no client is left (and, with ``want``, until descriptors and tasks are
    back at it); returns the figures it ended with."""
    await asyncio.sleep(grace + 1.0)
    deadline = time.monotonic() + budget
    figures: dict[str, Any] = {}
    while True:
        _, health = await children.ahttp_json(port, "/api/health")
        _, intro = await children.ahttp_json(port, "/api/debug/introspection?gc=1")
        fds = children.open_fds(pid)
        if health and intro:
            figures = {"fds": fds, "tasks": intro["tasks"], "tasks_by_coroutine": intro["tasks_by_coroutine"],
                       **quiet_figures(health)}
            idle = (figures["hub_groups"] == 0 and figures["hub_clients"] == 0 and figures["groups_count"] == 0
                    and figures["tracker_games"] == 0 and figures["hub_replay_bytes"] == 0
                    and figures["hub_cache_bytes"] == 0 and figures["tracker_replay_bytes"] == 0)
            back = want is None or (fds == want["fds"] and intro["tasks"] == want["tasks"])
            if idle and back:
                return figures
        if time.monotonic() > deadline:
            return figures
        await asyncio.sleep(0.5)


def quiet_figures(health: dict[str, Any]) -> dict[str, Any]:
    ws = health.get("swarm_ws") or {}
    tracker = health.get("live_tracker") or {}
    mem = health["memory"]["services"]
    return {"hub_groups": ws.get("groups"), "hub_clients": ws.get("clients"),
            "groups_count": health["groups"]["count"], "tracker_games": tracker.get("games_followed", 0),
            "tracker_clients": tracker.get("active_sse_clients", 0),
            "hub_replay_bytes": mem["odds_hub"]["replay_bytes"], "hub_cache_bytes": mem["odds_hub"]["cache_bytes"],
            "tracker_replay_bytes": mem.get("live_tracker", {}).get("replay_bytes", 0),
            "tracker_cache_bytes": mem.get("live_tracker", {}).get("cache_bytes", 0),
            "rss_bytes": health["memory"]["rss_bytes"], "upstream_connected": ws.get("connected"),
            "subscriptions": ws.get("active_subscriptions"), "client_drops": ws.get("client_drops"),
            "aborted_total": ws.get("aborted_total"), "resumed_total": ws.get("resumed_total"),
            "snapshots_total": ws.get("snapshots_total")}


async def soak(opts: Options) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    log = tmp / "backend.log"
    env = {**children.SMALL_WORLD, "SIM_PRICE_CHANGES_PER_SECOND": str(opts.rate), "DEBUG_INTROSPECTION": "1",
           "GROUP_GRACE": str(opts.grace)}
    server, port = children.backend(env, log)
    result: dict[str, Any] = {"options": vars(opts), "log": str(log)}
    started = time.monotonic()
    try:
        await children.wait_http(server, port, "/api/health", 90,
                                 ok=lambda h: (h.get("swarm_ws") or {}).get("connected"))
        targets = await discover(port)
        result["targets"] = vars(targets)
        say(f"server pid {server.pid} on :{port}; live sports {targets.live}, prematch {targets.prematch}, "
            f"{len(targets.games)} games, {len(targets.live_games)} live")
        tally = Tally()
        warm = opts.warmup if opts.warmup is not None else max(200, opts.cycles // 20)
        runner = Soak(opts, port, targets, tally)
        await runner.run(warm, time.monotonic() + 600, opts.seed + 7)
        say(f"warm-up: {warm} cycles; waiting for the grace period")
        baseline = await settle(port, server.pid, opts.grace, None, TAKE_BUDGET)
        status, started_tm = await children.ahttp_json(port, "/api/debug/introspection?gc=1&tracemalloc=start")
        if status != 200:
            raise RuntimeError("the introspection endpoint is not there")
        baseline["tasks"] = started_tm["tasks"]
        _, objects_base = await children.ahttp_json(port, "/api/debug/introspection?objects=1", 60)
        baseline["objects"] = (objects_base or {}).get("objects", {})
        baseline["fds"] = children.open_fds(server.pid)
        result["baseline"] = baseline
        say(f"baseline: {baseline['fds']} fds, {baseline['tasks']} tasks, rss {baseline['rss_bytes'] / 2**20:.1f} MiB")

        tally = Tally()
        runner = Soak(opts, port, targets, tally)
        runner.last_ids = {}
        t0 = time.monotonic()
        progress = asyncio.create_task(report_progress(tally, opts.cycles, t0))
        try:
            await runner.run(opts.cycles, t0 + opts.minutes * 60, opts.seed)
        finally:
            progress.cancel()
        seconds = time.monotonic() - t0
        say(f"{tally.cycles} cycles in {seconds:.1f}s; waiting for the grace period")
        end = await settle(port, server.pid, opts.grace, baseline, TAKE_BUDGET)
        _, compared = await children.ahttp_json(port, "/api/debug/introspection?gc=1&tracemalloc=compare", 60)
        _, objects_end = await children.ahttp_json(port, "/api/debug/introspection?objects=1", 60)
        await children.ahttp_json(port, "/api/debug/introspection?tracemalloc=stop")
        result.update(cycles=tally.cycles, seconds=round(seconds, 1), by_kind=dict(tally.by_kind),
                      by_ending=dict(tally.by_ending), resume_outcomes=dict(tally.outcomes),
                      failures=dict(tally.failures), problems=tally.problems[:50], problems_total=len(tally.problems),
                      group_errors=dict(tally.group_errors), events=tally.events, bytes_in=tally.bytes_in, end=end,
                      tracemalloc=compared["tracemalloc"] if compared else None,
                      objects_grown=grown_objects(baseline["objects"], (objects_end or {}).get("objects", {})),
                      group_objects=group_objects((objects_end or {}).get("objects", {})),
                      server_errors=server.error_lines()[:20])
        result["checks"] = checks(result, opts)
    finally:
        code = server.stop()
        result["exit_code"] = code
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        if not opts.keep_log and not result.get("checks", {}).get("failed"):
            log.unlink(missing_ok=True)
    return result


SERVER_MODULES = ("backend.hub.", "backend.tracker.", "backend.swarm.", "backend.health.")


# Bounded by design, made on first use: one per-second ring per group kind and subscription tag
# (a fixed set; a kind first seen after the warm-up adds one).
FIRST_USE = ("backend.health.ring.SecondBuckets",)


def grown_objects(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Classes of the server's own modules (not the embedded simulator's) with more live instances."""
    return {name: n - before.get(name, 0) for name, n in after.items()
            if name.startswith(SERVER_MODULES) and name not in FIRST_USE and n > before.get(name, 0)}


# What belongs to one group: none of it may be alive once every group is gone (a count above the
# baseline would miss one kept from the warm-up, as the reaper's frame once kept its last group).
PER_GROUP = ("backend.hub.groups.", "backend.tracker.groups.", "backend.tracker.connection.TrackerConnection",
             "backend.tracker.session.TrackerSession", "backend.hub.fanout.Channel", "backend.hub.fanout.Client",
             "backend.hub.fanout.ReplayRing", "backend.hub.payloads.OddsCache", "backend.hub.changes.GamesFingerprint")


def group_objects(objects: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in objects.items() if name.startswith(PER_GROUP) and n}


def server_growth(tm: dict[str, Any] | None) -> int | None:
    """tracemalloc growth of everything but the embedded simulator (the feed the server is fed by:
    its world fills as prices move, which is the feed's business, not the server's)."""
    if not tm or "growth_bytes" not in tm:
        return None
    return tm["growth_bytes"] - tm.get("growth_by_area", {}).get("backend/simulator", 0)


def checks(r: dict[str, Any], opts: Options) -> dict[str, Any]:
    base, end = r["baseline"], r["end"]
    growth = server_growth(r["tracemalloc"])
    rows = [
        ("every cycle ran", r["cycles"] == opts.cycles, f"{r['cycles']} of {opts.cycles}"),
        ("no connection failed", not r["failures"], r["failures"] or "none"),
        ("every opening and id sequence as docs/api.md 0 says", r["problems_total"] == 0,
         f"{r['problems_total']} problems"),
        ("no resume answered with a snapshot of the same epoch", r["resume_outcomes"].get("snapshot_same_epoch", 0) == 0,
         r["resume_outcomes"]),
        ("groups and clients back to 0", end.get("hub_groups") == 0 and end.get("hub_clients") == 0
         and end.get("groups_count") == 0 and end.get("tracker_games") == 0,
         {k: end.get(k) for k in ("hub_groups", "hub_clients", "groups_count", "tracker_games", "tracker_clients")}),
        ("nothing retained (replay, caches)", not any(end.get(k) for k in (
            "hub_replay_bytes", "hub_cache_bytes", "tracker_replay_bytes")),
         {k: end.get(k) for k in ("hub_replay_bytes", "hub_cache_bytes", "tracker_replay_bytes", "tracker_cache_bytes")}),
        ("open descriptors at baseline", end.get("fds") == base["fds"], f"{base['fds']} -> {end.get('fds')}"),
        ("asyncio tasks at baseline", end.get("tasks") == base["tasks"], f"{base['tasks']} -> {end.get('tasks')}"),
        (f"tracemalloc growth < {opts.max_growth / 1e6:g} MB (the embedded simulator's own not counted)",
         growth is not None and growth < opts.max_growth,
         f"{growth} bytes (simulator: {((r['tracemalloc'] or {}).get('growth_by_area') or {}).get('backend/simulator')})"),
        ("no instance of the server's classes left over", not r["objects_grown"], r["objects_grown"] or "none"),
        ("no group, channel, client or tracker connection object alive", not r["group_objects"],
         r["group_objects"] or "none"),
        ("no error line in the server's log", not r["server_errors"], r["server_errors"][:3] or "none"),
    ]
    return {"rows": [{"check": c, "ok": ok, "value": v} for c, ok, v in rows],
            "failed": [c for c, ok, _ in rows if not ok]}


async def report_progress(tally: Tally, total: int, t0: float) -> None:
    while True:
        await asyncio.sleep(15)
        rate = tally.cycles / max(0.001, time.monotonic() - t0)
        say(f"  {tally.cycles}/{total} cycles ({rate:.0f}/s), {len(tally.problems)} problems, "
            f"{sum(tally.failures.values())} failures")


def say(msg: str) -> None:
    print(msg, flush=True)


def render(r: dict[str, Any]) -> str:
    lines = ["", f"Soak: {r['cycles']} cycles in {r['seconds']} s ({r['cycles'] / max(r['seconds'], 0.001):.0f}/s), "
             f"{r['events']} events, {r['bytes_in'] / 2**20:.1f} MiB read",
             f"  by stream: {r['by_kind']}", f"  by ending: {r['by_ending']}",
             f"  resumes:   {r['resume_outcomes']}"]
    if r["group_errors"]:
        lines.append(f"  error events: {r['group_errors']}")
    base, end = r["baseline"], r["end"]
    lines.append(f"  baseline -> end: fds {base['fds']} -> {end.get('fds')}, tasks {base['tasks']} -> "
                 f"{end.get('tasks')}, rss {base['rss_bytes'] / 2**20:.1f} -> {(end.get('rss_bytes') or 0) / 2**20:.1f} MiB")
    tm = r.get("tracemalloc") or {}
    lines.append(f"  tracemalloc: {tm.get('growth_bytes')} bytes grown since the baseline "
                 f"(peak traced {tm.get('peak_bytes', 0) / 2**20:.1f} MiB)")
    lines.append(f"  growth by area: {tm.get('growth_by_area')}")
    for entry in (tm.get("top") or [])[:5]:
        lines.append(f"     {entry['size_diff']:>+10} B {entry['count_diff']:>+7} blocks  {entry['file']}")
    lines.append(f"  server: drops {end.get('client_drops')}, aborted {end.get('aborted_total')}, "
                 f"resumed {end.get('resumed_total')}, snapshots {end.get('snapshots_total')}")
    for p in r["problems"][:10]:
        lines.append(f"  problem: {p}")
    lines.append("")
    for row in r["checks"]["rows"]:
        lines.append(f"  {'PASS' if row['ok'] else 'FAIL'}  {row['check']}: {row['value']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=10_000, help="connect/disconnect cycles (default %(default)s)")
    p.add_argument("--minutes", type=float, default=20.0, help="bound on the cycling phase (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=32, help="cycles under way at once (default %(default)s)")
    p.add_argument("--grace", type=float, default=1.0, help="GROUP_GRACE for the server (default %(default)s)")
    p.add_argument("--hold-ms", type=float, default=300.0, help="longest a cycle reads (default %(default)s)")
    p.add_argument("--rate", type=float, default=100.0, help="simulated price changes/s (default %(default)s)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up cycles (default 5%%, at least 200)")
    p.add_argument("--max-growth", type=int, default=1_000_000, help="tracemalloc bytes allowed (default 1 MB)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", dest="json_path", help="also write every figure to this file")
    p.add_argument("--keep-log", action="store_true", help="keep the server's log even when every check passed")
    a = p.parse_args(argv)
    return Options(cycles=a.cycles, minutes=a.minutes, concurrency=a.concurrency, grace=a.grace, hold_ms=a.hold_ms,
                   rate=a.rate, seed=a.seed, max_growth=a.max_growth, warmup=a.warmup, json_path=a.json_path,
                   keep_log=a.keep_log)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    result = asyncio.run(soak(opts))
    print(render(result))
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(result, indent=2, default=str))
    failed = result["checks"]["failed"]
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (server log: {result['log']})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
