"""``DEBUG_INTROSPECTION``: off by default (no such path), and when on it reports the process's tasks,
open files and tracemalloc growth against a baseline, then stops tracing when told."""

from __future__ import annotations

import tracemalloc

import httpx

from backend.debug import Introspector
from tests.support.server import running_server

PATH = "/api/debug/introspection"


async def test_the_endpoint_does_not_exist_unless_the_setting_is_on():
    async with running_server() as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        response = await http.get(PATH)
        assert response.status_code == 404
        assert "debug" not in str((await http.get("/schema/openapi.json")).json()["paths"])


async def test_it_counts_tasks_and_files_and_measures_growth_from_a_baseline():
    assert not tracemalloc.is_tracing()
    try:
        async with running_server(debug_introspection=True) as srv, \
                httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
            plain = (await http.get(PATH)).json()
            assert plain["tasks"] >= 3 and plain["fds"] > 0 and plain["rss_bytes"] > 0
            assert not plain["tracemalloc"]["tracing"]
            assert "GroupHub._reap_forever" in plain["tasks_by_coroutine"]
            assert (await http.get(PATH + "?tracemalloc=sometimes")).status_code == 400
            started = (await http.get(PATH + "?tracemalloc=start&gc=1")).json()
            assert started["tracemalloc"]["tracing"]
            keep = [bytearray(1024) for _ in range(2000)]  # ~2 MB allocated after the baseline and kept
            compared = (await http.get(PATH + "?tracemalloc=compare")).json()["tracemalloc"]
            assert compared["growth_bytes"] >= 2_000_000
            assert any(entry["file"] == __file__ for entry in compared["top"])
            del keep
            after = (await http.get(PATH + "?tracemalloc=compare&gc=1")).json()["tracemalloc"]
            assert after["growth_bytes"] < compared["growth_bytes"] - 1_500_000
            stopped = (await http.get(PATH + "?tracemalloc=stop")).json()
            assert not stopped["tracemalloc"]["tracing"]
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()


def test_a_compare_without_a_baseline_reports_no_growth():
    figures = Introspector().figures(trace="compare")
    assert "growth_bytes" not in figures["tracemalloc"] and figures["tasks"] == 0
