"""The live-tracker feed's frames: one schema for the simulator that sends them, the backend that
relays them and the UI that draws them (msgspec tagged Structs, discriminated by ``type``).

A tracker connection follows one game. It starts with a :class:`MatchState` -- everything so far:
score, period and clock, per-period scores, statistics, possession, the ball, the serve, and the
timeline of events -- and continues with small frames: a :class:`MatchEvent` (a goal, a card, a
point, ...), :class:`BallUpdate`, :class:`PossessionUpdate` and :class:`ClockUpdate`, and one
:class:`MatchEnd` when the game is over. Every frame of a game carries ``seq``, increasing by one,
so a receiver can tell a gap. :func:`apply` folds a frame into a :class:`MatchState`, which is how
both the backend (for late joiners) and the UI keep the state current.

Coordinates: ``x`` runs from the home goal (0) to the away goal (1), ``y`` from one touchline (0) to
the other (1), whatever the sport (a court, a table). Teams are ``"home"`` and ``"away"``.

Event kinds, by sport family (``MatchState.sport``):

* football (and futsal): ``kick_off``, ``goal``, ``yellow_card``, ``red_card``, ``corner``,
  ``free_kick``, ``shot``, ``substitution``, ``dangerous_attack``, ``period_start``, ``period_end``;
* basketball: ``free_throw`` (1 point), ``two_pointer``, ``three_pointer``, ``foul``, ``timeout``,
  ``period_start``, ``period_end``;
* tennis: ``point`` (``game_points`` is the game score after it, e.g. ``["30", "15"]``), ``game``,
  ``set``, ``period_start``;
* any other timed sport: ``goal`` where goals are scored one at a time (ice hockey, baseball), else
  ``score`` (with ``points``), its statistics' kinds, ``period_start``, ``period_end``; any other set
  sport: ``point``, ``set``, ``period_start``.

Pure (no ``js``): runs under CPython in the backend and in Pyodide in the browser.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "TIMELINE_KEPT",
    "Ball",
    "BallUpdate",
    "ClockUpdate",
    "FeedError",
    "Frame",
    "MatchEnd",
    "MatchEvent",
    "MatchState",
    "Possession",
    "PossessionUpdate",
    "Score",
    "Teams",
    "apply",
    "decode_frame",
    "encode_frame",
]

Side = Literal["home", "away"]
Status = Literal["live", "ended"]
TIMELINE_KEPT = 200  # events a MatchState keeps (the oldest go first)


class Score(msgspec.Struct):
    home: int = 0
    away: int = 0


class Teams(msgspec.Struct):
    home: str = "Home"
    away: str = "Away"


class Possession(msgspec.Struct):
    """Share of possession in percent (the two add up to 100)."""

    home: int = 50
    away: int = 50


class Ball(msgspec.Struct):
    x: float = 0.5
    y: float = 0.5
    team: Side | None = None  # who has it
    zone: Literal["safe", "attack", "danger"] = "safe"  # how close to scoring


class MatchEvent(msgspec.Struct, tag="event", kw_only=True):
    game_id: str
    seq: int
    kind: str
    team: Side | None = None
    period: str = ""
    minute: int | None = None  # timed sports: the match minute
    score: Score  # after the event
    periods: list[Score] | None = None  # per period after the event, when it changed them
    points: int = 0  # what a scoring event scored
    game_points: list[str] | None = None  # tennis: the game score after it, e.g. ["40", "15"]
    serve: Side | None = None  # tennis: who serves after it, when that changed
    text: str = ""


class MatchState(msgspec.Struct, tag="state", kw_only=True):
    game_id: str
    seq: int
    sport: str  # football, basketball, tennis, ... (lower case)
    teams: Teams
    status: Status = "live"
    period: str = ""  # "1H", "Q3", "S2", ...
    minute: int | None = None
    clock: str = ""  # as shown: "67'", "45+2'", "Q3", "Set 2"
    score: Score
    periods: list[Score] = []  # per period (half, quarter, set), the current one last
    stats: dict[str, Score] = {}  # corners, yellow_cards, ... per team
    possession: Possession | None = None
    ball: Ball | None = None
    serve: Side | None = None
    game_points: list[str] | None = None  # tennis: the current game's score
    timeline: list[MatchEvent] = []  # the last TIMELINE_KEPT events, oldest first


class BallUpdate(msgspec.Struct, tag="ball", kw_only=True):
    game_id: str
    seq: int
    ball: Ball


class PossessionUpdate(msgspec.Struct, tag="possession", kw_only=True):
    game_id: str
    seq: int
    possession: Possession


class ClockUpdate(msgspec.Struct, tag="clock", kw_only=True):
    game_id: str
    seq: int
    period: str
    minute: int | None = None
    clock: str = ""


class MatchEnd(msgspec.Struct, tag="end", kw_only=True):
    game_id: str
    seq: int
    score: Score
    periods: list[Score] = []


class FeedError(msgspec.Struct, tag="error", kw_only=True):
    """The feed cannot follow this game (unknown or not live); it closes the connection after."""

    message: str


Frame = MatchState | MatchEvent | BallUpdate | PossessionUpdate | ClockUpdate | MatchEnd | FeedError

_DECODER = msgspec.json.Decoder(Frame)
_ENCODER = msgspec.json.Encoder()


def decode_frame(data: str | bytes) -> Frame:
    """Decode one frame; raises ``msgspec.DecodeError``/``ValidationError`` if it does not fit."""
    return _DECODER.decode(data)


def encode_frame(frame: Frame) -> bytes:
    return _ENCODER.encode(frame)


def apply(state: MatchState, frame: Frame) -> MatchState:
    """``state`` with ``frame`` applied (a new state; ``state`` itself is not changed).

    A MatchState replaces everything; an event adds to the timeline (bounded) and brings the score,
    the per-period scores, the statistics it counts and the tennis game score and serve with it; the
    updates set their part.
    """
    if isinstance(frame, MatchState):
        return frame
    if isinstance(frame, MatchEvent):
        timeline = [*state.timeline, frame][-TIMELINE_KEPT:]
        stats = state.stats
        key = STAT_OF_KIND.get(frame.kind)
        if key is not None and frame.team is not None:
            stats = dict(stats)
            old = stats.get(key, Score())
            stats[key] = Score(old.home + (frame.team == "home"), old.away + (frame.team == "away"))
        return msgspec.structs.replace(
            state, seq=frame.seq, score=frame.score, timeline=timeline, stats=stats,
            periods=frame.periods if frame.periods is not None else state.periods,
            game_points=frame.game_points if frame.game_points is not None else state.game_points,
            serve=frame.serve if frame.serve is not None else state.serve)
    if isinstance(frame, BallUpdate):
        return msgspec.structs.replace(state, seq=frame.seq, ball=frame.ball)
    if isinstance(frame, PossessionUpdate):
        return msgspec.structs.replace(state, seq=frame.seq, possession=frame.possession)
    if isinstance(frame, ClockUpdate):
        return msgspec.structs.replace(state, seq=frame.seq, period=frame.period, minute=frame.minute,
                                       clock=frame.clock)
    if isinstance(frame, MatchEnd):
        return msgspec.structs.replace(state, seq=frame.seq, status="ended", score=frame.score,
                                       periods=frame.periods or state.periods)
    return state


# Events that count towards a statistic of MatchState.stats.
STAT_OF_KIND = {
    "corner": "corners", "yellow_card": "yellow_cards", "red_card": "red_cards", "free_kick": "free_kicks",
    "substitution": "substitutions", "dangerous_attack": "dangerous_attacks", "shot": "shots",
    "shot_on_target": "shots_on_target", "foul": "fouls", "timeout": "timeouts",
}
