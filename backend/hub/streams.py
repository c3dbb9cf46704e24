"""The hub's groups: one per stream key, each owning its upstream subscriptions, polls and channel.

=====================  ===================================  ===========================================
group                  key                                  upstream
=====================  ===================================  ===========================================
:class:`CountsGroup`   ``("counts",)``                      live and prematch counts subscriptions
:class:`LiveSport`     ``("live", sportId)``                games + main-odds subscriptions (poll on
                                                            failure); holds the counts group
:class:`PrematchSport` ``("prematch", sportId)``            games poll, odds-chunk poll, featured sub
:class:`GameGroup`     ``("game", gameId)``                 one all-markets subscription
=====================  ===================================  ===========================================

A group is created by the service when its first client arrives; ``start()`` returns at once and
the upstream work runs in tasks the group owns. ``close()`` cancels those tasks and unsubscribes,
each step in its own ``try`` so one failure never stops the rest (R9).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from backend.backoff import Backoff
from backend.swarm.connection import Subscription
from backend.swarm.session import SwarmRequestError

from . import payloads, queries
from .fanout import Channel, encode_json, sse_event

if TYPE_CHECKING:
    from .service import OddsHub

log = logging.getLogger(__name__)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Group:
    kind = "group"

    def __init__(self, hub: OddsHub, key: Hashable) -> None:
        self.hub = hub
        self.key = key
        self.channel: Channel = hub.new_channel(repr(key))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subs: list[Subscription] = []
        self.closed = False

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.spawn(self.run(), f"{self.kind}-run")

    async def run(self) -> None:
        """The group's upstream work; override."""

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("group %r task %s failed", self.key, task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Release everything; every step runs even if an earlier one raised."""
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException as exc:
                if not isinstance(exc, (asyncio.CancelledError, Exception)):
                    raise
        for sub in self._subs:
            try:
                await sub.close()
            except Exception:
                log.exception("group %r: unsubscribe failed; continuing", self.key)
        self._subs.clear()
        self.channel.close_all("group closed")

    async def subscribe(self, query: queries.Query,
                        on_data: Callable[[dict[str, Any], dict[str, Any] | None], None]) -> Subscription:
        what, where = query
        sub = await self.hub.conn.subscribe(what, where, on_data)
        if self.closed:
            await sub.close()
        else:
            self._subs.append(sub)
        return sub

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    # -- emission ---------------------------------------------------------------------------------
    def late_joiner_frames(self) -> list[bytes]:
        return []

    def emit(self, event: str, payload: Any) -> bytes:
        """Publish ``payload`` as ``event``; returns its JSON bytes (to cache for late joiners)."""
        data = encode_json(payload)
        self.channel.publish_raw(event, data)
        return data

    def emit_error(self, message: str) -> None:
        self.emit("error", {"error": message})

    def now_iso(self) -> str:
        return iso(self.hub.clock.time())


class CountsGroup(Group):
    """WIRE B1. Also feeds ``counts``/``prematch_counts`` to live sport groups (its listeners)."""

    kind = "counts"
    EVENTS = {True: "live_counts", False: "prematch_counts"}

    def __init__(self, hub: OddsHub, key: Hashable) -> None:
        super().__init__(hub, key)
        self.cached: dict[bool, bytes] = {}  # live? -> JSON payload
        self._fingerprints: dict[bool, str] = {}
        self.listeners: set[Callable[[bool, bytes], None]] = set()

    async def run(self) -> None:
        for live in (True, False):
            try:
                await self.subscribe(queries.counts(live), lambda tree, _d, live=live: self._on_counts(live, tree))
            except SwarmRequestError as exc:
                self.emit_error(str(exc))

    def _on_counts(self, live: bool, tree: dict[str, Any]) -> None:
        payload = payloads.counts_payload(tree)
        fp = payloads.counts_fingerprint(payload)
        if fp and fp == self._fingerprints.get(live):
            return
        self._fingerprints[live] = fp
        data = encode_json(payload)
        self.cached[live] = data
        self.channel.publish_raw(self.EVENTS[live], data)
        for listener in list(self.listeners):
            try:
                listener(live, data)
            except Exception:
                log.exception("counts listener failed")

    def late_joiner_frames(self) -> list[bytes]:
        return [sse_event(self.EVENTS[live], self.cached[live]) for live in (True, False) if live in self.cached]


class SportGroup(Group):
    """Shared by the live and prematch sport groups: the games list and per-game main odds."""

    live = True

    def __init__(self, hub: OddsHub, key: Hashable, sport_id: str, sport_name: str | None = None) -> None:
        super().__init__(hub, key)
        self.sport_id = sport_id  # the query string, echoed exactly
        self.sport_num = int(sport_id)
        self.sport_name = sport_id
        self.given_name = sport_name  # ``sportName`` of the request that created the group, if any
        self.priorities: list[str] = []
        self.odds = payloads.OddsCache()
        self._games_fp: str | None = None
        self._games_payload: bytes | None = None
        self._snapshot: tuple[int, bytes | None] = (-1, None)
        self.game_ids: list[int] = []

    async def resolve_sport(self) -> None:
        """Sport name (given, else from the hierarchy, else the id) and the market-type priorities."""
        try:
            await self.hub.hierarchy.get()
        except Exception as exc:
            log.warning("sport %s: hierarchy unavailable: %s", self.sport_id, exc)
        sport = self.hub.hierarchy.sport(str(self.sport_num))
        self.sport_name = self.given_name or (str(sport.get("name") or self.sport_id) if sport else self.sport_id)
        dynamic = await self.hub.market_types.get(sport.get("alias") if sport else None)
        self.priorities = payloads.priority_list(dynamic, self.sport_name, with_fallback=self.fallback_too)

    @property
    def fallback_too(self) -> bool:
        """Live lists use the dynamic priorities alone; prematch adds the fallback types (WIRE D)."""
        return not self.live

    def on_games(self, tree: dict[str, Any], force: bool = False) -> None:
        games = payloads.games_list(tree, self.sport_name, self.sport_num, prematch=not self.live)
        fp = payloads.games_fingerprint(games)
        self.game_ids = [g["id"] for g in games if "id" in g]
        if not force and games and fp == self._games_fp:
            return
        self._games_fp = fp
        payload = {"sportId": self.sport_id, "sportName": self.sport_name, "data": games,
                   "last_updated": self.now_iso()}
        self._games_payload = self.emit("games", payload)
        self.after_games_emit()

    def after_games_emit(self) -> None:
        """Hook: prematch polls odds at once after a changed list."""

    snapshot_includes_null = False  # the competition stream's snapshot also lists games with no odds

    def odds_payload(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sportId": self.sport_id, "updates": updates}

    def on_odds(self, tree: dict[str, Any], *, resubscribed: bool = False, allow_any: bool = True) -> None:
        """Fold an odds tree into the cache and emit what changed.

        ``resubscribed``: the tree is a whole (re)subscription snapshot -- games missing from it are
        dropped and everyone gets the full picture in one ``odds`` event (string ids, WIRE B2).
        """
        now = self.hub.clock.monotonic()
        updates = [u for game in payloads.iter_odds_games(tree)
                   if (u := self.odds.update_game(game, self.priorities, now, allow_any)) is not None]
        if resubscribed:
            self.odds.retain(g.get("id") for g in payloads.iter_odds_games(tree))
            data = self._odds_snapshot_data()
            if data is not None:
                self.channel.publish_raw("odds", data)
        elif updates:
            self.emit("odds", self.odds_payload(updates))
            self.odds.evict(now)

    def _odds_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        """Callback of an odds subscription (``delta`` None: a (re)subscription snapshot)."""
        self.on_odds(tree, resubscribed=delta is None)

    def _odds_snapshot_data(self) -> bytes | None:
        """The late-joiner ``odds`` payload, rebuilt only when the cache changed since last time."""
        version, data = self._snapshot
        if version != self.odds.version:
            updates = self.odds.snapshot(include_null=self.snapshot_includes_null)
            data = encode_json(self.odds_payload(updates)) if updates else None
            self._snapshot = (self.odds.version, data)
        return data

    def late_joiner_frames(self) -> list[bytes]:
        frames = [sse_event("games", self._games_payload)] if self._games_payload else []
        snapshot = self._odds_snapshot_data()
        if snapshot:
            frames.append(sse_event("odds", snapshot))
        return frames

    async def poll_forever(self, interval: float, poll: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``poll`` every ``interval``; on failure back off exponentially with full jitter."""
        backoff = Backoff(interval, max(interval * 12, 60.0), random.Random())
        while True:
            try:
                await poll()
                backoff.reset()
                delay = interval
            except SwarmRequestError as exc:
                delay = interval + backoff.next_delay()
                log.warning("sport %s: %s poll failed (%s); next in %.1fs", self.sport_id, what, exc, delay)
            await self.hub.clock.sleep(delay)


class LiveSport(SportGroup):
    """WIRE B2: games and main odds by subscription; counts from the shared counts group."""

    kind = "live"
    live = True

    def start(self) -> None:
        self.hub.hold_counts(self._on_counts)
        super().start()

    async def run(self) -> None:
        await self.resolve_sport()
        try:
            await self.subscribe(queries.sport_games(self.sport_num, live=True), self._games_data)
        except SwarmRequestError as exc:
            log.warning("live %s: games subscription failed (%s); polling", self.sport_id, exc)
            self.spawn(self.poll_forever(self.hub.settings.games_poll_interval, self._poll_games, "games"),
                       "live-games-poll")
        if self.priorities:
            try:
                await self.subscribe(queries.live_main_odds(self.sport_num, self.priorities[0]), self._odds_data)
            except SwarmRequestError as exc:
                self.emit_error(str(exc))

    def _games_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        # delta None is a (re)subscription snapshot: resend even if unchanged (WIRE H).
        self.on_games(tree, force=delta is None)

    async def _poll_games(self) -> None:
        what, where = queries.sport_games(self.sport_num, live=True)
        tree = await self.hub.poll(what, where, timeout=15.0)
        self.on_games(tree)

    def _on_counts(self, live: bool, data: bytes) -> None:
        self.channel.publish_raw("counts" if live else "prematch_counts", data)

    def late_joiner_frames(self) -> list[bytes]:
        counts = self.hub.counts_group
        frames = []
        if counts is not None:
            for live, event in ((True, "counts"), (False, "prematch_counts")):
                if live in counts.cached:
                    frames.append(sse_event(event, counts.cached[live]))
        return frames + super().late_joiner_frames()

    async def close(self) -> None:
        try:
            self.hub.release_counts(self._on_counts)
        finally:
            await super().close()


class PrematchSport(SportGroup):
    """WIRE B3: games polled every 5 s; odds from rotating 30-game chunks and the featured sub."""

    kind = "prematch"
    live = False
    CHUNK = 30
    REFRESH_AFTER = 60.0

    def __init__(self, hub: OddsHub, key: Hashable, sport_id: str, sport_name: str | None = None) -> None:
        super().__init__(hub, key, sport_id, sport_name)
        self._cursor = 0
        self._cursor_sig: tuple[int, int | None] = (0, None)
        self._odds_now = asyncio.Event()

    async def run(self) -> None:
        await self.resolve_sport()
        self.spawn(self.poll_forever(self.hub.settings.games_poll_interval, self._poll_games, "games"),
                   "prematch-games-poll")
        self.spawn(self._odds_loop(), "prematch-odds-poll")
        try:
            await self.subscribe(queries.featured_odds(self.sport_num), self._featured_data)
        except SwarmRequestError as exc:
            log.info("prematch %s: featured subscription failed silently: %s", self.sport_id, exc)

    async def _poll_games(self) -> None:
        what, where = queries.sport_games(self.sport_num, live=False)
        tree = await self.hub.poll(what, where, timeout=15.0)
        self.on_games(tree)
        self.odds.retain(self.game_ids)

    def after_games_emit(self) -> None:
        self._odds_now.set()

    async def _odds_loop(self) -> None:
        interval = self.hub.settings.odds_poll_interval
        backoff = Backoff(interval, 60.0, random.Random())
        delay = 0.0
        while True:
            try:
                await asyncio.wait_for(self._odds_now.wait(), delay)
            except TimeoutError:
                pass
            self._odds_now.clear()
            try:
                await self._poll_odds_chunk()
                backoff.reset()
                delay = interval
            except SwarmRequestError as exc:
                delay = interval + backoff.next_delay()
                log.warning("prematch %s: odds chunk failed (%s); next in %.1fs", self.sport_id, exc, delay)

    def next_chunk(self, now: float) -> list[int]:
        """Up to 30 ids from a rotating cursor: games with no odds yet or odds older than 60 s."""
        ids = self.game_ids
        sig = (len(ids), ids[0] if ids else None)
        if sig != self._cursor_sig:
            self._cursor_sig, self._cursor = sig, 0
        chunk: list[int] = []
        n = len(ids)
        for step in range(n):
            gid = ids[(self._cursor + step) % n]
            entry = self.odds.entries.get(str(gid))
            if entry is None or now - entry["updated"] >= self.REFRESH_AFTER:
                chunk.append(gid)
                if len(chunk) == self.CHUNK:
                    self._cursor = (self._cursor + step + 1) % n
                    return chunk
        self._cursor = 0
        return chunk

    async def _poll_odds_chunk(self) -> None:
        chunk = self.next_chunk(self.hub.clock.monotonic())
        if not chunk or not self.priorities:
            return
        what, where = queries.odds_chunk(chunk, self.priorities)
        tree = await self.hub.poll(what, where, timeout=20.0)
        self.on_odds(tree)

    def _featured_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        listed = set(self.game_ids)
        games = [g for g in payloads.iter_odds_games(tree) if g.get("id") in listed]
        self.on_odds({"game": {str(g["id"]): g for g in games}}, allow_any=False)


class CompetitionGroup(SportGroup):
    """WIRE B5: main odds of one competition's games, live or prematch, by subscription."""

    kind = "competition"
    fallback_too = True  # competitions always add the fallback types (WIRE D)
    snapshot_includes_null = True  # WIRE B5: every cached entry, odds null included

    def __init__(self, hub: OddsHub, key: Hashable, competition_id: str, sport_id: str, live: bool,
                 sport_name: str | None = None) -> None:
        super().__init__(hub, key, sport_id, sport_name)
        self.competition_id = competition_id
        self.live = live

    async def run(self) -> None:
        await self.resolve_sport()
        try:
            await self.subscribe(queries.competition_odds(int(self.competition_id), self.live), self._odds_data)
        except SwarmRequestError as exc:
            self.emit_error(str(exc))

    def odds_payload(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sportId": self.sport_id, "competitionId": self.competition_id, "updates": updates}


class GameGroup(Group):
    """WIRE B4, with score/info/stats changes pushed too (WIRE H)."""

    kind = "game"

    def __init__(self, hub: OddsHub, key: Hashable, game_id: str) -> None:
        super().__init__(hub, key)
        self.game_id = game_id
        self._payload: bytes | None = None
        self._last_data: bytes | None = None

    async def run(self) -> None:
        try:
            await self.subscribe(queries.single_game(int(self.game_id)), self._on_game)
        except SwarmRequestError as exc:
            self.emit_error(str(exc))

    def _on_game(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        game = payloads.find_game(tree, self.game_id)
        if game is None:
            return
        data = encode_json(game)
        if data == self._last_data and delta is not None:
            return
        self._last_data = data
        payload = b'{"gameId":' + encode_json(self.game_id) + b',"data":' + data + b',"last_updated":' + \
            encode_json(self.now_iso()) + b"}"
        self._payload = payload
        self.channel.publish_raw("game", payload)

    def late_joiner_frames(self) -> list[bytes]:
        return [sse_event("game", self._payload)] if self._payload else []
