"""The backend's import graph has no loop (docs/design.md, "Layers"): every module under backend/,
every import statement in it, read with ``ast``. A loop fails the test with the modules on it."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import cycles, describe, graph, modules

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_of_the_backend_imports_itself_through_others():
    edges = graph(ROOT, "backend")
    assert len(edges) == len(modules(ROOT, "backend")) > 50
    # the reader sees the imports that matter: module level, relative and inside functions
    assert {"backend.hub.service", "backend.tracker.service", "backend.health.service"} <= edges["backend.app"]
    assert "backend.tracker.groups" in edges["backend.tracker.service"]  # ``from .groups import ...``
    assert "backend.health.snapshot" in edges["backend.hub.base"]  # imported inside ``memory_figures``
    loops = cycles(edges)
    assert loops == [], f"import loops in backend/: {describe(loops)}"


def test_a_loop_is_found_however_its_imports_are_written(tmp_path):
    package = tmp_path / "pkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("from . import c\n")
    (package / "a.py").write_text("import os\n\ndef late():\n    from pkg.inner import c\n    return c\n")
    (package / "inner" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                             "    from .. import b\n")
    (package / "b.py").write_text("try:\n    import pkg.a as a\nexcept ImportError:\n    a = None\n")
    (package / "d.py").write_text("from pkg import a, b\n")  # imports into the loop, is not on it
    edges = graph(tmp_path, "pkg")
    assert edges["pkg.a"] == {"pkg.inner.c"} and edges["pkg.inner"] == {"pkg.inner.c"}
    assert edges["pkg.d"] == {"pkg.a", "pkg.b"}
    assert cycles(edges) == [["pkg.a", "pkg.inner.c", "pkg.b", "pkg.a"]]
    assert describe(cycles(edges)) == "pkg.a -> pkg.inner.c -> pkg.b -> pkg.a"
    (package / "b.py").write_text("")
    assert cycles(graph(tmp_path, "pkg")) == []
