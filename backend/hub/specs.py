"""Typed stream specs: one small frozen dataclass per stream kind.

A spec is a validated stream request. It knows its group key, how many upstream subscriptions a
new group of its kind opens (what the registry's subscription budget counts) and how to build that
group; ``parse_*`` turn a query into a spec or the 400 message (docs/api.md B1-B5, in the original's order
of checks). The hub takes a spec and never looks inside it (``GroupHub.acquire`` in ``base.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from backend.http import positive_int

from .groups import CompetitionGroup, CountsGroup, GameGroup, Group, GroupContext, LiveSport, PrematchSport

MAX_NAME_LENGTH = 200  # a sportName longer than any sport's name is refused


@dataclass(frozen=True, slots=True)
class CountsSpec:
    kind: ClassVar[str] = "counts"
    subscriptions: ClassVar[int] = 2  # live and prematch counts

    @property
    def key(self) -> Hashable:
        return ("counts",)

    def build(self, ctx: GroupContext) -> Group:
        return CountsGroup(ctx, self.key)


COUNTS = CountsSpec()


@dataclass(frozen=True, slots=True)
class LiveSportSpec:
    sport_id: str
    kind: ClassVar[str] = "live"
    subscriptions: ClassVar[int] = 2  # games and main odds (the counts group is its own)
    holds: ClassVar[tuple[CountsSpec, ...]] = (COUNTS,)  # taken as it starts (OddsHub.hold_counts)

    @property
    def key(self) -> Hashable:
        return ("live", self.sport_id)

    def build(self, ctx: GroupContext) -> Group:
        return LiveSport(ctx, self.key, self.sport_id)


@dataclass(frozen=True, slots=True)
class PrematchSportSpec:
    sport_id: str
    kind: ClassVar[str] = "prematch"
    subscriptions: ClassVar[int] = 1  # featured odds (the rest is polled)

    @property
    def key(self) -> Hashable:
        return ("prematch", self.sport_id)

    def build(self, ctx: GroupContext) -> Group:
        return PrematchSport(ctx, self.key, self.sport_id)


@dataclass(frozen=True, slots=True)
class GameSpec:
    game_id: str
    kind: ClassVar[str] = "game"
    subscriptions: ClassVar[int] = 1

    @property
    def key(self) -> Hashable:
        return ("game", self.game_id)

    def build(self, ctx: GroupContext) -> Group:
        return GameGroup(ctx, self.key, self.game_id)


@dataclass(frozen=True, slots=True)
class CompetitionSpec:
    competition_id: str
    sport_id: str
    live: bool
    kind: ClassVar[str] = "competition"
    subscriptions: ClassVar[int] = 1

    @property
    def key(self) -> Hashable:
        return ("competition", f"{'live' if self.live else 'prematch'}:{self.competition_id}")

    def build(self, ctx: GroupContext) -> Group:
        return CompetitionGroup(ctx, self.key, self.competition_id, self.sport_id, self.live)


StreamSpec = CountsSpec | LiveSportSpec | PrematchSportSpec | GameSpec | CompetitionSpec


def _id(params: Mapping[str, str], name: str) -> str | None:
    """The canonical text of a positive integer parameter (``"007"`` is ``"7"``), or None."""
    value = positive_int(params.get(name))
    return None if value is None else str(value)


def _sport_name_error(params: Mapping[str, str]) -> str | None:
    # Accepted for compatibility (docs/api.md B2/B3) but never used: names come from the hierarchy, so
    # nothing a client sends changes what other clients get.
    name = params.get("sportName")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        return f"sportName must be at most {MAX_NAME_LENGTH} characters"
    return None


def parse_counts(params: Mapping[str, str]) -> StreamSpec | str:
    return COUNTS


def _sport_id(params: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(sport_id, None)`` or ``(None, the 400 message)``."""
    if not params.get("sportId"):
        return None, "sportId is required"
    sport_id = _id(params, "sportId")
    return (sport_id, None) if sport_id is not None else (None, "sportId must be a positive integer")


def parse_live(params: Mapping[str, str]) -> StreamSpec | str:
    sport_id, error = _sport_id(params)
    if sport_id is None:
        return error or ""
    return _sport_name_error(params) or LiveSportSpec(sport_id)


def parse_prematch(params: Mapping[str, str]) -> StreamSpec | str:
    sport_id, error = _sport_id(params)
    if sport_id is None:
        return error or ""
    return _sport_name_error(params) or PrematchSportSpec(sport_id)


def parse_game(params: Mapping[str, str]) -> StreamSpec | str:
    if not params.get("gameId"):
        return "gameId is required"
    game_id = _id(params, "gameId")
    return GameSpec(game_id) if game_id is not None else "gameId must be a positive integer"


def parse_competition(params: Mapping[str, str]) -> StreamSpec | str:
    mode = params.get("mode")
    if not params.get("competitionId"):
        return "competitionId is required"
    if not params.get("sportId"):
        return "sportId is required"
    if mode not in ("live", "prematch"):
        return "mode must be live or prematch"
    competition_id, sport_id = _id(params, "competitionId"), _id(params, "sportId")
    if competition_id is None:
        return "competitionId must be a positive integer"
    if sport_id is None:
        return "sportId must be a positive integer"
    return _sport_name_error(params) or CompetitionSpec(competition_id, sport_id, mode == "live")
