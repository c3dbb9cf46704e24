"""Pure builders for the hub's SSE payloads, and the fingerprints that decide when to emit.

Everything here follows docs/api.md B, C and D: counts from the counts subscriptions, the ``games`` list
with injected ``sport``/``region``/``competition`` names, the main-market rule and the 1/X/2 odds
array, and the fingerprints that make emission change-only. No I/O, no clock: callers pass trees
and get plain values back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Tree = dict[str, Any]

LEVELS = ("sport", "region", "competition", "game", "market", "event")

FOOTBALL_FALLBACK = ("P1XP2", "W1XW2", "1X2", "MATCH_RESULT", "MATCHRESULT")
OTHER_FALLBACK = ("P1P2", "P1XP2", "W1W2", "W1XW2")

SCORE_KEYS = ("score", "ss", "score_str", "scoreString", "current_score")
PHASE_KEYS = ("current_game_state", "period", "period_name", "stage", "phase")
CLOCK_KEYS = ("current_game_time", "time", "timer", "match_time", "minute", "min")
ADD_KEYS = ("add_minutes", "added_minutes", "addMinutes", "addedMinutes")


def _id_key(key: str) -> tuple[int, float | str]:
    """JS integer-key order: numeric keys ascending first, then the rest in insertion order."""
    try:
        return (0, int(key))
    except (TypeError, ValueError):
        return (1, 0)


def ordered(mapping: Any) -> list[tuple[str, Any]]:
    if not isinstance(mapping, dict):
        return []
    return sorted(mapping.items(), key=lambda kv: _id_key(kv[0]))


def js_str(value: Any) -> str:
    """Stringify like JavaScript template literals do for JSON scalars."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


# -- counts ---------------------------------------------------------------------------------------

def counts_payload(tree: Tree) -> dict[str, Any]:
    """``{"sports":[{"name","count"}], "total_games"}`` from a counts subscription tree."""
    sports = []
    for _, sport in ordered(tree.get("sport")):
        if not isinstance(sport, dict):
            continue
        games = sport.get("game")
        if isinstance(games, dict):
            count = len(games)
        elif isinstance(games, (int, float)) and not isinstance(games, bool):
            count = int(games)
        else:
            count = 0
        if count > 0:
            sports.append({"name": sport.get("name") or str(sport.get("id", "")), "count": count})
    return {"sports": sports, "total_games": sum(s["count"] for s in sports)}


def counts_fingerprint(payload: dict[str, Any]) -> str:
    sports = sorted(payload["sports"], key=lambda s: s["name"])
    return "|".join(f"{s['name']}:{s['count']}" for s in sports)


# -- game lists -----------------------------------------------------------------------------------

GAME_LEVELS = LEVELS[:4]
GamePath = tuple[str, ...]


def walk_level(node: dict[str, Any], depth: int) -> tuple[int, Any] | None:
    """The level a walk descends into at ``node`` (the first one present from ``depth``), with its
    children."""
    for index in range(depth, len(GAME_LEVELS)):
        children = node.get(GAME_LEVELS[index])
        if children is not None:
            return index, children
    return None


def iter_game_paths(tree: Tree) -> Iterator[tuple[GamePath, tuple[dict[str, Any], ...]]]:
    """Walk sport > region > competition > game in key order: ``(path, (sport, region, comp, game))``.

    ``path`` is the keys from the top of the tree down to the game's. Levels missing from the tree
    are ``{}`` in the node tuple, so a flat ``{"game":{...}}`` tree works too.
    """

    def walk(node: Any, depth: int, keys: GamePath, nodes: list[dict[str, Any]]) -> Iterator[Any]:
        found = walk_level(node, depth) if isinstance(node, dict) else None
        if found is None:
            return
        index, children = found
        for key, child in ordered(children):
            if not isinstance(child, dict):
                continue
            path_nodes = nodes + [{}] * (index - len(nodes)) + [child]
            if index == 3:
                yield keys + (key,), tuple(path_nodes)
            else:
                yield from walk(child, index + 1, keys + (key,), path_nodes)

    yield from walk(tree, 0, (), [])


def iter_games(tree: Tree) -> Iterator[tuple[dict[str, Any], ...]]:
    """Every game of ``tree`` in walk order, as ``(sport, region, competition, game)``."""
    for _, nodes in iter_game_paths(tree):
        yield nodes


def listed(game: dict[str, Any], sport_id: int | None = None, prematch: bool = False) -> bool:
    """Whether a game belongs in a ``games`` list: its sport (when given), and for prematch lists
    ``visible_in_prematch`` 1 or ``type`` 0/2 (docs/api.md B3)."""
    if sport_id is not None and "sport_id" in game and game["sport_id"] != sport_id:
        return False
    return not prematch or game.get("visible_in_prematch") == 1 or game.get("type") in (0, 2)


def games_list(tree: Tree, sport_name: str, sport_id: int | None = None, prematch: bool = False) -> list[dict[str, Any]]:
    """The ``data`` array of a ``games`` event: Swarm games plus injected names and ``market:{}``."""
    out = []
    for _, region, comp, game in iter_games(tree):
        if not listed(game, sport_id, prematch):
            continue
        item = {k: v for k, v in game.items() if k != "market"}
        item["sport"] = sport_name
        item["region"] = region.get("name") or "Other"
        item["competition"] = comp.get("name") or "Other"
        if "competition_id" not in item and "id" in comp:
            item["competition_id"] = comp["id"]
        if "region_id" not in item and "id" in region:
            item["region_id"] = region["id"]
        item["market"] = {}
        out.append(item)
    return out


def _first(info: Any, keys: Iterable[str]) -> str:
    if not isinstance(info, dict):
        return ""
    for key in keys:
        value = info.get(key)
        if value is not None:
            return js_str(value)
    return ""


def game_line(game: dict[str, Any]) -> str:
    info = game.get("info")
    return "|".join((
        js_str(game.get("id")),
        js_str(game.get("markets_count")),
        js_str(game.get("text_info")),
        _first(info, SCORE_KEYS),
        _first(info, PHASE_KEYS),
        _first(info, CLOCK_KEYS),
        _first(info, ADD_KEYS),
    ))


def games_fingerprint(games: list[dict[str, Any]]) -> str:
    return "~".join(sorted(game_line(g) for g in games))


# -- main market and odds -------------------------------------------------------------------------

def fallback_types(sport_name: str) -> list[str]:
    """The fallback priority list for a sport (a new list each call: callers may extend it)."""
    return list(FOOTBALL_FALLBACK if "football" in sport_name.lower() else OTHER_FALLBACK)


def priority_list(dynamic: list[str] | None, sport_name: str, *, with_fallback: bool) -> list[str]:
    """Live: the dynamic list, else the fallback. Prematch/competition: dynamic + fallback, deduped."""
    if dynamic and not with_fallback:
        return list(dynamic)
    merged: list[str] = []
    for t in [*(dynamic or []), *fallback_types(sport_name)]:
        if t not in merged:
            merged.append(t)
    return merged


def market_types_from_details(details: Any) -> list[str]:
    """``get_market_type`` details sorted by Order, then BasaltKind; the BasaltKind values."""
    if not isinstance(details, list):
        return []
    rows = [d for d in details if isinstance(d, dict) and d.get("BasaltKind")]
    rows.sort(key=lambda d: (_num(d.get("Order"), math.inf), str(d.get("BasaltKind"))))
    out: list[str] = []
    for d in rows:
        kind = str(d["BasaltKind"])
        if kind not in out:
            out.append(kind)
    return out


def _num(value: Any, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def _market_rank(market: dict[str, Any]) -> tuple[float, float]:
    order = _num(market.get("order"), math.inf)
    return (math.inf if order == 0 else order, _num(market.get("id"), math.inf))


def _events(market: dict[str, Any]) -> list[dict[str, Any]]:
    events = [e for e in (market.get("event") or {}).values() if isinstance(e, dict)] if isinstance(
        market.get("event"), dict) else []
    events.sort(key=lambda e: (_num(e.get("order"), math.inf), _num(e.get("id"), math.inf)))
    return events


def pick_main_market(markets: Any, priorities: list[str], *, allow_any: bool = True) -> dict[str, Any] | None:
    """The first priority type present wins (lowest non-zero order among its markets); else, if
    ``allow_any``, the first market by order/id with 2 or 3 events."""
    if not isinstance(markets, dict):
        return None
    candidates = [m for m in markets.values() if isinstance(m, dict)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for m in candidates:
        by_type.setdefault(str(m.get("type", "")).lower(), []).append(m)
    for t in priorities:
        matches = by_type.get(t.lower())
        if matches:
            return min(matches, key=_market_rank)
    if allow_any:
        for m in sorted(candidates, key=_market_rank):
            if len(_events(m)) in (2, 3):
                return m
    return None


def _truthy_block(value: Any) -> bool:
    return value is True or value == 1


def odds_array(market: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if market is None:
        return None
    events = _events(market)
    if len(events) not in (2, 3):
        return None
    positional = ["1", "2"] if len(events) == 2 else ["1", "X", "2"]
    market_blocked = _truthy_block(market.get("is_blocked"))
    out = []
    for i, event in enumerate(events):
        etype = str(event.get("type", ""))
        name = str(event.get("name", "")).lower()
        if etype == "P1":
            label = "1"
        elif etype == "P2":
            label = "2"
        elif etype == "X" or name == "x" or "draw" in name:
            label = "X"
        else:
            label = positional[i]
        out.append({
            "label": label,
            "price": event.get("price"),
            "blocked": market_blocked or _truthy_block(event.get("is_blocked")),
        })
    return out


def odds_fingerprint(market: dict[str, Any] | None) -> str:
    if market is None:
        return ""
    events = ",".join(f"{js_str(e.get('id'))}:{js_str(e.get('price'))}:{js_str(e.get('base'))}"
                      for e in _events(market))
    return f"{js_str(market.get('id'))}|{js_str(market.get('type'))}|{js_str(market.get('display_key'))}|{events}"


def iter_odds_games(tree: Tree) -> Iterator[dict[str, Any]]:
    """Every game node of an odds tree (nested under sport/region/competition or flat)."""
    for _, _, _, game in iter_games(tree):
        yield game


class OddsCache:
    """Per-game main odds with the change-only rule: emit when the entry is new, its odds
    fingerprint changed, or its ``markets_count`` changed. Entries carry ``updated`` (the caller's
    clock) so pollers can find stale ones.

    Bounded (docs/api.md D10): :meth:`evict` drops entries not refreshed for ``ttl`` seconds, then the
    least recently refreshed ones down to ``max_entries``."""

    ENTRY_BYTES = 600  # a dict of five fields, the odds array of three dicts, the fingerprint string

    def __init__(self, ttl: float = 3600.0, max_entries: int = 1000, ttl_check: float = 60.0) -> None:
        self.entries: dict[str, dict[str, Any]] = {}  # least recently refreshed first
        self.version = 0
        self.ttl = ttl
        self.max_entries = max_entries
        self.ttl_check = ttl_check  # the TTL is applied at most this often (it is an hour long)
        self._next_ttl_check = -math.inf

    def update_game(self, game: dict[str, Any], priorities: list[str], now: float,
                    allow_any: bool = True) -> dict[str, Any] | None:
        """Fold one game in; returns the ``updates[]`` item to emit, or None if nothing changed."""
        gid = game.get("id")
        if gid is None:
            return None
        market = pick_main_market(game.get("market"), priorities, allow_any=allow_any)
        fp = odds_fingerprint(market)
        count = game.get("markets_count")
        key = str(gid)
        entry = self.entries.get(key)
        odds = odds_array(market)
        # The original left lock changes out of the fingerprint, so a blocked market never showed
        # its lock until a price moved; we add the blocked flags (the wire format is unchanged).
        fp += "|" + "".join("b" if o["blocked"] else "-" for o in odds or ())
        if entry is not None and entry["fp"] == fp and entry["markets_count"] == count:
            entry["updated"] = now
            self.entries[key] = self.entries.pop(key)  # most recently refreshed goes last
            return None
        self.entries.pop(key, None)
        self.entries[key] = {"fp": fp, "markets_count": count, "odds": odds, "updated": now, "gameId": gid}
        self.version += 1
        return {"gameId": gid, "odds": odds, "markets_count": count}

    def evict(self, now: float, present: Callable[[], set[str]] | None = None) -> int:
        """Apply the TTL and the size cap; returns how many entries went.

        ``present`` (for a cache fed by one subscription's whole tree) gives the ids of the games in
        that tree: they count as freshly read, as they would be if every game were re-read on every
        delta, so only games that left the tree age out. It is only called when something may go:
        the TTL is checked at most every ``ttl_check`` seconds, the cap when it is exceeded.
        """
        due = now >= self._next_ttl_check
        if not due and len(self.entries) <= self.max_entries:
            return 0
        keep = present() if present is not None else set()
        victims: list[str] = []
        if due:
            self._next_ttl_check = now + self.ttl_check
            victims = [k for k, e in self.entries.items() if now - e["updated"] >= self.ttl and k not in keep]
        overflow = len(self.entries) - len(victims) - self.max_entries
        if overflow > 0:  # least recently refreshed first, games in the tree last
            gone = set(victims)
            order = [k for k in self.entries if k not in gone and k not in keep] + \
                [k for k in self.entries if k not in gone and k in keep]
            victims += order[:overflow]
        for key in victims:
            del self.entries[key]
        if victims:
            self.version += 1
        return len(victims)

    def approx_bytes(self) -> int:
        """About what the entries take in memory (for the hub's memory budget)."""
        return len(self.entries) * self.ENTRY_BYTES

    def retain(self, game_ids: Iterable[Any]) -> None:
        keep = {str(g) for g in game_ids}
        for key in [k for k in self.entries if k not in keep]:
            del self.entries[key]
            self.version += 1

    def snapshot(self, include_null: bool = False) -> list[dict[str, Any]]:
        """Late-joiner updates, sorted by gameId string, gameIds as strings."""
        out = []
        for key in sorted(self.entries):
            entry = self.entries[key]
            if entry["odds"] is None and not include_null:
                continue
            count = entry["markets_count"]
            out.append({"gameId": key, "odds": entry["odds"],
                        "markets_count": count if count is not None else 0})
        return out


# -- game details ---------------------------------------------------------------------------------

def game_ids_in(tree: Tree) -> set[str]:
    """The ids (as strings) of every game in ``tree``."""
    return {js_str(game.get("id")) for game in iter_odds_games(tree)}


def find_game(tree: Tree, game_id: str) -> dict[str, Any] | None:
    for game in iter_odds_games(tree):
        if js_str(game.get("id")) == game_id:
            return game
    return None
