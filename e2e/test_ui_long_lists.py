"""Smooth at any list length: no main-thread task over 50 ms (the Long Tasks API) after boot,
neither while a ~300-game live list is rendered for the first time and about 200 prices a second
move on it, nor while a 3,000-game prematch list is rendered for the first time and scrolled to the
bottom. Against ``big_server`` (10,400 prematch and
1,000 live games in the simulated world, 2,400 price moves a second in any market, of which the
football list's main odds see about 200).

The figures are printed (run with ``-s``): prices moved per second, long tasks, the slowest Python
steps (``App.timings``), how many rows exist at once.

These machines have two cores shared with other work, so a measurement can be spoiled by a
neighbour: each test takes up to ``ATTEMPTS`` fresh pages and passes when one of them is clean (the
figures of every attempt are printed). A regression makes every attempt fail.
"""

from __future__ import annotations

import pytest
from helpers import COUNTS, choose_sport

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

LONG_TASK_MS = 50
WATCH_S = 15
ATTEMPTS = 3


def boot_ready(ui):
    ui.boot()
    assert ui.page.evaluate("window.__e2eLongTasksUnsupported === undefined"), "no Long Tasks API"
    # The parse worker boots in the background after start (app.WORKER_PRESTART_MS): part of boot.
    ui.wait_python("page.app.parser.state in ('ready', 'broken')", 90, "the parse worker")
    ui.page.wait_for_selector(COUNTS, timeout=30_000)


def rendered(ui):
    ui.wait_python("(lambda s: s['games'] > 0 and s['rows'] > 0 and s['pending_jobs'] == 0)(page.app.debug_state())",
                   60, "the list to render")


def scroll(ui, steps, pause_ms):
    for i in range(1, steps + 1):
        ui.page.evaluate("(f) => { const c = document.getElementById('content'); c.scrollTop = c.scrollHeight * f; }",
                         i / steps)
        ui.page.wait_for_timeout(pause_ms)


def measure_live(ui):
    boot_ready(ui)
    start = ui.now()
    choose_sport(ui, "1")
    rendered(ui)
    first_render = ui.long_tasks(start)
    ui.page.wait_for_timeout(1000)
    ui.python("page.app.timings.clear()")
    watch = ui.now()
    moved = ui.python("page.app.store.prices_moved")
    ui.page.wait_for_timeout(WATCH_S * 500)
    scroll(ui, 20, 150)  # and scrolled, down the whole list
    scroll(ui, 1, 100)
    ui.page.wait_for_timeout(WATCH_S * 500 - 3100)
    seconds = (ui.now() - watch) / 1000
    rate = (ui.python("page.app.store.prices_moved") - moved) / seconds
    state = ui.python("page.app.debug_state()")
    tasks = ui.long_tasks(watch)
    print(f"\nlive list: {state['games']} games, {state['rows']} rows in the DOM, {rate:.0f} prices moved/s "
          f"over {seconds:.1f} s; long tasks while watching: {tasks}; during the first render: {first_render}; "
          f"slowest steps (ms): {state['timings']}")
    assert state["games"] >= 250 and state["rows"] < 60
    assert rate >= 150, rate
    ui.assert_no_errors()
    # After boot, nothing is long: not the list's first render (priming ran its paths), nor watching.
    return [t for t in first_render + tasks if t[1] > LONG_TASK_MS]


def measure_prematch(ui):
    boot_ready(ui)
    ui.page.click("#tab-prematch")
    ui.page.wait_for_function("() => document.getElementById('tab-prematch').getAttribute('aria-selected') === 'true'")
    ui.page.wait_for_timeout(1500)  # the prematch counts and the stream switch settle
    start = ui.now()
    choose_sport(ui, "1")
    rendered(ui)
    render_ms = ui.now() - start
    scroll(ui, 30, 120)  # to the bottom, a screenful or more at a time
    ui.page.wait_for_timeout(500)
    state = ui.python("page.app.debug_state()")
    tasks = ui.long_tasks(start)
    # the last row of the page: the last game of the last competition (the tree groups the games)
    last = ui.python("page.app.games_view.competitions[page.app.games_view._comp_order[-1]].keys[-1]")
    shown = ui.page.eval_on_selector_all(".game-row[data-game-id]", "rows => rows.map(r => r.dataset.gameId)")
    print(f"\nprematch list: {state['games']} games; first render {render_ms:.0f} ms to a rendered window; "
          f"{len(shown)} rows in the DOM at the bottom; worker parse {state['parser']['last_worker'].get('games')}; "
          f"long tasks: {tasks}; slowest steps (ms): {state['timings']}")
    assert state["games"] >= 2500, state["games"]
    assert last in shown  # the window followed the scroll to the very end
    assert len(shown) < 60
    assert "games" in state["parser"]["last_worker"]  # the big list was parsed in the worker
    ui.assert_no_errors()
    return [t for t in tasks if t[1] > LONG_TASK_MS]


def best_of(make_ui, base_url, measure):
    seen = []
    for attempt in range(ATTEMPTS):
        ui = make_ui(base_url=base_url)
        try:
            long = measure(ui)
        finally:
            ui.page.context.close()  # its Pyodide and streams would load the CPU of the next attempt
        seen.append(long)
        if not long:
            print(f"clean on attempt {attempt + 1}")
            return
    pytest.fail(f"a long task (> {LONG_TASK_MS} ms) in every one of {ATTEMPTS} attempts: {seen}")


def test_a_300_game_live_list_with_200_prices_a_second_has_no_long_task(make_ui, big_server):
    best_of(make_ui, big_server, measure_live)


def test_a_3000_game_prematch_list_renders_and_scrolls_to_the_bottom_without_a_long_task(make_ui, big_server):
    best_of(make_ui, big_server, measure_prematch)
