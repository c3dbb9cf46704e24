"""The health modal and the welcome cards, from ``/api/health`` (docs/api.md A2).

* pure: ``health_cards`` (every card of the original -- status and uptime, the odds feed's
  WebSocket, cache, response time, the counts stream, the live tracker, subscriptions by endpoint
  and by tag -- plus ours: alerts, memory, upstream failure rates), ``nice_max`` and
  ``chart_path`` (the messages-per-second chart's scale and lines), ``chart_html``,
  ``health_html``, ``welcome_html``;
* :class:`HealthModal`: a dialog (``role=dialog``, ``aria-modal``) whose scope owns its click and
  keydown listeners and the poll that refreshes it every ``POLL_MS`` while it is open; closing it
  (the close button, the backdrop, Escape) releases them all and gives focus back to what opened
  it. While it is open the rest of the page is ``inert`` and Tab cycles inside it (the
  only focus trap, and only while a modal is open).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .display import start_text
from .markup import Markup, join, tag
from .messages import HealthPayload, decode
from .ports import DomPort, Platform
from .scope import Scope

__all__ = [
    "CHART_H",
    "CHART_W",
    "HEALTH_URL",
    "POLL_MS",
    "Card",
    "HealthModal",
    "chart_html",
    "chart_path",
    "format_duration",
    "health_cards",
    "health_html",
    "nice_max",
    "welcome_html",
]

HEALTH_URL = "/api/health"
POLL_MS = 2000.0
CHART_W = 300.0
CHART_H = 90.0
SERIES = (("odds_feed", "Odds feed"), ("tracker_feed", "Tracker feed"))


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    rows: tuple[tuple[str, str], ...]
    state: str = ""  # "ok", "warn", "bad" or "" (a dot in the title)


def _get(mapping: Any, *path: str, default: Any = None) -> Any:
    value = mapping
    for key in path:
        if not isinstance(value, dict):
            return default
        value = value.get(key)
    return default if value is None else value


def _n(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}"
    return "-" if value is None or value == "" else str(value)


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _pct(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _bytes(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def format_duration(seconds: Any) -> str:
    """Uptime as ``2d 03h``, ``1h 02m``, ``4m 05s`` or ``12s``."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        return "-"
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {s:02d}s"
    return f"{s}s"


def _by(section: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(section, dict) or not section:
        return (("none", "-"),)
    return tuple((str(name), f"{_n(_get(v, 'active_subscriptions', default=0))} subs \u00b7 "
                  f"{_n(_get(v, 'updates_last_60s', default=0))} updates/min")
                 for name, v in sorted(section.items()))


def health_cards(h: HealthPayload) -> list[Card]:
    """The modal's cards, the original's first."""
    ws = h.swarm_ws or {}
    tracker = h.live_tracker
    counts = h.counts_stream or {}
    cards = [
        Card("status", "Status", (("status", _n(h.status)), ("uptime", format_duration(h.uptime))),
             "ok" if h.status == "ok" else "bad"),
        Card("swarm", "Odds feed WebSocket", (
            ("connected", _n(bool(_get(ws, "connected", default=False)))),
            ("state", _n(_get(ws, "state"))),
            ("messages", _n(_get(ws, "ws_messages_total"))),
            ("last 60 s", _n(_get(ws, "ws_messages_last_60s"))),
            ("parse errors", _n(_get(ws, "ws_parse_errors_total"))),
            ("subscriptions", _n(_get(ws, "active_subscriptions"))),
            ("updates last 60 s", _n(_get(ws, "updates_last_60s_total"))),
            ("reconnects", _n(_get(ws, "reconnects_total"))),
            ("session", _n(_get(ws, "session_id"))),
        ), "ok" if _get(ws, "connected", default=False) else "bad"),
        Card("cache", "Cache", (("hits", _n(_get(h.cache, "hits", default=0))),
                                ("misses", _n(_get(h.cache, "misses", default=0))),
                                ("hit rate", _pct(_get(h.cache, "hit_rate"))))),
        Card("response", "Response time", (("average", _ms(_get(h.responseTime, "avg"))),
                                           ("95th percentile", _ms(_get(h.responseTime, "p95"))),
                                           ("slow requests", _n(_get(h.responseTime, "slowRequests", default=0))))),
        Card("counts", "Counts stream", (
            ("runs last 60 s", _n(_get(counts, "runs_last_60s", default=0))),
            ("last reason", _n(_get(counts, "last_reason"))),
            *((f"by {k}", _n(v)) for k, v in sorted((_get(counts, "runs_by_reason", default={}) or {}).items())),
        )),
        Card("tracker", "Live tracker", (
            ("active games", _n(_get(tracker, "active_games", default=0))),
            ("SSE clients", _n(_get(tracker, "active_sse_clients", default=0))),
            ("upstream connected", _n(_get(tracker, "upstream_ws_connected_games", default=0))),
            ("messages", _n(_get(tracker, "ws_messages_total", default=0))),
            ("last 60 s", _n(_get(tracker, "ws_messages_last_60s", default=0))),
            ("parse errors", _n(_get(tracker, "ws_parse_errors_total", default=0))),
            ("last message", _n(_get(tracker, "last_message_at"))),
        ) if tracker is not None else (("service", "not running"),), "ok" if tracker is not None else "warn"),
        Card("endpoints", "Subscriptions by endpoint", _by(_get(ws, "by_endpoint"))),
        Card("tags", "Subscriptions by tag", _by(_get(ws, "by_tag"))),
    ]
    memory = h.memory or {}
    services = _get(memory, "services", default={}) or {}
    cards.append(Card("memory", "Memory", (
        ("resident", _bytes(_get(memory, "rss_bytes"))),
        *((name.replace("_", " "), _bytes(sum(int(_get(svc, k, default=0) or 0) for k in
                                              ("replay_bytes", "cache_bytes", "client_bytes", "other_bytes"))))
          for name, svc in sorted(services.items())),
    )))
    upstream = h.upstream or {}
    cards.append(Card("upstream", "Upstream (5 min)", tuple(
        (name.replace("_", " "), f"{_n(_get(u, 'connected', default=0))} up \u00b7 failures "
         f"{_pct(_get(u, 'failure_rate_5m', default=0.0))}") for name, u in sorted(upstream.items())) or
        (("none", "-"),)))
    cards.append(Card("clients", "Clients", (("SSE clients", _n(_get(ws, "clients", default=0))),
                                             ("groups", _n(_get(h.groups, "count", default=0))),
                                             ("largest group", _n(_get(h.groups, "max_clients", default=0))))))
    return cards


def nice_max(value: float) -> float:
    """The chart's top: the smallest 1, 2 or 5 x 10^k at or above ``value`` (at least 1)."""
    if not isinstance(value, (int, float)) or value != value or value <= 1:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        top = step * 10.0 ** exponent
        if top >= value * (1 - 1e-12):
            return top
    return 10.0 ** (exponent + 1)


def _values(series: Sequence[Any] | None) -> list[float]:
    out = []
    for value in series or []:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
            out.append(0.0)
        else:
            out.append(float(value))
    return out


def chart_path(values: Sequence[float], top: float, width: float = CHART_W, height: float = CHART_H) -> str:
    """An SVG path through ``values`` (oldest first) scaled into ``width`` x ``height``: the newest at
    the right edge, one step per second, 0 at the bottom, ``top`` at the top (values above clipped)."""
    if not values:
        return ""
    n = len(values)
    step = width / (n - 1) if n > 1 else 0.0
    points = []
    for i, value in enumerate(values):
        x = width if n == 1 else i * step
        y = height - min(max(value, 0.0), top) / top * height
        points.append(f"{x:.1f} {y:.1f}")
    return "M" + " L".join(points)


def chart_html(h: HealthPayload) -> Markup:
    series = h.messages_per_second
    data = {key: _values(getattr(series, key, None) if series is not None else None) for key, _ in SERIES}
    top = nice_max(max([v for vs in data.values() for v in vs] or [0.0]))
    lines = [tag("path", {"class": f"chart-line line-{key}", "d": chart_path(data[key], top), "fill": "none"})
             for key, _ in SERIES if data[key]]
    grid = [tag("line", {"class": "chart-grid", "x1": "0", "x2": f"{CHART_W:g}", "y1": f"{y:g}", "y2": f"{y:g}"})
            for y in (0.0, CHART_H / 2, CHART_H)]
    now = {key: int(vs[-1]) if vs else 0 for key, vs in data.items()}
    label = "Messages per second over the last minute: " + "; ".join(
        f"{name} {now[key]} now, up to {int(max(data[key] or [0]))}" for key, name in SERIES)
    legend = tag("ul", {"class": "chart-legend", "aria-hidden": "true"},
                 *(tag("li", {"class": f"legend-{key}"}, tag("span", {"class": "legend-swatch"}),
                       tag("span", None, f"{name}: {now[key]}/s")) for key, name in SERIES))
    # The lines stretch with the card (preserveAspectRatio none); the labels are HTML, so they never do.
    svg = tag("svg", {"class": "chart", "viewBox": f"0 0 {CHART_W:g} {CHART_H:g}", "role": "img",
                      "aria-label": label, "preserveAspectRatio": "none"}, *grid, *lines)
    box = tag("div", {"class": "chart-box"},
              tag("div", {"class": "chart-y", "aria-hidden": "true"}, tag("span", None, f"{top:g}"),
                  tag("span", None, f"{top / 2:g}"), tag("span", None, "0")),
              svg)
    axis = tag("div", {"class": "chart-x", "aria-hidden": "true"}, tag("span", None, "60 s ago"),
               tag("span", None, "now"))
    return tag("section", {"class": "hcard hchart", "aria-labelledby": "hchart-title", "data-top": f"{top:g}"},
               tag("h3", {"class": "hcard-title", "id": "hchart-title"}, "Messages per second"), box, axis, legend)


def _alerts_html(h: HealthPayload) -> Markup:
    alerts = h.alerts or []
    if not alerts:
        body: Any = tag("p", {"class": "muted"}, "No alerts")
    else:
        body = tag("ul", {"class": "alerts"}, *(
            tag("li", {"class": f"alert alert-{a.severity or 'warning'}"},
                tag("span", {"class": "alert-sev"}, str(a.severity or "warning")),
                tag("span", {"class": "alert-msg"}, str(a.message or a.name or "alert")))
            for a in alerts))
    return tag("section", {"class": "hcard halerts", "aria-labelledby": "halerts-title"},
               tag("h3", {"class": "hcard-title", "id": "halerts-title"},
                   tag("span", None, "Alerts"), tag("span", {"class": "hcount"}, f"({len(alerts)})")), body)


def health_html(h: HealthPayload) -> Markup:
    cards = []
    for card in health_cards(h):
        title_id = f"hcard-{card.key}"
        dot = tag("span", {"class": f"hdot hdot-{card.state}", "role": "img",
                           "aria-label": {"ok": "ok", "warn": "warning", "bad": "down"}[card.state]}) \
            if card.state else None
        cards.append(tag("section", {"class": "hcard", "data-card": card.key, "aria-labelledby": title_id},
                         tag("h3", {"class": "hcard-title", "id": title_id}, dot, tag("span", None, card.title)),
                         tag("dl", {"class": "hrows"}, *(
                             tag("div", {"class": "hrow"}, tag("dt", None, label), tag("dd", None, value))
                             for label, value in card.rows))))
    return join([_alerts_html(h), chart_html(h), tag("div", {"class": "hgrid"}, *cards)])


def welcome_html(sports: int | None, cache_hits: Any, response_avg: Any) -> Markup:
    """The empty screen's cards: how many sports, cache hits, average response time."""
    items = (("Sports", "-" if sports is None else str(sports)), ("Cache hits", _n(cache_hits)),
             ("Response time", _ms(response_avg)))
    return tag("ul", {"class": "welcome-cards", "aria-label": "At a glance"},
               *(tag("li", {"class": "wcard"}, tag("span", {"class": "wcard-value"}, value),
                     tag("span", {"class": "wcard-label"}, label)) for label, value in items))


class HealthModal:
    """The open health dialog (see the module docstring). ``open()`` once; ``close()`` ends it."""

    def __init__(self, parent: Scope, dom: DomPort, nodes: Mapping[str, Any], *,
                 background: Sequence[Any], on_close: Callable[[], None],
                 utc_offset: Callable[[float], int], return_focus: Any = None,
                 on_health: Callable[[HealthPayload], None] | None = None, poll_ms: float = POLL_MS) -> None:
        self.scope = parent.child("health")
        self.platform: Platform = parent.platform
        self.dom = dom
        self.nodes = nodes
        self.background = list(background)
        self._on_close = on_close
        self._on_health = on_health
        self.utc_offset = utc_offset
        self.return_focus = return_focus
        self.poll_ms = poll_ms
        self.health: HealthPayload | None = None
        self.error: str | None = None
        self.fetches = 0
        self._html: str | None = None
        self._inflight = False
        self.scope.defer(self._reset_dom, kind="dom", label="health modal")

    @property
    def closed(self) -> bool:
        return self.scope.closed

    def open(self) -> None:
        modal = self.nodes["health-modal"]
        self.scope.listen(modal, "click", self._on_click, label="health modal")
        self.scope.listen(modal, "keydown", self._on_keydown, label="health modal")
        self.scope.interval(self._poll, self.poll_ms, label="health poll")
        self.dom.set_hidden(modal, False)
        for node in self.background:
            self.dom.set_attr(node, "inert", "")
        self.dom.focus(self.nodes["health-title"])
        self._poll()

    def close(self) -> None:
        if self.scope.closed:
            return
        self.scope.close()
        try:
            self._on_close()
        finally:
            target = self.return_focus
            if target is not None and self.dom.is_connected(target):
                self.dom.focus(target)

    def _poll(self) -> None:
        if self.scope.closed or self._inflight:
            return
        self._inflight = True
        self.scope.task(self._fetch(), label="health fetch")

    async def _fetch(self) -> None:
        try:
            status, text = await self.platform.fetch_text(HEALTH_URL)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            self.health = decode(text, "health")
            self.error = None
        except Exception as exc:
            self.error = str(exc) or "unreachable"
        finally:
            self._inflight = False
            self.fetches += 1
        if self.scope.closed:
            return
        if self.health is not None and self._on_health is not None:
            self._on_health(self.health)
        self.render()

    def render(self) -> None:
        if self.scope.closed:
            return
        if self.health is None:
            html = str(tag("p", {"class": "muted"}, f"Could not load health: {self.error}" if self.error
                           else "Loading\u2026"))
        else:
            html = health_html(self.health)
        if html != self._html:
            body = self.nodes["health-body"]
            self.dom.set_text(body, "")
            for node in self.dom.fragment(html):
                self.dom.append(body, node)
            self._html = html
        now = self.platform.wall_ms() / 1000
        _day, hour = start_text(now, self.utc_offset(now))
        seconds = int(now + self.utc_offset(now) * 60) % 60
        stale = f" (last try failed: {self.error})" if self.error and self.health is not None else ""
        self.dom.set_text(self.nodes["health-updated"], f"Updated {hour}:{seconds:02d}{stale}")

    def _on_click(self, event: Any) -> None:
        if self.dom.closest_attr(event, "[data-modal-action]", "data-modal-action") == "close":
            self.close()

    def focusables(self) -> list[Any]:
        """The dialog's focus cycle: its close button, then its (scrollable) body."""
        return [self.nodes["health-close"], self.nodes["health-body"]]

    def _on_keydown(self, event: Any) -> None:
        key = self.dom.event_key(event)
        if key == "Escape":
            self.dom.prevent_default(event)
            self.close()
        elif key == "Tab":
            # The trap: focus cycles inside the dialog while it is open.
            self.dom.prevent_default(event)
            cycle = self.focusables()
            current = self.dom.active_element()
            index = next((i for i, node in enumerate(cycle) if node is current), -1)
            step = -1 if self.dom.event_shift(event) else 1
            self.dom.focus(cycle[(index + step) % len(cycle)] if index >= 0 else cycle[0])

    def _reset_dom(self) -> None:
        self.dom.set_hidden(self.nodes["health-modal"], True)
        self.dom.set_text(self.nodes["health-body"], "")
        self.dom.set_text(self.nodes["health-updated"], "")
        for node in self.background:
            self.dom.remove_attr(node, "inert")
