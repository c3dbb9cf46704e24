"""The Pyodide UI against the real server in Debian's Chromium (docs/design.md R1, R2, R7 wiring;
docs/api.md B1, B2, G).

Boot -> live counts in the sidebar -> choose the sport with most live games -> rows with 1/X/2 odds
-> a price visibly moves (flash class or changed price text) -> switching sport back and forth does
not grow the listener count on window or on the EventSources (the browser's own count, over CDP)
-> no console errors anywhere.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PRICE_CHANGE_TIMEOUT_MS = 30_000
ROWS_TIMEOUT_MS = 30_000


def sidebar_counts(page):
    return page.eval_on_selector_all(
        ".sport-item",
        """items => items.map(item => ({
            id: item.dataset.sportId,
            name: item.querySelector('.sport-name').textContent,
            count: Number(item.querySelector('.sport-count').dataset.count || '0'),
        }))""",
    )


def open_sport(ui, sport_id: str) -> None:
    page = ui.page
    page.click(f".sport-item[data-sport-id='{sport_id}']")
    page.wait_for_function(
        """(id) => document.querySelector(`.sport-item[data-sport-id='${id}']`)?.classList.contains('active')
                   && document.querySelectorAll('.game-row[data-game-id]').length > 0""",
        arg=sport_id, timeout=ROWS_TIMEOUT_MS,
    )
    page.wait_for_selector(".odd-btn[data-price]:not([data-price='-'])", timeout=ROWS_TIMEOUT_MS)


def test_live_prices_flash_and_switching_sport_does_not_grow_listeners(ui):
    page = ui.page
    boot_ms = ui.boot()
    print(f"pyodide boot: {boot_ms} ms")

    # Live counts arrive from /api/counts-stream and show in the sidebar and the Live tab.
    page.wait_for_selector(".sport-item .sport-count:not([data-count='']):not([data-count='0'])", timeout=20_000)
    page.wait_for_function("() => /Live \\((\\d*[1-9]\\d*)\\)/.test(document.querySelector('#tab-live').textContent)")
    sports = [s for s in sidebar_counts(page) if s["count"] > 0]
    assert sports, "no sport with live games in the sidebar"
    assert page.get_attribute("#tab-live", "aria-selected") == "true"
    sports.sort(key=lambda s: -s["count"])
    busiest = sports[0]

    # Choose the busiest live sport: its games show, grouped, with odds buttons.
    open_sport(ui, busiest["id"])
    assert page.locator(".region .competition .game-row").count() > 0
    row = page.locator(".game-row").first
    assert row.locator(".live-badge").is_visible()
    assert [row.locator(".odd-btn").nth(i).get_attribute("data-odd-label") for i in range(3)][0]

    # A price changes on screen: a flash class, or a price text that differs from a snapshot.
    snapshot = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.odd-btn[data-price]')].map(
                b => [b.closest('.game-row').dataset.gameId + '/' + b.dataset.oddIndex, b.dataset.price]))"""
    )
    page.wait_for_function(
        """(snap) => document.querySelector('.odd-btn.odd-up, .odd-btn.odd-down') !== null ||
                 [...document.querySelectorAll('.odd-btn[data-price]')].some(b => {
                     const key = b.closest('.game-row').dataset.gameId + '/' + b.dataset.oddIndex;
                     return key in snap && snap[key] !== b.dataset.price && b.dataset.price !== '-';
                 })""",
        arg=snapshot, timeout=PRICE_CHANGE_TIMEOUT_MS,
    )
    page.wait_for_selector(".odd-btn.odd-up, .odd-btn.odd-down", timeout=PRICE_CHANGE_TIMEOUT_MS)
    flashed = page.locator(".odd-btn.odd-up, .odd-btn.odd-down").first
    assert flashed.locator(".odd-price").text_content().strip() != ""

    # Re-opening the sport stream by switching sport must not grow any listener count.
    baseline = ui.listener_counts()
    # the sport's live stream only: it carries the counts, so the counts stream is closed meanwhile
    assert baseline["open_sources"] == 1, baseline
    others = [s for s in sports if s["id"] != busiest["id"]]
    if not others:
        pytest.skip("only one sport has live games: cannot switch")
    for round_ in range(3):
        open_sport(ui, others[round_ % len(others)]["id"])
        open_sport(ui, busiest["id"])
        counts = ui.listener_counts()
        assert counts["window"] == baseline["window"], (round_, baseline, counts)
        assert counts["eventsource"] == baseline["eventsource"], (round_, baseline, counts)
        assert counts["open_sources"] == 1, counts

    # Python's own accounting agrees: one sport stream, nothing piling up in the frame queue.
    state = ui.python("page.app.debug_state()")
    assert state["sport_id"] == busiest["id"] and state["sport_stream"]["state"] in ("open", "connecting")
    assert state["decode_errors"] == 0

    ui.assert_no_errors()


def test_pagehide_closes_every_stream(ui):
    ui.boot()
    page = ui.page
    page.wait_for_selector(".sport-item .sport-count:not([data-count='']):not([data-count='0'])", timeout=20_000)
    live = [s for s in sidebar_counts(page) if s["count"] > 0]
    open_sport(ui, live[0]["id"])
    before = ui.listener_counts()
    assert before["open_sources"] == 1
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    deadline = time.monotonic() + 5
    after = ui.listener_counts()
    while after["open_sources"] and time.monotonic() < deadline:
        time.sleep(0.1)
        after = ui.listener_counts()
    assert after["open_sources"] == 0 and after["eventsource"] == 0, after
    # the page's own pagehide/pageshow listeners stay; the app's keydown, resize and popstate ones go with it
    assert after["window"] == before["window"] - 3
    held = ui.python("page.scope.live_count()")
    assert held == 2  # pagehide + pageshow
    # and a back/forward-cache restore brings the app back
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    page.wait_for_function("() => document.querySelectorAll('.sport-item').length > 0")
    assert ui.listener_counts()["open_sources"] >= 1
    ui.assert_no_errors()


def test_the_app_runs_from_the_bytecode_its_wheel_carries_and_imports_the_later_views_after_start(ui):
    """Pyodide never writes bytecode, so the wheel and the standard library carry it
    (scripts/build_assets.py): every module of the app that is loaded has its pyc for this interpreter
    installed beside it, and the standard library's modules load from pycs. The details panel and
    results mode are not part of the boot; they are imported a second after it."""
    ui.boot()
    booted = ui.python("sorted(m for m in __import__('sys').modules if m.startswith('oddsui'))")
    assert "oddsui.app" in booted and "oddsui.details_panel" not in booted and "oddsui.results" not in booted
    ui.page.wait_for_timeout(1500)
    loaded = ui.python(
        "[(m.__name__, __import__('os').path.isfile(m.__cached__)) for m in list(__import__('sys').modules.values())"
        " if m.__name__.startswith('oddsui.')]")
    names = {name for name, _ in loaded}
    assert {"oddsui.app", "oddsui.details_panel", "oddsui.results", "oddsui.render"} <= names
    assert [name for name, has_pyc in loaded if not has_pyc] == []
    # and the standard library is ours, its imported modules compiled (scripts/build_assets.py)
    files = ui.python("[__import__(m).__file__ for m in ('json', 'dataclasses', 'asyncio', 'urllib.parse')]")
    assert all(name.endswith(".pyc") and "/lib/python314.zip/" in name for name in files), files
    ui.assert_no_errors()


def test_a_missing_asset_fails_loudly_on_the_page(ui):
    """boot.js must show a visible error (and log it) instead of a silent blank page."""
    ui.page.route("**/wheels/**/*.whl", lambda route: route.fulfill(status=404, body="gone"))
    ui.page.goto(f"{ui.base_url}/")
    ui.page.wait_for_function("() => document.documentElement.dataset.boot === 'error'", timeout=90_000)
    assert ui.page.is_visible("#boot-error")
    text = ui.page.text_content("#boot-error .boot-error-text")
    assert "loadPackage failed for [" in text and "oddsui" in text, text
    assert any("[boot] failed" in message for message in ui.console_errors)


def test_a_package_missing_from_the_lock_fails_loudly_on_the_page(ui):
    """The shared loader checks what loadPackage loaded (Pyodide itself only warns): our wheel missing
    from the page's lock must stop the boot with a visible error, not a blank page."""
    def lock_without_the_app(route):
        lock = route.fetch().json()
        lock["packages"].pop("oddsui")
        route.fulfill(status=200, content_type="application/json", body=json.dumps(lock))

    ui.page.route("**/wheels/pyodide-lock.*.json", lock_without_the_app)
    ui.page.goto(f"{ui.base_url}/")
    ui.page.wait_for_function("() => document.documentElement.dataset.boot === 'error'", timeout=90_000)
    assert ui.page.is_visible("#boot-error")
    text = ui.page.text_content("#boot-error .boot-error-text")
    assert "loadPackage failed for [msgspec, oddsui]" in text and "oddsui" in text.split("]", 1)[1], text
    assert any("[boot] failed" in message for message in ui.console_errors)
