"""A screenshot of every view at 1280 x 800 and at 390 x 844, saved under build/e2e/<test>/ (look
at what you build). Each step also checks the view is there and the page stays clean; the
judging is done by looking at the pictures."""

from __future__ import annotations

import pytest
from helpers import (
    COUNTS,
    DESKTOP,
    PHONE,
    choose_sport,
    open_details,
    open_drawer_if_phone,
    open_results,
    sports,
    wait_tracker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def details_of_sport(ui, sport_id, name):
    """Open the first live game of a sport and photograph its details with the tracker."""
    page = ui.page
    page.keyboard.press("Escape")
    choose_sport(ui, sport_id)
    open_details(ui)
    wait_tracker(ui)
    page.wait_for_timeout(1500)  # the ball moves a few times
    ui.screenshot(name)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_every_view(make_ui, size):
    ui = make_ui(PHONE, is_mobile=True, has_touch=True) if size == "phone" else make_ui(DESKTOP)
    page = ui.page
    ui.boot()
    page.wait_for_selector(COUNTS, state="attached", timeout=30_000)
    page.wait_for_selector(".wcard", timeout=20_000)
    page.wait_for_timeout(500)
    ui.screenshot(f"{size}-01-welcome")
    if size == "phone":
        open_drawer_if_phone(ui)
        page.wait_for_timeout(400)
        ui.screenshot(f"{size}-02-drawer")
    choose_sport(ui, "1")
    page.wait_for_selector(".odd-btn.odd-up, .odd-btn.odd-down", timeout=60_000)
    ui.screenshot(f"{size}-03-live-list")
    open_details(ui)
    wait_tracker(ui)
    page.wait_for_timeout(1000)
    ui.screenshot(f"{size}-04-details-football")
    page.eval_on_selector("#details-body", "b => { b.scrollTop = b.scrollHeight / 2; }")
    page.wait_for_timeout(300)
    ui.screenshot(f"{size}-05-details-markets")
    live = {s["id"] for s in sports(page) if s["count"] > 0}
    for sport_id, name in (("3", "basketball"), ("4", "tennis"), ("2", "ice-hockey")):
        if sport_id in live:
            details_of_sport(ui, sport_id, f"{size}-06-details-{name}")
    page.keyboard.press("Escape")
    page.click("#tab-prematch")
    choose_sport(ui, "1")
    head = page.locator(".competition-head").nth(1)
    head.click()  # collapse one
    page.wait_for_timeout(300)
    ui.screenshot(f"{size}-07-prematch-list")
    head.click()  # and expand it again: its own odds stream opens ("live odds" on its head)
    page.wait_for_selector(".competition.streaming .comp-stream:not([hidden])", timeout=20_000)
    head.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    ui.screenshot(f"{size}-07-competition-odds")
    head.click()
    page.wait_for_function("() => !document.querySelector('.competition.streaming')")
    open_details(ui)
    page.wait_for_selector("#details-prematch .dsec", timeout=20_000)
    page.wait_for_timeout(300)
    ui.screenshot(f"{size}-08-details-prematch")
    page.keyboard.press("Escape")
    page.click("#refresh-btn")
    page.wait_for_selector(".toast", timeout=20_000)
    page.click("#scrape-btn")  # Bulk Scrape: the backend says it is not supported, and the toast says so
    page.wait_for_selector(".toast-text:text-is('Scraped 0 sports. 1 errors.')", timeout=20_000)
    ui.screenshot(f"{size}-09-toast")
    page.click("#health-btn")
    page.wait_for_selector("[data-card='status']", timeout=20_000)
    page.wait_for_timeout(2500)
    ui.screenshot(f"{size}-10-health")
    page.keyboard.press("Escape")
    open_results(ui)
    page.locator(".result-open").first.click()
    page.wait_for_selector(".settle-table", timeout=20_000)
    ui.screenshot(f"{size}-11-results")
    print("\n" + "\n".join(str(p) for p in ui.screenshots))
    ui.assert_no_errors()
