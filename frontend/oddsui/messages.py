"""Typed payloads of the HTTP/SSE API (docs/api.md A1, B1-B3, C), decoded with msgspec at the edge.

Fields the UI does not read are skipped by the decoder (not even materialised), which keeps large
hierarchy and games payloads cheap. Scalar fields whose upstream type varies (ids as numbers or
strings, flags as 0/1 or booleans, prices that must be numbers) are typed ``Any`` and interpreted by
the pure code that reads them, so an odd value degrades one cell instead of dropping the message.

``decode(text, kind)`` raises ``DecodeError`` (msgspec's errors wrapped with the payload kind).

Every struct is ``gc=False``: a decoded payload is a tree (it holds strings, numbers, lists and dicts
from JSON, never a reference back), so the cyclic garbage collector has no business walking it. A
3,000-game list is some 100,000 objects; tracking them made collections that held the main thread
for tens of ms in the task that applied the list.
``decode_packed(data, kind)`` does the same for the msgpack bytes the parse worker answers (docs/design.md R10).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .tracker_feed import Frame as TrackerFrame

__all__ = [
    "CountsPayload",
    "DecodeError",
    "ErrorPayload",
    "FullGame",
    "Game",
    "GamePayload",
    "GameRef",
    "GameStats",
    "HealthAlert",
    "HealthPayload",
    "HealthSeries",
    "Market",
    "MarketEvent",
    "ResultGame",
    "ResultsCompetitions",
    "ResultsGame",
    "ResultsGames",
    "ResultSport",
    "Settlement",
    "TeamStats",
    "Warmup",
    "GamesPayload",
    "HierarchyBody",
    "HierarchySport",
    "OddsPayload",
    "OddsUpdate",
    "Outcome",
    "SportCount",
    "decode",
    "decode_packed",
]


class DecodeError(ValueError):
    """A payload did not match its expected shape."""


class SportCount(msgspec.Struct, gc=False):
    name: str = ""
    count: Any = 0


class CountsPayload(msgspec.Struct, gc=False):
    """``live_counts`` / ``prematch_counts`` / live-stream ``counts``."""

    sports: list[SportCount] = []
    total_games: Any = None


class Outcome(msgspec.Struct, gc=False):
    label: Any = None
    price: Any = None
    blocked: Any = False


class OddsUpdate(msgspec.Struct, gc=False):
    gameId: Any = None
    odds: list[Outcome] | None = None
    markets_count: Any = None


class OddsPayload(msgspec.Struct, gc=False):
    sportId: Any = None
    updates: list[OddsUpdate] = []
    competitionId: Any = None


class Game(msgspec.Struct, gc=False):
    """A list game (docs/api.md C1). Only the fields the rows read are decoded."""

    id: Any = None
    gameId: Any = None
    sport_id: Any = None
    type: Any = None
    start_ts: Any = None
    team1_name: Any = None
    team2_name: Any = None
    name: Any = None
    is_blocked: Any = None
    info: Any = None
    text_info: Any = None
    stats: Any = None
    markets_count: Any = None
    market: Any = None
    competition_id: Any = None
    competitionId: Any = None
    region_id: Any = None
    sport: Any = None
    region: Any = None
    competition: Any = None
    visible_in_prematch: Any = None


class GamesPayload(msgspec.Struct, gc=False):
    sportId: Any = None
    sportName: Any = None
    data: list[Game] = []
    last_updated: Any = None


class ErrorPayload(msgspec.Struct, gc=False):
    error: Any = None


class MarketEvent(msgspec.Struct, gc=False):
    """An outcome of a market in a full game (docs/api.md C3)."""

    id: Any = None
    market_id: Any = None
    name: Any = None
    type: Any = None
    type_1: Any = None
    price: Any = None
    base: Any = None
    order: Any = None
    is_blocked: Any = None


class Market(msgspec.Struct, gc=False):
    """A market of a full game (docs/api.md C3); ``event`` is a map keyed by event id."""

    id: Any = None
    name: Any = None
    name_template: Any = None
    type: Any = None
    display_key: Any = None
    display_sub_key: Any = None
    order: Any = None
    is_blocked: Any = None
    col_count: Any = None
    group_id: Any = None
    group_name: Any = None
    group_order: Any = None
    base: Any = None
    event: dict[str, MarketEvent | None] | None = None


class FullGame(msgspec.Struct, gc=False):
    """The game of a ``game`` event (docs/api.md B4, C3): a list game's fields plus every market."""

    id: Any = None
    gameId: Any = None
    type: Any = None
    start_ts: Any = None
    team1_name: Any = None
    team2_name: Any = None
    name: Any = None
    is_blocked: Any = None
    info: Any = None
    text_info: Any = None
    stats: Any = None
    live_events: Any = None
    last_event: Any = None
    markets_count: Any = None
    match_length: Any = None
    is_stat_available: Any = None
    sport_alias: Any = None
    region_alias: Any = None
    sport: Any = None
    region: Any = None
    competition: Any = None
    market: dict[str, Market | None] | None = None


class GamePayload(msgspec.Struct, gc=False):
    """``/api/live-game-stream``'s ``game`` event."""

    gameId: Any = None
    data: FullGame | None = None
    last_updated: Any = None


class GameRef(msgspec.Struct, gc=False):
    """``/api/live-tracker``'s ``ready`` and ``end`` events."""

    gameId: Any = None


class ResultCompetition(msgspec.Struct, gc=False):
    Id: Any = None
    Name: Any = None


class ResultRegion(msgspec.Struct, gc=False):
    Id: Any = None
    Name: Any = None
    Competitions: list[ResultCompetition] | None = None


class ResultSport(msgspec.Struct, gc=False):
    Id: Any = None
    Name: Any = None
    Alias: Any = None
    Regions: list[ResultRegion] | None = None


class ResultsCompetitions(msgspec.Struct, gc=False):
    """``GET /api/results/competitions`` (docs/api.md A5): ``data`` is a list of sports."""

    success: Any = None
    data: list[ResultSport] | None = None
    error: Any = None


class ResultGame(msgspec.Struct, gc=False):
    game_id: Any = None
    team1_name: Any = None
    team2_name: Any = None
    date: Any = None
    region_name: Any = None
    competition_name: Any = None
    scores: Any = None


class ResultsGames(msgspec.Struct, gc=False):
    """``GET /api/results/games/{sportId}`` (docs/api.md A6)."""

    success: Any = None
    sportId: Any = None
    count: Any = None
    games: list[ResultGame] | None = None
    error: Any = None
    timestamp: Any = None


class Settlement(msgspec.Struct, gc=False):
    market: Any = None
    winners: list[Any] | None = None


class ResultsGame(msgspec.Struct, gc=False):
    """``GET /api/results/game/{gameId}`` (docs/api.md A7)."""

    success: Any = None
    gameId: Any = None
    settlements: list[Settlement] | None = None
    error: Any = None


class TeamStats(msgspec.Struct, gc=False):
    position: Any = None
    points: Any = None
    form: list[Any] | None = None


class GameStats(msgspec.Struct, gc=False):
    """``GET /api/game-stats`` (docs/api.md A4): ``{"error"}`` here; ``stats.home``/``away`` if a backend has them."""

    error: Any = None
    stats: dict[str, TeamStats | None] | None = None


class HealthAlert(msgspec.Struct, gc=False):
    name: Any = None
    severity: Any = None
    message: Any = None
    value: Any = None
    threshold: Any = None
    service: Any = None


class HealthSeries(msgspec.Struct, gc=False):
    odds_feed: list[Any] | None = None
    tracker_feed: list[Any] | None = None


class HealthPayload(msgspec.Struct, gc=False):
    """``GET /api/health`` (docs/api.md A2) as the health modal reads it. The sections are kept as
    plain mappings: the cards read a field each, with a default when it is missing."""

    status: Any = None
    uptime: Any = None
    live_tracker: dict[str, Any] | None = None
    swarm_ws: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    responseTime: dict[str, Any] | None = None
    counts_stream: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    upstream: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None
    messages_per_second: HealthSeries | None = None
    alerts: list[HealthAlert] | None = None


class Warmup(msgspec.Struct, gc=False):
    status: Any = None


class ScrapeResult(msgspec.Struct, gc=False):
    """``/api/fetch-all-sports`` (Bulk Scrape): how many sports were fetched, and the errors."""

    count: Any = 0
    errors: Any = None


class HierarchySport(msgspec.Struct, gc=False):
    id: Any = None
    name: Any = None
    alias: Any = None
    order: Any = None


class HierarchyData(msgspec.Struct, gc=False):
    sport: dict[str, HierarchySport] | None = None


class HierarchyBody(msgspec.Struct, gc=False):
    """``GET /api/hierarchy``: ``sport`` at the top level, or under ``data`` (UI reads ``body.data || body``)."""

    sport: dict[str, HierarchySport] | None = None
    data: HierarchyData | None = None
    cached: Any = None
    stale: Any = None
    error: Any = None

    def sports(self) -> dict[str, HierarchySport]:
        if self.data is not None and self.data.sport:
            return self.data.sport
        return self.sport or {}


_TYPES: dict[str, Any] = {
    "counts": CountsPayload,
    "games": GamesPayload,
    "odds": OddsPayload,
    "error": ErrorPayload,
    "hierarchy": HierarchyBody,
    "game": GamePayload,
    "gameref": GameRef,
    "tracker": TrackerFrame,
    "results_competitions": ResultsCompetitions,
    "results_games": ResultsGames,
    "results_game": ResultsGame,
    "game_stats": GameStats,
    "health": HealthPayload,
    "warmup": Warmup,
    "scrape": ScrapeResult,
}
_DECODERS: dict[str, msgspec.json.Decoder] = {kind: msgspec.json.Decoder(t) for kind, t in _TYPES.items()}
# For what the parse worker sends back: the same payload as msgpack (worker/parse.py says why).
_PACKED_DECODERS: dict[str, msgspec.msgpack.Decoder] = {
    kind: msgspec.msgpack.Decoder(t) for kind, t in _TYPES.items()
}


def decode(text: str, kind: str) -> Any:
    """Decode ``text`` as the payload ``kind`` (a key of ``_TYPES``: counts, games, odds, error,
    hierarchy, game, gameref, tracker, the results, game_stats, health, warmup, scrape)."""
    try:
        return _DECODERS[kind].decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(f"{kind} payload: {exc}") from exc


def decode_packed(data: bytes, kind: str) -> Any:
    """Decode the parse worker's msgpack answer as the payload ``kind``; same result as ``decode``."""
    try:
        return _PACKED_DECODERS[kind].decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(f"{kind} payload: {exc}") from exc
