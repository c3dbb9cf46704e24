"""Alert rules (docs/design.md R8), on the health snapshot's figures. Pure: no clock, no I/O.

=========================  =================================================================  ========
alert                      fires when                                                          severity
=========================  =================================================================  ========
``group_clients_high``     a single group (odds hub or tracker) has at least 8,000 clients     warning
``upstream_failure_rate``  over 10 % of an upstream's connection attempts failed (5 minutes)   critical
``upstream_disconnected``  the odds hub has no live upstream session                           critical
``upstream_stalled``       an upstream went quiet and a connection was replaced (5 minutes)    warning
``upstream_session_lost``  the odds feed forgot the hub's session (5 minutes)                  warning
``memory_budget``          what a service retains is over its memory budget                    warning
``cluster_store``          a cluster process cannot reach Redis (it serves what it has)        critical
``service_not_reporting``  a service's report lease (30 s) ran out: it stopped reporting       critical
=========================  =================================================================  ========

Each rule fires exactly at its threshold (``>=`` for counts, ``>`` for the rate, as the requirement
says "above 10 %") and is gone as soon as the figure is back below it: nothing is remembered here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .snapshot import Alert, ServiceMemory, Upstream

GROUP_CLIENTS_ALERT = 8000
FAILURE_RATE_ALERT = 0.10


def failure_rate(attempts: int, failures: int) -> float:
    return failures / attempts if attempts > 0 else 0.0


def evaluate(*, odds_connected: bool, upstreams: Mapping[str, Upstream], group_clients: Mapping[str, int],
             memory: Mapping[str, ServiceMemory], store_ok: bool = True, not_reporting: Sequence[str] = (),
             group_threshold: int = GROUP_CLIENTS_ALERT,
             failure_threshold: float = FAILURE_RATE_ALERT) -> list[Alert]:
    alerts: list[Alert] = []
    for group, clients in sorted(group_clients.items()):
        if clients >= group_threshold:
            alerts.append(Alert("group_clients_high", "warning", f"group {group} has {clients} clients",
                                clients, group_threshold, group.split(":", 1)[0]))
    for name, up in sorted(upstreams.items()):
        rate = failure_rate(up.connect_attempts_5m, up.connect_failures_5m)
        if rate > failure_threshold:
            alerts.append(Alert("upstream_failure_rate", "critical",
                                f"{up.connect_failures_5m} of {up.connect_attempts_5m} {name} connection attempts "
                                "failed in 5 minutes", round(rate, 4), failure_threshold, name))
        if up.stalls_5m > 0:
            alerts.append(Alert("upstream_stalled", "warning",
                                f"the {name} stalled {up.stalls_5m} time(s) in 5 minutes; the connection was "
                                "replaced", up.stalls_5m, 0, name))
        if up.session_expiries_5m > 0:
            alerts.append(Alert("upstream_session_lost", "warning",
                                f"the {name} forgot the session {up.session_expiries_5m} time(s) in 5 minutes; "
                                "renewed and resubscribed", up.session_expiries_5m, 0, name))
    if not odds_connected:
        alerts.append(Alert("upstream_disconnected", "critical", "no live upstream Swarm session", 0, 1, "odds_feed"))
    for name, mem in sorted(memory.items()):
        retained = mem.replay_bytes + mem.cache_bytes
        if mem.budget_bytes and retained > mem.budget_bytes:
            alerts.append(Alert("memory_budget", "warning",
                                f"{name} retains {retained} bytes, over its budget of {mem.budget_bytes}",
                                retained, mem.budget_bytes, name))
    for name in not_reporting:
        alerts.append(Alert("service_not_reporting", "critical",
                            f"the {name} stopped reporting to health (its last report's lease ran out); its figures "
                            "are not current", 0, 1,
                            name))
    if not store_ok:
        alerts.append(Alert("cluster_store", "critical", "the cluster's store (Redis) is unreachable", 0, 1,
                            "cluster"))
    return alerts
