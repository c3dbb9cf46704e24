"""An upstream connection's lifecycle as a transition table (docs/design.md principle 3): the Swarm
connection and every live-tracker connection follow it.

::

    DISCONNECTED --connect--> CONNECTING --opened--> SESSION --session--> LIVE
         ^                        |                     |                  |
         |                     failed                failed             closed
         |                        v                     v                  v
         +------- (never) ---  BACKOFF <---------------+------------------+
                                  |
                                  +--connect--> CONNECTING

Any state --stop--> STOPPED, which is final. An event with no row in the table raises
:class:`IllegalTransition` and leaves the state as it was.
"""

from __future__ import annotations

from enum import Enum


class ConnState(str, Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SESSION = "session"
    LIVE = "live"
    BACKOFF = "backoff"
    STOPPED = "stopped"


TRANSITIONS: dict[tuple[ConnState, str], ConnState] = {
    (ConnState.DISCONNECTED, "connect"): ConnState.CONNECTING,
    (ConnState.BACKOFF, "connect"): ConnState.CONNECTING,
    (ConnState.CONNECTING, "opened"): ConnState.SESSION,
    (ConnState.CONNECTING, "failed"): ConnState.BACKOFF,
    (ConnState.SESSION, "session"): ConnState.LIVE,
    (ConnState.SESSION, "failed"): ConnState.BACKOFF,
    (ConnState.LIVE, "closed"): ConnState.BACKOFF,
}


class IllegalTransition(Exception):
    def __init__(self, state: ConnState, event: str) -> None:
        super().__init__(f"no transition from {state.value!r} on {event!r}")
        self.state = state
        self.event = event


class Lifecycle:
    def __init__(self) -> None:
        self.state = ConnState.DISCONNECTED

    def fire(self, event: str) -> ConnState:
        if event == "stop":
            self.state = ConnState.STOPPED
            return self.state
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise IllegalTransition(self.state, event)
        self.state = target
        return target
