"""Pure UI state: sports, counts, the current sport's games and their main odds (docs/design.md R10: dicts by id).

The store knows nothing about the DOM or the network. Each ``apply_*`` method takes a decoded
payload and returns what changed, so the app can schedule exactly the DOM work needed:

* ``set_hierarchy``  -> the sorted sport list (by ``order``, default 999, then name)
* ``apply_counts``   -> whether the counts of that mode changed (matched by lowercased name)
* ``set_games``      -> a ``GamesChange`` (added / removed / updated game keys, order changed)
* ``apply_odds``     -> the keys of games whose row odds or pill changed

Games are kept in a dict keyed by the client key ``str(id ?? gameId ?? index)`` (docs/api.md C1); odds
by the same key. Odds for games not in the list are dropped when the list is replaced, so memory
follows the current list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .messages import CountsPayload, Game, GamesPayload, HierarchyBody, OddsPayload, Outcome

__all__ = ["GameOdds", "GamesChange", "Sport", "Store", "game_key", "LIVE", "PREMATCH", "MODES"]

LIVE = "live"
PREMATCH = "prematch"
MODES = (PREMATCH, LIVE)
DEFAULT_ORDER = 999
# Odds may arrive for games the list does not (yet) hold; keep at most this many of those.
MAX_UNKNOWN_ODDS = 5000


@dataclass(frozen=True)
class Sport:
    id: str
    name: str
    alias: str
    order: float


@dataclass
class GameOdds:
    """The row odds of one game: the last non-null outcome list and the markets count."""

    outcomes: list[Outcome] | None = None
    markets_count: Any = None


@dataclass
class GamesChange:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    order_changed: bool = False

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.order_changed)


def game_key(game: Game, index: int) -> str:
    if game.id is not None:
        return str(game.id)
    if game.gameId is not None:
        return str(game.gameId)
    return str(index)


def _order_of(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            return float(DEFAULT_ORDER)
    return float(value)


def _row_fingerprint(game: Game) -> tuple[Any, ...]:
    # Everything a row displays; a changed tuple means the row needs a refresh.
    return (
        game.team1_name, game.team2_name, game.name, game.type, game.start_ts, game.is_blocked,
        repr(game.info), game.text_info, repr(game.stats), game.markets_count, game.sport,
        game.region, game.competition,
    )


class Store:
    def __init__(self) -> None:
        self.sports: list[Sport] = []
        self.sports_by_id: dict[str, Sport] = {}
        self.counts: dict[str, dict[str, int]] = {LIVE: {}, PREMATCH: {}}
        self.totals: dict[str, int | None] = {LIVE: None, PREMATCH: None}
        self.counts_known: dict[str, bool] = {LIVE: False, PREMATCH: False}
        self.games: dict[str, Game] = {}
        self.game_order: list[str] = []
        self.odds: dict[str, GameOdds] = {}
        self.games_sport_name: str | None = None
        self.games_updated: Any = None
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self.prices_moved = 0  # outcome prices of listed games that changed (a running count)
        self.version = 0  # changes whenever the game list does (views cache what they derive from it)

    # ---------------------------------------------------------------- sports and counts

    def set_hierarchy(self, body: HierarchyBody) -> list[Sport]:
        """Replace the sport list from ``/api/hierarchy``; raises ValueError when it has no sports."""
        sports = []
        for key, entry in body.sports().items():
            sport_id = str(entry.id) if entry.id is not None else str(key)
            name = str(entry.name) if entry.name is not None else sport_id
            alias = str(entry.alias) if entry.alias is not None else name
            sports.append(Sport(id=sport_id, name=name, alias=alias, order=_order_of(entry.order)))
        if not sports:
            raise ValueError("hierarchy has no sports")
        sports.sort(key=lambda s: (s.order, s.name.lower(), s.id))
        self.sports = sports
        self.sports_by_id = {s.id: s for s in sports}
        return sports

    def apply_counts(self, mode: str, payload: CountsPayload) -> bool:
        """Replace a mode's counts; returns whether anything visible changed."""
        counts: dict[str, int] = {}
        for entry in payload.sports:
            count = entry.count
            if isinstance(count, bool) or not isinstance(count, (int, float)):
                continue
            name = entry.name.lower()
            counts[name] = counts.get(name, 0) + int(count)
        total_raw = payload.total_games
        if isinstance(total_raw, (int, float)) and not isinstance(total_raw, bool):
            total = int(total_raw)
        else:
            total = sum(counts.values())
        changed = counts != self.counts[mode] or total != self.totals[mode] or not self.counts_known[mode]
        self.counts[mode] = counts
        self.totals[mode] = total
        self.counts_known[mode] = True
        return changed

    def count_for(self, mode: str, sport: Sport) -> int | None:
        """The sport's count in that mode (0 if absent), or None before any counts arrived."""
        if not self.counts_known[mode]:
            return None
        return self.counts[mode].get(sport.name.lower(), 0)

    # ---------------------------------------------------------------- games and odds

    def clear_games(self) -> list[str]:
        """Forget the current sport's games and odds; returns the removed keys."""
        removed = list(self.game_order)
        self.version += 1
        self.games = {}
        self.game_order = []
        self.odds = {}
        self._fingerprints = {}
        self.games_sport_name = None
        self.games_updated = None
        return removed

    def set_games(self, payload: GamesPayload) -> GamesChange:
        """Replace the game list (a ``games`` event); odds of games that left are dropped.

        One pass over the list (it runs in the task that received a list of thousands): no object
        is made per game beyond its fingerprint; a game without odds yet gets no odds entry (its
        row reads the list's ``markets_count``)."""
        change = GamesChange()
        new_games: dict[str, Game] = {}
        new_order: list[str] = []
        fingerprints: dict[str, tuple[Any, ...]] = {}
        old_fingerprints = self._fingerprints
        odds = self.odds
        added, updated = change.added, change.updated
        for index, game in enumerate(payload.data):
            key = game_key(game, index)
            if key in new_games:
                continue  # a duplicate id: the first one wins, like the DOM lookup would
            new_games[key] = game
            new_order.append(key)
            fingerprint = _row_fingerprint(game)
            fingerprints[key] = fingerprint
            old = old_fingerprints.get(key)
            if old is None:
                added.append(key)
            elif old != fingerprint:
                updated.append(key)
            entry = odds.get(key)
            count = game.markets_count
            if entry is not None and isinstance(count, (int, float)) and not isinstance(count, bool):
                # The list's count is as fresh as the last odds event's; the newest one wins.
                entry.markets_count = count
        for key in self.game_order:
            if key not in new_games:
                change.removed.append(key)
        for key in [k for k in odds if k not in new_games]:
            del odds[key]
        if change.removed or added:
            change.order_changed = [k for k in new_order if k in self.games] != [
                k for k in self.game_order if k in new_games]
        else:
            change.order_changed = new_order != self.game_order
        self.games = new_games
        self.game_order = new_order
        self.version += 1
        self._fingerprints = fingerprints
        self.games_sport_name = payload.sportName if isinstance(payload.sportName, str) else None
        self.games_updated = payload.last_updated
        return change

    def apply_odds(self, payload: OddsPayload) -> list[str]:
        """Merge an ``odds`` event; returns the keys of known games whose row changed.

        ``odds: null`` keeps the old prices and only updates the markets count (docs/api.md C2).
        """
        changed: list[str] = []
        for update in payload.updates:
            if update.gameId is None:
                continue
            key = str(update.gameId)
            entry = self.odds.get(key)
            if entry is None:
                if key not in self.games and len(self.odds) >= len(self.games) + MAX_UNKNOWN_ODDS:
                    continue  # bounded: odds for games we were never told about
                entry = self.odds[key] = GameOdds()
            before = (entry.outcomes, entry.markets_count)
            if update.odds is not None:
                if key in self.games:
                    old = entry.outcomes or []
                    self.prices_moved += sum(1 for i, o in enumerate(update.odds)
                                             if i >= len(old) or old[i].price != o.price)
                entry.outcomes = list(update.odds)
            if update.markets_count is not None:
                entry.markets_count = update.markets_count
            if key in self.games and (entry.outcomes, entry.markets_count) != before:
                changed.append(key)
        return changed

    def odds_for(self, key: str) -> GameOdds | None:
        return self.odds.get(key)

    def ordered_games(self) -> Iterable[tuple[str, Game]]:
        for key in self.game_order:
            yield key, self.games[key]
