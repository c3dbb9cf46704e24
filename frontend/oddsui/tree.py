"""Pure structure of the games view: region -> competition grouping and keyed child reconciliation.

``group_games`` groups games in the order the server sent them (docs/api.md C1: the UI does not sort),
each group appearing where its first game appears; games without names fall into "Other".

``plan_children(old, new)`` computes the DOM operations turning a keyed child list ``old`` into
``new``: removals, then insertions/moves. Children already in the right relative order (a longest
increasing subsequence) stay put, so an unchanged list costs nothing and one moved game costs one
move. The views apply the plan through the DOM port.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import Game

__all__ = ["CompetitionGroup", "RegionGroup", "group_games", "plan_children", "apply_plan", "OTHER"]

OTHER = "Other"


@dataclass
class CompetitionGroup:
    key: str
    name: str
    competition_id: str | None
    game_keys: list[str] = field(default_factory=list)


@dataclass
class RegionGroup:
    key: str
    name: str
    competitions: list[CompetitionGroup] = field(default_factory=list)

    @property
    def game_count(self) -> int:
        return sum(len(c.game_keys) for c in self.competitions)


def _name(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        inner = value.get("name")
        if isinstance(inner, str) and inner.strip():
            return inner.strip()
    return None


def _competition_id(game: Game) -> str | None:
    for value in (game.competition_id, game.competitionId):
        if value is not None:
            return str(value)
    if isinstance(game.competition, dict) and game.competition.get("id") is not None:
        return str(game.competition["id"])
    return None


def group_games(games: Iterable[tuple[str, Game]]) -> list[RegionGroup]:
    regions: dict[str, RegionGroup] = {}
    competitions: dict[tuple[str, str], CompetitionGroup] = {}
    # The group of each (region, competition) value pair seen: a 3,000-game list has a few hundred
    # pairs, so most games cost one lookup, not two name normalisations (a dict-valued name is not
    # hashable: those games take the long way).
    seen: dict[tuple[Any, Any], CompetitionGroup] = {}
    for key, game in games:
        raw: tuple[Any, Any] | None = (game.region, game.competition)
        try:
            known = seen.get(raw)
        except TypeError:
            raw = known = None
        if known is not None:
            known.game_keys.append(key)
            continue
        region_name = _name(game.region) or OTHER
        competition_name = _name(game.competition) or OTHER
        region = regions.get(region_name)
        if region is None:
            region = regions[region_name] = RegionGroup(key=f"r:{region_name}", name=region_name)
        comp_key = (region_name, competition_name)
        competition = competitions.get(comp_key)
        if competition is None:
            competition = competitions[comp_key] = CompetitionGroup(
                key=f"c:{region_name}\x1f{competition_name}", name=competition_name,
                competition_id=_competition_id(game),
            )
            region.competitions.append(competition)
        if raw is not None:
            seen[raw] = competition
        competition.game_keys.append(key)
    return list(regions.values())


# ------------------------------------------------------------------------------------------------
# keyed reconciliation

Op = tuple[str, Hashable, Hashable | None]  # ("remove", key, None) | ("insert", key, before_key)


def _lis_positions(seq: Sequence[int]) -> list[int]:
    """Indices (into seq) of one longest strictly increasing subsequence."""
    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(seq)
    for i, value in enumerate(seq):
        pos = bisect_left(tails, value)
        if pos == len(tails):
            tails.append(value)
            tails_idx.append(i)
        else:
            tails[pos] = value
            tails_idx[pos] = i
        prev[i] = tails_idx[pos - 1] if pos > 0 else -1
    out: list[int] = []
    i = tails_idx[-1] if tails_idx else -1
    while i != -1:
        out.append(i)
        i = prev[i]
    out.reverse()
    return out


def plan_children(old: Sequence[Hashable], new: Sequence[Hashable]) -> list[Op]:
    """Operations turning child order ``old`` into ``new`` (keys unique in each).

    ``("remove", k, None)`` detaches k; ``("insert", k, before)`` inserts or moves k right before
    ``before`` (None: append). Apply them in order.
    """
    new_set = set(new)
    ops: list[Op] = [("remove", key, None) for key in old if key not in new_set]
    kept = [key for key in old if key in new_set]
    new_index = {key: i for i, key in enumerate(new)}
    stable = {kept[i] for i in _lis_positions([new_index[key] for key in kept])}
    # Walk backwards so each insert's reference node is already in its final place.
    before: Hashable | None = None
    for key in reversed(new):
        if key not in stable:
            ops.append(("insert", key, before))
        before = key
    return ops


def apply_plan(order: list[Hashable], ops: Iterable[Op]) -> list[Hashable]:
    """Apply a plan to a plain list (the reference semantics the DOM follows)."""
    result = list(order)
    for op, key, before in ops:
        if key in result:
            result.remove(key)
        if op == "insert":
            result.insert(len(result) if before is None else result.index(before), key)
    return result
