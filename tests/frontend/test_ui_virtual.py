"""Windowed game lists (oddsui.virtual and render.GamesView): smooth at any length."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.flash import Flasher
from oddsui.messages import decode
from oddsui.render import GamesView, NodeCache
from oddsui.scope import Scope
from oddsui.store import Store
from oddsui.virtual import BUFFER_ROWS, first_at_or_below, row_window, spacers
from ui_fakes import FakeDom, FakePlatform
from ui_samples import list_game


@settings(max_examples=500, deadline=None)
@given(st.floats(-1e6, 1e6), st.integers(0, 5000), st.floats(10, 200), st.floats(-1e6, 1e6),
       st.one_of(st.just(0.0), st.floats(0.01, 3000)),
       st.integers(0, 20))
def test_the_window_holds_every_visible_row_and_not_much_more(body_top, count, row_h, view_top, height, buffer):
    view_bottom = view_top + height
    first, last = row_window(body_top, count, row_h, view_top, view_bottom, buffer)
    assert 0 <= first <= last <= count
    visible = [i for i in range(count)
               if body_top + (i + 1) * row_h > view_top and body_top + i * row_h < view_bottom]
    if visible and view_bottom > view_top:
        assert first <= visible[0] and visible[-1] < last
    assert last - first <= (len(visible) + 2 * buffer + 2 if visible else 2 * buffer + 2)
    above, below = spacers(first, last, count, row_h)
    assert abs(above + (last - first) * row_h + below - count * row_h) < 1e-6 * max(1.0, count * row_h)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1000), max_size=60), st.floats(-100, 60000))
def test_the_binary_search_finds_what_a_scan_finds_with_few_reads(heights, y):
    bottoms, total = [], 0.0
    for h in heights:
        total += h
        bottoms.append(total)
    reads = []

    def bottom_of(i):
        reads.append(i)
        return bottoms[i]

    found = first_at_or_below(len(bottoms), bottom_of, y)
    assert found == next((i for i, b in enumerate(bottoms) if b > y), len(bottoms))
    assert len(reads) <= max(1, len(bottoms)).bit_length() + 1


class Layout:
    """A fake layout: one region, one competition whose body starts at ``top`` (scrolled by ``scroll``)."""

    def __init__(self, games: int, viewport: float = 600.0) -> None:
        self.platform = FakePlatform()
        self.dom = FakeDom()
        self.scope = Scope(self.platform)
        self.flasher = Flasher(self.scope.child("flashes"), self.dom)
        self.scroller = self.dom.by_id("content")
        self.scroller.scroll = (0.0, 0.0, viewport)
        self.view = GamesView(self.dom, self.dom.by_id("games"), self.dom.by_id("games-empty"), NodeCache(self.dom),
                              self.flasher, lambda ts: 0, scroller=self.scroller)
        self.store = Store()
        self.store.set_games(decode(json.dumps({"sportId": "1", "data": [
            list_game(i, live=False) for i in range(games)]}), "games"))
        self.scrolled = 0.0

    def body(self):
        return next(iter(self.view.competitions.values())).body

    def scroll_to(self, y: float) -> None:
        self.scrolled = y
        self.place()

    def place(self) -> None:
        comp = next(iter(self.view.competitions.values()))
        self.body().rect = (74.0 - self.scrolled, len(comp.keys) * self.view.row_height)

    def render(self) -> None:
        self.view.render(self.store, "Football", None)
        self.place()
        while not self.view.render_window(self.store):
            self.place()

    def settle(self) -> None:
        """Window passes until the window is complete (new rows come a few per pass)."""
        while not self.view.render_window(self.store):
            self.place()

    def rendered(self) -> list[int]:
        return [int(n.attrs["data-game-id"]) for n in self.body().children if "v-spacer" not in n.classes]


def test_a_long_list_renders_only_the_rows_around_the_viewport_and_follows_the_scroll():
    layout = Layout(3000)
    layout.render()
    shown = layout.rendered()
    assert shown == list(range(shown[0], shown[0] + len(shown))) and shown[0] == 0
    assert len(shown) <= 600 / 60 + 2 * BUFFER_ROWS + 2 and len(layout.view.rows) == len(shown)
    top, bottom = layout.body().children[0], layout.body().children[-1]
    assert "height" not in top.style
    assert bottom.style["height"] == f"{(3000 - len(shown)) * 60:g}px"
    row = next(n for n in layout.body().children if "v-spacer" not in n.classes)
    assert row.attrs["aria-posinset"] == "1" and row.attrs["aria-setsize"] == "3000"

    layout.scroll_to(60 * 2000)  # to the middle
    layout.settle()
    shown = layout.rendered()
    assert shown[0] <= 2000 - 1 and shown[-1] >= 2000 + 9 and len(shown) <= 28
    first = shown[0]
    assert top.style["height"] == f"{first * 60:g}px"
    assert bottom.style["height"] == f"{(3000 - first - len(shown)) * 60:g}px"
    assert set(layout.view.rows) == {str(i) for i in shown}  # rows that left the window are gone

    layout.scroll_to(60 * 3000)  # the bottom
    layout.settle()
    assert layout.rendered()[-1] == 2999 and "height" not in bottom.style


def test_a_pass_out_of_time_builds_what_it_can_and_the_next_passes_finish_the_same_window():
    """Each row built costs 2.5 ms of the pass's clock: a pass stops before the row that would take
    it past ``ROW_BUDGET_MS`` (never before its first), and the passes that follow build the rest,
    ending with the window an unhurried render builds."""
    from oddsui.render import ROW_BUDGET_MS

    def window_of(slow: bool) -> tuple[list[int], list[int]]:
        layout = Layout(3000)
        clock = [0.0]
        if slow:
            def now() -> float:
                clock[0] += 2.5
                return clock[0]
            layout.view.now = now
        built_per_pass = []
        layout.view.render(layout.store, "Football", None)
        layout.place()
        for _ in range(50):
            before = layout.view.rows_built
            done = layout.view.render_window(layout.store)
            built_per_pass.append(layout.view.rows_built - before)
            layout.place()
            if done:
                break
        layout.scroll_to(60 * 1500)
        layout.settle()
        return layout.rendered(), built_per_pass

    slow, slow_passes = window_of(True)
    fast, fast_passes = window_of(False)
    assert slow == fast and len(slow) > 10
    assert max(slow_passes) <= ROW_BUDGET_MS // 2.5 + 1 < max(fast_passes)
    assert all(n >= 1 for n in slow_passes[:-1])  # every pass builds at least one row


def test_rows_that_leave_the_window_take_their_flashes_along():
    layout = Layout(500)
    layout.render()
    layout.store.apply_odds(decode(json.dumps({"sportId": "1", "updates": [
        {"gameId": 1, "odds": [{"label": "1", "price": 1.5}, {"label": "2", "price": 2.5}]}]}), "odds"))
    layout.view.update_odds(layout.store, "1")
    layout.store.apply_odds(decode(json.dumps({"sportId": "1", "updates": [
        {"gameId": 1, "odds": [{"label": "1", "price": 1.6}, {"label": "2", "price": 2.4}]}]}), "odds"))
    layout.view.update_odds(layout.store, "1")
    assert len(layout.flasher) == 2 and len(layout.platform.timers) == 1
    layout.scroll_to(60 * 300)
    layout.view.render_window(layout.store)
    assert "1" not in layout.view.rows and len(layout.flasher) == 0 and layout.platform.timers == {}
    # an odds update for a row off screen only updates the store; it is built with it when it returns
    layout.store.apply_odds(decode(json.dumps({"sportId": "1", "updates": [
        {"gameId": 1, "odds": [{"label": "1", "price": 1.9}, {"label": "2", "price": 2.0}]}]}), "odds"))
    assert layout.view.update_odds(layout.store, "1") == []
    layout.scroll_to(0)
    layout.settle()
    assert layout.view.rows["1"].node.find(cls="odd-price").text == "1.900"


def test_a_collapsed_competition_renders_no_rows():
    layout = Layout(200)
    layout.render()
    key = next(iter(layout.view.competitions))
    layout.view.set_collapsed(key, True)
    layout.view.render_window(layout.store)
    assert layout.view.rows == {} and layout.rendered() == []
    layout.view.set_collapsed(key, False)
    layout.view.render_window(layout.store)
    assert layout.rendered()[0] == 0


def test_the_measured_row_height_sizes_the_spacers():
    layout = Layout(1000)
    layout.dom.measure_by_class["game-row"] = (0.0, 104.0)  # the phone layout's two-line rows
    assert layout.view.render(layout.store, "Football", None) is False  # the heads; rows next pass
    layout.place()
    layout.settle()  # rows built, one of them measured in the following pass (never after writes)
    assert layout.view.row_height == 104.0
    measures = layout.view.measures
    layout.place()
    layout.settle()
    assert layout.view.measures == measures + 1  # the body only: the row height is known now
    shown = layout.rendered()
    bottom = layout.body().children[-1]
    assert bottom.style["height"] == f"{(1000 - len(shown)) * 104:g}px"
    assert len(shown) <= 600 / 104 + 2 * BUFFER_ROWS + 2
    layout.view.remeasure()  # a resize: the next pass reads a row again
    layout.settle()
    assert layout.view.measures == measures + 3
