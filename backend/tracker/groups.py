"""The live tracker's groups: one per followed game, with its upstream connection and its channel.

A :class:`TrackerGroup` is built from a :class:`TrackerSpec` when the first client of a game arrives
(``/api/live-tracker?gameId=``) and is a :class:`~backend.hub.base.BaseGroup` like every odds group:
the same registry, grace period, channel, replay, heartbeats and dead-client rules. What it sends
(docs/api.md A8 and E):

* ``event: ready`` ``{"gameId"}`` once per upstream connection that delivers the match state: to
  everyone, just before that state (in the snapshot of a client that joins while such a
  connection is up, or once the game has ended) -- not per connection attempt;
* every feed frame as an unnamed message (``data: <frame JSON>``, a ``message`` event in a browser):
  the match state first, then events, ball, possession and clock updates;
* ``event: end`` ``{"gameId"}`` once the game is over (after its last frame); the stream stays open;
* ``event: error`` ``{"error"}`` when the feed will not follow the game; the streams then end.

A late joiner gets ``ready`` (while a connection that delivered the state is up), the match state
so far -- the whole of it: score, statistics, timeline -- and ``end`` if the game is over. After an
upstream reconnect every client gets ``ready`` and the feed's fresh state.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from oddsui.tracker_feed import TIMELINE_KEPT, MatchEvent

from backend.health.reports import TrackerReport
from backend.http import positive_int
from backend.hub.base import BaseGroup, GroupHost
from backend.hub.fanout import encode_json, sse_event
from backend.lifecycle import ConnState

from .connection import TrackerConnection, TrackerStats
from .session import Ended, Event, Frame, Malformed, Refused, Snapshot, TrackerSession

log = logging.getLogger(__name__)

REPORT_EVERY = 5.0  # seconds between unforced reports to health (docs/api.md F1)
REPORT_MESSAGES = 50
REPORT_PARSE_ERRORS = 5
LEASE_TTL = 30.0
REMEASURE_EVERY = 50  # frames between exact measurements of a game's state (its bytes in the budget)


class TrackerContext(GroupHost, Protocol):
    """What a tracker group may ask of the tracker service."""

    stats: TrackerStats
    idle_timeout: float  # seconds of feed silence before a connection counts as stalled

    def connection_for(self, group: TrackerGroup) -> TrackerConnection: ...

    def refused(self, game_id: str) -> str | None: ...

    def remember_refusal(self, game_id: str, message: str) -> None: ...

    def report(self, report: TrackerReport) -> None: ...


class TrackerGroup(BaseGroup):
    kind = "tracker"

    def __init__(self, ctx: TrackerContext, key: Hashable, game_id: str) -> None:
        super().__init__(ctx, key)
        self.ctx: TrackerContext = ctx
        self.game_id = game_id
        self.session = TrackerSession(game_id, idle_timeout=ctx.idle_timeout)
        self.connection: TrackerConnection | None = None
        self.upstream_connected = False
        self._ready_data = encode_json({"gameId": game_id})
        self._ready = sse_event("ready", self._ready_data)
        self._delivered = False  # whether the current connection has delivered a state (and said ready)
        self._measured = False  # whether the state's bytes were measured since it was last replaced
        self._state_bytes = 0  # what the budget is charged for the state: measured, plus events since
        self._timeline = 0  # events in the state's timeline, as of that count
        self._unmeasured = 0  # frames folded in since the last measurement
        # what health has not been told yet
        self._reported_at = -1e9
        self._reported_clients = -1
        self._reported_upstream: bool | None = None
        self._reported_messages = 0  # the session's received_total as of the last report
        self._parse_errors = 0
        self._last_message_at: float | None = None

    def start(self) -> None:
        refusal = self.ctx.refused(self.game_id)
        if refusal is not None:  # the feed refused this game a moment ago: do not ask again yet
            self.fail(refusal)
            return
        self.connection = self.ctx.connection_for(self)
        self.spawn(self.connection.run(), "tracker-connection")

    def on_events(self, events: list[Event]) -> None:
        """Called by the connection with what the session made of the feed."""
        for event in events:
            if isinstance(event, (Snapshot, Frame)):
                self._last_message_at = self.ctx.clock.time()
                if isinstance(event, Snapshot) and not self._delivered:  # a connection that delivers: say so
                    self._delivered = True
                    self.channel.publish_raw("ready", self._ready_data)
                self.channel.publish_raw(None, event.data)
                self._account(event)
            elif isinstance(event, Malformed):
                self._parse_errors += 1
            elif isinstance(event, Ended):
                self.emit("end", {"gameId": self.game_id})
                self._measure()
            elif isinstance(event, Refused):
                self.ctx.remember_refusal(self.game_id, event.message)
                self.fail(event.message)

    def on_connection_state(self, state: ConnState) -> None:
        self.upstream_connected = state is ConnState.LIVE
        if state is ConnState.CONNECTING:  # a new attempt: its ready waits for the state it delivers
            self._delivered = False

    @property
    def ready_said(self) -> bool:
        """Whether the clients have been told ``ready`` for the connection that is up now."""
        return self._delivered and self.upstream_connected

    def _account(self, event: Snapshot | Frame) -> None:
        """Keep the state's bytes in the budget up to date as frames fold into it, cheaply: measured
        exactly (the state encoded) on a ``state``, the first frame, the end and every
        ``REMEASURE_EVERY`` frames; in between, an event the timeline keeps adds its encoded size
        (the timeline is what grows: the other frames replace parts of about their own size)."""
        self._unmeasured += 1
        if isinstance(event, Snapshot) or not self._measured or self._unmeasured >= REMEASURE_EVERY:
            self._measure()
        elif isinstance(event, Frame) and isinstance(event.frame, MatchEvent):
            if self._timeline < TIMELINE_KEPT:  # a full timeline drops its oldest for it
                self._timeline += 1
                self._state_bytes += len(event.data)
                self.retained.set(self._state_bytes)

    def _measure(self) -> None:
        state = self.session.state
        self._measured = state is not None
        self._state_bytes = len(encode_json(state)) if state is not None else 0
        self._timeline = len(state.timeline) if state is not None else 0
        self._unmeasured = 0
        self.retained.set(self._state_bytes)

    def late_joiner_frames(self) -> list[bytes]:
        frames = super().late_joiner_frames()
        if frames:
            return frames
        if self.ready_said or self.session.ended:
            frames.append(self._ready)
        state = self.session.state
        if state is not None:
            frames.append(sse_event(None, encode_json(state)))
        if self.session.ended:
            frames.append(sse_event("end", encode_json({"gameId": self.game_id})))
        return frames

    def report(self, now: float, clients: int, *, force: bool = False) -> None:
        """Tell health how the game is doing: at once on a change of clients or upstream state, else
        after enough messages or parse errors, or every few seconds (the original's rules)."""
        # every text the feed sent, as the tracker's own ws_messages_total counts them: duplicates,
        # frames after the end and malformed ones too
        messages = self.session.received_total - self._reported_messages
        changed = clients != self._reported_clients or self.upstream_connected != self._reported_upstream
        due = (force or changed or messages >= REPORT_MESSAGES or self._parse_errors >= REPORT_PARSE_ERRORS
               or now - self._reported_at >= REPORT_EVERY)
        if not due:
            return
        self.ctx.report(TrackerReport(game_id=self.game_id, lease_ttl=LEASE_TTL, delta_messages=messages,
                                      delta_parse_errors=self._parse_errors, last_message_at=self._last_message_at,
                                      sse_clients=clients, upstream_connected=self.upstream_connected))
        self._reported_at = now
        self._reported_clients = clients
        self._reported_upstream = self.upstream_connected
        self._reported_messages += messages
        self._parse_errors = 0

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.upstream_connected = False
            self.report(self.ctx.clock.monotonic(), 0, force=True)


@dataclass(frozen=True, slots=True)
class TrackerSpec:
    game_id: str
    kind: ClassVar[str] = "tracker"
    subscriptions: ClassVar[int] = 0  # no Swarm subscription: one tracker socket of its own

    @property
    def key(self) -> Hashable:
        return ("tracker", self.game_id)

    def build(self, ctx: TrackerContext) -> TrackerGroup:
        return TrackerGroup(ctx, self.key, self.game_id)


def parse_tracker(params: Mapping[str, str]) -> TrackerSpec | str:
    if not params.get("gameId"):
        return "gameId is required"
    game_id = positive_int(params.get("gameId"))
    return TrackerSpec(str(game_id)) if game_id is not None else "gameId must be a positive integer"
