"""The server-rendered first view in Chromium (issue 10): odds on screen before Pyodide has booted,
then the take-over: the app adopts the page's own nodes and resumes its stream from the id the page
was rendered at; and the page with JavaScript disabled."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from e2e.conftest import BOOT_TIMEOUT_MS, DESKTOP

pytestmark = pytest.mark.e2e

HELD = re.compile(r".*/pyodide\.asm\.wasm$")


def test_odds_show_before_pyodide_and_the_app_adopts_the_page(make_ui: Any) -> None:
    ui = make_ui(viewport=DESKTOP)
    page = ui.page
    held: list[Any] = []
    page.route(HELD, lambda route: held.append(route))  # Pyodide's core waits until we let it go
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/api/live-stream" in r.url else None)

    page.goto(f"{ui.base_url}/live/1")
    page.wait_for_selector(".game-row .odd-btn[data-price]", timeout=10_000)
    assert page.evaluate("document.documentElement.dataset.boot") == "loading"
    for _ in range(100):  # boot.js fetches it once it runs (the page has no preload hint for it)
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "Pyodide's wasm was not requested"
    first_view = json.loads(page.evaluate("document.getElementById('first-view').textContent"))
    resume_id = first_view["streams"][0]["last_event_id"]
    rows_before = page.locator(".game-row").count()
    assert rows_before > 0
    assert page.locator("#sport-list a.sport-item[href='/live/1'][aria-selected='true']").count() == 1
    assert "Prices not live yet" in page.text_content("#boot-text")
    # Mark nodes: after the take-over they must be the same nodes (adopted), not rebuilt copies.
    page.evaluate("""() => {
        document.querySelector('.game-row').__ssr = 1;
        document.querySelector('#sport-list .sport-item').__ssr = 1;
    }""")
    ui.screenshot("first-paint-before-takeover")
    page.wait_for_timeout(1500)  # prices move on the server meanwhile

    for route in held:
        route.continue_()
    page.unroute(HELD)
    page.wait_for_selector("html[data-boot=ready]", state="attached", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.__oddsui.adopted") is True
    assert page.evaluate("document.querySelector('#sport-list .sport-item').__ssr") == 1
    assert page.evaluate("""() => [...document.querySelectorAll('.game-row')].some((row) => row.__ssr === 1)""")
    assert any(f"lastEventId={resume_id}" in url.replace("%2F", "/") for url in streams), streams
    # The stream resumed: what it gets first are the events after the page's id, not a new snapshot
    # (a snapshot would be counts, prematch counts, the list and an odds snapshot first).
    ui.wait_python("page.app.sport_stream.stats.messages > 0", what="events after the take-over")
    ui.wait_python("page.app.store.prices_moved > 0", timeout_s=15, what="a price moving after the take-over")
    ui.screenshot("first-paint-after-takeover")
    ui.assert_no_errors()


def test_the_page_renders_read_only_without_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server}/prematch/1")
        assert page.locator(".game-row").count() > 0
        assert page.locator(".odd-btn[data-price]").count() > 0
        assert "read-only" in page.text_content(".boot-noscript")
        href = page.get_attribute("#tab-live", "href")
        assert href == "/live/1"
        page.click("#tab-live")  # a plain link: a new server-rendered page
        page.wait_for_url(f"{server}/live/1")
        assert page.locator("#tab-live[aria-selected='true']").count() == 1
        assert page.locator(".game-row").count() > 0
    finally:
        context.close()


def test_after_the_take_over_the_address_follows_clicks_and_a_reload_shows_that_page(make_ui: Any) -> None:
    ui = make_ui(viewport=DESKTOP)
    page = ui.page
    page.goto(f"{ui.base_url}/live/1")
    page.wait_for_selector("html[data-boot=ready]", state="attached", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.__oddsui.adopted") is True
    entries = page.evaluate("history.length")

    page.click("#tab-prematch")  # handled in place: the address changes, no new document
    page.wait_for_url(f"{ui.base_url}/prematch/1")
    assert page.evaluate("history.length") == entries + 1
    assert page.evaluate("window.__oddsui.page.app.mode") == "prematch"
    ui.wait_python("page.app.sport_stream is not None and page.app.sport_stream.url.startswith('/api/prematch')",
                   what="the prematch stream")

    page.go_back()  # popstate: the app shows the live page again, in place
    page.wait_for_url(f"{ui.base_url}/live/1")
    ui.wait_python("page.app.mode == 'live'", what="live mode after Back")
    page.wait_for_selector("#tab-live[aria-selected='true']")

    page.go_forward()
    page.wait_for_url(f"{ui.base_url}/prematch/1")
    ui.wait_python("page.app.mode == 'prematch'", what="prematch mode after Forward")
    page.reload()  # the server renders the page the address names
    assert page.locator("#tab-prematch[aria-selected='true']").count() == 1
    assert page.locator("#sport-list a.sport-item[href='/prematch/1'][aria-selected='true']").count() == 1
    assert page.locator("link[rel=preload]").count() == 0  # Pyodide's big files are boot.js's to fetch
    page.wait_for_selector("html[data-boot=ready]", state="attached", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.__oddsui.adopted") is True
    # the modules Pyodide's boot imports: hinted by boot.js after the first frame, each once
    hinted = page.evaluate("[...document.querySelectorAll('link[rel=modulepreload]')].map((l) => l.getAttribute('href'))")
    assert sorted(hinted) == sorted(page.evaluate("window.__oddsui.manifest.page.modulepreload"))
    ui.assert_no_errors()


# Every text the boot status shows, in order (an init script, so it sees the page from its first node).
BOOT_TEXTS = """(() => {
  const seen = [];
  window.__bootTexts = seen;
  new MutationObserver(() => {
    const node = document.getElementById('boot-text');
    const text = node ? node.textContent : null;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();"""
WASM_FROM_NETWORK = """() => performance.getEntriesByType('resource')
    .filter((r) => r.name.endsWith('/pyodide.asm.wasm') && r.transferSize > 0).length"""


def test_the_boot_shows_download_progress_exactly_when_the_cache_lacks_pyodides_files(make_ui: Any) -> None:
    ui = make_ui(viewport=DESKTOP)
    page = ui.page
    page.context.add_init_script(BOOT_TEXTS)

    def boot(url: str) -> list[str]:
        page.goto(url)
        page.wait_for_selector("html[data-boot=ready]", state="attached", timeout=BOOT_TIMEOUT_MS)
        return page.evaluate("window.__bootTexts")

    progress = re.compile(r"loading \d+\.\d of \d+\.\d MB")
    first = boot(f"{ui.base_url}/live/1")  # an empty cache: boot.js reads the files, with their progress
    assert any(progress.search(text) for text in first), first
    assert page.evaluate(WASM_FROM_NETWORK) == 1  # read once over the network: Pyodide's own read hits the cache

    again = boot(f"{ui.base_url}/prematch/1")  # a returning browser: all in its cache, nothing to show
    assert not any(progress.search(text) for text in again), again
    assert any("starting Python" in text for text in again), again
    assert page.evaluate(WASM_FROM_NETWORK) == 0

    page.context.new_cdp_session(page).send("Network.clearBrowserCache")  # the user emptied the cache
    emptied = boot(f"{ui.base_url}/live/1")  # its cookie says it booted before; its cache says otherwise
    assert any(progress.search(text) for text in emptied), emptied
    assert page.evaluate(WASM_FROM_NETWORK) == 1
    # the cache-only asks that missed, one per big file, are all Chromium logs of that visit
    misses = [text for text in ui.console_errors if "ERR_CACHE_MISS" in text]
    assert len(misses) == 2, ui.console_errors
    ui.console_errors = [text for text in ui.console_errors if text not in misses]
    ui.assert_no_errors()
