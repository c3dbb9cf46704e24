"""The server's page render leaves no garbage for the process's full collections (backend/firstpaint.py).

A render builds a whole app and drops it. Its reference cycles must be freed by the collection right
after it, while they are young, not left to a full collection of the process (which stops the event
loop, and so every stream, for as long as it walks the hub's state).
"""

from __future__ import annotations

import gc
import json
import threading
import weakref
from pathlib import Path

import msgspec
from oddsui import ssr
from oddsui.firstview import FirstView, StreamSnapshot

from backend.firstpaint import render_objects_die_young

INDEX = (Path(__file__).resolve().parents[2] / "frontend" / "index.html").read_text()
HIERARCHY = {"sport": {"1": {"id": 1, "name": "Football", "alias": "Soccer", "order": 1}}, "cached": True}


def first_view(games: int) -> FirstView:
    data = [{"id": 1000 + i, "type": 1, "team1_name": f"Home {i}", "team2_name": f"Away {i}",
             "region": f"Region {i % 7}", "competition": f"Cup {i % 13}", "competition_id": i % 13,
             "markets_count": 10, "start_ts": 1_767_000_000, "market": {}} for i in range(games)]
    odds = {"sportId": "1", "updates": [{"gameId": str(1000 + i), "markets_count": 10, "odds": [
        {"label": label, "price": 1.5 + i / 100, "blocked": False} for label in ("1", "X", "2")]}
        for i in range(games)]}
    counts = json.dumps({"sports": [{"name": "Football", "count": games}], "total_games": games})
    events = [("counts", counts), ("prematch_counts", counts),
              ("games", json.dumps({"sportId": "1", "sportName": "Football", "data": data, "last_updated": "t"})),
              ("odds", json.dumps(odds))]
    return FirstView(mode="live", sport_id="1", wall_ms=1_767_000_000_000.0,
                     hierarchy=msgspec.Raw(json.dumps(HIERARCHY).encode()),
                     streams=[StreamSnapshot(name="sport", url="/api/live-stream?sportId=1", last_event_id="a-1",
                                             events=[(e, msgspec.Raw(d.encode())) for e, d in events])])


def render_keeping_a_weakref_to_its_app(monkeypatch) -> tuple[str, weakref.ref]:
    apps: list[weakref.ref] = []

    class Recorded(ssr.App):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            apps.append(weakref.ref(self))

    monkeypatch.setattr(ssr, "App", Recorded)
    html = ssr.render_page(INDEX, first_view(100))
    (app,) = apps
    return html, app


def test_a_render_in_the_context_is_freed_when_it_ends_and_no_full_collection_runs(monkeypatch):
    gc.collect()
    generations: list[int] = []

    def watch(phase, info):
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        for _ in range(5):
            with render_objects_die_young():
                html, app = render_keeping_a_weakref_to_its_app(monkeypatch)
                assert not gc.isenabled()
            assert gc.isenabled()
            assert app() is None  # the app, its views and its tree: freed by the young collection
            assert 'data-game-id="1099"' in html
    finally:
        gc.callbacks.remove(watch)
    assert generations and set(generations) == {0}


def test_without_it_a_render_outlives_the_young_collections(monkeypatch):
    # What the context is for: the same render, collector on, leaves its app to an older generation.
    gc.collect()
    _, app = render_keeping_a_weakref_to_its_app(monkeypatch)
    gc.collect(0)
    assert app() is not None
    gc.collect()
    assert app() is None


def test_renders_in_two_threads_share_one_off_period_and_the_collector_is_back_after_both():
    inside = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def first():
        with render_objects_die_young():
            inside.set()
            release.wait(5)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    with render_objects_die_young():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the first render is still running
    release.set()
    thread.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_process_that_had_the_collector_off_keeps_it_off():
    gc.disable()
    try:
        with render_objects_die_young():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
