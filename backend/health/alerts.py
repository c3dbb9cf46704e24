"""Alert rules (requirement R8), evaluated from a metrics snapshot. Pure: no clock, no I/O.

=========================  ===========================================================  ========
alert                      fires when                                                   severity
=========================  ===========================================================  ========
``group_clients_high``     a single group has at least 8,000 clients                     warning
``upstream_failure_rate``  over 10 % of upstream connection attempts failed (5 minutes)  critical
``upstream_disconnected``  the hub has no live upstream session                          critical
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
    return alerts


def failure_rate(attempts: int, failures: int) -> float:
    return failures / attempts if attempts > 0 else 0.0
