"""What the streaming services tell health metrics: typed reports, the in-process interface.

The odds hub sends an :class:`UpstreamReport` every second (deltas since its last one); each live
tracker game sends a :class:`TrackerReport` with a lease, at once when its clients or its upstream
state change and otherwise when enough has happened (docs/api.md F). :class:`Reporter` is all a
service sees of the health service.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class TrackerReport(msgspec.Struct, frozen=True, kw_only=True):
    """One tracker game: messages and parse errors since its last report, and how it stands now."""

    game_id: str
    lease_ttl: float = 30.0
    delta_messages: int = 0
    delta_parse_errors: int = 0
    last_message_at: float | None = None  # epoch seconds
    sse_clients: int = 0
    upstream_connected: bool = False
    role: str = "service"  # in a cluster: "service" (the leader's game) or "edge" (a process's clients)


class UpstreamReport(msgspec.Struct, frozen=True, kw_only=True):
    """The odds hub's upstream in the last interval: what health counts per second. (Everything
    else about the hub -- its clients, its connection, its parse errors -- health reads from the hub
    itself when it builds a snapshot.)"""

    delta_messages: int = 0  # frames received from the feed
    delta_updates: int = 0  # subscription updates applied


class Reporter(Protocol):
    def report(self, report: TrackerReport | UpstreamReport) -> None: ...


class NullReporter:
    """For a service running without health metrics (tests)."""

    def report(self, report: TrackerReport | UpstreamReport) -> None:
        pass
