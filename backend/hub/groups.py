"""The hub's groups: one per stream key, each owning its upstream subscriptions, polls and channel.

=====================  ===================================  ===========================================
group                  key                                  upstream
=====================  ===================================  ===========================================
:class:`CountsGroup`   ``("counts",)``                      live and prematch counts subscriptions
:class:`LiveSport`     ``("live", sportId)``                games + main-odds subscriptions (poll on
                                                            failure); holds the counts group
:class:`PrematchSport` ``("prematch", sportId)``            games poll, odds-chunk poll, featured sub
:class:`GameGroup`     ``("game", gameId)``                 one all-markets subscription
:class:`CompetitionGroup` ``("competition", "mode:id")``    one main-odds subscription
=====================  ===================================  ===========================================

Every group is a :class:`~.base.BaseGroup` (channel, owned tasks, failing, closing); an odds group
talks to the hub only through a :class:`GroupContext` (the base's host plus the random source, the
settings, subscribe, a paced poll, the sport lookups and the counts feed); it never sees the hub itself. A group is built from its typed
spec (``specs.py``) when its first client arrives; ``start()`` returns at once and the upstream
work runs in tasks the group owns. ``close()`` cancels those tasks and unsubscribes, each step in
its own ``try`` so one failure never stops the rest (docs/design.md R9).

Emission is change-only (docs/api.md B): each subscription delta recomputes only the games it touched
(``changes.py``), never the whole tree. A subscription the feed refuses, where the original sent an
``error`` event, makes the group fail: its clients get the ``error`` and their streams end, and the
hub frees the key at once, so the next client starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from backend.backoff import Backoff
from backend.clock import within
from backend.settings import Settings
from backend.swarm.connection import OnData, OnFailed, SubscriptionHandle
from backend.swarm.session import SwarmError, SwarmRequestError

from . import payloads, queries
from .base import BaseGroup, GroupHost
from .changes import GamesFingerprint, touched_games
from .fanout import encode_json, sse_event

log = logging.getLogger(__name__)

CountsListener = Callable[[bool, bytes], None]


class SportInfo(Protocol):
    name: str
    alias: str | None


class CountsFeed(Protocol):
    """A hold on the counts group: its cached payloads, and a release."""

    def cached(self, live: bool) -> bytes | None: ...

    def release(self) -> None: ...


class GroupContext(GroupHost, Protocol):
    """What an odds group may ask of the hub (``OddsHub`` provides it)."""

    rng: random.Random
    settings: Settings

    def subscribe(self, what: dict[str, Any], where: dict[str, Any], on_data: OnData,
                  on_failed: OnFailed) -> SubscriptionHandle: ...

    async def poll(self, what: dict[str, Any], where: dict[str, Any], timeout: float) -> dict[str, Any]: ...

    async def sport_info(self, sport_id: str) -> SportInfo | None: ...

    async def market_types(self, sport_alias: str | None) -> list[str]: ...

    def hold_counts(self, listener: CountsListener) -> CountsFeed: ...

    def count_update(self, kind: str, tag: str) -> None: ...

    def count_counts_run(self, reason: str) -> None: ...


class Group(BaseGroup):
    """An odds group: its upstream is Swarm subscriptions (and polls)."""

    expected_errors = (SwarmError,)

    def __init__(self, ctx: GroupContext, key: Hashable) -> None:
        super().__init__(ctx, key)
        self.ctx: GroupContext = ctx
        self._subs: list[SubscriptionHandle] = []
        self.sub_tags: dict[SubscriptionHandle, str] = {}

    def release_upstream(self) -> None:
        subs, self._subs = self._subs, []
        self.sub_tags.clear()
        for sub in subs:
            try:
                sub.close()
            except Exception:
                log.exception("group %r: unsubscribe failed; continuing", self.key)

    def subscribe(self, query: queries.Query, on_data: OnData, on_failed: OnFailed | None = None,
                  tag: str | None = None) -> SubscriptionHandle:
        """Open a subscription owned by this group. ``on_failed`` defaults to failing the group;
        ``tag`` names it in health's ``by_tag`` figures (default: the group's kind)."""
        what, where = query
        label = tag or self.kind
        kind, count = self.kind, self.ctx.count_update

        def counted(tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
            if delta is not None:
                count(kind, label)
            on_data(tree, delta)

        handle = self.ctx.subscribe(what, where, counted, on_failed or (lambda exc: self.fail(str(exc))))
        self._subs.append(handle)
        self.sub_tags[handle] = label
        return handle

    @property
    def subscription_count(self) -> int:
        return sum(1 for s in self._subs if not s.closed)


class CountsGroup(Group):
    """docs/api.md B1. Also feeds ``counts``/``prematch_counts`` to live sport groups (its listeners)."""

    kind = "counts"
    EVENTS = {True: "live_counts", False: "prematch_counts"}

    def __init__(self, ctx: GroupContext, key: Hashable) -> None:
        super().__init__(ctx, key)
        self.cached: dict[bool, bytes] = {}  # live? -> JSON payload
        self._fingerprints: dict[bool, str] = {}
        self.listeners: set[CountsListener] = set()

    def start(self) -> None:
        for live in (True, False):
            self.subscribe(queries.counts(live), lambda tree, delta, live=live: self._on_counts(live, tree, delta),
                           tag="counts:live" if live else "counts:prematch")

    def _on_counts(self, live: bool, tree: dict[str, Any], delta: dict[str, Any] | None = None) -> None:
        payload = payloads.counts_payload(tree)
        fp = payloads.counts_fingerprint(payload)
        if fp and fp == self._fingerprints.get(live):
            return
        self._fingerprints[live] = fp
        self.ctx.count_counts_run("resubscribe" if delta is None else "live" if live else "prematch")
        data = encode_json(payload)
        self.cached[live] = data
        self.retained.set(sum(map(len, self.cached.values())))
        self.channel.publish_raw(self.EVENTS[live], data)
        for listener in list(self.listeners):
            try:
                listener(live, data)
            except Exception:
                log.exception("counts listener failed")

    def late_joiner_frames(self) -> list[bytes]:
        return super().late_joiner_frames() or [
            sse_event(self.EVENTS[live], self.cached[live]) for live in (True, False) if live in self.cached]


class SportGroup(Group):
    """Shared by the live, prematch and competition groups: the games list and per-game main odds."""

    live = True
    snapshot_includes_null = False  # the competition stream's snapshot also lists games with no odds

    def __init__(self, ctx: GroupContext, key: Hashable, sport_id: str) -> None:
        super().__init__(ctx, key)
        self.sport_id = sport_id  # the query string, echoed exactly
        self.sport_num = int(sport_id)
        self.sport_name = sport_id  # from the hierarchy once known (never from a client)
        self.priorities: list[str] = []
        self.odds = payloads.OddsCache()
        self._games = GamesFingerprint(self._game_line)
        self._games_payload: bytes | None = None
        self._snapshot: tuple[tuple[int, int], bytes | None] = ((-1, -1), None)
        self.game_ids: list[int] = []
        self._listed_counts: dict[str, Any] = {}  # listed game id -> its markets_count in the list
        self._games_version = 0

    async def resolve_sport(self) -> None:
        """Sport name (from the hierarchy, else the id) and the market-type priorities."""
        sport = await self.ctx.sport_info(str(self.sport_num))
        self.sport_name = sport.name if sport is not None and sport.name else self.sport_id
        dynamic = await self.ctx.market_types(sport.alias if sport is not None else None)
        self.priorities = payloads.priority_list(dynamic, self.sport_name, with_fallback=self.fallback_too)

    @property
    def fallback_too(self) -> bool:
        """Live lists use the dynamic priorities alone; prematch adds the fallback types (docs/api.md D9)."""
        return not self.live

    def _game_line(self, nodes: tuple[dict[str, Any], ...]) -> str | None:
        game = nodes[3]
        if not payloads.listed(game, self.sport_num, prematch=not self.live):
            return None
        return payloads.game_line(game)

    def on_games(self, tree: dict[str, Any], delta: dict[str, Any] | None = None, force: bool = False) -> None:
        """A games tree (or a delta merged into it): emit ``games`` if its fingerprint changed."""
        changed = self._games.update(tree, delta)
        if not force and len(self._games) and not changed:
            return
        games = payloads.games_list(tree, self.sport_name, self.sport_num, prematch=not self.live)
        self.game_ids = [g["id"] for g in games if "id" in g]
        self._listed_counts = {str(g["id"]): g.get("markets_count") for g in games if "id" in g}
        self._games_version += 1
        payload = {"sportId": self.sport_id, "sportName": self.sport_name, "data": games,
                   "last_updated": self.now_iso()}
        # The state a snapshot shows must include the frame it is taken with: set, then publish.
        self._games_payload = encode_json(payload)
        self.channel.publish_raw("games", self._games_payload)
        self._account()
        self.after_games_emit()

    def after_games_emit(self) -> None:
        """Hook: prematch polls odds at once after a changed list."""

    def odds_payload(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sportId": self.sport_id, "updates": updates}

    def on_odds(self, tree: dict[str, Any], delta: dict[str, Any] | None = None, *, resubscribed: bool = False,
                allow_any: bool = True, whole: bool = False) -> None:
        """Fold an odds tree into the cache and emit what changed.

        ``delta``: only the games it touched are looked at. ``resubscribed``: the tree is a whole
        (re)subscription snapshot -- games missing from it are dropped and everyone gets the full
        picture in one ``odds`` event (string ids, docs/api.md B2). ``whole``: the tree is a subscription's
        whole state, so the games in it count as fresh for the cache's TTL (as if re-read).
        """
        now = self.ctx.clock.monotonic()
        games = touched_games(tree, delta) if not resubscribed else None
        if games is None:
            games = list(payloads.iter_odds_games(tree))
        updates = [u for game in games
                   if (u := self.odds.update_game(game, self.priorities, now, allow_any)) is not None]
        if resubscribed:
            self.odds.retain(g.get("id") for g in games)
            data = self._odds_snapshot_data()
            if data is not None:
                self.channel.publish_raw("odds", data)
        elif updates:
            self.emit("odds", self.odds_payload(updates))
            self.odds.evict(now, (lambda: payloads.game_ids_in(tree)) if whole else None)
        self._account()

    def _odds_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        """Callback of an odds subscription (``delta`` None: a (re)subscription snapshot)."""
        self.on_odds(tree, delta, resubscribed=delta is None, whole=True)

    def _odds_snapshot_data(self) -> bytes | None:
        """The late-joiner ``odds`` payload, rebuilt only when the cache or the list changed since.

        Every listed game is in it: with its odds when they are known, else with ``odds: null``
        (docs/api.md B2). A browser coming back to a group made again (a new epoch, which has not
        read every game's odds yet) otherwise kept showing the odds the old incarnation had sent it,
        where a new browser shows none.
        """
        version, data = self._snapshot
        now = (self.odds.version, self._games_version)
        if version != now:
            updates = self.odds.snapshot(include_null=self.snapshot_includes_null)
            named = {u["gameId"] for u in updates}
            unknown = [{"gameId": gid, "odds": None, "markets_count": count if count is not None else 0}
                       for gid, count in self._listed_counts.items() if gid not in named]
            if unknown:
                updates = sorted(updates + unknown, key=lambda u: u["gameId"])
            data = encode_json(self.odds_payload(updates)) if updates else None
            self._snapshot = (now, data)
        return data

    def _account(self) -> None:
        snapshot = self._snapshot[1]
        self.retained.set(len(self._games_payload or b"") + len(snapshot or b"") + self.odds.approx_bytes())

    def late_joiner_frames(self) -> list[bytes]:
        frames = super().late_joiner_frames()
        if frames:
            return frames
        frames = [sse_event("games", self._games_payload)] if self._games_payload else []
        snapshot = self._odds_snapshot_data()
        if snapshot:
            frames.append(sse_event("odds", snapshot))
        return frames

    async def poll_forever(self, interval: float, poll: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``poll`` every ``interval``; on failure back off exponentially with full jitter."""
        backoff = Backoff(interval, max(interval * 12, 60.0), self.ctx.rng)
        while True:
            try:
                await poll()
                backoff.reset()
                delay = interval
            except SwarmRequestError as exc:
                delay = interval + backoff.next_delay()
                log.warning("sport %s: %s poll failed (%s); next in %.1fs", self.sport_id, what, exc, delay)
            await self.ctx.clock.sleep(delay)


class LiveSport(SportGroup):
    """docs/api.md B2: games and main odds by subscription; counts from the shared counts group."""

    kind = "live"
    live = True

    def __init__(self, ctx: GroupContext, key: Hashable, sport_id: str) -> None:
        super().__init__(ctx, key, sport_id)
        self._counts: CountsFeed | None = None

    def start(self) -> None:
        self._counts = self.ctx.hold_counts(self._on_counts)
        super().start()

    async def run(self) -> None:
        await self.resolve_sport()
        self.subscribe(queries.sport_games(self.sport_num, live=True), self._games_data, self._games_refused,
                       tag="live:games")
        if self.priorities:
            self.subscribe(queries.live_main_odds(self.sport_num, self.priorities[0]), self._odds_data,
                           tag="live:odds")

    def _games_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        # delta None is a (re)subscription snapshot: resend even if unchanged (docs/api.md H).
        self.on_games(tree, delta, force=delta is None)

    def _games_refused(self, exc: SwarmError) -> None:
        log.warning("live %s: games subscription refused (%s); polling", self.sport_id, exc)
        self.spawn(self.poll_forever(self.ctx.settings.games_poll_interval, self._poll_games, "games"),
                   "live-games-poll")

    async def _poll_games(self) -> None:
        what, where = queries.sport_games(self.sport_num, live=True)
        self.on_games(await self.ctx.poll(what, where, 15.0))

    def _on_counts(self, live: bool, data: bytes) -> None:
        self.channel.publish_raw("counts" if live else "prematch_counts", data)

    def late_joiner_frames(self) -> list[bytes]:
        frames = []
        if self._counts is not None and self.failed is None:
            for live, event in ((True, "counts"), (False, "prematch_counts")):
                data = self._counts.cached(live)
                if data is not None:
                    frames.append(sse_event(event, data))
        return frames + super().late_joiner_frames()

    def _release_counts(self) -> None:
        counts, self._counts = self._counts, None
        if counts is not None:
            counts.release()

    def fail(self, message: str) -> None:
        super().fail(message)
        self._release_counts()

    async def close(self) -> None:
        try:
            self._release_counts()
        finally:
            await super().close()


class PrematchSport(SportGroup):
    """docs/api.md B3: games polled every 5 s; odds from rotating 30-game chunks and the featured sub."""

    kind = "prematch"
    live = False
    CHUNK = 30
    REFRESH_AFTER = 60.0

    def __init__(self, ctx: GroupContext, key: Hashable, sport_id: str) -> None:
        super().__init__(ctx, key, sport_id)
        self._cursor = 0
        self._cursor_sig: tuple[int, int | None] = (0, None)
        self._odds_now = asyncio.Event()

    async def run(self) -> None:
        await self.resolve_sport()
        self.spawn(self.poll_forever(self.ctx.settings.games_poll_interval, self._poll_games, "games"),
                   "prematch-games-poll")
        self.spawn(self._odds_loop(), "prematch-odds-poll")
        self.subscribe(queries.featured_odds(self.sport_num), self._featured_data, self._featured_refused,
                       tag="prematch:featured")

    def _featured_refused(self, exc: SwarmError) -> None:
        log.info("prematch %s: featured subscription failed silently: %s", self.sport_id, exc)

    async def _poll_games(self) -> None:
        what, where = queries.sport_games(self.sport_num, live=False)
        self.on_games(await self.ctx.poll(what, where, 15.0))
        self.odds.retain(self.game_ids)

    def after_games_emit(self) -> None:
        self._odds_now.set()

    async def _odds_loop(self) -> None:
        interval = self.ctx.settings.odds_poll_interval
        backoff = Backoff(interval, 60.0, self.ctx.rng)
        delay = 0.0
        while True:
            try:
                await within(self.ctx.clock, delay, self._odds_now.wait())
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
        chunk = self.next_chunk(self.ctx.clock.monotonic())
        if not chunk or not self.priorities:
            return
        what, where = queries.odds_chunk(chunk, self.priorities)
        self.on_odds(await self.ctx.poll(what, where, 20.0))

    def _featured_data(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        listed = set(self.game_ids)
        touched_now = touched_games(tree, delta)
        games = [g for g in (payloads.iter_odds_games(tree) if touched_now is None else touched_now)
                 if g.get("id") in listed]
        self.on_odds({"game": {str(g["id"]): g for g in games}}, allow_any=False)


class CompetitionGroup(SportGroup):
    """docs/api.md B5: main odds of one competition's games, live or prematch, by subscription."""

    kind = "competition"
    fallback_too = True  # competitions always add the fallback types (docs/api.md D9)
    snapshot_includes_null = True  # docs/api.md B5: every cached entry, odds null included

    def __init__(self, ctx: GroupContext, key: Hashable, competition_id: str, sport_id: str, live: bool) -> None:
        super().__init__(ctx, key, sport_id)
        self.competition_id = competition_id
        self.live = live

    async def run(self) -> None:
        await self.resolve_sport()
        self.subscribe(queries.competition_odds(int(self.competition_id), self.live), self._odds_data)

    def odds_payload(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"sportId": self.sport_id, "competitionId": self.competition_id, "updates": updates}


class GameGroup(Group):
    """docs/api.md B4, with score/info/stats changes pushed too (H)."""

    kind = "game"

    def __init__(self, ctx: GroupContext, key: Hashable, game_id: str) -> None:
        super().__init__(ctx, key)
        self.game_id = game_id
        self._payload: bytes | None = None
        self._last_data: bytes | None = None

    def start(self) -> None:
        self.subscribe(queries.single_game(int(self.game_id)), self._on_game)

    def _on_game(self, tree: dict[str, Any], delta: dict[str, Any] | None) -> None:
        if delta is not None and touched_games(tree, delta) == []:
            return  # the delta changed nothing under any game
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
        self.retained.set(len(payload) + len(data))
        self.channel.publish_raw("game", payload)

    def late_joiner_frames(self) -> list[bytes]:
        return super().late_joiner_frames() or ([sse_event("game", self._payload)] if self._payload else [])
