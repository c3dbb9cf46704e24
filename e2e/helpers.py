"""Steps the view tests share: boot to a sport's list, open a game's details, open the drawer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# axe-core from npm (scripts/build_assets.py); the tests import these from here, never from
# conftest: with tests/ collected in the same run, "conftest" may name another directory's
AXE_SCRIPT = ROOT / "build" / "test" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ROWS_TIMEOUT_MS = 60_000
COUNTS = ".sport-item .sport-count:not([data-count='']):not([data-count='0'])"


def sports(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        ".sport-item",
        "items => items.map(i => ({id: i.dataset.sportId, count: Number(i.querySelector('.sport-count').dataset.count || '0')}))")


def open_drawer_if_phone(ui: Any) -> None:
    page = ui.page
    if page.viewport_size["width"] < 900 and page.get_attribute("#sidebar", "class").find("open") < 0:
        page.click("#nav-sports")
        page.wait_for_function("() => document.getElementById('sidebar').classList.contains('open')")


def choose_sport(ui: Any, sport_id: str, rows: bool = True) -> None:
    page = ui.page
    open_drawer_if_phone(ui)
    page.click(f".sport-item[data-sport-id='{sport_id}']")
    page.wait_for_function(
        "(id) => document.querySelector(`.sport-item[data-sport-id='${id}']`)?.classList.contains('active')",
        arg=sport_id)
    if rows:
        page.wait_for_selector(".game-row[data-game-id] .odd-btn[data-price]:not([data-price='-'])",
                               timeout=ROWS_TIMEOUT_MS)


def boot_to_live_list(ui: Any, sport_id: str = "1") -> None:
    ui.boot()
    ui.page.wait_for_selector(COUNTS, state="attached", timeout=30_000)
    choose_sport(ui, sport_id)


def open_details(ui: Any) -> str:
    """Open the first row's details and wait for its markets; returns the game id."""
    page = ui.page
    game_id = page.get_attribute(".game-row[data-game-id]", "data-game-id")
    page.click(f".game-row[data-game-id='{game_id}'] .game-open")
    page.wait_for_selector("#details:not([hidden]) .mgroup", timeout=30_000)
    return game_id


def wait_tracker(ui: Any) -> None:
    ui.page.wait_for_selector("#details-tracker .tk-field .tk-ball", timeout=30_000)


def open_results(ui: Any, sport_id: str = "1", day: str = "yesterday") -> None:
    """Results mode, a date choice, a sport's results. Yesterday by default: always a whole day of
    finished games, where "today" has next to none just after midnight."""
    page = ui.page
    page.click("#tab-results")
    page.wait_for_function("() => document.getElementById('tab-results').getAttribute('aria-selected') === 'true'")
    assert page.get_attribute("[data-range='today']", "aria-pressed") == "true"  # the original's default
    if day != "today":
        page.click(f"[data-range='{day}']")
        page.wait_for_function("(d) => document.querySelector(`[data-range='${d}']`).getAttribute('aria-pressed') === 'true'",
                               arg=day)
    open_drawer_if_phone(ui)
    page.wait_for_selector(f".sport-item[data-sport-id='{sport_id}']", timeout=20_000)
    choose_sport(ui, sport_id, rows=False)
    page.wait_for_selector(".result-row", timeout=20_000)
