"""The live tracker, drawn by us (from docs/api.md E4's frames): a pitch, court or table in SVG with the ball, the side
attacking and how dangerously, a possession bar, the score and clock, and the match's events with
their minute. Pure: markup from a ``tracker_feed.MatchState``, DOM writes through the ``DomPort``.

``field_of(sport)`` picks the drawing: ``football`` (also futsal), ``basketball``, ``tennis`` (and
the other net sports), or ``generic`` -- a neutral field with halfway line and goals, which suits
every other timed sport the feed follows (ice hockey, handball, rugby, ...).

``tracker_model(state)`` is everything the view shows as a slot model (see ``slots``), so a
``BallUpdate`` costs a handful of attribute writes: the ball's ``cx``/``cy``, the zone's ``x`` and
``width``, the status text. Coordinates follow the feed: ``x`` from the home goal (0) to the away
goal (1), ``y`` across (0..1); the home side attacks to the right. The zone overlay shades the
third (attack) or the last sixth (danger) in front of the goal being attacked.

The SVG is ``role="img"`` with a name that says what it shows; nothing here is announced as it
changes (a moving ball would drown a screen reader), but the status line and the
timeline are ordinary text.
"""

from __future__ import annotations

from typing import Any

from .markup import Markup, join, tag
from .ports import DomPort
from .slots import Model, SlotView, slot_attrs, slot_tag
from .tracker_feed import MatchEvent, MatchState

__all__ = [
    "FIELDS",
    "TrackerView",
    "ball_point",
    "event_text",
    "field_of",
    "timeline_html",
    "tracker_html",
    "tracker_model",
    "zone_rect",
]

# viewBox width x height per drawing (the real proportions, rounded)
FIELDS = {"football": (105.0, 68.0), "basketball": (94.0, 50.0), "tennis": (78.0, 36.0), "generic": (100.0, 60.0)}
_FOOTBALL = {"football", "soccer", "futsal"}
_NET = {"tennis", "table tennis", "badminton", "volleyball", "beach volleyball", "squash", "padel"}
ZONE_SHARE = {"attack": 1 / 3, "danger": 1 / 6}
EVENT_WORDS = {
    "kick_off": "Kick-off", "goal": "Goal", "yellow_card": "Yellow card", "red_card": "Red card", "corner": "Corner",
    "free_kick": "Free kick", "shot": "Shot", "shot_on_target": "Shot on target", "substitution": "Substitution",
    "dangerous_attack": "Dangerous attack", "period_start": "Period starts", "period_end": "Period ends",
    "free_throw": "Free throw", "two_pointer": "2 points", "three_pointer": "3 points", "foul": "Foul",
    "timeout": "Time-out", "point": "Point", "game": "Game", "set": "Set", "score": "Score",
}
SHOWN_EVENTS = 40


def field_of(sport: str) -> str:
    name = (sport or "").strip().lower()
    if name in _FOOTBALL:
        return "football"
    if name == "basketball":
        return "basketball"
    if name in _NET:
        return "tennis"
    return "generic"


def _clamp(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.5
    if number != number:  # NaN
        return 0.5
    return min(1.0, max(0.0, number))


def ball_point(field: str, x: Any, y: Any) -> tuple[float, float]:
    """The ball's centre in the drawing's coordinates (always inside the field)."""
    width, height = FIELDS[field]
    return round(_clamp(x) * width, 2), round(_clamp(y) * height, 2)


def zone_rect(field: str, team: str | None, zone: str) -> tuple[float, float] | None:
    """(x, width) of the shaded zone in front of the goal ``team`` attacks, or None (no attack)."""
    share = ZONE_SHARE.get(zone)
    if share is None or team not in ("home", "away"):
        return None
    width = FIELDS[field][0] * share
    x = FIELDS[field][0] - width if team == "home" else 0.0
    return round(x, 2), round(width, 2)


def _lines(field: str) -> list[Markup]:
    w, h = FIELDS[field]
    line = {"class": "tk-line", "fill": "none"}
    out: list[Markup] = [tag("rect", {**line, "x": "0.5", "y": "0.5", "width": f"{w - 1:g}", "height": f"{h - 1:g}"})]
    if field == "football":
        out += [
            tag("line", {**line, "x1": f"{w / 2:g}", "y1": "0.5", "x2": f"{w / 2:g}", "y2": f"{h - 0.5:g}"}),
            tag("circle", {**line, "cx": f"{w / 2:g}", "cy": f"{h / 2:g}", "r": "9.15"}),
            tag("rect", {**line, "x": "0.5", "y": f"{h / 2 - 20.16:g}", "width": "16.5", "height": "40.32"}),
            tag("rect", {**line, "x": f"{w - 17:g}", "y": f"{h / 2 - 20.16:g}", "width": "16.5", "height": "40.32"}),
            tag("rect", {**line, "x": "0.5", "y": f"{h / 2 - 9.16:g}", "width": "5.5", "height": "18.32"}),
            tag("rect", {**line, "x": f"{w - 6:g}", "y": f"{h / 2 - 9.16:g}", "width": "5.5", "height": "18.32"}),
            tag("rect", {"class": "tk-goal", "x": "-1.5", "y": f"{h / 2 - 3.66:g}", "width": "2", "height": "7.32"}),
            tag("rect", {"class": "tk-goal", "x": f"{w - 0.5:g}", "y": f"{h / 2 - 3.66:g}", "width": "2",
                         "height": "7.32"}),
        ]
    elif field == "basketball":
        out += [
            tag("line", {**line, "x1": f"{w / 2:g}", "y1": "0.5", "x2": f"{w / 2:g}", "y2": f"{h - 0.5:g}"}),
            tag("circle", {**line, "cx": f"{w / 2:g}", "cy": f"{h / 2:g}", "r": "6"}),
            tag("rect", {**line, "x": "0.5", "y": f"{h / 2 - 8:g}", "width": "19", "height": "16"}),
            tag("rect", {**line, "x": f"{w - 19.5:g}", "y": f"{h / 2 - 8:g}", "width": "19", "height": "16"}),
            tag("path", {**line, "d": f"M0.5 {h / 2 - 22:g} H14 A23.75 23.75 0 0 1 14 {h / 2 + 22:g} H0.5"}),
            tag("path", {**line, "d": f"M{w - 0.5:g} {h / 2 - 22:g} H{w - 14:g} A23.75 23.75 0 0 0 {w - 14:g} "
                                      f"{h / 2 + 22:g} H{w - 0.5:g}"}),
            tag("circle", {"class": "tk-hoop", "cx": "5.2", "cy": f"{h / 2:g}", "r": "0.9"}),
            tag("circle", {"class": "tk-hoop", "cx": f"{w - 5.2:g}", "cy": f"{h / 2:g}", "r": "0.9"}),
        ]
    elif field == "tennis":
        inner = 4.5
        out += [
            tag("line", {**line, "x1": "0.5", "y1": f"{inner:g}", "x2": f"{w - 0.5:g}", "y2": f"{inner:g}"}),
            tag("line", {**line, "x1": "0.5", "y1": f"{h - inner:g}", "x2": f"{w - 0.5:g}", "y2": f"{h - inner:g}"}),
            tag("line", {**line, "x1": f"{w / 2 - 21:g}", "y1": f"{inner:g}", "x2": f"{w / 2 - 21:g}",
                         "y2": f"{h - inner:g}"}),
            tag("line", {**line, "x1": f"{w / 2 + 21:g}", "y1": f"{inner:g}", "x2": f"{w / 2 + 21:g}",
                         "y2": f"{h - inner:g}"}),
            tag("line", {**line, "x1": f"{w / 2 - 21:g}", "y1": f"{h / 2:g}", "x2": f"{w / 2 + 21:g}",
                         "y2": f"{h / 2:g}"}),
            tag("line", {"class": "tk-net", "x1": f"{w / 2:g}", "y1": "-1", "x2": f"{w / 2:g}", "y2": f"{h + 1:g}"}),
        ]
    else:
        out += [
            tag("line", {**line, "x1": f"{w / 2:g}", "y1": "0.5", "x2": f"{w / 2:g}", "y2": f"{h - 0.5:g}"}),
            tag("circle", {**line, "cx": f"{w / 2:g}", "cy": f"{h / 2:g}", "r": "6"}),
            tag("rect", {**line, "x": "0.5", "y": f"{h / 2 - 12:g}", "width": "10", "height": "24"}),
            tag("rect", {**line, "x": f"{w - 10.5:g}", "y": f"{h / 2 - 12:g}", "width": "10", "height": "24"}),
        ]
    return out


def _team(state: MatchState, side: str | None) -> str:
    if side == "home":
        return state.teams.home
    if side == "away":
        return state.teams.away
    return ""


def event_text(event: MatchEvent, state: MatchState) -> str:
    """What the timeline says: the feed's own text when it has one, else the kind and the team;
    scoring events add the score after them."""
    word = EVENT_WORDS.get(event.kind, event.kind.replace("_", " ").capitalize())
    who = _team(state, event.team)
    text = event.text.strip() if event.text and event.text.strip() else (f"{word}: {who}" if who else word)
    if event.kind in ("goal", "score", "free_throw", "two_pointer", "three_pointer", "set", "game"):
        text += f" ({event.score.home}:{event.score.away})"
    return text


def _status(state: MatchState) -> tuple[str, str]:
    """(status text, accessible description of the drawing)."""
    if state.status == "ended":
        return "Full time", "The match is over"
    ball = state.ball
    if ball is None or ball.team is None:
        if field_of(state.sport) == "tennis" and state.serve in ("home", "away"):
            text = f"{_team(state, state.serve)} to serve"
            return text, text
        return "Ball in play", "Ball in play"
    who = _team(state, ball.team)
    if field_of(state.sport) == "tennis":
        text = f"{who} on the ball"  # a rally: nobody "possesses" it
    elif ball.zone == "danger":
        text = f"{who}: dangerous attack"
    elif ball.zone == "attack":
        text = f"{who}: attack"
    else:
        text = f"{who} in possession"
    return text, text


def tracker_model(state: MatchState | None, connection: str) -> Model:
    """The tracker as a slot model; ``connection`` is shown before the first state arrives."""
    m: Model = {}
    if state is None:
        m[("tk-conn", "text")] = connection
        m[("tk-conn", "hidden")] = False
        return m
    field = field_of(state.sport)
    m[("tk-conn", "text")] = connection
    m[("tk-conn", "hidden")] = connection == ""
    m[("tk-score", "text")] = f"{state.score.home}:{state.score.away}"
    clock = state.clock or state.period
    if field == "tennis" and state.game_points:
        points = " : ".join(str(p) for p in state.game_points[:2])
        clock = f"{clock} \u00b7 {points}".strip(" \u00b7")
    m[("tk-clock", "text")] = clock or ("Full time" if state.status == "ended" else "")
    status, described = _status(state)
    m[("tk-status", "text")] = status
    m[("tk-svg", "attr:aria-label")] = (
        f"{'Court' if field in ('basketball', 'tennis') else 'Pitch'}: {described}")
    ball = state.ball
    x, y = ball_point(field, ball.x if ball else 0.5, ball.y if ball else 0.5)
    m[("tk-ball", "attr:cx")] = f"{x:g}"
    m[("tk-ball", "attr:cy")] = f"{y:g}"
    team = ball.team if ball is not None else None
    m[("tk-ball", "class:ball-home")] = team == "home"
    m[("tk-ball", "class:ball-away")] = team == "away"
    zone = zone_rect(field, team, ball.zone if ball is not None else "safe")
    m[("tk-zone", "class:off")] = zone is None
    m[("tk-zone", "class:zone-home")] = team == "home"
    m[("tk-zone", "class:zone-away")] = team == "away"
    m[("tk-zone", "class:zone-danger")] = ball is not None and ball.zone == "danger"
    if zone is not None:
        m[("tk-zone", "attr:x")] = f"{zone[0]:g}"
        m[("tk-zone", "attr:width")] = f"{zone[1]:g}"
    serve = state.serve if field == "tennis" else None
    m[("tk-serve-home", "class:off")] = serve != "home"
    m[("tk-serve-away", "class:off")] = serve != "away"
    possession = state.possession
    m[("tk-poss", "hidden")] = possession is None
    if possession is not None:
        home = max(0, min(100, int(possession.home)))
        m[("tk-poss-home", "style:width")] = f"{home}%"
        m[("tk-poss-away", "style:width")] = f"{100 - home}%"
        m[("tk-poss-home-v", "text")] = f"{home}%"
        m[("tk-poss-away-v", "text")] = f"{100 - home}%"
        m[("tk-poss-bar", "attr:aria-label")] = (
            f"Possession: {state.teams.home} {home}%, {state.teams.away} {100 - home}%")
    return m


def tracker_html(state: MatchState, m: Model) -> Markup:
    """The tracker's markup for ``state``'s sport (rebuilt only when the sport or teams change)."""
    field = field_of(state.sport)
    w, h = FIELDS[field]
    zone_attrs, _ = slot_attrs(m, "tk-zone", "tk-zone", {"y": "0", "height": f"{h:g}", "x": "0", "width": "0"})
    zone_attrs.update({k[1][5:]: v for k, v in m.items() if k[0] == "tk-zone" and k[1].startswith("attr:")})
    ball_attrs, _ = slot_attrs(m, "tk-ball", "tk-ball", {"r": "1.6" if field != "tennis" else "1.1"})
    serve = []
    if field == "tennis":
        for side, cx in (("home", 2.0), ("away", w - 2.0)):
            attrs, _ = slot_attrs(m, f"tk-serve-{side}", "tk-serve", {"cx": f"{cx:g}", "cy": "2", "r": "1.2"})
            serve.append(tag("circle", attrs))
    svg_attrs, _ = slot_attrs(m, "tk-svg", f"tk-field field-{field}",
                              {"viewBox": f"-2 -2 {w + 4:g} {h + 4:g}", "role": "img",
                               "preserveAspectRatio": "xMidYMid meet"})
    svg = tag("svg", svg_attrs,
              tag("rect", {"class": "tk-ground", "x": "0", "y": "0", "width": f"{w:g}", "height": f"{h:g}"}),
              tag("rect", zone_attrs), *_lines(field), *serve, tag("circle", ball_attrs))
    poss = tag("div", slot_attrs(m, "tk-poss", "tk-poss")[0],
               tag("span", {"class": "tk-poss-label"}, "Possession"),
               tag("div", {"class": "tk-poss-row"},
                   slot_tag(m, "span", "tk-poss-home-v", "tk-poss-v"),
                   tag("div", slot_attrs(m, "tk-poss-bar", "tk-poss-bar", {"role": "img"})[0],
                       slot_tag(m, "span", "tk-poss-home", "tk-poss-home"),
                       slot_tag(m, "span", "tk-poss-away", "tk-poss-away")),
                   slot_tag(m, "span", "tk-poss-away-v", "tk-poss-v")))
    teams = tag("div", {"class": "tk-teams"},
                tag("span", {"class": "tk-team tk-home"}, tag("span", {"class": "tk-swatch", "aria-hidden": "true"}),
                    tag("span", None, state.teams.home)),
                slot_tag(m, "span", "tk-score", "tk-score"),
                tag("span", {"class": "tk-team tk-away"}, tag("span", None, state.teams.away),
                    tag("span", {"class": "tk-swatch", "aria-hidden": "true"})))
    return tag("div", {"class": "tk", "data-field": field},
               tag("div", {"class": "tk-head"}, tag("h3", {"class": "dsec-title"}, "Live tracker"),
                   slot_tag(m, "span", "tk-clock", "tk-clock"), slot_tag(m, "span", "tk-conn", "tk-conn")),
               teams, svg, slot_tag(m, "p", "tk-status", "tk-status"), poss)


def timeline_html(state: MatchState | None) -> Markup:
    """The tracker's events, newest first (the last ``SHOWN_EVENTS``)."""
    if state is None or not state.timeline:
        return tag("p", {"class": "muted tk-empty"}, "No events yet")
    items = []
    for event in reversed(state.timeline[-SHOWN_EVENTS:]):
        minute = f"{event.minute}'" if event.minute is not None else (event.period or "\u2013")
        items.append(tag("li", {"class": f"timeline-item side-{event.team or 'none'}", "data-kind": event.kind,
                                "data-seq": str(event.seq)},
                         tag("span", {"class": "tl-time"}, minute),
                         tag("span", {"class": f"tl-icon ev-{event.kind}", "aria-hidden": "true"}),
                         tag("span", {"class": "tl-text"}, event_text(event, state))))
    return tag("ol", {"class": "timeline tk-timeline", "aria-label": "Match events"}, *items)


class TrackerView:
    """The tracker inside a container: the drawing patched per frame, the timeline per event."""

    def __init__(self, dom: DomPort, container: Any) -> None:
        self.dom = dom
        self.container = container
        self._shape: tuple[str, str, str] | None = None
        self._slots: SlotView | None = None
        self._timeline: Any = None
        self._timeline_key: tuple[Any, ...] | None = None
        self._timeline_nodes: list[Any] = []
        self._placeholder: str | None = None

    def render(self, state: MatchState | None, connection: str) -> None:
        m = tracker_model(state, connection)
        if state is None:
            text = connection or "Connecting to the tracker\u2026"
            if self._placeholder != text:
                self.clear()
                self.dom.append(self.container, self.dom.fragment(str(tag(
                    "div", {"class": "tk tk-waiting"}, tag("h3", {"class": "dsec-title"}, "Live tracker"),
                    tag("p", {"class": "muted tk-conn"}, text))))[0])
                self._placeholder = text
            return
        shape = (field_of(state.sport), state.teams.home, state.teams.away)
        if shape != self._shape or self._slots is None:
            self.clear()
            html = join([tracker_html(state, m), tag("div", {"class": "tk-events"},
                                                      tag("h4", {"class": "tk-events-title"}, "Events"))])
            nodes = self.dom.fragment(html)
            for node in nodes:
                self.dom.append(self.container, node)
            self._slots = SlotView(self.dom, nodes[0], m)
            self._timeline = nodes[1]
            self._shape = shape
        else:
            self._slots.apply(m)
        key = (len(state.timeline), state.timeline[-1].seq if state.timeline else None)
        if key != self._timeline_key:
            for node in self._timeline_nodes:
                self.dom.remove(node)
            self._timeline_nodes = self.dom.fragment(timeline_html(state))
            for node in self._timeline_nodes:
                self.dom.append(self._timeline, node)
            self._timeline_key = key

    @property
    def writes(self) -> int:
        return self._slots.writes if self._slots is not None else 0

    def clear(self) -> None:
        self.dom.set_text(self.container, "")
        self._shape = None
        self._slots = None
        self._timeline = None
        self._timeline_key = None
        self._timeline_nodes = []
        self._placeholder = None
