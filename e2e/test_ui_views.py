"""Every view of the UI against the real server in Debian's Chromium, at desktop and phone width,
with a screenshot of each under build/e2e/<test>/.

The details panel with every market, its tabs, tables and accordions, and our own live tracker moving
with its stream; results mode; the health modal refreshing while open; competition odds on expand;
the phone layout (drawer, bottom sheet, bottom nav, no horizontal overflow); feed strings as text.
"""

from __future__ import annotations

import json

import pytest
from helpers import boot_to_live_list, choose_sport, open_details, open_drawer_if_phone, open_results, wait_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_the_details_panel_shows_every_market_and_the_tracker_moves(ui):
    page = ui.page
    boot_to_live_list(ui)
    page.wait_for_timeout(800)
    ui.screenshot("live-list")
    baseline = ui.listener_counts()
    game_id = open_details(ui)
    assert page.is_hidden("#details-loading")
    tabs = page.eval_on_selector_all(".details-tab", "ts => ts.map(t => t.querySelector('span').textContent)")
    assert tabs[:5] == ["All", "Match", "Totals", "Handicaps", "Halves"], tabs  # and the feed's other groups
    assert page.locator("#details-markets table.lines").count() >= 2  # over/under and handicap lines
    assert page.locator("#details-live .stat").count() >= 1 and page.locator("#details-live table.periods").count() == 1
    assert page.get_attribute(f".game-row[data-game-id='{game_id}']", "aria-current") == "true"

    # The tracker is ours: an SVG pitch whose ball follows /api/live-tracker.
    wait_tracker(ui)
    assert page.get_attribute("#details-tracker .tk", "data-field") == "football"
    start = page.eval_on_selector("#details-tracker .tk-ball", "b => [b.getAttribute('cx'), b.getAttribute('cy')]")
    page.wait_for_function(
        "(start) => { const b = document.querySelector('#details-tracker .tk-ball');"
        " return b && (b.getAttribute('cx') !== start[0] || b.getAttribute('cy') !== start[1]); }",
        arg=start, timeout=20_000)
    assert page.locator("#details-tracker .tk-poss-bar").get_attribute("aria-label").startswith("Possession:")

    # Tabs: one group at a time; arrow keys move and select.
    page.click(".details-tab[data-tab='totals']")
    page.wait_for_function("() => [...document.querySelectorAll('.mgroup')].filter(g => !g.hidden)"
                           ".every(g => g.dataset.tab === 'totals')")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement?.dataset.tab === 'handicaps'"
                           " && document.activeElement.getAttribute('aria-selected') === 'true'")
    page.click(".details-tab[data-tab='all']")

    # An accordion closed stays closed while game events keep coming.
    head = page.locator(".mgroup[data-tab='halves'] .mgroup-head")
    head.click()
    received = ui.python("page.app.details.games_received")
    page.wait_for_function("() => window.__e2ePython('page.app.details.games_received') > " + str(received + 1),
                           timeout=30_000)
    assert head.get_attribute("aria-expanded") == "false"
    page.wait_for_selector("#details-markets .odd-btn.odd-up, #details-markets .odd-btn.odd-down", timeout=60_000)
    ui.screenshot("details-and-tracker")
    page.eval_on_selector("#details-body", "b => { b.scrollTop = b.scrollHeight; }")
    page.wait_for_timeout(300)
    ui.screenshot("details-markets")

    # Escape closes it; focus goes back to the row; every listener and stream it had is gone.
    page.keyboard.press("Escape")
    page.wait_for_selector("#details", state="hidden")
    assert page.evaluate("document.activeElement?.dataset.openGame") == game_id
    after = ui.listener_counts()
    assert (after["window"], after["eventsource"], after["open_sources"]) == (
        baseline["window"], baseline["eventsource"], baseline["open_sources"]), (baseline, after)
    ui.assert_no_errors()


def test_results_mode_loads_competitions_games_and_settlements(ui):
    page = ui.page
    ui.boot()
    open_results(ui)  # Today is pressed at first; then Yesterday, a whole day
    assert page.text_content("#content-title") == "Football \u00b7 Results"
    first = page.locator(".result-open").first
    first.click()
    page.wait_for_selector(".settlements:not([hidden]) .settle-table", timeout=20_000)
    assert first.get_attribute("aria-expanded") == "true"
    ui.screenshot("results-yesterday")
    yesterday = page.locator(".result-row").count()
    page.click("[data-range='week']")
    page.wait_for_function("(n) => document.querySelectorAll('.result-row').length > n", arg=yesterday, timeout=20_000)
    assert page.get_attribute("[data-range='week']", "aria-pressed") == "true"
    ui.screenshot("results-week")
    page.click("#tab-live")
    page.wait_for_selector("#results", state="hidden")
    ui.assert_no_errors()


def test_the_health_modal_shows_every_card_and_refreshes_while_open(ui):
    page = ui.page
    ui.boot()
    page.wait_for_selector(".welcome-cards .wcard", timeout=20_000)
    page.wait_for_function("() => document.querySelectorAll('.wcard-value')[1].textContent !== '-'", timeout=20_000)
    ui.screenshot("welcome")
    baseline = ui.listener_counts()
    page.click("#health-btn")
    page.wait_for_selector("#health-modal:not([hidden]) [data-card='status']", timeout=20_000)
    cards = page.eval_on_selector_all("[data-card]", "cs => cs.map(c => c.dataset.card)")
    assert cards[:8] == ["status", "swarm", "cache", "response", "counts", "tracker", "endpoints", "tags"], cards
    assert page.locator("#health-body .chart path.chart-line").count() == 2
    assert page.evaluate("document.activeElement.id") == "health-title"
    assert page.get_attribute("#layout", "inert") == ""
    updated = page.text_content("#health-updated")
    page.wait_for_function("(u) => document.getElementById('health-updated').textContent !== u", arg=updated,
                           timeout=10_000)
    ui.screenshot("health")
    for _ in range(3):  # the only focus trap, while the modal is open
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('health-modal').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.wait_for_selector("#health-modal", state="hidden")
    assert page.evaluate("document.activeElement.id") == "health-btn"
    assert page.get_attribute("#layout", "inert") is None
    after = ui.listener_counts()
    assert (after["window"], after["eventsource"]) == (baseline["window"], baseline["eventsource"])
    ui.assert_no_errors()


def test_expanding_a_competition_opens_its_odds_stream_and_collapsing_closes_it(ui):
    page = ui.page
    ui.boot()
    page.click("#tab-prematch")
    page.wait_for_selector(".sport-item .sport-count:not([data-count='']):not([data-count='0'])", timeout=20_000)
    choose_sport(ui, "5")  # volleyball: a short prematch list
    before = ui.listener_counts()
    head = page.locator(".competition-head").first
    head.click()  # collapse: nothing opens
    assert head.get_attribute("aria-expanded") == "false"
    head.click()  # expand: its stream opens
    page.wait_for_selector(".competition.streaming .comp-stream:not([hidden])")
    opened = ui.listener_counts()
    assert opened["open_sources"] == before["open_sources"] + 1, (before, opened)
    assert ui.python("page.app.debug_state()['competitions']")
    head.click()
    page.wait_for_function("() => !document.querySelector('.competition.streaming')")
    closed = ui.listener_counts()
    assert closed["open_sources"] == before["open_sources"] and closed["eventsource"] == before["eventsource"]
    ui.assert_no_errors()


def test_the_phone_layout_has_a_drawer_a_bottom_sheet_and_a_bottom_nav_and_never_overflows(phone_ui):
    ui = phone_ui
    page = ui.page
    ui.boot()
    assert page.is_visible("#bottom-nav") and page.is_visible("#menu-btn") and not page.is_visible("#sidebar")
    page.wait_for_selector(".wcard", timeout=20_000)
    overflow = ui.no_horizontal_overflow()
    assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, overflow
    ui.screenshot("phone-welcome")
    open_drawer_if_phone(ui)
    page.wait_for_selector(".sport-item .sport-count:not([data-count='']):not([data-count='0'])", timeout=20_000)
    assert page.evaluate("document.activeElement.id") == "sport-search"
    page.wait_for_timeout(300)
    ui.screenshot("phone-drawer")
    choose_sport(ui, "1")
    assert "open" not in page.get_attribute("#sidebar", "class")
    # A touch screen has no hover: the pointer left where the finger was highlights nothing (a sticky
    # hover made the mode tab under the chosen sport look selected).
    assert page.evaluate("matchMedia('(hover: hover)').matches") is False
    page.hover("#tab-prematch")
    assert page.eval_on_selector("#tab-prematch", "t => getComputedStyle(t).backgroundColor") == "rgba(0, 0, 0, 0)"
    page.wait_for_timeout(500)
    overflow = ui.no_horizontal_overflow()
    assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, overflow
    ui.screenshot("phone-live-list")
    open_details(ui)
    wait_tracker(ui)
    sheet = page.eval_on_selector("#details", "d => { const r = d.getBoundingClientRect(); return "
                                  "{position: getComputedStyle(d).position, left: r.left, right: r.right, bottom: r.bottom,"
                                  " nav: document.getElementById('bottom-nav').getBoundingClientRect().top}; }")
    assert sheet["position"] == "fixed" and sheet["left"] == 0 and sheet["right"] == 390
    assert abs(sheet["bottom"] - sheet["nav"]) < 1  # a bottom sheet, above the bottom nav
    overflow = ui.no_horizontal_overflow()
    assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, overflow
    page.wait_for_timeout(500)
    ui.screenshot("phone-details")
    page.click("#details-close")
    page.click("#health-btn")
    page.wait_for_selector("[data-card='status']", timeout=20_000)
    ui.screenshot("phone-health")
    page.keyboard.press("Escape")
    open_results(ui)
    page.locator(".result-open").first.click()
    page.wait_for_selector(".settle-table", timeout=20_000)
    overflow = ui.no_horizontal_overflow()
    assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, overflow
    ui.screenshot("phone-results")
    page.click("#nav-live")
    page.wait_for_function("() => document.getElementById('tab-live').getAttribute('aria-selected') === 'true'")
    ui.assert_no_errors()


def test_feed_strings_show_as_text_never_as_markup(ui):
    """A team named like an HTML tag must show as that text: no element, no script ran."""
    page = ui.page
    evil = '<img src=x onerror="window.__pwned=1">'
    game = {"id": 77, "sport_id": 1, "type": 1, "team1_name": evil, "team2_name": "<b>bold</b>",
            "region": evil, "competition": "<script>window.__pwned=2</script>", "competition_id": 5,
            "markets_count": 3, "market": {}, "info": {"current_game_time": evil}, "text_info": "1:0"}
    body = ("retry: 60000\n\nevent: games\ndata: " + json.dumps(
        {"sportId": "1", "sportName": "Football", "data": [game], "last_updated": "x"}) + "\n\n")
    page.route("**/api/live-stream?sportId=1*", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, body=body))
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui.boot()
    page.wait_for_selector(".sport-item[data-sport-id='1']", timeout=20_000)
    page.click(".sport-item[data-sport-id='1']")
    page.wait_for_selector(".game-row[data-game-id='77']", timeout=20_000)
    row = page.locator(".game-row[data-game-id='77']")
    assert row.locator(".team1 .team-name").text_content() == evil
    assert row.locator(".team2 .team-name").text_content() == "<b>bold</b>"
    assert page.locator("#games img, #games script, #games b").count() == 0
    assert page.text_content(".region-name") == evil
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_after_a_429_the_stream_waits_retry_after_then_reconnects(ui):
    """The EventSource hides a 429; the stream reads the head of the URL and honours Retry-After."""
    page = ui.page
    refused = []

    def limit_then_serve(route):
        if len(refused) < 2:  # the stream's request, then its probe
            refused.append(ui.now())
            route.fulfill(status=429, headers={"Retry-After": "3", "Content-Type": "application/json"},
                          body='{"error":"Too many concurrent clients"}')
        else:
            route.continue_()

    page.route("**/api/live-stream?sportId=1*", limit_then_serve)
    ui.boot()
    page.wait_for_selector(".sport-item[data-sport-id='1']", timeout=20_000)
    page.click(".sport-item[data-sport-id='1']")
    page.wait_for_selector(".game-row[data-game-id]", timeout=30_000)
    connected = ui.now()
    stats = ui.python("(lambda s: {'status': s.last_status, 'honoured': s.retry_after_honoured, "
                      "'wait': s.last_wait_ms, 'connects': s.connects})(page.app.sport_stream.stats)")
    print(f"\nafter a 429: {stats}; rows {connected - refused[0]:.0f} ms after the refusal")
    assert len(refused) == 2 and stats["status"] == 429 and stats["honoured"] == 1
    assert stats["wait"] >= 3000 and connected - refused[0] >= 3000 and stats["connects"] == 2
    # the browser logs the two refusals it was given; they were the point
    ui.console_errors[:] = [m for m in ui.console_errors if "429" not in m and "MIME type" not in m]
    ui.assert_no_errors()


# Every control of every visible row lies inside its row (a row clips what sticks out: its height is
# fixed), and nothing is wider than the window.
ROW_CONTENT_OUTSIDE = """() => [...document.querySelectorAll('.game-row[data-game-id]')].flatMap((row) => {
    const box = row.getBoundingClientRect();
    if (box.bottom < 0 || box.top > innerHeight) return [];
    return [...row.querySelectorAll('.odd-btn:not(.odd-empty), .markets-pill, .game-score')].filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5);
    }).map((el) => `${row.dataset.gameId} ${el.className} ${Math.round(el.getBoundingClientRect().right)} > ${Math.round(box.right)}`);
})"""


@pytest.mark.parametrize("width", [768, 1000])
def test_between_phone_and_desktop_widths_nothing_overflows_or_is_cut(make_ui, width):
    """A tablet (the phone layout up to 900 px) and a small desktop with the details panel open, where
    the list is narrowest: the rows' odds and pills stay inside their rows."""
    phone = width < 900
    ui = make_ui({"width": width, "height": 900}, **({"is_mobile": True, "has_touch": True} if phone else {}))
    page = ui.page
    boot_to_live_list(ui)
    page.wait_for_timeout(500)
    assert page.evaluate(ROW_CONTENT_OUTSIDE) == []
    open_details(ui)
    wait_tracker(ui)
    page.wait_for_timeout(500)
    overflow = ui.no_horizontal_overflow()
    assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, overflow
    assert page.evaluate(ROW_CONTENT_OUTSIDE) == []
    field = page.eval_on_selector("#details-tracker .tk-field", "f => f.getBoundingClientRect().height")
    assert field < 0.5 * 900, field  # the pitch leaves room for the rest of the panel
    ui.screenshot(f"w{width}-details")
    ui.assert_no_errors()


# How many pixels of an element's CSS background image are drawn (not transparent), decoded by the
# page itself: an icon that needs no font shows on every machine.
ICON_PIXELS = """async (el) => {
    const url = getComputedStyle(el).backgroundImage.match(/^url\\("?(.*?)"?\\)$/)[1];
    const img = new Image(); img.src = url; await img.decode();
    const canvas = document.createElement('canvas'); canvas.width = 28; canvas.height = 32;
    const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0, 28, 32);
    return [...ctx.getImageData(0, 0, 28, 32).data].filter((v, i) => i % 4 === 3 && v > 128).length;
}"""


def test_locks_are_drawn_without_any_font_glyph(ui):
    """The lock on a blocked game's LIVE badge and on a blocked price is an SVG image, not an emoji
    (Debian's Chromium had no font for it and showed an empty box)."""
    page = ui.page
    blocked = {"id": 78, "sport_id": 1, "type": 1, "team1_name": "Arsenal", "team2_name": "Chelsea",
               "region": "England", "competition": "Premier League", "competition_id": 5, "is_blocked": 1,
               "markets_count": 3, "market": {}, "info": {"current_game_time": "12"}, "text_info": "0:0"}
    open_game = {**blocked, "id": 79, "is_blocked": 0, "team1_name": "Leeds", "team2_name": "Spurs"}
    odds = {"sportId": "1", "updates": [{"gameId": 79, "markets_count": 3, "odds": [
        {"label": "1", "price": 1.85, "blocked": True}, {"label": "X", "price": 3.4, "blocked": False},
        {"label": "2", "price": 4.2, "blocked": False}]}]}
    body = ("retry: 60000\n\nevent: games\ndata: " + json.dumps(
        {"sportId": "1", "sportName": "Football", "data": [blocked, open_game], "last_updated": "x"})
        + "\n\nevent: odds\ndata: " + json.dumps(odds) + "\n\n")
    page.route("**/api/live-stream?sportId=1*", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, body=body))
    ui.boot()
    page.wait_for_selector(".sport-item[data-sport-id='1']", timeout=20_000)
    page.click(".sport-item[data-sport-id='1']")
    page.wait_for_selector(".game-row[data-game-id='79'] .odd-btn.odd-blocked .odd-locked", timeout=20_000)
    badge_lock = page.locator(".game-row[data-game-id='78'] .live-badge.suspended .lock-icon")
    price_lock = page.locator(".game-row[data-game-id='79'] .odd-btn.odd-blocked .odd-locked").first
    for lock in (badge_lock, price_lock):
        assert lock.is_visible()
        assert lock.evaluate("e => e.textContent") == ""  # no character a font must have
        assert lock.evaluate(ICON_PIXELS) > 100  # the drawing itself is there
    assert page.locator(".game-row[data-game-id='79'] .odd-btn.odd-blocked").first.aria_snapshot().endswith(
        'suspended"')
    ui.screenshot("locks")
    ui.assert_no_errors()
