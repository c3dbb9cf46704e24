"""The simulated live-tracker feed follows the world: same score, same clock, tennis by its rules.

Games of every sport are followed from wherever they are until they finish, the world ticking at
the simulator's cadence with matches sped up. A receiver applying the frames must always hold the
tracker's own state, whose score is the world's (what the odds feed shows) at every step.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.tracker_feed import (
    BallUpdate,
    MatchEnd,
    MatchEvent,
    MatchState,
    Score,
    apply,
    decode_frame,
    encode_frame,
)

from backend.simulator import SimulatorConfig
from backend.simulator.tracker import MatchTracker
from backend.simulator.world import LiveSets, World

T0 = 1_767_700_000.0
FAST = SimulatorConfig(seed=3, live_games=60, prematch_games=40, price_changes_per_second=5.0, time_scale=60.0,
                       history_days=0)


def world_score(world: World, gid: int) -> Score | None:
    view = world.live_view(gid)
    if view is None:
        return None
    live = view.live
    if isinstance(live, LiveSets):
        won = sum(1 for a, b in live.sets if a > b)
        return Score(won, len(live.sets) - won)
    return Score(sum(a for a, _ in live.scores), sum(b for _, b in live.scores))


def follow(world: World, gids: list[int], seconds: float, start: float) -> dict[int, list]:
    trackers = {g: MatchTracker(g, world.live_view(g), start, FAST.seed) for g in gids}
    received = {g: [trackers[g].state] for g in gids}
    now = start
    while now < start + seconds and any(not t.ended for t in trackers.values()):
        now += 0.25
        world.tick(now)
        for gid, tracker in trackers.items():
            view = world.live_view(gid)
            for frame in tracker.step(view, now, None if view is not None else world.history.get(gid)):
                received[gid].append(decode_frame(encode_frame(frame)))  # through the wire format
            if not tracker.ended:
                assert tracker.state.score == world_score(world, gid), (gid, tracker.state.sport)
    return {g: received[g] for g in gids} | {-1: trackers}


@pytest.fixture(scope="module")
def followed():
    world = World(FAST, T0)
    by_sport: dict[str, int] = {}
    for gid in world.game_ids(live=True):  # per sport, the game with the most left to play
        view = world.live_view(gid)
        name = view.profile.name
        progress = getattr(view.live, "period", None) or len(getattr(view.live, "sets", ()))
        best = by_sport.get(name)
        if best is None or progress < (getattr(world.live_view(best).live, "period", None)
                                       or len(getattr(world.live_view(best).live, "sets", ()))):
            by_sport[name] = gid
    gids = list(by_sport.values())
    return world, gids, follow(world, gids, 2400.0, T0)


def test_every_sport_is_followed_to_its_end_with_the_worlds_score(followed):
    world, gids, received = followed
    trackers = received[-1]
    assert len(gids) >= 10 and {"Football", "Basketball", "Tennis"} <= {trackers[g].profile.name for g in gids}
    for gid in gids:
        frames = received[gid]
        assert isinstance(frames[0], MatchState) and isinstance(frames[-1], MatchEnd)
        final = world.history.get(gid)
        assert final is not None and frames[-1].score == Score(*final.final)


def test_a_receiver_applying_the_frames_holds_the_trackers_state_and_seq_never_skips(followed):
    _, gids, received = followed
    for gid in gids:
        frames = received[gid]
        state = frames[0]
        for frame in frames[1:]:
            assert frame.seq == state.seq + 1
            state = apply(state, frame)
        assert state == received[-1][gid].state and state.status == "ended"


def test_football_has_every_kind_of_event_and_tennis_plays_by_its_rules(followed):
    _, gids, received = followed
    trackers = received[-1]
    by_sport = {trackers[g].profile.name: received[g] for g in gids}
    football = {f.kind for f in by_sport["Football"] if isinstance(f, MatchEvent)}
    assert {"corner", "dangerous_attack", "period_start", "period_end"} <= football
    assert {"ball", "possession", "clock"} <= {f.__struct_config__.tag for f in by_sport["Football"]}
    tennis = [f for f in by_sport["Tennis"] if isinstance(f, MatchEvent)]
    games_before = sum(p.home + p.away for p in by_sport["Tennis"][0].periods)
    final = by_sport["Tennis"][-1]
    assert sum(1 for f in tennis if f.kind == "game") == sum(p.home + p.away for p in final.periods) - games_before
    for event in tennis:
        if event.kind == "point":
            assert event.game_points is not None and "GAME" not in event.game_points
            a, b = event.game_points
            assert {a, b} <= {"0", "15", "30", "40", "AD"} and not (a == "AD" and b == "AD")
    kinds = [f.kind for f in tennis]
    sets_started = [i for i, k in enumerate(kinds) if k == "period_start"]
    assert all(kinds[i - 1] == "set" for i in sets_started)  # a new set starts right after the last one ends
    assert kinds.count("set") == len(final.periods) - len(by_sport["Tennis"][0].periods) + 1
    basketball = {f.kind for f in by_sport["Basketball"] if isinstance(f, MatchEvent)}
    assert basketball & {"free_throw", "two_pointer", "three_pointer"}


FOOTBALL_KINDS = {"kick_off", "goal", "yellow_card", "red_card", "corner", "free_kick", "shot", "substitution",
                  "dangerous_attack", "period_start", "period_end"}  # docs/api.md E4, football
EVERY_MATCH = FOOTBALL_KINDS - {"goal", "yellow_card", "red_card"}  # the tracker's own, several a match


def kick_offs(config: SimulatorConfig, matches: int) -> list[tuple[int, list, list, Any]]:
    """The first ``matches`` football games to go live after the start, each followed by a tracker
    of its own from its first minute to its end: (game id, the frames, the world's events of it,
    its result)."""
    world = World(config, T0)
    seen = set(world.game_ids(live=True))
    trackers: dict[int, MatchTracker] = {}
    frames: dict[int, list] = {}
    world_events: dict[int, list] = {}
    now = T0
    while len(trackers) < matches or any(not t.ended for t in trackers.values()):
        now += 0.25
        assert now < T0 + 3600, "not enough football kick-offs in an hour"
        world.tick(now)
        for gid in world.game_ids(live=True):
            if gid not in seen:
                seen.add(gid)
                view = world.live_view(gid)
                if view.profile.name == "Football" and len(trackers) < matches:
                    assert view.live.period == 1 and view.live.period_minute == 0  # at its kick-off
                    trackers[gid] = MatchTracker(gid, view, now, config.seed, config.time_scale)
                    frames[gid] = [trackers[gid].state]
                    world_events[gid] = []
        for gid, tracker in trackers.items():
            view = world.live_view(gid)
            if view is not None:  # the world's new events since the last tick (it keeps the recent ones)
                events = list(view.node.get("live_events") or [])
                known = world_events[gid]
                start = next((i + 1 for i in range(len(events) - 1, -1, -1) if known and events[i] is known[-1]), 0)
                known.extend(events[start:])
            for frame in tracker.step(view, now, None if view is not None else world.history.get(gid)):
                frames[gid].append(decode_frame(encode_frame(frame)))
    return [(gid, frames[gid], world_events[gid], world.history.get(gid)) for gid in trackers]


@pytest.mark.parametrize("scale", [60.0, 20.0])
def test_a_football_match_from_kick_off_to_the_whistle_has_every_kind_of_event_the_tracker_claims(scale):
    config = SimulatorConfig(seed=11, live_games=40, prematch_games=60, price_changes_per_second=2.0,
                             time_scale=scale, history_days=0)
    matches = kick_offs(config, 6)
    seen_anywhere: set[str] = set()
    for gid, frames, world_events, result in matches:
        events = [f for f in frames if isinstance(f, MatchEvent)]
        kinds = [e.kind for e in events]
        seen_anywhere |= set(kinds)
        assert EVERY_MATCH <= set(kinds), (gid, EVERY_MATCH - set(kinds))
        assert set(kinds) <= FOOTBALL_KINDS  # nothing it does not claim
        assert kinds[0] == "kick_off" and kinds.count("kick_off") == 1
        final = frames[-1]
        assert isinstance(final, MatchEnd) and final.score == Score(*result.final)
        # what the world decides is told exactly as the world has it: every goal, card and corner
        assert kinds.count("goal") == final.score.home + final.score.away
        for kind in ("goal", "yellow_card", "corner"):
            by_side = [sum(1 for e in events if e.kind == kind and e.team == side) for side in ("home", "away")]
            assert by_side == [sum(1 for w in world_events if w["event_type"] == kind and w["team"] == team)
                               for team in ("team1", "team2")], (gid, kind)
        subs = [e.team for e in events if e.kind == "substitution"]
        assert all(e.minute >= 46 for e in events if e.kind == "substitution")
        assert max(subs.count("home"), subs.count("away")) <= 5
    assert seen_anywhere == FOOTBALL_KINDS  # goals, yellow and red cards too, in some of the six


def test_tennis_frames_carry_the_serve_and_the_game_points_throughout(followed):
    _, gids, received = followed
    trackers = received[-1]
    [gid] = [g for g in gids if trackers[g].profile.name == "Tennis"]
    frames = received[gid]
    state = frames[0]
    assert state.serve in ("home", "away") and state.game_points is not None
    games = sum(p.home + p.away for p in state.periods)
    assert state.serve == ("home", "away")[games % 2]
    points = game_events = 0
    for frame in frames[1:]:
        state = apply(state, frame)
        assert state.serve in ("home", "away") and state.game_points is not None and len(state.game_points) == 2
        if isinstance(frame, MatchEvent) and frame.kind == "point":
            points += 1
            assert frame.game_points is not None and state.game_points == frame.game_points
        if isinstance(frame, MatchEvent) and frame.kind == "game":
            game_events += 1
            games += 1
            assert frame.game_points == ["0", "0"] and frame.serve == ("home", "away")[games % 2]
            assert state.serve == frame.serve  # the serve changes hands with every game
        if isinstance(frame, BallUpdate):
            assert frame.ball.team == state.serve  # the ball is the server's
    assert points > game_events > 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([5.0, 30.0, 120.0]))
def test_the_tracker_never_disagrees_with_the_world_whatever_the_seed_and_pace(seed, scale):
    config = SimulatorConfig(seed=seed, live_games=12, prematch_games=10, price_changes_per_second=1.0,
                             time_scale=scale, history_days=0)
    world = World(config, T0)
    gids = world.game_ids(live=True)[:6]
    follow(world, gids, 120.0, T0)  # asserts the score at every step
