"""bench.firstpaint runs end to end, small: one run of the real page, the plain floor and the bare
Pyodide boot, cold and warm, in Debian's Chromium against its own server (issue 10). Its JSON must be
complete and agree with itself; nothing here asserts a time against a target (that is the bench's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.bench, pytest.mark.timeout(120)]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/setup --browser)")
@pytest.mark.skipif(not (REPO / "build/static/manifest.json").exists(), reason="assets not built (scripts/setup)")
def test_one_run_of_the_first_paint_bench_measures_every_page_cold_and_warm(tmp_path: Path) -> None:
    out = tmp_path / "firstpaint.json"
    run = subprocess.run([sys.executable, "-m", "bench.firstpaint", "--runs", "1", "--json", str(out)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    visits = result["visits"]
    assert result["runs"] == 1 and set(visits) == {"page", "floor", "bare", "bare_stdlib"}
    for kind, wanted in (("page", ("sidebar", "odds", "interactive")), ("floor", ("sidebar", "odds")),
                         ("bare", ("bare",)), ("bare_stdlib", ("bare",))):
        for cache in ("cold", "warm"):
            (visit,) = visits[kind][cache]
            for name in wanted:
                assert 0 < visit[name] < 90, (kind, cache, name, visit)
            assert visit["total"] >= visit["before"] >= 0 and visit["html"] > 0
    page, floor, bare = visits["page"], visits["floor"], visits["bare"]
    for cache in ("cold", "warm"):
        ours = page[cache][0]
        assert ours["interactive"] > ours["sidebar"]  # the take-over comes after the first paint
        assert {"boot_files", "boot_pyodide", "boot_packages", "boot_ready"} <= set(ours)
        assert {"server_state", "server_render", "server_compress"} <= set(ours)
        # the floor is a plain page: nothing of Pyodide's is fetched
        assert not [path for path, _size in floor[cache][0]["files"] if "pyodide" in path]
        assert floor[cache][0]["total"] < ours["total"]
    # a warm visit takes Pyodide's files from the cache; a cold one downloads them
    assert page["warm"][0]["total"] < page["cold"][0]["total"] / 10
    assert bare["warm"][0]["total"] < bare["cold"][0]["total"] / 10
    assert any(path.endswith("pyodide.asm.wasm") for path, _size in bare["cold"][0]["files"])
    # the bare boot is Pyodide as npm ships it; bare_stdlib boots from the page's compiled standard library
    stock = [path for path, _size in bare["cold"][0]["files"] if "stdlib" in path]
    ours_stdlib = [path for path, _size in visits["bare_stdlib"]["cold"][0]["files"] if "stdlib" in path]
    assert stock and all(path.endswith("/python_stdlib.zip") for path in stock)
    assert ours_stdlib and all(path.startswith("/immutable/stdlib/python_stdlib.") for path in ours_stdlib)
    assert {path for path, _size in page["cold"][0]["files"] if "stdlib" in path} == set(ours_stdlib)

    # every ratio is the medians' (one run: the visit's own numbers), judged against its target
    ratios = {(r["metric"], r["cache"], r["against"]): r for r in result["ratios"]}
    assert set(ratios) == {("sidebar", "cold", "floor"), ("sidebar", "warm", "floor"), ("odds", "cold", "floor"),
                           ("odds", "warm", "floor"), ("interactive", "cold", "bare"), ("interactive", "warm", "bare"),
                           ("interactive", "cold", "bare_stdlib"), ("interactive", "warm", "bare_stdlib")}
    for (metric, cache, against_kind), r in ratios.items():
        against = floor[cache][0][metric] if against_kind == "floor" else visits[against_kind][cache][0]["bare"]
        assert r["ratio"] == pytest.approx(page[cache][0][metric] / against)
        assert r["interval"] is None  # one visit a side: no spread to draw from
        assert r["paired"] == pytest.approx(r["ratio"]) and r["paired_interval"] is None  # one run: its own ratio
        if r["target"] is None:  # printed, judged against nothing
            assert r["pass"] is None
            continue
        assert r["pass"] == (r["ratio"] <= r["target"])
        verdict = "PASS" if r["pass"] else "MISS"
        assert any(line.split()[:2] == [cache, metric] and line.endswith(f"{verdict}  paired {r['paired']:.2f}x")
                   for line in run.stdout.splitlines())
    assert ratios[("interactive", "cold", "bare")]["target"] == 1.1
    assert ratios[("interactive", "warm", "bare")]["target"] == 0.6
    assert [b["cache"] for b in result["bytes"]] == ["cold", "warm"]
