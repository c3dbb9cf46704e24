"""The views the first screen never shows (the details panel and results mode) are not imported by the
boot: they come when first used, or a second after start, whichever is first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import oddsui.app as app_module
from oddsui.app import LATER_VIEWS, LATER_VIEWS_IMPORT_MS
from ui_world import World, games

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_importing_the_app_leaves_the_later_views_and_their_modules_out():
    probe = ("import sys, oddsui.app; print(' '.join(sorted(m for m in sys.modules if m.startswith('oddsui'))))")
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=FRONTEND, capture_output=True, text=True,
                                check=True).stdout.split())
    assert "oddsui.app" in loaded and "oddsui.render" in loaded
    for name in (*LATER_VIEWS, "oddsui.details", "oddsui.markets", "oddsui.tracker_view"):
        assert name not in loaded, name


def test_the_app_imports_the_later_views_a_second_after_start(monkeypatch):
    imported: list[str] = []
    real = app_module.importlib.import_module
    monkeypatch.setattr(app_module.importlib, "import_module", lambda name: imported.append(name) or real(name))
    w = World()
    w.platform.advance(LATER_VIEWS_IMPORT_MS - 10)
    assert imported == []
    w.platform.advance(20)
    assert imported == list(LATER_VIEWS)
    assert w.platform.errors == []


def test_a_game_opened_before_then_still_gets_its_details_panel():
    w = World()
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games(1, [10]))
    w.frame()
    panel = w.app.open_details("10")
    assert panel is not None and type(panel).__module__ == "oddsui.details_panel"
    assert w.platform.errors == []
