"""Typed payloads of the HTTP/SSE API (docs/api.md A1, B1-B3, C), decoded with msgspec at the edge.

Fields the UI does not read are skipped by the decoder (not even materialised), which keeps large
hierarchy and games payloads cheap. Scalar fields whose upstream type varies (ids as numbers or
strings, flags as 0/1 or booleans, prices that must be numbers) are typed ``Any`` and interpreted by
the pure code that reads them, so an odd value degrades one cell instead of dropping the message.

``decode(text, kind)`` raises ``DecodeError`` (msgspec's errors wrapped with the payload kind).
``decode_packed(data, kind)`` does the same for the msgpack bytes the parse worker answers (docs/design.md R10).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "CountsPayload",
    "DecodeError",
    "ErrorPayload",
    "Game",
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


class SportCount(msgspec.Struct):
    name: str = ""
    count: Any = 0


class CountsPayload(msgspec.Struct):
    """``live_counts`` / ``prematch_counts`` / live-stream ``counts``."""

    sports: list[SportCount] = []
    total_games: Any = None


class Outcome(msgspec.Struct):
    label: Any = None
    price: Any = None
    blocked: Any = False


class OddsUpdate(msgspec.Struct):
    gameId: Any = None
    odds: list[Outcome] | None = None
    markets_count: Any = None


class OddsPayload(msgspec.Struct):
    sportId: Any = None
    updates: list[OddsUpdate] = []
    competitionId: Any = None


class Game(msgspec.Struct):
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


class GamesPayload(msgspec.Struct):
    sportId: Any = None
    sportName: Any = None
    data: list[Game] = []
    last_updated: Any = None


class ErrorPayload(msgspec.Struct):
    error: Any = None


class HierarchySport(msgspec.Struct):
    id: Any = None
    name: Any = None
    alias: Any = None
    order: Any = None


class HierarchyData(msgspec.Struct):
    sport: dict[str, HierarchySport] | None = None


class HierarchyBody(msgspec.Struct):
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


_TYPES: dict[str, type] = {
    "counts": CountsPayload,
    "games": GamesPayload,
    "odds": OddsPayload,
    "error": ErrorPayload,
    "hierarchy": HierarchyBody,
}
_DECODERS: dict[str, msgspec.json.Decoder] = {kind: msgspec.json.Decoder(t) for kind, t in _TYPES.items()}
# For what the parse worker sends back: the same payload as msgpack (worker/parse.py says why).
_PACKED_DECODERS: dict[str, msgspec.msgpack.Decoder] = {
    kind: msgspec.msgpack.Decoder(t) for kind, t in _TYPES.items()
}


def decode(text: str, kind: str) -> Any:
    """Decode ``text`` as the payload ``kind`` (counts, games, odds, error, hierarchy)."""
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
