"""The health modal and the welcome cards (oddsui.health; docs/api.md A2)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.app import WORKER_PRESTART_MS
from oddsui.health import CHART_H, CHART_W, POLL_MS, chart_path, health_cards, nice_max
from oddsui.messages import decode
from ui_fakes import click
from ui_samples import HEALTH
from ui_world import World

ORIGINAL_CARDS = ["status", "swarm", "cache", "response", "counts", "tracker", "endpoints", "tags"]


@settings(max_examples=500, deadline=None)
@given(st.floats(0, 1e9, allow_nan=False))
def test_the_charts_top_is_the_smallest_1_2_5_step_at_or_above_the_peak(value):
    top = nice_max(value)
    assert top >= value and top >= 1
    mantissa = top / 10 ** math.floor(math.log10(top))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-9
    if value > 1:  # no smaller step would do
        smaller = {1: 0.5, 2: 1, 5: 2, 10: 5}[min((1, 2, 5, 10), key=lambda m: abs(mantissa - m))]
        assert smaller * 10 ** math.floor(math.log10(top)) < value * (1 + 1e-9)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 5000), min_size=1, max_size=60))
def test_chart_points_fit_the_box_oldest_left_newest_right_and_keep_their_order(values):
    top = nice_max(max(values))
    path = chart_path(values, top)
    points = [tuple(map(float, p.split())) for p in path[1:].split(" L")]
    assert len(points) == len(values)
    assert all(0 <= x <= CHART_W and 0 <= y <= CHART_H for x, y in points)
    assert points[-1][0] == CHART_W and (len(points) == 1 or points[0][0] == 0)
    xs = [x for x, _ in points]
    assert xs == sorted(xs)
    for (_, ya), (_, yb), a, b in zip(points, points[1:], values, values[1:]):
        if a < b - top / CHART_H:  # a visibly higher value is drawn higher (smaller y)
            assert yb < ya


def test_cards_cover_the_originals_fields_plus_alerts_memory_and_upstream():
    health = decode(json.dumps(HEALTH), "health")
    cards = {c.key: c for c in health_cards(health)}
    assert list(cards)[:8] == ORIGINAL_CARDS and {"memory", "upstream", "clients"} <= set(cards)
    assert dict(cards["status"].rows) == {"status": "ok", "uptime": "1h 02m"} and cards["status"].state == "ok"
    assert dict(cards["swarm"].rows)["connected"] == "yes" and cards["swarm"].state == "ok"
    assert dict(cards["cache"].rows) == {"hits": "42", "misses": "3", "hit rate": "93.3 %"}
    assert dict(cards["response"].rows)["average"] == "1.7 ms"
    assert dict(cards["tracker"].rows)["active games"] == "1"
    assert dict(cards["endpoints"].rows) == {"live": "2 subs \u00b7 200 updates/min"}
    empty = {c.key: c for c in health_cards(decode('{"status":"ok","live_tracker":null,"swarm_ws":null}', "health"))}
    assert empty["swarm"].state == "bad" and dict(empty["tracker"].rows) == {"service": "not running"}


def health_world():
    w = World()
    w.platform.responses["/api/health"] = (200, json.dumps(HEALTH))
    w.platform.advance(WORKER_PRESTART_MS)  # the app's start-up timer is behind us
    w.frame()
    return w


def test_welcome_cards_show_sports_cache_hits_and_response_time():
    w = World()
    w.platform.responses["/api/health"] = (200, json.dumps(HEALTH))
    w.app.scope.task(w.app._load_welcome_health())
    w.run_frames()
    values = [c.find(cls="wcard-value").text for c in w.dom.by_id("welcome").find_all(cls="wcard")]
    assert values == ["3", "42", "1.7 ms"] and not w.dom.by_id("welcome").hidden
    w.click_sport(1)
    w.run_frames()
    assert w.dom.by_id("welcome").hidden  # only on the empty screen


def test_the_modal_shows_every_card_updates_while_open_and_releases_everything_on_close():
    w = health_world()
    baseline = (w.listener_total(), w.platform.live_proxies(), len(w.platform.timers), w.app.scope.live_count())
    for cycle in range(30):
        opener = w.dom.by_id("health-btn")
        w.click_node(opener, opener)
        modal = w.dom.by_id("health-modal")
        assert not modal.hidden and w.dom.focused is w.dom.by_id("health-title")
        assert all(w.dom.by_id(n).attrs.get("inert") == "" for n in ("topbar", "layout", "bottom-nav"))
        body = w.dom.by_id("health-body")
        assert [c.attrs["data-card"] for c in body.find_all(attr="data-card")][:8] == ORIGINAL_CARDS
        chart = body.find(cls="chart")
        assert chart.attrs["role"] == "img" and "Odds feed 3 now, up to 6" in chart.attrs["aria-label"]
        assert "The odds feed stalled" in body.find(cls="alerts").text
        fetched = w.platform.fetches.count("/api/health")
        w.platform.responses["/api/health"] = (200, json.dumps({**HEALTH, "messages_per_second": {
            "odds_feed": [0] * 59 + [40], "tracker_feed": [0] * 60}}))
        w.platform.advance(POLL_MS)  # the modal polls while it is open
        assert w.platform.fetches.count("/api/health") == fetched + 1
        assert w.dom.by_id("health-body").find(cls="hchart").attrs["data-top"] == "50"
        w.platform.responses["/api/health"] = (200, json.dumps(HEALTH))
        if cycle % 3 == 0:
            event = w.key(w.dom.by_id("health-title"), "Escape", modal)
            assert event.default_prevented
        elif cycle % 3 == 1:
            click(w.dom.by_id("health-close").children[0] if w.dom.by_id("health-close").children
                  else w.dom.by_id("health-close"), modal)
        else:
            click(w.dom.by_id("health-backdrop"), modal)
        assert modal.hidden and w.app.health_modal is None and w.dom.focused is opener
        assert all("inert" not in w.dom.by_id(n).attrs for n in ("topbar", "layout", "bottom-nav"))
        w.run_frames()
        assert (w.listener_total(), w.platform.live_proxies(), len(w.platform.timers),
                w.app.scope.live_count()) == baseline, cycle
        fetched = w.platform.fetches.count("/api/health")
        w.platform.advance(POLL_MS * 3)
        assert w.platform.fetches.count("/api/health") == fetched  # no poll after close


def test_tab_stays_inside_the_open_modal():
    w = health_world()
    w.click_node(w.dom.by_id("health-btn"), w.dom.by_id("health-btn"))
    modal = w.dom.by_id("health-modal")
    event = w.key(w.dom.by_id("health-title"), "Tab", modal)
    assert event.default_prevented and w.dom.focused is w.dom.by_id("health-close")
    w.key(w.dom.focused, "Tab", modal)
    assert w.dom.focused is w.dom.by_id("health-body")
    w.key(w.dom.focused, "Tab", modal)
    assert w.dom.focused is w.dom.by_id("health-close")
    w.key(w.dom.focused, "Tab", modal, shift=True)
    assert w.dom.focused is w.dom.by_id("health-body")


def test_an_unreachable_health_says_so_and_keeps_polling():
    w = World()
    w.frame()
    w.click_node(w.dom.by_id("health-btn"), w.dom.by_id("health-btn"))
    assert "Could not load health" in w.dom.by_id("health-body").text
    w.platform.responses["/api/health"] = (200, json.dumps(HEALTH))
    w.platform.advance(POLL_MS)
    assert w.dom.by_id("health-body").find(cls="hgrid") is not None
