"""The live tracker's sans-I/O core: the subscription, frames in order, the match so far."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from oddsui.tracker_feed import (
    Ball,
    BallUpdate,
    MatchEnd,
    MatchEvent,
    MatchState,
    Score,
    Teams,
    apply,
    decode_frame,
    encode_frame,
)

from backend.tracker.session import Ended, Frame, Malformed, Refused, Snapshot, Stalled, TrackerSession


def state(seq: int = 0, home: int = 0) -> MatchState:
    return MatchState(game_id="7", seq=seq, sport="football", teams=Teams("A", "B"), score=Score(home, 0))


def goal(seq: int, home: int) -> MatchEvent:
    return MatchEvent(game_id="7", seq=seq, kind="goal", team="home", score=Score(home, 0))


def test_the_subscription_is_the_originals_submatch_request():
    message = json.loads(TrackerSession("7").subscription(1_767_700_000.4))
    assert message == {"request": {"arg": {"submatch": {
        "feed_type": "live", "gameevents": "true", "id": "7", "link_id": "", "provider": "animation",
        "snapshot": True}}, "meta": {"request_id": 1_767_700_000, "ts": 1_767_700_000}}}


def test_frames_after_the_state_are_folded_in_and_passed_on_once():
    s = TrackerSession("7")
    (snap,) = s.receive(encode_frame(state(4)), 0)
    assert isinstance(snap, Snapshot) and decode_frame(snap.data) == state(4)
    (event,) = s.receive(encode_frame(goal(5, 1)), 0)
    assert isinstance(event, Frame) and s.state.score == Score(1, 0) and s.state.timeline[-1].kind == "goal"
    assert s.receive(encode_frame(goal(5, 1)), 0) == [] and s.duplicates == 1  # seen: dropped
    assert s.receive(encode_frame(goal(3, 1)), 0) == [] and s.duplicates == 2


def test_after_a_reconnect_the_fresh_state_replaces_everything_and_old_frames_are_not_repeated():
    s = TrackerSession("7")
    s.receive(encode_frame(state(0)), 0)
    s.receive(encode_frame(goal(1, 1)), 0)
    s.connection_lost()
    s.connection_made(1)
    (snap,) = s.receive(encode_frame(state(3, home=2)), 1)  # two frames happened while we were away
    assert isinstance(snap, Snapshot) and s.state.score == Score(2, 0) and s.state.seq == 3
    assert s.receive(encode_frame(goal(2, 1)), 1) == []  # an old one arriving late: dropped
    assert isinstance(s.receive(encode_frame(goal(4, 3)), 1)[0], Frame)


def test_malformed_text_is_counted_and_skipped_and_the_state_stays():
    s = TrackerSession("7")
    s.receive(encode_frame(state(0)), 0)
    for bad in ("not json", '{"type":"nope"}', '{"type":"event","seq":"x"}', "[" * 3000,
                encode_frame(BallUpdate(game_id="8", seq=1, ball=Ball())).decode()):
        (event,) = s.receive(bad, 0)
        assert isinstance(event, Malformed)
    assert s.parse_errors == 5 and s.state == state(0)
    assert isinstance(TrackerSession("7").receive(encode_frame(goal(1, 1)), 0)[0], Malformed)  # before any state


def test_the_end_and_a_refusal():
    s = TrackerSession("7")
    s.receive(encode_frame(state(0)), 0)
    frame, ended = s.receive(encode_frame(MatchEnd(game_id="7", seq=1, score=Score(1, 0))), 0)
    assert isinstance(frame, Frame) and isinstance(ended, Ended) and ended.final.status == "ended"
    assert s.receive(encode_frame(goal(2, 2)), 0) == []  # nothing after the end
    (refused,) = TrackerSession("9").receive('{"type":"error","message":"game 9 is not live"}', 0)
    assert refused == Refused("game 9 is not live")


def test_a_quiet_feed_stalls_once_per_idle_timeout():
    s = TrackerSession("7", idle_timeout=20)
    s.connection_made(0)
    assert s.tick(19.9) == [] and s.tick(20) == [Stalled(20)] and s.tick(30) == []
    s.connection_lost()
    assert s.tick(100) == []  # nothing to stall while disconnected


@given(st.lists(st.integers(1, 30), max_size=40))
def test_whatever_order_frames_arrive_in_the_state_only_moves_forward(seqs):
    s = TrackerSession("7")
    s.receive(encode_frame(state(0)), 0)
    passed = []
    for seq in seqs:
        events = s.receive(encode_frame(goal(seq, seq)), 0)
        passed += [e.frame.seq for e in events if isinstance(e, Frame)]
    assert passed == sorted(set(passed)) and (not passed or s.state.seq == passed[-1])
    assert s.duplicates == len(seqs) - len(passed)


def test_apply_keeps_a_bounded_timeline_and_counts_statistics():
    st_ = state(0)
    for i in range(1, 260):
        st_ = apply(st_, MatchEvent(game_id="7", seq=i, kind="corner", team="away", score=Score()))
    assert len(st_.timeline) == 200 and st_.timeline[-1].seq == 259 and st_.stats["corners"] == Score(0, 259)
