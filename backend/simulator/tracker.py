"""The simulated live-tracker feed for one game (pure: no sockets, no clock; ``now`` comes in).

A :class:`MatchTracker` follows one live game of the :class:`~.world.World` and says, in frames of
``oddsui.tracker_feed``, what a match tracker would: a :class:`MatchState` to begin with, then events
and updates as the game goes on. Everything that counts comes from the world -- every goal or
point and who scored it, yellow cards, corners and shots on target, the period and the clock, sets
and games, the end -- so the tracker and the odds feed can never disagree about a score. What the
world does not model is added from the tracker's own generator (seeded by the world's seed and the
game id): where the ball is and who has it, possession share, the kick-off, dangerous attacks,
shots, free kicks, substitutions, red cards, fouls and timeouts, and the points inside a tennis game
(which never decide a game: the world does).

``step(view, now)`` returns the frames since the last step (``view`` None: the game is over or gone,
and the tracker sends its :class:`MatchEnd`). The tracker keeps its own :attr:`state` by applying
its frames with ``tracker_feed.apply``, exactly as a receiver does.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from oddsui.tracker_feed import (
    STAT_OF_KIND,
    Ball,
    BallUpdate,
    ClockUpdate,
    Frame,
    MatchEnd,
    MatchEvent,
    MatchState,
    Possession,
    PossessionUpdate,
    Score,
    Teams,
    apply,
)

from .results import FinishedGame
from .world import LiveSets, LiveTimed, LiveView

SIDES = ("home", "away")
TENNIS_POINTS = ("0", "15", "30", "40", "AD")
BALL_EVERY = 0.5  # seconds between ball updates
POSSESSION_EVERY = 10.0  # seconds between possession updates
DANGER_GAP = 60.0  # match seconds at least between two dangerous attacks of a football match
# The tracker's own football events, per second of match time (about 27 free kicks, one red card a match)
FREE_KICK_RATE = 0.005
SUBSTITUTION_RATE = 0.004  # from minute 46, at most five a side
RED_CARD_RATE = 0.0002
KIND_OF_WORLD_EVENT = {"goal": "goal", "corner": "corner", "yellow_card": "yellow_card",
                       "shot_on_target": "shot_on_target", "set_won": "set"}
BASKETBALL_SCORES = {1: "free_throw", 2: "two_pointer", 3: "three_pointer"}


def family(profile: Any) -> str:
    """The tracker's sport family: football, basketball, tennis, or timed/sets for the rest."""
    name = profile.name.lower()
    if name in ("football", "futsal"):
        return "football"
    if name == "basketball":
        return "basketball"
    if name == "tennis":
        return "tennis"
    return "timed" if profile.kind == "timed" else "sets"


def period_label(fam: str, kind: str, period: int) -> str:
    if kind == "sets":
        return f"S{period}"
    return {"football": f"{period}H", "basketball": f"Q{period}"}.get(fam, f"P{period}")


class MatchTracker:
    def __init__(self, game_id: int, view: LiveView, now: float, seed: int, time_scale: float = 1.0) -> None:
        self.game_id = str(game_id)
        self.time_scale = time_scale  # match seconds per second, as the world plays them
        self.profile = view.profile
        self.family = family(view.profile)
        self.sets_sport = isinstance(view.live, LiveSets)
        self.rng = random.Random(f"tracker:{seed}:{game_id}")
        self.strength = view.strength
        self.ended = False
        self.seq = 0
        self._now = now
        self._ball_at = now
        self._possession_at = now
        self._held = [0.0, 0.0]  # seconds each side has had the ball
        self._danger_since = -1e9  # match time (seconds of play the tracker has followed) of the last one
        self._match_time = 0.0
        self._subs = [0, 0]
        self._points = [0, 0]  # tennis: points in the current game (index into TENNIS_POINTS, deuce rules)
        self._last_event: Any = None  # the newest of the world's live_events seen (by identity)
        self._seen = self._observe(view)
        node = view.node
        score, periods = self._seen["score"], self._seen["periods"]
        self.attacking = 0
        timeline = self._history(view, score)
        self.seq = len(timeline)
        self.state = MatchState(
            game_id=self.game_id, seq=self.seq, sport=self.profile.name.lower(),
            teams=Teams(str(node.get("team1_name") or "Home"), str(node.get("team2_name") or "Away")),
            period=self._seen["period_label"], minute=self._seen["minute"], clock=self._seen["clock"],
            score=score, periods=periods, stats=self._world_stats(view),
            possession=Possession() if not self.sets_sport else None, ball=Ball(),
            serve=self._serve() if self.family == "tennis" else None,
            game_points=["0", "0"] if self.family == "tennis" else None, timeline=timeline)
        self._pending_kick_off = not self.sets_sport and self._seen["minute"] == 0

    # -- the world's view --------------------------------------------------------------------------
    def _observe(self, view: LiveView) -> dict[str, Any]:
        live = view.live
        if isinstance(live, LiveTimed):
            p = self.profile
            minute = (live.period - 1) * p.period_minutes + min(live.period_minute, p.period_minutes)
            extra = live.period_minute - p.period_minutes
            label = period_label(self.family, "timed", live.period)
            if self.family == "football":
                clock = f"{p.period_minutes * live.period}+{extra}'" if extra > 0 else f"{minute}'"
            else:
                clock = f"{label} {min(live.period_minute, p.period_minutes)}'"
            return {"period": live.period, "period_label": label, "minute": minute, "clock": clock,
                    "score": Score(sum(a for a, _ in live.scores), sum(b for _, b in live.scores)),
                    "periods": [Score(a, b) for a, b in live.scores], "current": None,
                    "sets": len(live.scores)}
        assert isinstance(live, LiveSets)
        won1 = sum(1 for a, b in live.sets if a > b)
        label = period_label(self.family, "sets", len(live.sets) + 1)
        return {"period": len(live.sets) + 1, "period_label": label, "minute": None,
                "clock": f"Set {len(live.sets) + 1}", "score": Score(won1, len(live.sets) - won1),
                "periods": [Score(a, b) for a, b in [*live.sets, live.current]], "current": live.current,
                "sets": len(live.sets)}

    def _world_stats(self, view: LiveView) -> dict[str, Score]:
        live = view.live
        stats: dict[str, Score] = {}
        if isinstance(live, LiveTimed):
            for spec, (a, b) in zip(self.profile.stats, live.stat_counts, strict=True):
                stats[STAT_OF_KIND.get(spec.key, spec.key)] = Score(a, b)
        return stats

    def _history(self, view: LiveView, score: Score) -> list[MatchEvent]:
        """The world's recent events as the timeline a tracker joining now would show."""
        events = [e for e in view.node.get("live_events") or () if e.get("event_type") in KIND_OF_WORLD_EVENT
                  or e.get("event_type") == "score"]
        self._last_event = (view.node.get("live_events") or [None])[-1]
        scoring = [e for e in events if self._scores(e)]
        running = [score.home - sum(e.get("value", 1) for e in scoring if e.get("team") == "team1"),
                   score.away - sum(e.get("value", 1) for e in scoring if e.get("team") == "team2")]
        timeline = []
        for i, e in enumerate(events, start=1):
            side = 0 if e.get("team") == "team1" else 1
            if self._scores(e):
                running[side] += int(e.get("value", 1))
            kind, points = self._kind(e)
            timeline.append(MatchEvent(
                game_id=self.game_id, seq=i, kind=kind, team=SIDES[side], period=self._label_of(e),
                minute=_minute(e), score=Score(max(0, running[0]), max(0, running[1])), points=points))
        return timeline

    def _label_of(self, event: Mapping[str, Any]) -> str:
        state = str(event.get("period") or "")
        number = int(state[3:]) if state.startswith("set") and state[3:].isdigit() else 1
        return period_label(self.family, "sets" if self.sets_sport else "timed", number)

    def _scores(self, event: Mapping[str, Any]) -> bool:
        return event.get("event_type") in ("goal", "score") or (self.sets_sport and event.get("event_type") == "set_won")

    def _kind(self, event: Mapping[str, Any]) -> tuple[str, int]:
        etype = event.get("event_type")
        value = int(event.get("value", 1) or 1)
        if etype == "score":
            if self.family == "basketball":
                return BASKETBALL_SCORES.get(value, "score"), value
            return "score", value
        if etype == "goal":
            return "goal", 1
        return KIND_OF_WORLD_EVENT.get(str(etype), str(etype)), 0

    def _serve(self) -> str:
        games = sum(p.home + p.away for p in self._seen["periods"])
        return SIDES[games % 2]

    # -- frames ---------------------------------------------------------------------------------------
    def _emit(self, out: list[Frame], frame: Frame) -> None:
        self.state = apply(self.state, frame)
        out.append(frame)

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _event(self, out: list[Frame], kind: str, side: int | None, **fields: Any) -> None:
        fields.setdefault("score", self.state.score)
        fields.setdefault("period", self.state.period)
        fields.setdefault("minute", self.state.minute)
        team = SIDES[side] if side is not None else None
        self._emit(out, MatchEvent(game_id=self.game_id, seq=self._next(), kind=kind, team=team,
                                   text=_text(kind, team, self.state.teams), **fields))

    def step(self, view: LiveView | None, now: float, final: FinishedGame | None = None) -> list[Frame]:
        """The frames since the last step; ``view`` None means the game is over (or gone), and
        ``final`` is its result if the world has it (a decider played at the whistle included)."""
        out: list[Frame] = []
        if self.ended:
            return out
        dt = max(0.0, now - self._now)
        self._now = now
        if view is None:
            self.ended = True
            score, periods = self.state.score, self.state.periods
            if final is not None:
                score, periods = Score(*final.final), [Score(a, b) for a, b in final.periods]
                if self.sets_sport:  # what was played since the last step, up to the final point
                    self._set_progress(out, self._seen["periods"], periods, last_complete=True)
            self._emit(out, MatchEnd(game_id=self.game_id, seq=self._next(), score=score, periods=periods))
            return out
        if self._pending_kick_off:
            self._pending_kick_off = False
            self._event(out, "kick_off", 0)
        seen = self._observe(view)
        if not self.sets_sport and seen["period"] != self._seen["period"]:  # sets: _set_progress tells them
            self._event(out, "period_end", None, period=self._seen["period_label"])
            self._event(out, "period_start", None, period=seen["period_label"], minute=seen["minute"],
                        periods=seen["periods"])
            self._ball_to_centre(out, now)
        self._world_events(out, view, seen)
        if self.sets_sport:
            self._set_progress(out, self._seen["periods"], seen["periods"])
        if seen["minute"] != self._seen["minute"] or seen["clock"] != self._seen["clock"]:
            self._emit(out, ClockUpdate(game_id=self.game_id, seq=self._next(), period=seen["period_label"],
                                        minute=seen["minute"], clock=seen["clock"]))
        self._seen = seen
        self._play(out, view, dt, now)
        return out

    # -- what the world decided -------------------------------------------------------------------------
    def _world_events(self, out: list[Frame], view: LiveView, seen: dict[str, Any]) -> None:
        events = list(view.node.get("live_events") or ())
        if not events or events[-1] is self._last_event:
            return
        start = 0
        for i in range(len(events) - 1, -1, -1):
            if events[i] is self._last_event:
                start = i + 1
                break
        self._last_event = events[-1]
        running = [self.state.score.home, self.state.score.away]
        for event in events[start:]:
            etype = event.get("event_type")
            side = 0 if event.get("team") == "team1" else 1
            if etype == "set_won":
                continue  # _set_progress tells the set with the game or point that won it
            if etype not in KIND_OF_WORLD_EVENT and etype != "score":
                continue
            kind, points = self._kind(event)
            if self._scores(event):
                running[side] += int(event.get("value", 1) or 1)
            fields: dict[str, Any] = {"score": Score(*running), "points": points}
            if self._scores(event):
                fields["periods"] = seen["periods"]
            self._event(out, kind, side, **fields)
            if kind in ("goal", "two_pointer", "three_pointer", "free_throw", "score"):
                self.attacking = 1 - side  # the other side restarts
                self._ball_to_centre(out, self._now)
        if Score(*running) != seen["score"] and not self.sets_sport:
            # the world scored more than its recent events tell (a burst longer than it keeps)
            self._event(out, "score", None, score=seen["score"], periods=seen["periods"])

    def _set_progress(self, out: list[Frame], before: list[Score], after: list[Score], *,
                      last_complete: bool = False) -> None:
        """Everything a set sport played between two looks at the world: each unit (a tennis game,
        else a point) to whoever won it, and each set that finished. ``before``/``after`` list the
        sets with the one in play last; ``last_complete``: ``after`` is the final result (every set
        in it is over)."""
        running = [sum(1 for p in before[:-1] if p.home > p.away), sum(1 for p in before[:-1] if p.home < p.away)]
        for i, now in enumerate(after):
            was = before[i] if i < len(before) else Score()
            games = [was.home, was.away]  # the set as it stands after each unit: one at a time
            for side in _interleave(max(0, now.home - was.home), max(0, now.away - was.away)):
                games[side] += 1
                periods = [*after[:i], Score(*games)]
                if self.family == "tennis":
                    self._finish_tennis_game(out, side, periods, Score(*running))
                else:
                    self._event(out, "point", side, score=Score(*running), periods=periods)
            over = i < len(after) - 1 or last_complete
            if over and i >= len(before) - 1:  # it was the set in play (or a later one): it just ended
                winner = 0 if now.home > now.away else 1
                running[winner] += 1
                self._event(out, "set", winner, score=Score(*running), periods=after[: i + 1])
                if i < len(after) - 1:
                    self._event(out, "period_start", None, period=period_label(self.family, "sets", i + 2))

    def _finish_tennis_game(self, out: list[Frame], winner: int, periods: list[Score], score: Score) -> None:
        """Play the points that let ``winner`` take the game the world has just given them."""
        while True:
            self._points[winner] += 1
            won, labels = self._tennis_labels(winner)
            if won:
                break
            self._event(out, "point", winner, game_points=labels)
        self._points = [0, 0]
        self._event(out, "game", winner, score=score, periods=periods, game_points=["0", "0"],
                    serve=SIDES[sum(p.home + p.away for p in periods) % 2])

    def _tennis_labels(self, side: int) -> tuple[bool, list[str]]:
        """After a point to ``side``: (whether that won the game, the game score as shown)."""
        a, b = self._points
        if max(a, b) >= 4 and abs(a - b) >= 2:
            return True, []
        if a >= 3 and b >= 3:
            if a == b:
                self._points = [3, 3]
                return False, ["40", "40"]
            return False, ["AD", "40"] if a > b else ["40", "AD"]
        return False, [TENNIS_POINTS[min(a, 3)], TENNIS_POINTS[min(b, 3)]]

    # -- what the tracker adds -------------------------------------------------------------------------
    def _ball_to_centre(self, out: list[Frame], now: float) -> None:
        if self.sets_sport:
            return
        self._emit(out, BallUpdate(game_id=self.game_id, seq=self._next(),
                                   ball=Ball(x=0.5, y=0.5, team=SIDES[self.attacking], zone="safe")))
        self._ball_at = now

    def _play(self, out: list[Frame], view: LiveView, dt: float, now: float) -> None:
        r = self.rng
        if self.family == "tennis":
            self._tennis_rally(out, dt)
        if self.sets_sport:
            if now - self._ball_at >= BALL_EVERY:
                self._ball_at = now
                server = 0 if self.state.serve == "home" else 1
                x = r.uniform(0.05, 0.45) if r.random() < 0.5 else r.uniform(0.55, 0.95)
                self._emit(out, BallUpdate(game_id=self.game_id, seq=self._next(),
                                           ball=Ball(x=round(x, 3), y=round(r.uniform(0.1, 0.9), 3),
                                                     team=SIDES[server])))
            return
        self._held[self.attacking] += dt
        if r.random() < dt * (0.12 if self.family == "basketball" else 0.15):
            self.attacking = 1 - self.attacking  # possession changes hands
        minute = self.state.minute or 0
        self._match_time += dt * self.time_scale
        self._extras(out, dt * self.time_scale, minute)  # at the match's pace, as the world's own events
        if now - self._ball_at >= BALL_EVERY:
            self._ball_at = now
            self._move_ball(out, minute)
        if now - self._possession_at >= POSSESSION_EVERY:
            self._possession_at = now
            total = sum(self._held) or 1.0
            home = round(100 * self._held[0] / total)
            if self.state.possession is None or home != self.state.possession.home:
                self._emit(out, PossessionUpdate(game_id=self.game_id, seq=self._next(),
                                                 possession=Possession(home, 100 - home)))

    def _move_ball(self, out: list[Frame], minute: int) -> None:
        r = self.rng
        ball = self.state.ball or Ball()
        towards = 1.0 if self.attacking == 0 else 0.0  # home attacks the away goal at x = 1
        x = min(0.99, max(0.01, ball.x + (towards - ball.x) * r.uniform(0.0, 0.25) + r.gauss(0.0, 0.06)))
        y = min(0.98, max(0.02, ball.y + r.gauss(0.0, 0.08)))
        distance = abs(towards - x)
        zone = "danger" if distance < 0.17 else "attack" if distance < 0.38 else "safe"
        self._emit(out, BallUpdate(game_id=self.game_id, seq=self._next(),
                                   ball=Ball(x=round(x, 3), y=round(y, 3), team=SIDES[self.attacking], zone=zone)))
        if zone == "danger" and ball.zone != "danger" and self._match_time - self._danger_since > DANGER_GAP:
            self._danger_since = self._match_time
            if self.family == "football":
                self._event(out, "dangerous_attack", self.attacking)
                if r.random() < 0.5:
                    self._event(out, "shot", self.attacking)

    def _extras(self, out: list[Frame], dt: float, minute: int) -> None:
        """The tracker's own events, at their rates per second of match time ``dt``."""
        r = self.rng
        if self.family == "football":
            if r.random() < dt * FREE_KICK_RATE:
                self._event(out, "free_kick", 1 - self.attacking)
            if minute >= 46 and r.random() < dt * SUBSTITUTION_RATE:
                side = r.randrange(2)
                if self._subs[side] < 5:
                    self._subs[side] += 1
                    self._event(out, "substitution", side)
            if r.random() < dt * RED_CARD_RATE:
                self._event(out, "red_card", r.randrange(2))
        elif self.family == "basketball":
            if r.random() < dt * 0.02:
                self._event(out, "foul", r.randrange(2))
            if r.random() < dt * 0.002:
                self._event(out, "timeout", r.randrange(2))

    def _tennis_rally(self, out: list[Frame], dt: float) -> None:
        """A point now and then; it never wins the game -- only the world decides games."""
        r = self.rng
        if r.random() >= dt / (self.profile.point_seconds / 6.0):
            return
        side = 0 if r.random() < 0.5 else 1
        a, b = self._points
        trial = [a, b]
        trial[side] += 1
        if max(trial) >= 4 and abs(trial[0] - trial[1]) >= 2:
            side = 1 - side  # that would decide the game: the point goes the other way
        self._points[side] += 1
        won, labels = self._tennis_labels(side)
        if won:  # both ways would have decided it: hold at deuce
            self._points = [3, 3]
            labels = ["40", "40"]
        self._event(out, "point", side, game_points=labels)


def _interleave(home: int, away: int) -> list[int]:
    """``home`` zeros and ``away`` ones, alternating while both last (the order they came in is not known)."""
    out: list[int] = []
    while home or away:
        if home:
            out.append(0)
            home -= 1
        if away:
            out.append(1)
            away -= 1
    return out


def _minute(event: Mapping[str, Any]) -> int | None:
    text = str(event.get("time") or "")
    return int(text) if text.isdigit() else None


_TEXT = {
    "kick_off": "Kick-off", "goal": "Goal", "yellow_card": "Yellow card", "red_card": "Red card",
    "corner": "Corner", "free_kick": "Free kick", "shot": "Shot", "shot_on_target": "Shot on target",
    "substitution": "Substitution", "dangerous_attack": "Dangerous attack", "period_start": "Period starts",
    "period_end": "Period ends", "free_throw": "Free throw", "two_pointer": "2 points", "three_pointer": "3 points",
    "foul": "Foul", "timeout": "Timeout", "point": "Point", "game": "Game", "set": "Set", "score": "Score",
}


def _text(kind: str, team: str | None, teams: Teams) -> str:
    label = _TEXT.get(kind, kind.replace("_", " ").capitalize())
    if team is None:
        return label
    return f"{label}: {teams.home if team == 'home' else teams.away}"
