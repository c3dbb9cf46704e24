"""The odds flash (docs/design.md R2): flash decisions, the per-row price trail, the flash book, and the Flasher that
owns every flash: tied to the nodes it animates, one timer for all, nothing left by removed rows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from oddsui.flash import ARROWS, FLASH_MS, FlashBook, Flasher, PriceTrail, flash_direction
from oddsui.scope import Scope
from ui_fakes import FakeDom, FakeNode, FakePlatform

# ------------------------------------------------------------------------------------------------
# which moves flash


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        (1.85, 1.9, "up"),
        (1.9, 1.85, "down"),
        (1.85, 1.85, None),
        (1.8500001, 1.8500002, None),  # below display precision: no flash
        (None, 1.85, None),  # first price
        (1.85, None, None),
        ("1.85", 1.9, None),
        (1.85, "x", None),
        (2, 2.001, "up"),
    ],
)
def test_flash_direction(old, new, direction):
    assert flash_direction(old, new) == direction


@given(st.floats(1.0, 1000.0), st.floats(1.0, 1000.0))
def test_flash_direction_is_antisymmetric(a, b):
    forward, backward = flash_direction(a, b), flash_direction(b, a)
    assert {forward, backward} in ({None}, {"up", "down"})


def test_a_price_trail_flashes_moves_only_between_prices_of_the_same_outcome():
    trail = PriceTrail(["1", "X", "2"], [1.5, 3.0, None])
    assert trail.moves(["1", "X", "2"], [1.6, 2.9, 4.0], [False] * 3) == [(0, "up"), (1, "down")]  # 2: first price
    assert trail.moves(["1", "X", "2"], [None, None, None], [False] * 3) == []  # no odds in this update
    assert trail.prices == [1.6, 2.9, 4.0]  # ...keeps the last shown prices
    assert trail.moves(["1", "X", "2"], [1.7, 2.9, 4.0], [False] * 3) == [(0, "up")]
    assert trail.moves(["W1", "X", "2"], [1.2, 2.9, 4.0], [False] * 3) == []  # another outcome: no flash
    assert trail.moves(["W1", "X", "2"], [1.3, 2.9, 4.0], [False] * 3) == [(0, "up")]
    assert trail.moves(["W1", "X", "2"], [1.3, 2.9, None], [False, False, True]) == []  # the button emptied
    assert trail.prices[2] is None
    assert trail.moves(["W1", "X", "2"], [1.3, 2.9, 5.0], [False] * 3) == []  # back: a first price again


# ------------------------------------------------------------------------------------------------
# the book


def test_flash_book_marks_expire_after_the_flash_duration():
    book = FlashBook()
    mark = book.mark(("g1", 0), "up", now_ms=1000)
    assert mark.css_class == "odd-up" and mark.until_ms == 1000 + FLASH_MS and not mark.alt
    assert book.active(("g1", 0), 1500) is mark
    assert book.next_deadline() == 2100
    assert book.pop_due(2099) == []
    assert [m.key for m in book.pop_due(2100)] == [("g1", 0)]
    assert book.active(("g1", 0), 2100) is None and len(book) == 0 and book.next_deadline() is None


def test_re_marking_moves_the_deadline_and_toggles_alt_instead_of_adding_a_mark():
    book = FlashBook()
    book.mark(("g1", 0), "up", 0)
    book.mark(("g2", 0), "down", 100)
    again = book.mark(("g1", 0), "up", 500)
    assert again.alt  # restarts the CSS animation
    assert len(book) == 2
    assert book.next_deadline() == 100 + FLASH_MS  # g2 is now the oldest
    third = book.mark(("g1", 0), "down", 600)
    assert not third.alt
    late = book.mark(("g1", 0), "up", 5000)  # the previous one had ended: a fresh flash
    assert not late.alt


def test_forget_game_drops_its_marks():
    book = FlashBook()
    for label in range(3):
        book.mark(("g1", label), "up", 0)
    book.mark(("g2", 0), "up", 0)
    assert book.forget_game("g1") == 3
    assert len(book) == 1 and [m.key for m in book.pop_due(10_000)] == [("g2", 0)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 700), st.booleans()), max_size=80))
def test_flash_book_deadline_is_always_the_earliest_mark(ops):
    book = FlashBook()
    now = 0.0
    for game, label, step, forget in ops:
        now += step
        if forget:
            book.forget_game(game)
        else:
            book.mark((game, label), "up", now)
        due = book.pop_due(now)
        assert all(mark.until_ms <= now and mark.key not in book for mark in due)  # ended, and gone
        assert len(book) <= 18  # bounded by distinct keys
        deadlines = [m.until_ms for m in book.marks()]
        assert deadlines == sorted(deadlines)
        assert book.next_deadline() == (deadlines[0] if deadlines else None)
        assert all(d > now for d in deadlines)


# ------------------------------------------------------------------------------------------------
# the Flasher


class Page:
    """A Flasher on fake nodes: ``rows[game]`` holds the (button, arrow) pairs of one rendered row."""

    def __init__(self):
        self.platform = FakePlatform()
        self.dom = FakeDom()
        self.root = Scope(self.platform)
        self.flasher = Flasher(self.root.child("flashes"), self.dom)
        self.rows: dict[str, list[tuple[FakeNode, FakeNode]]] = {}

    def build(self, game):
        self.rows[game] = [(FakeNode("button", "odd-btn"), FakeNode("span", "odd-arrow")) for _ in range(3)]
        return self.rows[game]

    def flash(self, game, index, direction):
        button, arrow = self.rows[game][index]
        return self.flasher.flash((game, index), button, arrow, direction)

    def shown(self, game, index):
        button, arrow = self.rows[game][index]
        flags = {name for name in ("odd-up", "odd-down", "flash-alt") if name in button.classes}
        return flags, arrow.own_text()


def test_a_flash_shows_on_its_button_and_ends_there_after_the_flash_duration():
    p = Page()
    p.build("g1")
    p.build("g2")
    mark = p.flash("g1", 0, "up")
    assert mark.until_ms == FLASH_MS and p.shown("g1", 0) == ({"odd-up"}, ARROWS["up"])
    p.platform.advance(300)
    p.flash("g2", 2, "down")
    assert p.shown("g2", 2) == ({"odd-down"}, ARROWS["down"])
    assert len(p.platform.timers) == 1 and len(p.flasher) == 2
    p.platform.advance(FLASH_MS - 300)
    assert p.shown("g1", 0) == (set(), "") and p.shown("g2", 2) == ({"odd-down"}, ARROWS["down"])
    assert len(p.platform.timers) == 1  # re-armed for g2
    p.platform.advance(300)
    assert p.shown("g2", 2) == (set(), "")
    assert p.platform.timers == {} and len(p.flasher) == 0 and not p.flasher.timer_pending
    assert all(p.shown(g, i) == (set(), "") for g in ("g1", "g2") for i in (1, 2) if (g, i) != ("g2", 2))


def test_a_repeated_move_restarts_the_flash_instead_of_adding_one():
    p = Page()
    p.build("g1")
    p.flash("g1", 0, "up")
    p.platform.advance(500)
    again = p.flash("g1", 0, "up")
    assert again.alt and p.shown("g1", 0) == ({"odd-up", "flash-alt"}, ARROWS["up"])  # the animation restarts
    assert again.until_ms == 500 + FLASH_MS and len(p.flasher) == 1 and len(p.platform.timers) == 1
    turned = p.flash("g1", 0, "down")
    assert not turned.alt and p.shown("g1", 0) == ({"odd-down"}, ARROWS["down"])
    p.platform.advance(FLASH_MS - 1)
    assert p.shown("g1", 0) == ({"odd-down"}, ARROWS["down"])  # the first deadline was moved, not kept
    p.platform.advance(1)
    assert p.shown("g1", 0) == (set(), "") and p.platform.timers == {}


def test_a_move_while_an_ended_flash_is_still_shown_restarts_the_animation():
    p = Page()
    p.build("g1")
    p.flash("g1", 0, "up")
    p.platform.now += FLASH_MS + 50  # the clock moved on, the timer has not run yet (a throttled tab)
    again = p.flash("g1", 0, "up")
    # the node still carries odd-up: only the other keyframe name (flash-alt) restarts the animation
    assert again.alt and p.shown("g1", 0) == ({"odd-up", "flash-alt"}, ARROWS["up"])
    assert again.until_ms == p.platform.now + FLASH_MS
    assert len(p.flasher) == 1 and len(p.platform.timers) == 1
    p.platform.advance(FLASH_MS)
    assert p.shown("g1", 0) == (set(), "") and p.platform.timers == {}
    fresh = p.flash("g1", 0, "up")  # after the end was written: a fresh flash, first keyframe name
    assert not fresh.alt and p.shown("g1", 0) == ({"odd-up"}, ARROWS["up"])


def test_a_removed_row_takes_its_flashes_along_and_leaves_no_timer():
    p = Page()
    p.build("g1")
    p.build("g2")
    for index in range(3):
        p.flash("g1", index, "up")
    writes = p.dom.writes()
    assert p.flasher.forget("g1") == 3
    assert len(p.flasher) == 0 and p.platform.timers == {}  # nothing left to end: no timer
    assert p.dom.writes() == writes  # the nodes are gone: nothing is written to them
    p.flash("g2", 0, "down")
    p.flasher.forget("g1")
    assert len(p.platform.timers) == 1  # g2's flash keeps its timer
    p.flasher.clear()
    assert len(p.flasher) == 0 and p.platform.timers == {}


def test_a_rebuilt_row_ends_the_old_nodes_flash_and_animates_the_new_nodes():
    p = Page()
    p.build("g1")
    p.flash("g1", 1, "up")
    old_button, old_arrow = p.rows["g1"][1]
    p.build("g1")  # same key, new nodes
    p.flash("g1", 1, "up")
    assert "odd-up" not in old_button.classes and old_arrow.own_text() == ""
    assert p.shown("g1", 1)[0] >= {"odd-up"} and len(p.flasher) == 1
    p.platform.advance(FLASH_MS)
    assert p.shown("g1", 1) == (set(), "")


def test_closing_the_scope_drops_every_flash_and_the_timer():
    p = Page()
    p.build("g1")
    p.flash("g1", 0, "up")
    p.root.close()
    assert len(p.flasher) == 0 and p.platform.timers == {} and p.platform.live_proxies() == 0
    writes = p.dom.writes()
    assert p.flash("g1", 1, "down") is None  # a closed flasher writes and schedules nothing
    assert p.dom.writes() == writes and p.platform.timers == {}


class FlasherMachine(RuleBasedStateMachine):
    """docs/design.md R2 under any interleaving of moves, re-renders, row rebuilds, removals and time: one timer at
    most, exactly while a flash is showing; every node shows exactly its key's active flash; a node
    that left the page is never written again; closing releases everything."""

    GAMES = ("a", "b", "c")

    def __init__(self):
        super().__init__()
        self.p = Page()
        self.gone: list[tuple[FakeNode, FakeNode, frozenset, str]] = []
        for game in self.GAMES:
            self.p.build(game)

    def _retire(self, game):
        for button, arrow in self.p.rows.pop(game, []):
            self.gone.append((button, arrow, frozenset(button.classes), arrow.own_text()))

    @precondition(lambda self: self.p.rows)
    @rule(pick=st.integers(0, 20), index=st.integers(0, 2), direction=st.sampled_from(["up", "down"]))
    def price_moves(self, pick, index, direction):
        game = sorted(self.p.rows)[pick % len(self.p.rows)]
        self.p.flash(game, index, direction)

    @rule(game=st.sampled_from(GAMES))
    def row_removed(self, game):
        if game in self.p.rows:
            self._retire(game)
            self.p.flasher.forget(game)

    @rule(game=st.sampled_from(GAMES))
    def row_rebuilt_or_added(self, game):
        if game in self.p.rows:
            self._retire(game)
            self.p.flasher.forget(game)
        self.p.build(game)

    @rule()
    def all_rows_cleared(self):
        for game in list(self.p.rows):
            self._retire(game)
        self.p.flasher.clear()

    @rule(ms=st.sampled_from([0, 1, 200, 550, FLASH_MS - 1, FLASH_MS, 3 * FLASH_MS]))
    def time_passes(self, ms):
        self.p.platform.advance(ms)

    @invariant()
    def one_timer_exactly_while_a_flash_shows(self):
        assert len(self.p.platform.timers) == (1 if len(self.p.flasher) else 0)
        assert len(self.p.flasher) <= 3 * len(self.p.rows)

    @invariant()
    def every_node_shows_exactly_its_flash(self):
        now = self.p.platform.now
        for game, nodes in self.p.rows.items():
            for index in range(3):
                mark = self.p.flasher.book.get((game, index))
                flags, arrow = self.p.shown(game, index)
                if mark is None:
                    assert flags == set() and arrow == ""
                else:
                    assert now < mark.until_ms <= now + FLASH_MS
                    assert (mark.button, mark.arrow) == nodes[index]
                    expected = {mark.css_class} | ({"flash-alt"} if mark.alt else set())
                    assert flags == expected and arrow == ARROWS[mark.direction]

    @invariant()
    def a_node_that_left_is_never_written_again(self):
        for button, arrow, classes, text in self.gone:
            assert frozenset(button.classes) == classes and arrow.own_text() == text

    def teardown(self):
        self.p.root.close()
        assert self.p.platform.timers == {} and self.p.platform.live_proxies() == 0
        assert len(self.p.flasher) == 0 and self.p.root.live_count() == 0


TestFlasherMachine = FlasherMachine.TestCase
TestFlasherMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
