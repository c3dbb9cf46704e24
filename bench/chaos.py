"""Chaos: SSE clients and the hub's upstream through fault proxies, every client's history checked.

``python -m bench.chaos`` runs, all on 127.0.0.1:

* ``python -m backend.simulator`` (40 live and 200 prematch games), the feed;
* two fault proxies in front of it (``bench/faultproxy.py``): one for the hub's Swarm WebSocket
  (``SWARM_WS_URL``), one for the live tracker's (``LIVE_TRACKER_WS_URL``);
* ``python -m backend`` fed through them;
* a third fault proxy in front of the server, and ``--clients`` (100) SSE clients through it on
  several groups (live sports, prematch sports, counts, live games, trackers). Each behaves like a
  browser's EventSource: on any end of its connection it waits the server's ``retry:`` delay and
  reconnects with ``Last-Event-ID``; like a robust one, it also reconnects when nothing at all
  (not even a heartbeat) came for ``--watchdog`` seconds.

``--faults`` (1,000) mixed faults -- latency, reset, stall, one-byte slicing, half-open, both
directions -- are injected at ``--rate`` per second, on both legs (clients 80 %, the Swarm upstream
15 %, the tracker upstream 5 %). Then every client's history must hold (:class:`History`): within an
epoch its ids are consecutive -- nothing lost, repeated or reordered --, a resume continues exactly
after its ``Last-Event-ID``, an opening that is not a resume is a snapshot (events without ids, then
the id-only message), a snapshot within the same epoch only when the replay ring could not have
covered the gap, and no epoch comes back after another. Then the feed is frozen (SIGUSR1) and every
client's view (:func:`Fold`: the games list and each listed game's main odds, the counts, a game's
data, a tracker's match state) must equal the view of a fresh client at the same id, and that view
must equal the feed's own state (games, odds, counts and games asked of the simulator directly).

Last, the stall experiment: clients read straight from the server while 10 % more stop reading
(a 4 KiB receive buffer, never read), alternated with runs without them; the readers' latency (the
server's ``: ping <ms>`` heartbeats and the ``last_updated`` of ``games`` events, against their
arrival) is compared, p99 with stalled readers against p99 without (target: within 1.2x), and the
server's RSS is sampled throughout. Everything is printed; exit 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from oddsui.tracker_feed import MatchState, apply, decode_frame
from websockets.asyncio.client import connect

from backend.hub import payloads, queries
from bench import children
from bench.faultproxy import Fault, FaultProxy, RandomFaults
from bench.proc import rss_kib
from bench.soak import discover, parse_id
from bench.sseclient import Comment, HttpError, Message, SseConnection

REPLAY_FRAMES = 2048  # the server's default ring: a resume within it must not get a snapshot
RSS_SLACK_MIB = 32  # what stalled clients may add to the server's RSS (their rings are shared: ~nothing)
TIMING_CHECKS = ("p99 latency",)
EMPTY_GROUP_WAIT = 30.0  # how long a group may take to publish its first event after the faults  # rows that judge speed, left out by the suite's quick variant


@dataclass
class Options:
    clients: int = 100
    faults: int = 1000
    rate: float = 4.0
    seed: int = 1
    watchdog: float = 3.0
    retry_ms: int = 1000
    heartbeat: float = 0.5
    write_timeout: float = 5.0
    hold: float = 10.0
    max_fault_seconds: float = 3.0
    sim_rate: float = 100.0
    latency_seconds: float = 15.0
    trials: int = 3
    stalled_share: float = 0.1
    grace: float = 5.0
    upstream_share: float = 0.2
    blackouts: int = 10
    minutes: float = 30.0
    json_path: str | None = None
    keep_logs: bool = False


# -- one client's view and history -------------------------------------------------------------------

class Fold:
    """What a browser holds after applying a stream's messages in order (docs/api.md B): the last
    ``games`` list, each game's main odds (an odds event with string ids is a snapshot and replaces
    them all), the counts, a game's data, a tracker's match state."""

    def __init__(self) -> None:
        self.games: list[Any] | None = None
        self.odds: dict[str, tuple[Any, int]] = {}
        self.other: dict[str, Any] = {}
        self.state: MatchState | None = None

    def take(self, event: str, data: str) -> None:
        if event == "message":  # a tracker frame
            frame = decode_frame(data)
            if isinstance(frame, MatchState):
                self.state = frame
            elif self.state is not None:
                self.state = apply(self.state, frame)
            return
        payload = json.loads(data)
        if event == "games":
            self.games = payload["data"]
        elif event == "odds":
            updates = payload["updates"]
            if any(isinstance(u["gameId"], str) for u in updates):
                self.odds = {}
            for u in updates:
                self.odds[str(u["gameId"])] = (u["odds"], u.get("markets_count") or 0)
        elif event == "game":
            self.other["game"] = payload["data"]
        elif event in ("counts", "live_counts", "prematch_counts", "error"):
            self.other[event] = payload
        # ready: nothing to hold

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.other)
        if self.games is not None:
            listed = {str(g["id"]) for g in self.games}
            out["games"] = self.games
            out["odds"] = {g: v for g, v in sorted(self.odds.items()) if g in listed and v[0] is not None}
        if self.state is not None:
            out["state"] = msgspec.to_builtins(self.state)
        return out


class History:
    """Checks a client's messages, connection by connection, as they come (docs/api.md 0)."""

    def __init__(self) -> None:
        self.pos: tuple[str, int] | None = None
        self.left: set[str] = set()  # epochs the client has moved on from
        self.problems: list[str] = []
        self.opened: bool = False
        self.sent: tuple[str, int] | None = None
        self.resumed = 0
        self.snapshots = 0
        self.new_epoch_snapshots = 0
        self.same_epoch_snapshots = 0
        self.events = 0

    def begin(self, sent: str | None) -> None:
        self.sent = parse_id(sent)
        self.opened = False

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)
        else:
            self.problems[-1] = f"... and more (last: {text})"

    def take(self, msg: Message) -> None:
        mid = parse_id(msg.id) if msg.id is not None else None
        if msg.id is not None and mid is None:
            self.problem(f"an id that is not ours: {msg.id!r}")
            return
        if not self.opened:
            if mid is None:
                if msg.data is None:
                    self.problem("a message with neither id nor data")
                return  # a snapshot's message
            self.opened = True
            if msg.data is None:  # id-only: a snapshot ends here
                self.snapshots += 1
                if self.pos is not None:
                    if mid[0] == self.pos[0]:
                        self.same_epoch_snapshots += 1
                        if mid[1] < self.pos[1]:
                            self.problem(f"a snapshot went back from {self.pos} to {mid}")
                        elif mid[1] - self.pos[1] <= REPLAY_FRAMES:
                            self.problem(f"a resume from {self.pos} got a snapshot at {mid} (within the ring)")
                    else:
                        self.new_epoch_snapshots += 1
                        self.left.add(self.pos[0])
                if mid[0] in self.left:
                    self.problem(f"epoch {mid[0]} came back")
                self.pos = mid
                return
            # a numbered event first: a resume, exactly after what was sent
            if self.sent is None or mid != (self.sent[0], self.sent[1] + 1):
                self.problem(f"an opening continued at {mid} after Last-Event-ID {self.sent}")
            elif self.pos is not None and self.sent != self.pos:
                self.problem(f"the client stood at {self.pos} but sent {self.sent}")
            self.resumed += 1
            self.pos = mid
            self.events += 1
            return
        if mid is None or msg.data is None:
            self.problem(f"after the opening, a message without {'an id' if mid is None else 'data'}")
            return
        if self.pos is None or mid != (self.pos[0], self.pos[1] + 1):
            kind = "a repeat or reorder" if self.pos and mid[0] == self.pos[0] and mid[1] <= self.pos[1] else "a gap"
            self.problem(f"{kind}: after {self.pos} came {mid}")
        self.pos = mid
        self.events += 1


@dataclass
class Latency:
    """Arrival minus the server's own time, in ms: heartbeats (``: ping <ms>``) and ``games`` events."""

    pings: list[float] = field(default_factory=list)
    games: list[float] = field(default_factory=list)


class Client:
    """An EventSource: reconnects after ``retry:`` with ``Last-Event-ID``, and after ``watchdog``
    seconds without a byte. Feeds a :class:`History` and a :class:`Fold` as messages come."""

    def __init__(self, n: int, kind: str, path: str, port: int, opts: Options, latency: Latency | None = None,
                 stalled: bool = False) -> None:
        self.n = n
        self.kind = kind
        self.path = path
        self.port = port
        self.opts = opts
        self.history = History()
        self.fold = Fold()
        self.last_event_id = ""
        self.connects = 0
        self.ends: Counter[str] = Counter()
        self.connected = False
        self.latency = latency
        self.stalled = stalled
        self.capture: tuple[str, dict[str, Any] | None] | None = None  # (id, the view once there)
        self.last_message_at = 0.0
        # every message received, across reconnects: (connection, id, event, digest of data); the data
        # itself goes into the fold as it comes (keeping it all would be hundreds of MB)
        self.record: list[tuple[int, str | None, str, bytes | None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            reason = await self._connection(stop)
            self.ends[reason] += 1
            if stop.is_set():
                return
            retry = self.opts.retry_ms / 1000
            try:
                await asyncio.wait_for(stop.wait(), retry)
            except TimeoutError:
                pass

    async def _connection(self, stop: asyncio.Event) -> str:
        conn = SseConnection("127.0.0.1", self.port, self.path, last_event_id=self.last_event_id or None,
                             rcvbuf=4096 if self.stalled else None)
        try:
            await conn.open()
        except HttpError as exc:
            conn.close()
            return f"http {exc.status}"
        except (OSError, TimeoutError, ConnectionError):
            conn.close()
            return "connect failed"
        self.connects += 1
        self.history.begin(self.last_event_id or None)
        if self.stalled:
            conn.pause_reading()
            await stop.wait()  # never read again; the server must drop it when its writes block
            conn.close(reset=True)
            return "stalled"
        self.connected = True
        seen, quiet_since = conn.bytes_in, time.monotonic()
        reason = "stopped"
        try:
            while not stop.is_set():
                try:
                    items = await asyncio.wait_for(conn.read(), 0.5)
                except TimeoutError:
                    items = []
                if conn.bytes_in != seen:
                    seen, quiet_since = conn.bytes_in, time.monotonic()
                elif time.monotonic() - quiet_since > self.opts.watchdog:
                    reason = "watchdog"
                    break
                for item in items:
                    self._take(item)
                if conn.ended:
                    reason = "ended"
                    break
        except (ConnectionError, OSError):
            reason = "reset"
        finally:
            self.connected = False
            conn.close()
            if conn.parser.retry_ms is not None and conn.parser.retry_ms != self.opts.retry_ms:
                self.history.problem(f"retry: {conn.parser.retry_ms}, not {self.opts.retry_ms}")
        return reason

    def _take(self, item: Message | Comment) -> None:
        if isinstance(item, Comment):
            if self.latency is not None and item.text.startswith("ping "):
                self.latency.pings.append(item.at * 1000 - int(item.text[5:]))
            return
        self.last_message_at = time.monotonic()
        self.record.append((self.connects, item.id, item.event,
                            hashlib.blake2b(item.data.encode(), digest_size=8).digest() if item.data is not None else None))
        self.history.take(item)
        if item.data is not None:
            self.fold.take(item.event, item.data)
            if self.latency is not None and item.event == "games":
                sent = datetime.fromisoformat(json.loads(item.data)["last_updated"].replace("Z", "+00:00"))
                self.latency.games.append(item.at * 1000 - sent.timestamp() * 1000)
        if item.id is not None:
            self.last_event_id = item.id
            if self.capture is not None and self.capture[0] == item.id:
                self.capture = (item.id, self.fold.view())


# -- the run -------------------------------------------------------------------------------------------

def plan_paths(targets: Any, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` (kind, path) pairs over several groups of every kind."""
    groups: list[tuple[str, str, float]] = []
    live = targets.live[:3]
    for s in live:
        groups.append(("live", f"/api/live-stream?sportId={s}", 0.45 / len(live)))
    for s in targets.prematch[:2]:
        groups.append(("prematch", f"/api/prematch-stream?sportId={s}", 0.15 / len(targets.prematch[:2])))
    groups.append(("counts", "/api/counts-stream", 0.1))
    for g in targets.live_games[:3]:
        groups.append(("game", f"/api/live-game-stream?gameId={g}", 0.15 / len(targets.live_games[:3])))
    for g in targets.live_games[:2]:
        groups.append(("tracker", f"/api/live-tracker?gameId={g}", 0.15 / len(targets.live_games[:2])))
    out = [(k, p) for k, p, _ in groups]  # every group at least once
    while len(out) < n:
        k, p, _ = rng.choices(groups, weights=[w for *_, w in groups])[0]
        out.append((k, p))
    return out[:n]


async def fresh_opening(port: int, path: str, timeout: float = 15.0) -> tuple[str, dict[str, Any]]:
    """A new client's opening straight from the server: (the id it stands at, its view)."""
    conn = SseConnection("127.0.0.1", port, path)
    fold = Fold()
    try:
        await conn.open()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for item in await asyncio.wait_for(conn.read(), end - time.monotonic()):
                if isinstance(item, Message):
                    if item.id is None and item.data is not None:
                        fold.take(item.event, item.data)
                    elif item.id is not None and item.data is None:
                        return item.id, fold.view()
        raise TimeoutError(f"{path}: no opening")
    finally:
        conn.close()


async def compare_views(port: int, clients: list[Client], attempts: int = 4) -> dict[str, Any]:
    """Every client's view at the id a fresh client stands at equals the fresh client's, per path."""
    by_path: dict[str, list[Client]] = {}
    for c in clients:
        by_path.setdefault(c.path, []).append(c)
    out: dict[str, Any] = {}
    fresh_views: dict[str, dict[str, Any]] = {}
    for path, group in by_path.items():
        result: dict[str, Any] = {"clients": len(group), "equal": 0, "differ": [], "missed": 0, "empty_group": False}
        for _attempt in range(attempts):
            stand, view = await fresh_opening(port, path)
            waited = time.monotonic() + EMPTY_GROUP_WAIT
            while parse_id(stand)[1] == 0 and time.monotonic() < waited:
                # a group that has published nothing yet (made again, its upstream still coming):
                # its snapshot is empty, and no snapshot can make a browser forget what it had
                await asyncio.sleep(1.0)
                stand, view = await fresh_opening(port, path)
            if parse_id(stand)[1] == 0:
                result["empty_group"] = True
            for c in group:
                c.capture = (stand, c.fold.view() if c.last_event_id == stand else None)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(c.capture and c.capture[1] is None for c in group):
                await asyncio.sleep(0.1)
            missed = [c for c in group if not c.capture or c.capture[1] is None]
            if missed and _attempt < attempts - 1:
                continue  # someone jumped over (or has not reached) that id: try a later one
            result["stand"] = stand
            result["missed"] = len(missed)
            for c in group:
                if c.capture and c.capture[1] is not None:
                    if c.capture[1] == view:
                        result["equal"] += 1
                    else:
                        result["differ"].append({"client": c.n, "diff": diff(c.capture[1], view)})
            fresh_views[path] = view
            break
        for c in group:
            c.capture = None
        out[path] = result
    return {"paths": out, "fresh": fresh_views}


def diff(a: Any, b: Any, where: str = "", out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if len(out) >= 6:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{where}/{k}: {'missing' if k not in a else 'extra'} in the client's view")
            elif a[k] != b[k]:
                diff(a[k], b[k], f"{where}/{k}", out)
    elif a != b:
        out.append(f"{where}: {json.dumps(a)[:120]} != fresh {json.dumps(b)[:120]}")
    return out


async def feed_get(url: str, requests: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Ask the simulator directly (a second, independent client): each (command, params)'s data."""
    async with connect(url, open_timeout=10, max_size=None) as ws:
        await ws.send(json.dumps({"command": "request_session", "params": {"site_id": 1, "language": "eng"},
                                  "rid": "s"}))
        json.loads(await ws.recv())
        out = []
        for i, (command, params) in enumerate(requests):
            await ws.send(json.dumps({"command": command, "params": params, "rid": str(i)}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if reply.get("rid") == str(i):
                    break
            data = reply.get("data")
            out.append(data.get("data", data) if isinstance(data, dict) else data)
        return out


def get(query: tuple[dict[str, Any], dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    what, where = query
    return "get", {"source": "betting", "what": what, "where": where}


async def feed_views(sim_url: str, fresh: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Compare each fresh view with the feed's own state (the simulator, frozen)."""
    (hierarchy,) = await feed_get(sim_url, [get(queries.hierarchy())])
    sports = (hierarchy or {}).get("sport", {})
    results: dict[str, Any] = {}
    for path, view in fresh.items():
        query = dict(p.split("=") for p in path.split("?", 1)[1].split("&")) if "?" in path else {}
        problems: list[str] = []
        if path.startswith("/api/live-stream"):
            sport = int(query["sportId"])
            info = sports.get(str(sport), {})
            (details,) = await feed_get(sim_url, [("get_market_type", {"sport_alias": info.get("alias")})])
            dynamic = payloads.market_types_from_details((details or {}).get("details"))
            main = payloads.priority_list(dynamic, info.get("name") or str(sport), with_fallback=False)[0]
            games_tree, odds_tree = await feed_get(sim_url, [get(queries.sport_games(sport, live=True)),
                                                             get(queries.live_main_odds(sport, main))])
            ids = [g["id"] for g in payloads.games_list(games_tree, info.get("name") or str(sport), sport)]
            if [g["id"] for g in view.get("games", [])] != ids:
                problems.append(f"games {[g['id'] for g in view.get('games', [])]} != feed {ids}")
            listed = {str(i) for i in ids}
            want = {}
            for game in payloads.iter_odds_games(odds_tree):
                gid = str(game.get("id"))
                odds = payloads.odds_array(payloads.pick_main_market(game.get("market"), [main]))
                if gid in listed and odds is not None:
                    want[gid] = [odds, game.get("markets_count") or 0]
            got = {g: list(v) for g, v in view.get("odds", {}).items()}
            if got != want:
                problems += diff(got, want, "odds")
        elif path.startswith("/api/counts-stream"):
            live, pre = await feed_get(sim_url, [get(queries.counts(True)), get(queries.counts(False))])
            for event, tree in (("live_counts", live), ("prematch_counts", pre)):
                if view.get(event) != payloads.counts_payload(tree):
                    problems.append(f"{event} differs from the feed")
        elif path.startswith("/api/live-game-stream"):
            (tree,) = await feed_get(sim_url, [get(queries.single_game(int(query["gameId"])))])
            game = payloads.find_game(tree or {}, query["gameId"])
            if game is not None and view.get("game") != game:
                problems += diff(view.get("game"), game, "game")
            elif game is None and "game" in view:
                problems.append("the feed no longer has the game")  # it ended: nothing is sent (B4)
        else:
            continue  # prematch odds are polled (60 s refresh), trackers are their own feed
        results[path] = problems
    return results


FEED_CHECK_BUDGET = 40.0  # s: a games poll backed off by a fault comes again within this (5 s, then jitter)


async def frozen_feed_check(port: int, sim_url: str, fresh: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``feed_views`` until every view equals the frozen feed, or ``FEED_CHECK_BUDGET`` runs out.

    A live sport's games list is polled (every 5 s, backed off after a failure), so what changed in
    the feed just before the freeze reaches the hub's groups with their next poll: a view can rightly
    be behind the frozen feed until then. Each retry takes the fresh views again."""
    deadline = time.monotonic() + FEED_CHECK_BUDGET
    while True:
        result = await feed_views(sim_url, fresh)
        if not any(result.values()) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(3.0)
        fresh = {path: (await fresh_opening(port, path))[1] for path in fresh}


async def quiesce(clients: list[Client], quiet: float = 2.0, budget: float = 30.0) -> bool:
    """Wait until no client got a message for ``quiet`` seconds and every one is connected."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        now = time.monotonic()
        if all(c.connected and now - c.last_message_at >= quiet for c in clients):
            return True
        await asyncio.sleep(0.2)
    return False


def same_everywhere(clients: list[Client]) -> dict[str, list[str]]:
    """Per group: one id is one event with the same data for every client that got it."""
    out: dict[str, list[str]] = {}
    by_path: dict[str, dict[str, tuple[str, bytes | None]]] = {}
    for c in clients:
        seen = by_path.setdefault(c.path, {})
        for _, mid, event, digest in c.record:
            if mid is None or digest is None:
                continue
            if seen.setdefault(mid, (event, digest)) != (event, digest):
                problems = out.setdefault(c.path, [])
                if len(problems) < 5:
                    problems.append(f"{mid} is not the same event for client {c.n}")
    return out


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


async def stall_trials(port: int, pid: int, paths: list[tuple[str, str]], opts: Options) -> dict[str, Any]:
    """Readers alone, then readers with 10 % more clients that stop reading, alternated."""
    trials = []
    pooled: dict[bool, list[float]] = {False: [], True: []}  # every sample of the runs without / with
    for i in range(opts.trials * 2):
        stalled_run = i % 2 == 1
        latency = Latency()
        readers = [Client(n, k, p, port, opts, latency=latency) for n, (k, p) in enumerate(paths)]
        stalled = [Client(10_000 + n, k, p, port, opts, stalled=True)
                   for n, (k, p) in enumerate(paths[:max(1, int(len(paths) * opts.stalled_share))])] \
            if stalled_run else []
        stop = asyncio.Event()
        tasks = [asyncio.create_task(c.run(stop)) for c in readers + stalled]
        await asyncio.sleep(2.0)  # openings, snapshots
        latency.pings.clear()
        latency.games.clear()
        _, before = await children.ahttp_json(port, "/api/health")
        rss: list[int] = []
        end = time.monotonic() + opts.latency_seconds
        while time.monotonic() < end:
            rss.append(rss_kib(pid))
            await asyncio.sleep(0.5)
        _, after = await children.ahttp_json(port, "/api/health")
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        samples = latency.pings + latency.games
        pooled[stalled_run] += samples
        drops_before = ((before or {}).get("swarm_ws") or {}).get("client_drops", {})
        drops_after = ((after or {}).get("swarm_ws") or {}).get("client_drops", {})
        trials.append({
            "stalled": len(stalled), "readers": len(readers), "samples": len(samples),
            "ping_samples": len(latency.pings), "games_samples": len(latency.games),
            "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99),
            "max_ms": max(samples) if samples else None,
            "rss_kib_min": min(rss), "rss_kib_max": max(rss),
            "stuck_drops": drops_after.get("stuck", 0) - drops_before.get("stuck", 0),
            "parked_writes": ((after or {}).get("swarm_ws") or {}).get("parked_writes_total", 0)
            - ((before or {}).get("swarm_ws") or {}).get("parked_writes_total", 0),
            "reader_events": sum(c.history.events for c in readers),
            "reader_problems": sum(len(c.history.problems) for c in readers)})
        await asyncio.sleep(1.0)
    # The verdict compares the median of each kind's per-trial p99 (one disturbed trial on a shared
    # machine does not decide it); the p99 over all samples of each kind is printed beside.
    free = statistics.median([t["p99_ms"] for t in trials if not t["stalled"] and t["p99_ms"] is not None] or [0])
    held = statistics.median([t["p99_ms"] for t in trials if t["stalled"] and t["p99_ms"] is not None] or [0])
    ratio = held / free if free > 0 and held > 0 else None
    return {"trials": trials, "p99_without_ms": free, "p99_with_ms": held,
            "p99_pooled_without_ms": percentile(pooled[False], 0.99),
            "p99_pooled_with_ms": percentile(pooled[True], 0.99),
            "p99_ratio": round(ratio, 3) if ratio is not None else None}


async def chaos(opts: Options) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    rng = random.Random(opts.seed)
    result: dict[str, Any] = {"options": vars(opts), "logs": str(tmp)}
    started = time.monotonic()
    sim, sim_port = children.simulator(["--live", "40", "--prematch", "200", "--rate", str(opts.sim_rate),
                                        "--seed", str(opts.seed)], tmp / "simulator.log")
    server = None
    proxies: list[FaultProxy] = []
    try:
        await children.wait_listening(sim, sim_port)
        up = await FaultProxy(sim_port, name="swarm", rng=random.Random(opts.seed + 1)).start()
        trk = await FaultProxy(sim_port, name="tracker", rng=random.Random(opts.seed + 2)).start()
        proxies += [up, trk]
        env = {"SWARM_WS_URL": f"ws://127.0.0.1:{up.port}/", "LIVE_TRACKER_WS_URL": f"ws://127.0.0.1:{trk.port}/tracker",
               "SSE_RETRY_MS": str(opts.retry_ms), "HEARTBEAT_INTERVAL": str(opts.heartbeat),
               "WRITE_TIMEOUT": str(opts.write_timeout), "SWARM_BACKOFF_CAP": "2", "GROUP_GRACE": str(opts.grace)}
        server, port = children.backend(env, tmp / "backend.log")
        await children.wait_http(server, port, "/api/health", 90,
                                 ok=lambda h: (h.get("swarm_ws") or {}).get("connected"))
        front = await FaultProxy(port, name="clients", rng=random.Random(opts.seed + 3)).start()
        proxies.append(front)
        targets = await discover(port)
        paths = plan_paths(targets, opts.clients, rng)
        result["groups"] = sorted({p for _, p in paths})
        say(f"simulator :{sim_port}, server pid {server.pid} :{port}, proxies swarm :{up.port} tracker :{trk.port} "
            f"clients :{front.port}; {len(paths)} clients on {len(result['groups'])} groups")

        # -- phase 1: faults ---------------------------------------------------------------------
        clients = [Client(n, k, p, front.port, opts) for n, (k, p) in enumerate(paths)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(c.run(stop)) for c in clients]
        await asyncio.sleep(3.0)
        faults = RandomFaults(seed=opts.seed, max_seconds=opts.max_fault_seconds, hold=opts.hold)
        legs = [(front, 1 - opts.upstream_share), (up, opts.upstream_share * 0.75), (trk, opts.upstream_share * 0.25)]
        blackout_at = sorted(rng.randrange(1, opts.faults) for _ in range(opts.blackouts)) if opts.faults > 1 else []
        blackouts = 0
        t0 = time.monotonic()
        deadline = t0 + opts.minutes * 60
        injected = 0
        next_report = t0 + 15
        while injected < opts.faults and time.monotonic() < deadline:
            await asyncio.sleep(faults.rng.expovariate(opts.rate))
            fault = faults.next()
            # a leg with nothing to act on (its upstream reconnecting, say) yields to the others
            ready = [(p, w) for p, w in legs if p.live()]
            if not ready:
                continue
            proxy = rng.choices([p for p, _ in ready], weights=[w for _, w in ready])[0]
            if blackout_at and injected >= blackout_at[0]:
                blackout_at.pop(0)
                front.inject_all(Fault("reset"))  # every client at once: a blackout (counted per client)
                blackouts += 1
                continue
            if proxy.inject(fault) is not None:
                injected += 1
            if time.monotonic() > next_report:
                next_report += 15
                say(f"  {injected}/{opts.faults} faults, {sum(c.connects for c in clients)} connections")
        fault_seconds = time.monotonic() - t0
        say(f"{injected} faults in {fault_seconds:.0f}s; letting every client come back")
        await asyncio.sleep(opts.hold + 1)  # half-open holds run out
        converged = await quiesce(clients, quiet=0.0, budget=60)

        # -- phase 2: views against a fresh client, then against the frozen feed ------------------
        sim.signal(signal.SIGUSR1)
        settled = await quiesce(clients, quiet=2.5, budget=30)
        views = await compare_views(port, clients)
        feed = await frozen_feed_check(port, f"ws://127.0.0.1:{sim_port}/", views["fresh"])
        sim.signal(signal.SIGUSR2)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        _, health = await children.ahttp_json(port, "/api/health")

        ws = (health or {}).get("swarm_ws") or {}
        result.update(
            faults_injected=injected, blackouts=blackouts, fault_seconds=round(fault_seconds, 1),
            faults_by_leg={p.name: {k: n for k, n in p.counts.items() if not k.endswith(":all")} for p in proxies},
            blackout_connections=front.blackout_connections,
            proxy={p.name: {"accepted": p.accepted, "bytes": dict(p.bytes)} for p in proxies},
            converged=converged, settled=settled,
            clients={"count": len(clients), "connections": sum(c.connects for c in clients),
                     "events": sum(c.history.events for c in clients),
                     "resumed": sum(c.history.resumed for c in clients),
                     "snapshots": sum(c.history.snapshots for c in clients),
                     "new_epoch_snapshots": sum(c.history.new_epoch_snapshots for c in clients),
                     "same_epoch_snapshots": sum(c.history.same_epoch_snapshots for c in clients),
                     "ends": dict(sum((c.ends for c in clients), Counter()))},
            history_problems={f"{c.n} {c.path}": c.history.problems for c in clients if c.history.problems},
            records=sum(len(c.record) for c in clients), differing_ids=same_everywhere(clients),
            views={p: {k: v for k, v in r.items()} for p, r in views["paths"].items()},
            feed=feed,
            server={"reconnects_total": ws.get("reconnects_total"), "stalls_total": ws.get("stalls_total"),
                    "sessions_total": ws.get("sessions_total"), "client_drops": ws.get("client_drops"),
                    "resumed_total": ws.get("resumed_total"), "snapshots_total": ws.get("snapshots_total"),
                    "groups_failed_total": ws.get("groups_failed_total"), "aborted_total": ws.get("aborted_total"),
                    "tracker": {k: ((health or {}).get("live_tracker") or {}).get(k)
                                for k in ("connect_attempts_total", "stalls_total", "groups_failed_total")}})

        # -- phase 3: stalled readers ------------------------------------------------------------
        if opts.trials > 0:
            say("stall experiment: readers alone, then with 10 % stalled clients")
            result["stall"] = await stall_trials(port, server.pid, paths, opts)
        result["server_errors"] = server.error_lines()[:20]
        result["checks"] = checks(result, opts)
    finally:
        for p in proxies:
            await p.close()
        if server is not None:
            result["server_exit"] = server.stop()
        result["simulator_exit"] = sim.stop()
        result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def checks(r: dict[str, Any], opts: Options) -> dict[str, Any]:
    views = r["views"]
    differ = {p: v["differ"] for p, v in views.items() if v["differ"]}
    missed = {p: v["missed"] for p, v in views.items() if v["missed"]}
    feed_bad = {p: v for p, v in r["feed"].items() if v}
    empty = [p for p, v in views.items() if v.get("empty_group")]
    rows = [
        (f"{opts.faults} faults injected", r["faults_injected"] == opts.faults, r["faults_injected"]),
        ("every client's history: nothing lost, repeated or reordered; resumes exact; snapshots recognisable",
         not r["history_problems"], f"{len(r['history_problems'])} clients with problems"),
        ("one id is one event with the same data for every client of a group", not r["differing_ids"],
         r["differing_ids"] or f"{r['records']} messages recorded"),
        ("every client reconnected after the faults", r["converged"], r["converged"]),
        (f"every group published within {EMPTY_GROUP_WAIT:g} s of the faults", not empty, empty or "all"),
        ("every client's view equals a fresh client's at the same id", not differ and not missed,
         differ or missed or f"{sum(v['equal'] for v in views.values())} views equal"),
        ("the fresh views equal the frozen feed's state", not feed_bad, feed_bad or f"{len(r['feed'])} groups"),
        ("no error line in the server's log", not r["server_errors"], r["server_errors"][:3] or "none"),
    ]
    stall = r.get("stall")
    if stall:
        ratio = stall["p99_ratio"]
        rows.append(("readers' p99 latency with 10 % stalled clients within 1.2x of without",
                     ratio is not None and ratio <= 1.2, ratio))
        rows.append(("readers kept receiving beside stalled clients, without a problem",
                     all(t["reader_events"] > 0 and t["reader_problems"] == 0 for t in stall["trials"]),
                     [(t["reader_events"], t["reader_problems"]) for t in stall["trials"]]))
        free = max(t["rss_kib_max"] for t in stall["trials"] if not t["stalled"])
        held = max(t["rss_kib_max"] for t in stall["trials"] if t["stalled"])
        rows.append((f"server RSS with stalled clients within {RSS_SLACK_MIB} MiB of without",
                     held - free <= RSS_SLACK_MIB * 1024, f"{free / 1024:.1f} -> {held / 1024:.1f} MiB"))
    return {"rows": [{"check": c, "ok": ok, "value": v} for c, ok, v in rows],
            "failed": [c for c, ok, _ in rows if not ok]}


def render(r: dict[str, Any]) -> str:
    c = r["clients"]
    lines = ["", f"Chaos: {r['faults_injected']} faults and {r['blackouts']} blackouts (every client reset at "
             f"once: {r['blackout_connections']} connections) in {r['fault_seconds']} s on {c['count']} clients "
             f"({len(r['groups'])} groups)",
             f"  faults by leg: {r['faults_by_leg']}",
             f"  clients: {c['connections']} connections, {c['events']} events, {c['resumed']} resumes, "
             f"{c['snapshots']} snapshots ({c['new_epoch_snapshots']} of a new epoch, "
             f"{c['same_epoch_snapshots']} of the same), ends {c['ends']}",
             f"  server: {r['server']}"]
    for path, v in r["views"].items():
        lines.append(f"  view {path}: {v['equal']}/{v['clients']} equal at {v.get('stand')}"
                     + (f", {len(v['differ'])} differ" if v["differ"] else "")
                     + (f", {v['missed']} never at that id" if v["missed"] else "")
                     + (", the group had published nothing" if v.get("empty_group") else "")
                     + (f"; feed: {r['feed'][path][:2]}" if r["feed"].get(path) else ""))
    for who, problems in list(r["history_problems"].items())[:8]:
        lines.append(f"  history {who}: {problems[:3]}")
    for path, v in r["views"].items():
        for d in v["differ"][:2]:
            lines.append(f"  differs {path} client {d['client']}: {d['diff'][:3]}")
    stall = r.get("stall")
    if stall:
        for t in stall["trials"]:
            lines.append(f"  stall trial: {t['readers']} readers + {t['stalled']} stalled: p50 {fmt(t['p50_ms'])} ms, "
                         f"p99 {fmt(t['p99_ms'])} ms, max {fmt(t['max_ms'])} ms ({t['samples']} samples), "
                         f"RSS {t['rss_kib_min'] / 1024:.1f}-{t['rss_kib_max'] / 1024:.1f} MiB, "
                         f"{t['parked_writes']} parked writes, {t['stuck_drops']} dropped as stuck")
        lines.append(f"  p99, median of the trials: {fmt(stall['p99_without_ms'])} ms without stalled clients, "
                     f"{fmt(stall['p99_with_ms'])} ms with: ratio {stall['p99_ratio']} (over every sample: "
                     f"{fmt(stall['p99_pooled_without_ms'])} / {fmt(stall['p99_pooled_with_ms'])} ms)")
    lines.append("")
    for row in r["checks"]["rows"]:
        lines.append(f"  {'PASS' if row['ok'] else 'FAIL'}  {row['check']}: {row['value']}")
    return "\n".join(lines)


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=100, help="SSE clients through the proxy (default %(default)s)")
    p.add_argument("--faults", type=int, default=1000, help="faults to inject (default %(default)s)")
    p.add_argument("--rate", type=float, default=4.0, help="faults per second (default %(default)s)")
    p.add_argument("--minutes", type=float, default=30.0, help="bound on the fault phase (default %(default)s)")
    p.add_argument("--hold", type=float, default=10.0, help="half-open hold, seconds (default %(default)s)")
    p.add_argument("--max-fault-seconds", type=float, default=3.0, help="longest stall/slice/latency")
    p.add_argument("--watchdog", type=float, default=3.0, help="client reconnects after this long without a byte")
    p.add_argument("--retry-ms", type=int, default=1000, help="SSE_RETRY_MS for the server (default %(default)s)")
    p.add_argument("--sim-rate", type=float, default=100.0, help="simulated price changes/s (default %(default)s)")
    p.add_argument("--latency-seconds", type=float, default=15.0, help="length of each stall trial (default %(default)s)")
    p.add_argument("--trials", type=int, default=3, help="pairs of stall trials, 0 for none (default %(default)s)")
    p.add_argument("--grace", type=float, default=5.0, help="GROUP_GRACE for the server (default %(default)s)")
    p.add_argument("--upstream-share", type=float, default=0.2,
                   help="share of the faults on the upstream legs, 3/4 Swarm, 1/4 tracker (default %(default)s)")
    p.add_argument("--blackouts", type=int, default=10,
                   help="times every client connection is reset at once, besides the faults (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", dest="json_path", help="also write every figure to this file")
    a = p.parse_args(argv)
    return Options(clients=a.clients, faults=a.faults, rate=a.rate, minutes=a.minutes, hold=a.hold,
                   max_fault_seconds=a.max_fault_seconds, watchdog=a.watchdog, retry_ms=a.retry_ms,
                   sim_rate=a.sim_rate, latency_seconds=a.latency_seconds, trials=a.trials, seed=a.seed,
                   json_path=a.json_path, grace=a.grace, upstream_share=a.upstream_share, blackouts=a.blackouts)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    result = asyncio.run(chaos(opts))
    if "checks" not in result:
        print(json.dumps(result, indent=2, default=str))
        return 1
    print(render(result))
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(result, indent=2, default=str))
    failed = result["checks"]["failed"]
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (logs in {result['logs']})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
