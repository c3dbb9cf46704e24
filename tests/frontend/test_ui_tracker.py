"""The live tracker drawn by us (oddsui.tracker_view) and its stream in the details panel (the
frames of oddsui.tracker_feed over /api/live-tracker, docs/api.md E4)."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.tracker_feed import (
    Ball,
    BallUpdate,
    ClockUpdate,
    MatchEnd,
    MatchEvent,
    Possession,
    PossessionUpdate,
    Score,
    apply,
)
from oddsui.tracker_view import FIELDS, TrackerView, ball_point, event_text, field_of, tracker_model, zone_rect
from ui_fakes import FakeDom
from ui_samples import ball_frame, frame_json, games_event, goal_frame, list_game, tracker_state
from ui_world import World

TRACKER = "/api/live-tracker"


def test_each_sport_family_gets_its_drawing():
    assert [field_of(s) for s in ("football", "Soccer", "futsal", "basketball", "tennis", "table tennis",
                                  "ice hockey", "cricket", "")] == [
        "football", "football", "football", "basketball", "tennis", "tennis", "generic", "generic", "generic"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(FIELDS)), st.one_of(st.floats(allow_nan=True), st.integers(), st.none(), st.text()),
       st.one_of(st.floats(allow_nan=True), st.none()))
def test_the_ball_is_always_drawn_inside_the_field(field, x, y):
    bx, by = ball_point(field, x, y)
    width, height = FIELDS[field]
    assert 0 <= bx <= width and 0 <= by <= height


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(FIELDS)), st.sampled_from(["home", "away", None]),
       st.sampled_from(["safe", "attack", "danger"]))
def test_the_zone_is_in_front_of_the_goal_being_attacked(field, team, zone):
    rect = zone_rect(field, team, zone)
    width = FIELDS[field][0]
    if team is None or zone == "safe":
        assert rect is None
        return
    x, w = rect
    assert 0 <= x and x + w <= width + 1e-6
    if team == "home":  # home attacks the away goal, at x = 1
        assert abs(x + w - width) < 1e-6
    else:
        assert x == 0
    assert w < width / 2 and (zone == "attack") == (w > width / 5)


@st.composite
def frame_sequences(draw):
    frames = []
    score = [0, 0]
    for seq in range(1, draw(st.integers(0, 40)) + 1):
        kind = draw(st.sampled_from(["ball", "possession", "clock", "goal", "corner", "end"]))
        if kind == "ball":
            frames.append(BallUpdate(game_id="7", seq=seq, ball=Ball(x=draw(st.floats(0, 1)), y=draw(st.floats(0, 1)),
                                                                    team=draw(st.sampled_from(["home", "away"])),
                                                                    zone=draw(st.sampled_from(["safe", "attack"])))))
        elif kind == "possession":
            home = draw(st.integers(0, 100))
            frames.append(PossessionUpdate(game_id="7", seq=seq, possession=Possession(home, 100 - home)))
        elif kind == "clock":
            frames.append(ClockUpdate(game_id="7", seq=seq, period="2H", minute=seq, clock=f"{seq}'"))
        elif kind == "end":
            frames.append(MatchEnd(game_id="7", seq=seq, score=Score(*score)))
        else:
            team = draw(st.sampled_from(["home", "away"]))
            if kind == "goal":
                score[0 if team == "home" else 1] += 1
            frames.append(MatchEvent(game_id="7", seq=seq, kind=kind, team=team, minute=seq, score=Score(*score)))
    return frames


@settings(max_examples=150, deadline=None)
@given(frame_sequences())
def test_frames_fold_into_a_state_and_the_view_shows_exactly_that_state(frames):
    dom = FakeDom()
    container = dom.by_id("details-tracker")
    view = TrackerView(dom, container)
    state = tracker_state()
    view.render(state, "")
    for frame in frames:
        decoded = msgspec.json.decode(frame_json(frame), type=type(frame))
        state = apply(state, decoded)
        view.render(state, "")
    # what was drawn step by step equals a fresh drawing of the final state
    fresh = TrackerView(dom2 := FakeDom(), dom2.by_id("details-tracker"))
    fresh.render(state, "")
    final = tracker_model(state, "")
    assert fresh._slots.model == final
    assert all(view._slots.model[key] == value for key, value in final.items())
    ball = container.find(cls="tk-ball")
    x, y = ball_point("football", state.ball.x, state.ball.y)
    assert (float(ball.attrs["cx"]), float(ball.attrs["cy"])) == (x, y)
    assert container.find(cls="tk-score").text == f"{state.score.home}:{state.score.away}"
    goals = [f for f in frames if isinstance(f, MatchEvent)]
    items = container.find_all(cls="timeline-item")
    assert len(items) == min(len(goals), 40)
    if goals:
        assert items[0].attrs["data-seq"] == str(goals[-1].seq)  # newest first
    if any(isinstance(f, MatchEnd) for f in frames):
        assert state.status == "ended" and container.find(cls="tk-status").text == "Full time"


def test_a_ball_update_costs_a_few_attribute_writes():
    dom = FakeDom()
    view = TrackerView(dom, dom.by_id("details-tracker"))
    state = tracker_state(x=0.5, y=0.5)
    view.render(state, "")
    state = apply(state, BallUpdate(game_id="7", seq=1, ball=Ball(x=0.8, y=0.3, team="home", zone="attack")))
    view.render(state, "")
    before = dom.writes()
    state = apply(state, BallUpdate(game_id="7", seq=2, ball=Ball(x=0.85, y=0.35, team="home", zone="attack")))
    view.render(state, "")
    assert dom.writes() - before == 2  # the ball's cx and cy: nothing else changed
    zone = dom.by_id("details-tracker").find(cls="tk-zone")
    assert "off" not in zone.classes and "zone-home" in zone.classes and float(zone.attrs["x"]) > 50
    assert dom.by_id("details-tracker").find(cls="tk-status").text == "Arsenal: attack"
    assert dom.by_id("details-tracker").find(cls="tk-field").attrs["aria-label"] == "Pitch: Arsenal: attack"


def test_tennis_shows_the_server_and_game_points_basketball_a_court():
    dom = FakeDom()
    view = TrackerView(dom, dom.by_id("details-tracker"))
    state = msgspec.structs.replace(tracker_state(sport="tennis"), serve="away", game_points=["30", "15"],
                                    possession=None, clock="Set 2")
    view.render(state, "")
    root = dom.by_id("details-tracker")
    assert root.find(cls="tk").attrs["data-field"] == "tennis"
    assert [("off" in s.classes) for s in root.find_all(cls="tk-serve")] == [True, False]
    assert root.find(cls="tk-clock").text == "Set 2 \u00b7 30 : 15" and root.find(cls="tk-poss").hidden
    view.render(tracker_state(sport="basketball"), "")
    assert root.find(cls="tk").attrs["data-field"] == "basketball"  # another sport: redrawn


def test_event_text_uses_the_feeds_words_and_adds_the_score_of_scoring_events():
    state = tracker_state()
    goal = MatchEvent(game_id="7", seq=1, kind="goal", team="away", minute=21, score=Score(0, 1))
    assert event_text(goal, state) == "Goal: Chelsea (0:1)"
    said = MatchEvent(game_id="7", seq=2, kind="dangerous_attack", team="home", score=Score(0, 1),
                      text="Dangerous attack: Arsenal")
    assert event_text(said, state) == "Dangerous attack: Arsenal"


def test_the_panel_of_a_live_game_follows_its_tracker_stream_and_releases_it_on_close():
    w = World()
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games_event(1, [list_game(7)]))
    w.run_frames()
    baseline = (w.listener_total(), w.platform.live_proxies(), len(w.platform.open_sources()),
                w.app.scope.live_count(), len(w.platform.timers))
    w.open_row(7)
    w.run_frames()
    tracker = w.source(TRACKER)
    root = w.dom.by_id("details-tracker")
    assert not root.hidden and "connecting" in root.text.lower()
    tracker.emit("ready", '{"gameId":"7"}')
    tracker.emit("message", frame_json(tracker_state(x=0.5, y=0.5)))
    w.run_frames()
    assert root.find(cls="tk-field") is not None
    tracker.emit("message", ball_frame(7, 1, 0.9, 0.25, "home", "danger"))
    tracker.emit("message", goal_frame(7, 2, "home", 1, 1, 38))
    w.run_frames()
    ball = root.find(cls="tk-ball")
    assert (ball.attrs["cx"], ball.attrs["cy"]) == ("94.5", "17")
    assert "zone-danger" in root.find(cls="tk-zone").classes
    assert root.find(cls="tk-score").text == "1:1"
    assert root.find(cls="timeline-item").attrs["data-kind"] == "goal"
    tracker.emit("message", ball_frame(8, 3, 0.1, 0.1))  # another game's frame: ignored
    w.run_frames()
    assert root.find(cls="tk-ball").attrs["cx"] == "94.5"
    tracker.emit("end", '{"gameId":"7"}')
    w.run_frames()
    assert root.find(cls="tk-conn").text == "Match over"
    tracker.server_error('{"error":"game 7 is not live"}')
    w.run_frames()
    assert "not live" in root.find(cls="tk-conn").text
    w.app.close_details()
    w.run_frames()  # the list's row loses its highlight in the next frame
    assert tracker.closed and tracker.listener_count() == 0 and w.sources(TRACKER) == []
    # its listeners, proxies, connection and the reconnect timer the error scheduled are all gone
    assert (w.listener_total(), w.platform.live_proxies(), len(w.platform.open_sources()),
            w.app.scope.live_count(), len(w.platform.timers)) == baseline
