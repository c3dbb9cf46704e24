"""Sans-I/O core of one game's live-tracker feed: the subscription, the frames, the match so far.

One :class:`TrackerSession` lives as long as its game's group and spans every upstream connection.
The adapter (``connection.py``) sends :meth:`subscription` when a socket opens, feeds every text it
receives to :meth:`receive` and calls :meth:`tick`; the core answers with events:

==========================  ===========================================================================
event                       the group's job
==========================  ===========================================================================
:class:`Snapshot`           the feed's whole state (first frame of every connection): send it on
:class:`Frame`              one new frame, already folded into :attr:`TrackerSession.state`: send it on
:class:`Ended`              the game is over (after its last frame): say ``end``, close upstream for good
:class:`Refused`            the feed will not follow this game: fail the group with the message
:class:`Malformed`          counted as a parse error and skipped; the connection stays up
:class:`Stalled`            nothing for ``idle_timeout`` seconds: drop the socket and reconnect
==========================  ===========================================================================

Frames carry the feed's ``seq``. After a reconnect the feed starts again with its state; frames it
sends that the session has already seen (``seq`` not newer) are dropped, so a client never gets a
frame twice, and :attr:`TrackerSession.state` is always the match so far -- what a late joiner gets.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from oddsui.tracker_feed import FeedError, MatchEnd, MatchState, apply, decode_frame, encode_frame
from oddsui.tracker_feed import Frame as FeedFrame


@dataclass(frozen=True, slots=True)
class Snapshot:
    state: MatchState
    data: bytes  # the encoded state, as it goes to clients


@dataclass(frozen=True, slots=True)
class Frame:
    frame: FeedFrame
    data: bytes


@dataclass(frozen=True, slots=True)
class Ended:
    final: MatchState


@dataclass(frozen=True, slots=True)
class Refused:
    message: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


@dataclass(frozen=True, slots=True)
class Stalled:
    seconds: float


Event = Snapshot | Frame | Ended | Refused | Malformed | Stalled


class TrackerSession:
    def __init__(self, game_id: str, *, idle_timeout: float = 20.0) -> None:
        self.game_id = game_id
        self.idle_timeout = idle_timeout
        self.state: MatchState | None = None
        self.ended = False
        self.connected = False
        self._last_frame = 0.0
        self.received_total = 0  # every text the feed sent, whatever became of it (health's message count)
        self.frames_total = 0
        self.parse_errors = 0
        self.duplicates = 0
        self.gaps = 0

    def subscription(self, now_epoch: float) -> bytes:
        """What to send when a socket opens: follow this game, starting with its state."""
        stamp = int(now_epoch)
        return msgspec.json.encode({"request": {
            "arg": {"submatch": {"feed_type": "live", "gameevents": "true", "id": self.game_id, "link_id": "",
                                 "provider": "animation", "snapshot": True}},
            "meta": {"request_id": stamp, "ts": stamp}}})

    def connection_made(self, now: float) -> None:
        self.connected = True
        self._last_frame = now

    def connection_lost(self) -> None:
        self.connected = False

    def receive(self, text: str | bytes, now: float) -> list[Event]:
        self._last_frame = now
        self.received_total += 1
        try:
            frame = decode_frame(text)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            self.parse_errors += 1
            return [Malformed(str(exc)[:200])]
        if isinstance(frame, FeedError):
            return [Refused(frame.message[:200] or "the tracker feed refused this game")]
        if getattr(frame, "game_id", self.game_id) != self.game_id:
            self.parse_errors += 1
            return [Malformed(f"a frame for game {frame.game_id!r} on game {self.game_id!r}'s feed"[:200])]
        if self.ended:
            return []
        self.frames_total += 1
        if isinstance(frame, MatchState):
            self.state = frame
            return [Snapshot(frame, encode_frame(frame))]
        if self.state is None:
            self.parse_errors += 1
            return [Malformed(f"a {type(frame).__name__} before the match state")]
        if frame.seq <= self.state.seq:
            self.duplicates += 1
            return []
        if frame.seq != self.state.seq + 1:
            self.gaps += 1  # the frames in between are lost; the next state (after a reconnect) repairs it
        self.state = apply(self.state, frame)
        events: list[Event] = [Frame(frame, encode_frame(frame))]
        if isinstance(frame, MatchEnd):
            self.ended = True
            events.append(Ended(self.state))
        return events

    def tick(self, now: float) -> list[Event]:
        quiet = now - self._last_frame
        if self.connected and not self.ended and quiet >= self.idle_timeout:
            self._last_frame = now  # one report per stall
            return [Stalled(quiet)]
        return []
