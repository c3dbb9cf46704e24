"""``DEBUG_INTROSPECTION=1``: ``GET /api/debug/introspection``, the process seen from inside.

Off by default: the route is only mounted when the setting is on (``create_app``), so a normal
server has no such path at all (404) and nothing here runs. It exists for the soak and chaos tools
(``bench/soak.py``), which need figures only the process itself has: how many asyncio tasks are
alive, and how much memory was allocated and not freed since a baseline (``tracemalloc``). It only
reads; the one thing it changes is whether ``tracemalloc`` traces, on request. Bind the server to
127.0.0.1 when it is on: it tells a caller about the process's internals.

Query parameters (each optional; the answer always has every figure):

* ``gc=1``: run ``gc.collect()`` first (so garbage awaiting a cycle collection does not count);
* ``objects=1``: also count the live instances of every class defined under ``backend.`` (one walk
  of ``gc.get_objects()``): a group, channel or client left behind shows by name;
* ``tracemalloc=start``: start tracing allocations (1 frame) and take the baseline snapshot;
  ``tracemalloc=compare``: compare the allocations alive now with the baseline (the growth, and the
  files that grew most); ``tracemalloc=stop``: stop tracing and forget the baseline.

The answer (JSON): ``tasks`` (``len(asyncio.all_tasks())``), ``tasks_by_coroutine`` (counts by the
coroutine's qualified name), ``fds`` (entries of ``/proc/self/fd``, -1 where there is none),
``rss_bytes``, ``gc_counts``, ``tracemalloc`` (``tracing``, ``traced_bytes``, ``peak_bytes``, and
after a compare ``growth_bytes``, ``growth_by_area`` (``backend/hub``, ``backend/simulator``, an installed
package's name, ``stdlib``) and ``top``: ``[{"file", "size_diff", "count_diff"}]``, 10 at most), and
with ``objects=1`` ``objects`` (``{"backend.hub.fanout.Channel": n, ...}``).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import tracemalloc
from typing import Any

from litestar import Request, Response, get

from backend.health.service import rss_bytes

_FILTERS = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")]


class Introspector:
    """The tracemalloc baseline between requests (one per app, on its state)."""

    def __init__(self) -> None:
        self.baseline: tracemalloc.Snapshot | None = None

    def figures(self, collect: bool = False, trace: str | None = None, objects: bool = False) -> dict[str, Any]:
        if collect:
            gc.collect()
        traced: dict[str, Any] = {}
        extra: dict[str, Any] = {"objects": live_objects()} if objects else {}
        if trace == "start":
            if not tracemalloc.is_tracing():
                tracemalloc.start(1)
            self.baseline = tracemalloc.take_snapshot().filter_traces(_FILTERS)
        elif trace == "stop":
            tracemalloc.stop()
            self.baseline = None
        elif trace == "compare" and self.baseline is not None and tracemalloc.is_tracing():
            now = tracemalloc.take_snapshot().filter_traces(_FILTERS)
            diff = now.compare_to(self.baseline, "filename")
            traced["growth_bytes"] = sum(d.size_diff for d in diff)
            areas: collections.Counter[str] = collections.Counter()
            for d in diff:
                areas[area(d.traceback[0].filename)] += d.size_diff
            traced["growth_by_area"] = dict(areas.most_common())
            traced["top"] = [{"file": d.traceback[0].filename, "size_diff": d.size_diff, "count_diff": d.count_diff}
                             for d in sorted(diff, key=lambda d: -abs(d.size_diff))[:10]]
            del now, diff
        current, peak = tracemalloc.get_traced_memory()
        try:
            tasks = asyncio.all_tasks()
        except RuntimeError:  # no running loop (only outside a server)
            tasks = set()
        by_coro = collections.Counter(getattr(t.get_coro(), "__qualname__", type(t.get_coro()).__name__)
                                      for t in tasks)
        return {"tasks": len(tasks), "tasks_by_coroutine": dict(by_coro.most_common()), "fds": open_fds(),
                "rss_bytes": rss_bytes(), "gc_counts": list(gc.get_count()),
                "tracemalloc": {"tracing": tracemalloc.is_tracing(), "traced_bytes": current, "peak_bytes": peak,
                                **traced}, **extra}


def live_objects() -> dict[str, int]:
    """Live instances of our own classes (modules under ``backend.``), by ``module.Class``."""
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        cls = type(obj)
        module = getattr(cls, "__module__", "")
        if isinstance(module, str) and module.startswith("backend."):  # (some types' is a descriptor)
            counts[f"{module}.{cls.__qualname__}"] += 1
    return dict(sorted(counts.items()))


def area(filename: str) -> str:
    """Where an allocation was made: ``backend/<package>`` for our code, ``<library>`` for an installed
    package, ``stdlib`` for the rest."""
    path = filename.replace(os.sep, "/")
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/backend/" in path:
        parts = path.rsplit("/backend/", 1)[1].split("/")
        return "backend/" + (parts[0] if len(parts) > 1 else parts[0].removesuffix(".py"))
    return "stdlib"


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


@get("/api/debug/introspection", sync_to_thread=False, include_in_schema=False)
def introspection(request: Request[Any, Any, Any]) -> Response[Any]:
    state = request.app.state
    introspector = getattr(state, "introspector", None)
    if introspector is None:
        introspector = state.introspector = Introspector()
    params = request.query_params
    trace = params.get("tracemalloc")
    if trace not in (None, "start", "compare", "stop"):
        return Response({"error": "tracemalloc must be start, compare or stop"}, status_code=400,
                        headers={"Cache-Control": "no-store"})
    figures = introspector.figures(collect=params.get("gc") in ("1", "true"), trace=trace,
                                   objects=params.get("objects") in ("1", "true"))
    return Response(figures, headers={"Cache-Control": "no-store"})


ROUTES = [introspection]
