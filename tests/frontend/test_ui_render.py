"""Views on the fake DOM: rows, odds buttons, flashes through the Flasher (one timer for all), minimal writes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.flash import FLASH_MS, Flasher
from oddsui.messages import decode
from oddsui.render import (
    MAX_NEW_GROUPS_PER_PASS,
    GamesView,
    NodeCache,
    SidebarView,
    Toaster,
    sidebar_items,
)
from oddsui.scope import Scope
from oddsui.store import LIVE, PREMATCH, Store
from oddsui.tree import group_games
from ui_fakes import FakeDom, FakePlatform, accessible_name


def game(gid, region="England", competition="Premier League", **extra):
    base = {"id": gid, "type": 1, "team1_name": f"Home {gid}", "team2_name": f"Away {gid}", "region": region,
            "competition": competition, "competition_id": 538, "markets_count": 143, "market": {},
            "info": {"current_game_state": "set2", "current_game_time": "67", "add_minutes": "3",
                     "shirt1_color": "FF0000", "shirt2_color": "000000"},
            "text_info": "1:0 (1:0) 67`", "sport": "Football"}
    base.update(extra)
    return base


def set_games(store, rows):
    return store.set_games(decode(json.dumps({"sportId": "1", "data": rows}), "games"))


def set_odds(store, updates):
    return store.apply_odds(decode(json.dumps({"sportId": "1", "updates": updates}), "odds"))


def outcomes(p1, px, p2, blocked=(False, False, False)):
    return [{"label": lab, "price": p, "blocked": b} for lab, p, b in zip("1X2", (p1, px, p2), blocked)]


class Harness:
    def __init__(self):
        self.platform = FakePlatform()
        self.dom = FakeDom()
        self.scope = Scope(self.platform)
        self.cache = NodeCache(self.dom)
        self.container = self.dom.by_id("games")
        self.flasher = Flasher(self.scope.child("flashes"), self.dom)
        self.view = GamesView(self.dom, self.container, self.dom.by_id("games-empty"), self.cache, self.flasher,
                              lambda ts: 60)
        self.store = Store()

    def render(self, refresh=None):
        """A render and the passes it asks for (new rows come MAX_NEW_ROWS_PER_PASS at a time)."""
        done = self.view.render(self.store, "Football", refresh)
        while not done:
            done = self.view.render_window(self.store, set())

    def row(self, gid):
        rows = [n for n in self.container.find_all(cls="game-row") if n.attrs["data-game-id"] == str(gid)]
        assert len(rows) == 1
        return rows[0]

    def buttons(self, gid):
        return self.row(gid).find_all(cls="odd-btn")

    def dom_order(self):
        out = []
        for region in self.container.children:
            comps = []
            for comp in region.find(cls="region-body").children:
                comps.append((comp.find(cls="competition-name").text,
                              [r.attrs["data-game-id"] for r in comp.find(cls="competition-body").children
                               if "v-spacer" not in r.classes]))
            out.append((region.find(cls="region-name").text, comps))
        return out


def test_rows_show_teams_live_meta_and_stable_attributes():
    h = Harness()
    set_games(h.store, [game(1)])
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.85, 3.4, 4.2), "markets_count": 143}])
    h.render()
    row = h.row(1)
    assert row.find(cls="team1").text == "Home 1" and row.find(cls="team2").text == "Away 1"
    assert row.find(cls="team-dot").style == {"background": "#FF0000"}
    assert row.find(cls="live-badge").text == "LIVE" and not row.find(cls="live-badge").hidden
    assert row.find(cls="game-clock").text == "67+3'" and row.find(cls="game-phase").text == "2H"
    assert row.find(cls="score-main").text == "1:0" and row.find(cls="game-periods").text == "(1:0)"
    buttons = h.buttons(1)
    assert [b.attrs["data-odd-label"] for b in buttons] == ["1", "X", "2"]
    assert [b.find(cls="odd-price").text for b in buttons] == ["1.850", "3.400", "4.200"]
    assert [b.attrs["data-price"] for b in buttons] == ["1.850", "3.400", "4.200"]
    assert row.find(cls="markets-pill").text == "+142"
    assert row.find(cls="game-odds").attrs["data-server-game-id"] == "1"


def test_prematch_rows_show_local_date_and_time():
    h = Harness()
    set_games(h.store, [game(1, type=0, start_ts=1767700800)])  # 2026-01-06 12:00 UTC, +60 min
    h.render()
    row = h.row(1)
    assert row.find(cls="game-date").text == "06/01" and row.find(cls="game-time").text == "13:00"
    assert row.find(cls="live-badge").hidden


def test_price_moves_flash_up_and_down_and_expire_with_one_timer():
    h = Harness()
    set_games(h.store, [game(1), game(2)])
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.85, 3.4, 4.2)}, {"gameId": 2, "odds": outcomes(2, 3, 4)}])
    h.render()
    assert not any("odd-up" in b.classes for b in h.buttons(1))  # no flash on the first prices

    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.9, 3.4, 4.1)}])
    assert h.view.update_odds(h.store, "1") == [0, 2]
    b1, bx, b2 = h.buttons(1)
    assert "odd-up" in b1.classes and b1.find(cls="odd-arrow").text == "\u25b2"
    assert "odd-down" in b2.classes and b2.find(cls="odd-arrow").text == "\u25bc"
    assert not ({"odd-up", "odd-down"} & bx.classes)
    assert b1.find(cls="odd-price").text == "1.900"

    h.platform.advance(500)
    for step in range(20):  # many moves on several buttons: still one timer
        set_odds(h.store, [{"gameId": 2, "odds": outcomes(2 + step / 10, 3, 4)}])
        h.view.update_odds(h.store, "2")
        assert len(h.platform.timers) == 1
    h.platform.advance(FLASH_MS - 500)  # game 1's flashes end
    assert not ({"odd-up", "odd-down"} & h.buttons(1)[0].classes)
    assert h.buttons(1)[0].find(cls="odd-arrow").text == ""
    assert "odd-up" in h.buttons(2)[0].classes
    h.platform.advance(FLASH_MS)
    assert not ({"odd-up", "odd-down"} & h.buttons(2)[0].classes)
    assert h.platform.timers == {} and len(h.flasher) == 0


def test_re_rendering_keeps_a_showing_flash_on_its_button_with_its_one_timer():
    h = Harness()
    set_games(h.store, [game(1), game(2)])
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.5, 3, 4)}])
    h.render()
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.6, 3, 4)}])
    h.view.update_odds(h.store, "1")
    button = h.buttons(1)[0]
    for _ in range(5):  # games events re-render every row
        set_games(h.store, [game(1), game(2)])
        h.render()
        assert h.buttons(1)[0] is button and "odd-up" in button.classes
        assert len(h.platform.timers) == 1 and len(h.flasher) == 1
    h.platform.advance(FLASH_MS)
    assert "odd-up" not in button.classes and h.platform.timers == {}


def test_same_direction_again_restarts_the_animation():
    h = Harness()
    set_games(h.store, [game(1)])
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.5, 3, 4)}])
    h.render()
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.6, 3, 4)}])
    h.view.update_odds(h.store, "1")
    assert "flash-alt" not in h.buttons(1)[0].classes
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.7, 3, 4)}])
    h.view.update_odds(h.store, "1")
    assert {"odd-up", "flash-alt"} <= h.buttons(1)[0].classes


def test_blocked_outcome_or_game_shows_a_lock():
    h = Harness()
    set_games(h.store, [game(1), game(2, is_blocked=1)])
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.5, 3, 4, blocked=(False, True, False))},
                       {"gameId": 2, "odds": outcomes(1.5, 3, 4)}])
    h.render()
    b1, bx, b2 = h.buttons(1)
    # the lock is an icon drawn by CSS on the empty price; the name says it
    assert "odd-blocked" in bx.classes and bx.find(cls="odd-price").text == ""
    assert "odd-locked" in bx.find(cls="odd-price").classes
    assert bx.attrs["data-price"] == "3.000"
    assert "odd-blocked" not in b1.classes
    assert all("odd-blocked" in b.classes for b in h.buttons(2))
    assert "game-blocked" in h.row(2).classes
    badge = h.row(2).find(cls="live-badge")
    # the lock is an icon drawn by CSS (no emoji font needed), named "suspended" for screen readers
    assert badge.find(cls="live-text").text == "LIVE" and "suspended" in badge.classes
    lock = badge.find(cls="lock-icon")
    assert not lock.hidden and lock.attrs["role"] == "img" and lock.attrs["aria-label"] == "suspended"
    assert h.row(1).find(cls="lock-icon").hidden
    assert accessible_name(bx) == "Draw X suspended" and accessible_name(b1) == "Home 1 1.500"
    # unblocking restores the price
    set_odds(h.store, [{"gameId": 1, "odds": outcomes(1.5, 3, 4)}])
    h.view.update_odds(h.store, "1")
    assert "odd-blocked" not in h.buttons(1)[1].classes and h.buttons(1)[1].find(cls="odd-price").text == "3.000"


def test_two_outcomes_hide_the_third_button_and_null_odds_keep_prices():
    h = Harness()
    set_games(h.store, [game(1)])
    set_odds(h.store, [{"gameId": 1, "odds": [{"label": "W1", "price": 1.5}, {"label": "W2", "price": 2.5}],
                        "markets_count": 10}])
    h.render()
    buttons = h.buttons(1)
    assert [b.attrs["data-odd-label"] for b in buttons[:2]] == ["W1", "W2"] and "odd-empty" in buttons[2].classes
    set_odds(h.store, [{"gameId": 1, "odds": None, "markets_count": 8}])
    h.view.update_odds(h.store, "1")
    assert [b.find(cls="odd-price").text for b in h.buttons(1)[:2]] == ["1.500", "2.500"]
    assert h.row(1).find(cls="markets-pill").text == "+7"


def test_re_rendering_an_unchanged_list_writes_nothing():
    h = Harness()
    set_games(h.store, [game(i, region=f"R{i % 3}", competition=f"C{i % 2}") for i in range(12)])
    h.render()
    before = h.dom.writes()
    set_games(h.store, [game(i, region=f"R{i % 3}", competition=f"C{i % 2}") for i in range(12)])
    h.render()
    assert h.dom.writes() == before


def test_removed_games_leave_the_dom_and_their_flashes_are_forgotten():
    h = Harness()
    set_games(h.store, [game(1), game(2, region="Spain")])
    set_odds(h.store, [{"gameId": 2, "odds": outcomes(1.5, 3, 4)}])
    h.render()
    set_odds(h.store, [{"gameId": 2, "odds": outcomes(1.6, 3, 4)}])
    h.view.update_odds(h.store, "2")
    assert len(h.flasher) == 1 and len(h.platform.timers) == 1
    set_games(h.store, [game(1)])
    h.render()
    assert [r.attrs["data-game-id"] for r in h.container.find_all(cls="game-row")] == ["1"]
    assert len(h.flasher) == 0 and "2" not in h.view.rows
    assert h.platform.timers == {}  # the removed row's flash left no timer behind
    assert h.dom_order() == [("England", [("Premier League", ["1"])])]


def test_collapse_state_survives_re_renders():
    h = Harness()
    set_games(h.store, [game(1)])
    h.render()
    key = h.container.find(cls="competition").attrs["data-group-key"]
    h.view.set_collapsed(key, True)
    set_games(h.store, [game(1), game(2)])
    h.render()
    assert "collapsed" in h.container.find(cls="competition").classes


GAME_LISTS = st.lists(
    st.lists(st.tuples(st.integers(0, 15), st.sampled_from(["A", "B", "C"]), st.sampled_from(["x", "y"])),
             unique_by=lambda t: t[0], max_size=16),
    min_size=1, max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(GAME_LISTS)
def test_dom_always_mirrors_the_grouping_whatever_moves(lists):
    h = Harness()
    for rows in lists:
        set_games(h.store, [game(gid, region=r, competition=c) for gid, r, c in rows])
        h.render()
        expected = [(r.name, [(c.name, c.game_keys) for c in r.competitions])
                    for r in group_games(h.store.ordered_games())]
        assert h.dom_order() == expected
        assert set(h.view.rows) == set(h.store.games)
        assert len(h.container.find_all(cls="game-row")) == len(h.store.games)
        assert h.dom.by_id("games-empty").hidden == bool(rows)


def test_sidebar_shows_counted_sports_plus_the_active_one():
    store = Store()
    store.set_hierarchy(decode(json.dumps({"sport": {
        "1": {"id": 1, "name": "Football", "order": 1}, "2": {"id": 2, "name": "Tennis", "order": 2},
        "3": {"id": 3, "name": "Darts", "order": 3}}}), "hierarchy"))
    # before counts arrive every sport shows, without a number
    assert [(i.id, i.count_text) for i in sidebar_items(store, LIVE, None)] == [("1", ""), ("2", ""), ("3", "")]
    store.apply_counts(LIVE, decode('{"sports":[{"name":"football","count":12}],"total_games":12}', "counts"))
    assert [(i.id, i.count_text) for i in sidebar_items(store, LIVE, None)] == [("1", "12")]
    assert [(i.id, i.active) for i in sidebar_items(store, LIVE, "3")] == [("1", False), ("3", True)]
    assert [i.id for i in sidebar_items(store, PREMATCH, None)] == ["1", "2", "3"]  # prematch unknown yet
    assert [i.id for i in sidebar_items(store, PREMATCH, None, query="TEN")] == ["2"]

    dom = FakeDom()
    view = SidebarView(dom, dom.by_id("sport-list"), dom.by_id("sport-empty"), NodeCache(dom))
    view.render(sidebar_items(store, LIVE, "3"))
    items = dom.by_id("sport-list").children
    assert [(n.attrs["data-sport-id"], n.find(cls="sport-count").attrs["data-count"]) for n in items] == [
        ("1", "12"), ("3", "0")]
    assert "active" in items[1].classes
    store.apply_counts(LIVE, decode('{"sports":[{"name":"Football","count":13}]}', "counts"))
    node = items[0]
    view.render(sidebar_items(store, LIVE, "3"))
    assert dom.by_id("sport-list").children[0] is node and node.find(cls="sport-count").text == "13"


def test_toasts_are_throttled_capped_and_removed_by_owned_timers():
    platform = FakePlatform()
    dom = FakeDom()
    scope = Scope(platform)
    toaster = Toaster(scope, dom, dom.by_id("toasts"), duration_ms=4000, limit=2)
    assert toaster.show("a", "error", topic="t", throttle_ms=15000)
    assert not toaster.show("b", "error", topic="t", throttle_ms=15000)
    toaster.show("c")
    toaster.show("d")
    assert [n.find(cls="toast-text").text for n in dom.by_id("toasts").children] == ["c", "d"]
    assert len(platform.timers) == 2
    platform.advance(4000)
    assert dom.by_id("toasts").children == [] and platform.timers == {}
    toaster.show("e")
    scope.close()
    assert dom.by_id("toasts").children == [] and platform.live_proxies() == 0


def test_large_lists_are_built_in_chunks_across_passes():
    h = Harness()
    set_games(h.store, [game(i, region=f"R{i % 4}", competition=f"C{i % 3}") for i in range(40)])
    # the first passes build the 16 region and competition heads (MAX_NEW_GROUPS_PER_PASS a pass)
    # and no row; the rows follow, 15 a pass
    head_passes = 0
    while not h.view.render(h.store, "Football", None, max_new_rows=15) and not h.view.rows:
        head_passes += 1
    assert head_passes == -(-16 // MAX_NEW_GROUPS_PER_PASS) and len(h.view.rows) == 15
    passes = 1
    while not h.view.render(h.store, "Football", None, max_new_rows=15):
        passes += 1
        assert len(h.view.rows) == 15 * passes
    assert passes == 2 and len(h.view.rows) == 40
    expected = [(r.name, [(c.name, c.game_keys) for c in r.competitions])
                for r in group_games(h.store.ordered_games())]
    assert h.dom_order() == expected


def test_row_html_escapes_names_and_values():
    h = Harness()
    set_games(h.store, [game("<1>", team1_name='<script>alert("x")</script>', team2_name="A & B",
                             text_info=None, info={"current_game_time": '"><img>'})])
    h.render()
    row = h.row("<1>")
    assert row.find(cls="team1").text == '<script>alert("x")</script>'
    assert row.find(cls="team2").text == "A & B"
    assert row.find(cls="game-clock").text == '"><img>'
    assert not row.find_all(attr="onerror") and all(n.tag != "script" for n in row.iter())


def test_odds_for_rows_not_built_yet_are_used_when_they_are_built():
    h = Harness()
    set_games(h.store, [game(i) for i in range(10)])
    assert not h.view.render(h.store, "Football", None, max_new_rows=5)  # the heads
    assert not h.view.render(h.store, "Football", None, max_new_rows=5)  # 5 rows
    set_odds(h.store, [{"gameId": 9, "odds": outcomes(2.5, 3, 4)}])
    assert h.view.update_odds(h.store, "9") == []  # not rendered yet: nothing to do
    assert h.view.render(h.store, "Football", set(), max_new_rows=5)
    assert h.buttons(9)[0].attrs["data-price"] == "2.500"
