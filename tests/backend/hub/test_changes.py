"""Delta-driven emission equals a full re-walk of the tree, on any sequence of deltas.

The reference is the rule of docs/api.md B2 applied the way the original did it: after every delta,
re-walk the whole merged tree, re-fingerprint every game, and emit ``games`` when the sorted join of
the lines changed (or the list is empty), ``odds`` for every game whose main-market fingerprint or
``markets_count`` changed. The groups instead recompute only the games the delta touched
(``backend/hub/changes.py``). Hypothesis drives both with the same deltas -- games added, changed,
moved between competitions, deleted, whole competitions and regions deleted -- and the emitted
events must be identical.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.hub import payloads
from backend.hub.changes import GamesFingerprint, node_at, touched, touched_games
from backend.swarm.merge import merge

IDS = st.sampled_from(["1", "2", "3", "10"])
GAME_IDS = st.sampled_from(["101", "102", "103", "201"])
TEXT = st.sampled_from(["", "1:0", "2:1 45'", "HT"])  # no '~' or '|': they are the fingerprint's separators
PRIORITIES = ["P1XP2"]


def event(draw_id: str, price: float, order: int) -> dict:
    return {"id": int(draw_id), "price": price, "order": order, "type": "P1", "name": "x"}


@st.composite
def game_fields(draw, gid: str) -> dict:
    fields: dict = {"id": int(gid)}
    for name, strategy in (("markets_count", st.integers(0, 3)), ("text_info", TEXT),
                           ("type", st.sampled_from([0, 1, 2])), ("visible_in_prematch", st.sampled_from([0, 1])),
                           ("sport_id", st.sampled_from([1, 1, 1, 2])),
                           ("info", st.fixed_dictionaries({"current_game_time": st.sampled_from(["1", "2"])}))):
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    if draw(st.booleans()):
        mid = draw(st.sampled_from(["7", "8"]))
        events = {eid: event(eid, draw(st.sampled_from([1.5, 2.0, 3.25])), i)
                  for i, eid in enumerate(draw(st.lists(st.sampled_from(["71", "72", "73"]), unique=True, max_size=3)))}
        fields["market"] = {mid: {"id": int(mid), "type": draw(st.sampled_from(["P1XP2", "OTHER"])),
                                  "order": 1, "is_blocked": draw(st.sampled_from([0, 1])), "event": events}}
    return fields


@st.composite
def deltas(draw) -> dict:
    """A Swarm delta for a sport > region > competition > game tree."""
    kind = draw(st.sampled_from(["game", "game", "game", "delete_game", "delete_competition", "delete_region",
                                 "rename", "stray"]))
    sport, region, comp, gid = "1", draw(IDS), draw(IDS), draw(GAME_IDS)
    if kind == "stray":  # a game right under the sport, beside (or instead of) its regions
        gid = "9" + gid[1:]
        return {"sport": {sport: {"game": {gid: draw(game_fields(gid))}}}}
    if kind == "game":
        inner: dict = {"game": {gid: draw(game_fields(gid))}}
    elif kind == "delete_game":
        inner = {"game": {gid: None}}
    elif kind == "delete_competition":
        return {"sport": {sport: {"region": {region: {"competition": {comp: None}}}}}}
    elif kind == "delete_region":
        return {"sport": {sport: {"region": {region: None}}}}
    else:
        return {"sport": {sport: {"region": {region: {"name": draw(TEXT)}}}}}
    return {"sport": {sport: {"region": {region: {"name": "R" + region,
                                                  "competition": {comp: {"name": "C" + comp, **inner}}}}}}}


def reference_games_emits(trees: list[dict], sport: int, prematch: bool) -> list[bool]:
    emits, last = [], None
    for tree in trees:
        games = payloads.games_list(tree, "S", sport, prematch=prematch)
        fp = payloads.games_fingerprint(games)
        emit = not games or fp != last
        if emit:
            last = fp
        emits.append(emit)
    return emits


@settings(max_examples=300, deadline=None)
@given(st.lists(deltas(), min_size=1, max_size=25), st.booleans())
def test_games_are_emitted_exactly_when_a_full_re_walk_would(sequence, prematch):
    tree: dict = {}
    trees, emits = [], []
    fp = GamesFingerprint(lambda nodes: payloads.game_line(nodes[3])
                          if payloads.listed(nodes[3], 1, prematch=prematch) else None)
    first = True
    for delta in sequence:
        merge(tree, copy.deepcopy(delta))
        changed = fp.reset(tree) if first else fp.update(tree, delta)
        emits.append(first or not len(fp) or changed)
        first = False
        trees.append(copy.deepcopy(tree))
    assert emits == reference_games_emits(trees, 1, prematch)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_odds_updates_are_exactly_those_of_a_full_re_walk(data):
    # A game is in one competition at a time (a move deletes it where it was in the same delta), as
    # on the feed; the odds cache is keyed by game id, so a game listed twice would flip-flop.
    tree: dict = {}
    where: dict[str, tuple[str, str]] = {}  # game id -> (region, competition) it is in now
    full, incremental = payloads.OddsCache(), payloads.OddsCache()
    for _ in range(data.draw(st.integers(1, 25))):
        delta = data.draw(deltas())
        gid = next(iter(_games_of(delta)), None)
        if gid is not None and gid in where and _games_of(delta)[gid] is not None:
            region, comp = where[gid]
            loc = _location(delta)
            if loc != (region, comp):  # a move: delete it where it was, in the same delta
                regions = delta["sport"]["1"]["region"]
                comps = regions.setdefault(region, {}).setdefault("competition", {})
                comps.setdefault(comp, {}).setdefault("game", {})[gid] = None
        merge(tree, copy.deepcopy(delta))
        where = {path[3]: (path[1], path[2]) for path, _ in payloads.iter_game_paths(tree) if len(path) == 4}
        expected = [u for g in payloads.iter_odds_games(tree) if (u := full.update_game(g, PRIORITIES, 0.0))]
        games = touched_games(tree, delta)
        if games is None:
            games = list(payloads.iter_odds_games(tree))
        got = [u for g in games if (u := incremental.update_game(g, PRIORITIES, 0.0))]
        assert got == expected
    assert {k: e["fp"] for k, e in incremental.entries.items()} == {k: e["fp"] for k, e in full.entries.items()}


def _location(delta: dict) -> tuple[str, str] | None:
    if "region" not in delta["sport"]["1"]:
        return None
    for region, rnode in (delta["sport"]["1"].get("region") or {}).items():
        for comp, cnode in ((rnode or {}).get("competition") or {}).items():
            if cnode and "game" in cnode:
                return region, comp
    return None


def _games_of(delta: dict) -> dict:
    loc = _location(delta)
    if loc is None:
        return {}
    return delta["sport"]["1"]["region"][loc[0]]["competition"][loc[1]]["game"]


@settings(max_examples=200, deadline=None)
@given(st.lists(deltas(), min_size=1, max_size=20))
def test_every_touched_path_names_a_game_of_the_merged_tree_or_a_removed_one(sequence):
    tree: dict = {}
    for delta in sequence:
        before = {path for path, _ in payloads.iter_game_paths(tree)}
        merge(tree, copy.deepcopy(delta))
        after = {path: nodes for path, nodes in payloads.iter_game_paths(tree)}
        found = touched(tree, delta)
        if found is None:
            continue  # a shape change: the caller re-walks everything
        assert found.changed <= set(after)
        assert all(node_at(tree, path) == after[path] for path in found.changed)
        # whatever changed between the two walks was touched
        assert set(after) - before <= found.changed
        assert before - set(after) <= found.removed


def test_a_deleted_competition_is_a_shape_change_and_a_flat_tree_works_too():
    tree = {"sport": {"1": {"region": {"2": {"competition": {"3": {"game": {"9": {"id": 9}}}}}}}}}
    assert touched(tree, {"sport": {"1": {"region": {"2": {"competition": {"3": None}}}}}}) is None
    flat = {"game": {"9": {"id": 9, "markets_count": 2}}}
    found = touched(flat, {"game": {"9": {"markets_count": 2}, "8": None}})
    assert found is not None and found.changed == {("9",)} and found.removed == {("8",)}
    assert touched_games(flat, {"game": {"9": {"markets_count": 2}}}) == [flat["game"]["9"]]
