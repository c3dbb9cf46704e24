"""Priming (oddsui.prime): the list's code paths run once on made-up games while the page is idle,
in small steps, touching nothing in the page and holding nothing afterwards."""

from __future__ import annotations

from oddsui.app import PRIME_AFTER_MS, PRIME_STEP_MS
from oddsui.prime import PRIME_GAMES, prime_steps
from oddsui.render import GamesView
from oddsui.scope import Scope
from ui_fakes import FakeDom, FakePlatform
from ui_world import World, games


def test_priming_renders_every_made_up_row_off_the_page_and_releases_what_it_held(monkeypatch):
    platform, dom = FakePlatform(), FakeDom()
    root = Scope(platform)
    scope = root.child("prime")
    before = dom.by_id("games").children[:]
    built: list[GamesView] = []
    real_init = GamesView.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(GamesView, "__init__", spy)
    steps = 0
    most = (0, 0, 0)
    flashes = 0
    for _ in prime_steps(dom, scope, lambda ts: 0, platform.now_ms):
        steps += 1
        assert scope.closed is False
        if built:
            view = built[0]
            most = max(most, (len(view.rows), len(view.competitions), len(view.regions)))
            flashes = max(flashes, len(view.flasher))
    assert 3 <= steps <= 25
    view = built[0]
    assert most == (PRIME_GAMES, 4, 2)  # every row and group head was built at once ...
    assert view.rows_built == PRIME_GAMES
    assert flashes >= PRIME_GAMES  # the price moves flashed (the flash path ran too)
    assert view.rows == {} and view.competitions == {}  # ... and cleared at the end
    assert dom.by_id("games").children == before  # nothing went into the page
    assert scope.closed and root.live_count() == 0  # the flash timer and marks are gone
    assert platform.errors == []


def test_a_primer_closed_midway_releases_its_scope():
    platform, dom = FakePlatform(), FakeDom()
    root = Scope(platform)
    scope = root.child("prime")
    steps = prime_steps(dom, scope, lambda ts: 0)
    next(steps)
    next(steps)
    steps.close()
    assert scope.closed and root.live_count() == 0


def test_the_app_primes_in_timer_steps_after_start_and_then_holds_nothing_for_it():
    w = World()
    held = w.app.scope.live_count()
    assert not w.app.primed
    w.platform.advance(PRIME_AFTER_MS + 40 * PRIME_STEP_MS)
    assert w.app.primed
    assert w.app.debug_state()["primed"] is True
    assert w.app.scope.live_count() < held  # the primer's scope (and its timer) are gone
    assert "prime" not in {h.label for h in w.app.scope._held.values()}
    assert w.platform.errors == []
    assert w.rows() == []  # the page's list is untouched


def test_priming_stops_once_a_real_list_has_been_built():
    w = World()
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games(1, [10, 11]))
    w.frame()
    assert w.rows() == ["10", "11"]
    w.platform.advance(PRIME_AFTER_MS + 40 * PRIME_STEP_MS)
    assert not w.app.primed  # not needed any more: the real list ran those paths
    assert w.app._prime_scope is None and w.app._primer is None
    assert w.rows() == ["10", "11"]
