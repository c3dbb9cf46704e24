"""What the streaming services tell health metrics: typed reports, the in-process interface.

The odds hub sends an :class:`UpstreamReport` with a lease every second (deltas since its last one,
and how it stands now) and at once when its clients or its upstream state change; each live tracker
game sends a :class:`TrackerReport` with a lease, at once when its clients or its upstream state
change and otherwise when enough has happened (docs/api.md F). A lease that runs out means the
service stopped reporting, and health says so. :class:`Reporter` is all a service sees of the health
service.
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
    """The odds hub: what its upstream did since its last report, and how it stands now."""

    lease_ttl: float = 30.0
    delta_messages: int = 0  # frames received from the feed
    delta_parse_errors: int = 0  # frames that could not be decoded, and deltas the schema check rejected
    delta_updates: int = 0  # subscription updates applied
    clients: int = 0  # its SSE clients
    upstream_connected: bool = False  # a Swarm session is live
    role: str = "service"  # in a cluster: "service" (the process's own hub) or "edge" (for the leader's upstream)


class Reporter(Protocol):
    def report(self, report: TrackerReport | UpstreamReport) -> None: ...


class NullReporter:
    """For a service running without health metrics (tests)."""

    def report(self, report: TrackerReport | UpstreamReport) -> None:
        pass
