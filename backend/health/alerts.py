"""Alert rules (docs/design.md R8), evaluated from a metrics snapshot. Pure: no clock, no I/O.

=========================  ===========================================================  ========
alert                      fires when                                                   severity
=========================  ===========================================================  ========
``group_clients_high``     a single group has at least 8,000 clients                     warning
``upstream_failure_rate``  over 10 % of upstream connection attempts failed (5 minutes)  critical
``upstream_disconnected``  the hub has no live upstream session                          critical
``upstream_stalled``       the feed went quiet and its connection was replaced (5 min)   warning
``upstream_session_lost``  the feed forgot the hub's session (5 minutes)                 warning
``memory_budget``          what the hub retains is over its memory budget                warning
=========================  ===========================================================  ========
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GROUP_CLIENTS_ALERT = 8000
FAILURE_RATE_ALERT = 0.10


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    message: str
    value: float
    threshold: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(*, connected: bool, attempts_5m: int, failures_5m: int, group_clients: dict[str, int],
             stalls_5m: int = 0, expiries_5m: int = 0, retained_bytes: int = 0, budget_bytes: int | None = None,
             group_threshold: int = GROUP_CLIENTS_ALERT, failure_threshold: float = FAILURE_RATE_ALERT) -> list[Alert]:
    alerts: list[Alert] = []
    for group, clients in sorted(group_clients.items()):
        if clients >= group_threshold:
            alerts.append(Alert("group_clients_high", "warning", f"group {group} has {clients} clients",
                                clients, group_threshold))
    rate = failure_rate(attempts_5m, failures_5m)
    if rate > failure_threshold:
        alerts.append(Alert("upstream_failure_rate", "critical",
                            f"{failures_5m} of {attempts_5m} upstream connection attempts failed in 5 minutes",
                            round(rate, 4), failure_threshold))
    if not connected:
        alerts.append(Alert("upstream_disconnected", "critical", "no live upstream Swarm session", 0, 1))
    if stalls_5m > 0:
        alerts.append(Alert("upstream_stalled", "warning",
                            f"the feed stalled {stalls_5m} time(s) in 5 minutes; the connection was replaced",
                            stalls_5m, 0))
    if expiries_5m > 0:
        alerts.append(Alert("upstream_session_lost", "warning",
                            f"the feed forgot the session {expiries_5m} time(s) in 5 minutes; renewed and resubscribed",
                            expiries_5m, 0))
    if budget_bytes is not None and retained_bytes > budget_bytes:
        alerts.append(Alert("memory_budget", "warning",
                            f"cached payloads alone ({retained_bytes} bytes) exceed the memory budget",
                            retained_bytes, budget_bytes))
    return alerts


def failure_rate(attempts: int, failures: int) -> float:
    return failures / attempts if attempts > 0 else 0.0
