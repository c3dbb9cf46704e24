"""The hub's SSE payloads as msgspec Structs: the schema of every event, for /schema and for tests.

The live tracker's frames are the front end's own Structs (``oddsui.tracker_feed``), shared with
the simulator and the UI. The odds groups build their payloads as plain dicts (a game in a ``games`` list is the feed's game object
with names injected, and passes through whatever fields the feed sends); these Structs say what a
client can rely on. ``tests/integration/test_api_document.py`` decodes real events with them, so the
document cannot drift from the wire. The API in prose: ``docs/api.md``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from oddsui.tracker_feed import Frame as TrackerFrame


class SportCount(msgspec.Struct):
    name: str
    count: int


class Counts(msgspec.Struct):
    """``live_counts``, ``prematch_counts`` (counts stream) and ``counts`` (live stream)."""

    sports: list[SportCount]
    total_games: int


class ListGame(msgspec.Struct, kw_only=True):
    """One game of a ``games`` list: the feed's game fields, plus ``sport``/``region``/``competition``
    names and an empty ``market``. Fields the feed does not send are absent."""

    id: int
    team1_name: str | None = None
    team2_name: str | None = None
    start_ts: int | float | None = None
    type: int | None = None
    sport_id: int | None = None
    is_blocked: int | bool | None = None
    info: dict[str, Any] | None = None
    text_info: str | None = None
    markets_count: int | None = None
    visible_in_prematch: int | None = None
    competition_id: int | None = None
    region_id: int | None = None
    sport: str
    region: str
    competition: str
    market: dict[str, Any]


class Games(msgspec.Struct):
    """``games``: the whole list of a sport, sent whenever its fingerprint changes."""

    sportId: str
    sportName: str
    data: list[ListGame]
    last_updated: str


class Outcome(msgspec.Struct):
    label: str
    price: float | int | None
    blocked: bool


class OddsUpdate(msgspec.Struct):
    gameId: int | str
    odds: list[Outcome] | None
    markets_count: int | None


class Odds(msgspec.Struct):
    """``odds`` on the live and prematch streams: main-market odds of the games that changed."""

    sportId: str
    updates: list[OddsUpdate]


class CompetitionOdds(msgspec.Struct):
    """``odds`` on the competition stream."""

    sportId: str
    competitionId: str
    updates: list[OddsUpdate]


class Game(msgspec.Struct):
    """``game``: one game with every market (``data.market`` keyed by market id, each with
    ``event`` keyed by event id)."""

    gameId: str
    data: dict[str, Any]
    last_updated: str


class Error(msgspec.Struct):
    """``error`` (and every JSON 400/429/404 body)."""

    error: str


class ResultGame(msgspec.Struct, kw_only=True):
    """One finished game of /api/results/games/{sportId} (the feed's fields pass through)."""

    game_id: int | str
    team1_name: str | None = None
    team2_name: str | None = None
    date: int | float | None = None
    region_name: str | None = None
    competition_name: str | None = None
    scores: str | None = None


class Settlement(msgspec.Struct):
    market: str | None
    winners: list[Any]


class ResultsCompetitions(msgspec.Struct):
    success: bool
    data: Any
    timestamp: str


class ResultsGames(msgspec.Struct):
    success: bool
    sportId: int | float
    count: int
    games: list[ResultGame]
    timestamp: str


class ResultsGame(msgspec.Struct):
    success: bool
    gameId: str
    settlements: list[Settlement]
    raw: Any
    timestamp: str


class ResultsError(msgspec.Struct):
    success: bool
    error: str


class CountsStreamEvents(msgspec.Struct):
    """The events of /api/counts-stream: each SSE message ``event: <field>`` carries that JSON."""

    live_counts: Counts
    prematch_counts: Counts
    error: Error


class LiveStreamEvents(msgspec.Struct):
    """The events of /api/live-stream."""

    counts: Counts
    prematch_counts: Counts
    games: Games
    odds: Odds
    error: Error


class PrematchStreamEvents(msgspec.Struct):
    """The events of /api/prematch-stream."""

    games: Games
    odds: Odds
    error: Error


class GameStreamEvents(msgspec.Struct):
    """The events of /api/live-game-stream."""

    game: Game
    error: Error


class CompetitionStreamEvents(msgspec.Struct):
    """The events of /api/competition-odds-stream."""

    odds: CompetitionOdds
    error: Error


class GameRef(msgspec.Struct):
    gameId: str


class TrackerStreamEvents(msgspec.Struct):
    """The events of /api/live-tracker. ``message`` stands for the unnamed messages (a browser's
    ``message`` event): the feed's frames, the match state first (``oddsui.tracker_feed``)."""

    ready: GameRef
    message: TrackerFrame
    end: GameRef
    error: Error
