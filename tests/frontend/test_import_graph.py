"""The front end's import graph has no loop: every module of frontend/oddsui, every import
statement in it, read with ``ast`` (the same reader as tests/backend/test_import_graph.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import cycles, describe, graph

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_no_module_of_the_front_end_imports_itself_through_others():
    edges = graph(FRONTEND, "oddsui")
    assert len(edges) > 20 and "oddsui.streams" in edges["oddsui.app"]
    assert "oddsui.browser" in edges["oddsui.app"]  # imported inside ``main()`` only
    loops = cycles(edges)
    assert loops == [], f"import loops in frontend/oddsui: {describe(loops)}"
