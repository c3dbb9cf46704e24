"""The results history: finished games and what they settled (pure data and formatting).

:class:`ResultsHistory` keeps :class:`FinishedGame` records in the order they were added (the
generated past days first, then games that finish while the simulator runs) and answers the three
results commands: ``get_active_competitions``, ``get_result_games`` and ``get_results``. Records
older than the retention window are pruned as new ones arrive, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from .catalog import SportProfile, period_name


@dataclass(frozen=True, slots=True)
class FinishedGame:
    game_id: int
    sport: SportProfile
    region_id: int
    region_name: str
    competition_id: int
    competition_name: str
    team1_name: str
    team2_name: str
    date: int  # start time, unix seconds
    periods: tuple[tuple[int, int], ...]  # per period (timed) or per set

    @property
    def final(self) -> tuple[int, int]:
        """Goals/points for timed sports; sets won for set sports."""
        if self.sport.kind == "timed":
            return sum(a for a, _ in self.periods), sum(b for _, b in self.periods)
        won1 = sum(1 for a, b in self.periods if a > b)
        return won1, len(self.periods) - won1

    @property
    def scores(self) -> str:
        """Display string, e.g. ``2:1 (1:0, 1:1)``."""
        s1, s2 = self.final
        inner = ", ".join(f"{a}:{b}" for a, b in self.periods)
        return f"{s1}:{s2} ({inner})" if inner else f"{s1}:{s2}"

    def listing(self) -> dict[str, Any]:
        """The ``get_result_games`` entry."""
        return {
            "game_id": self.game_id,
            "team1_name": self.team1_name,
            "team2_name": self.team2_name,
            "date": self.date,
            "region_name": self.region_name,
            "competition_name": self.competition_name,
            "scores": self.scores,
            "sport_id": self.sport.id,
        }

    def settlements(self) -> list[dict[str, Any]]:
        """The ``get_results`` lines: each market with its winning outcome names."""
        p = self.sport
        s1, s2 = self.final
        winner = "W1" if s1 > s2 else "W2" if s2 > s1 else "Draw"
        lines: list[tuple[str, list[str]]] = []
        if p.three_way:
            lines.append(("Match Result", [winner]))
            double = {"W1": ["1X", "12"], "Draw": ["1X", "X2"], "W2": ["12", "X2"]}[winner]
            lines.append(("Double Chance", double))
        else:
            lines.append(("Match Winner", [winner]))
        if p.kind == "timed":
            line = math.floor(2 * p.mean_score) + 0.5
            lines.append((f"Total {p.score_noun} ({line:g})", ["Over" if s1 + s2 > line else "Under"]))
            if p.score_model == "poisson":
                lines.append(("Both Teams To Score", ["Yes" if s1 and s2 else "No"]))
                lines.append(("Correct Score", [f"{s1}:{s2}"]))
            for index, (a, b) in enumerate(self.periods, start=1):
                result = "W1" if a > b else "W2" if b > a else "Draw"
                lines.append((f"{period_name(p, index)} Result", [result]))
        else:
            lines.append(("Correct Score", [f"{s1}:{s2}"]))
            line = p.sets_to_win + 0.5
            lines.append((f"Total Sets ({line:g})", ["Over" if s1 + s2 > line else "Under"]))
            for index, (a, b) in enumerate(self.periods, start=1):
                lines.append((f"{period_name(p, index)} Winner", ["W1" if a > b else "W2"]))
        return [{"line_name": name, "events": {"event_name": names}} for name, names in lines]


class ResultsHistory:
    """Finished games, newest last, pruned to ``retention`` seconds before the latest addition."""

    def __init__(self, retention: float) -> None:
        self._retention = retention
        self._order: deque[int] = deque()
        self._games: dict[int, FinishedGame] = {}

    def __len__(self) -> int:
        return len(self._games)

    def add(self, game: FinishedGame, now: float) -> None:
        self._games[game.game_id] = game
        self._order.append(game.game_id)
        horizon = now - self._retention
        while self._order and self._games[self._order[0]].date < horizon:
            del self._games[self._order.popleft()]

    def get(self, game_id: int) -> FinishedGame | None:
        return self._games.get(game_id)

    def between(self, start: float, end: float, sport_id: int | None = None) -> list[FinishedGame]:
        """Games that started in ``[start, end)``, optionally of one sport, by date then id."""
        found = [
            g for g in self._games.values()
            if start <= g.date < end and (sport_id is None or g.sport.id == sport_id)
        ]
        return sorted(found, key=lambda g: (g.date, g.game_id))

    def active_competitions(self, start: float, end: float) -> list[dict[str, Any]]:
        """``get_active_competitions``: sports > regions > competitions with results in the window."""
        sports: dict[int, dict[str, Any]] = {}
        regions: dict[tuple[int, int], dict[str, Any]] = {}
        seen: set[tuple[int, int, int]] = set()
        for g in sorted(self.between(start, end), key=lambda g: (g.sport.id, g.region_id, g.competition_id)):
            sport = sports.get(g.sport.id)
            if sport is None:
                sport = {"Id": g.sport.id, "Name": g.sport.name, "Alias": g.sport.alias, "Regions": []}
                sports[g.sport.id] = sport
            region = regions.get((g.sport.id, g.region_id))
            if region is None:
                region = {"Id": g.region_id, "Name": g.region_name, "Competitions": []}
                regions[(g.sport.id, g.region_id)] = region
                sport["Regions"].append(region)
            key = (g.sport.id, g.region_id, g.competition_id)
            if key not in seen:
                seen.add(key)
                region["Competitions"].append({"Id": g.competition_id, "Name": g.competition_name})
        return list(sports.values())
