"""First paint and take-over of the server-rendered page, against a plain page and a bare Pyodide
boot, in Debian's Chromium, cold and warm cache (issue 10).

    uv run python -m bench.firstpaint [--runs 16] [--url http://127.0.0.1:8787] [--sport 1] [--json out.json]

Without ``--url`` it starts ``python -m backend`` with ``BENCH_PAGES=true`` on a free port in
8900-8999 (a ``--url`` server must run with it too). Three pages, each in a fresh browser context
(cold: empty cache), then visited again in that context (warm: its HTTP cache kept):

- ``page``:  ``/live/<sport>``, the real page (server-rendered, then Pyodide takes over);
- ``floor``: ``/_bench/plain/live/<sport>``, the same server render with no script, no preload hint,
  no manifest and no embedded state: a plain server-rendered page (backend/web.py ``bench_routes``);
- ``bare``:  ``/_bench/pyodide``, a page that only boots Pyodide from the same ``/immutable/`` files.

Times are measured in the page, from navigation start (``performance.now()``): an init script watches
the document (MutationObserver) and records, for each milestone, the end of the first animation frame
after it appears -- the frame that paints it: ``sidebar`` (a count in the sports list),
``odds`` (a price), ``interactive`` (the app's stream open), ``bare`` (Pyodide ready). Also the first
contentful paint, the server's own time for the page (``Server-Timing``: state, render, compress),
boot.js's phases (performance marks) and the bytes transferred (Resource Timing) before the first
contentful paint and in total. Milestones are read in the page, not by polling from outside: a busy
main thread (Pyodide starting) would delay a poll, not the paint. Medians of ``--runs``, and every ratio against the issue's target with
PASS or MISS, and beside each ratio a 90% bootstrap interval (the visits drawn again): with 8 runs a
warm first paint's ratio moved by +-25% from noise alone here, with 16 by +-15%. Then the paired
ratio: the median of each run's own ratio (its two visits are seconds apart, so a slow stretch of
the machine moves both), with its interval. Other load on the
machine moves these numbers: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
ROOT = Path(__file__).resolve().parents[1]
CACHES = ("cold", "warm")
# "bare" boots Pyodide as its npm package ships it; "bare_stdlib" the same with our compiled standard
# library (the page's stdLibURL), so what is Pyodide's and what is the app's can be told apart.
KINDS = ("page", "floor", "bare", "bare_stdlib")
# What each page must reach before its visit ends.
MILESTONES = {"page": ("sidebar", "odds", "interactive"), "floor": ("sidebar", "odds"), "bare": ("bare",),
              "bare_stdlib": ("bare",)}
# (metric, ours, against, cache or None for both, target ratio): the targets on this machine.
RATIOS = [
    ("sidebar", "page", "floor", None, 1.2),
    ("odds", "page", "floor", None, 1.2),
    ("interactive", "page", "bare", "cold", 1.1),
    ("interactive", "page", "bare", "warm", 0.6),
]
# Printed beside them, with no target: against a bare boot from the same compiled standard library.
EXTRA_RATIOS = [("interactive", "page", "bare_stdlib", None, None)]
BYTE_LIMITS = {"cold": 13.4e6 / 2, "warm": 100e3}  # total bytes of a visit to the real page
BOOT_PHASES = (("boot:start", "boot:files", "files"), ("boot:files", "boot:pyodide", "pyodide"),
               ("boot:pyodide", "boot:packages", "packages"), ("boot:packages", "boot:ready", "ready"),
               ("boot:packages", "boot:imported", "import"), ("boot:imported", "boot:ready", "start_app"))

WATCH = """(() => {
  const selectors = {
    sidebar: '#sport-list .sport-count[data-count]:not([data-count=""])',
    odds: '.odd-btn[data-price]',
    interactive: '#conn-status[data-state=open]',
    bare: 'html[data-bare=ready]',
  };
  const seen = {};
  window.__firstPaint = seen;
  const check = () => {
    for (const [name, selector] of Object.entries(selectors)) {
      if (!(name in seen) && document.querySelector(selector)) {
        seen[name] = null;  // found: its time is the end of the frame that paints it (a task
        // posted from that frame's animation callback runs once the frame is done)
        requestAnimationFrame(() => {
          const channel = new MessageChannel();
          channel.port1.onmessage = () => { seen[name] = performance.now(); };
          channel.port2.postMessage(null);
        });
      }
    }
    if (Object.keys(seen).length === Object.keys(selectors).length) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true });
})();"""

SEEN = "() => window.__firstPaint || {}"

SUMMARY = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  const fcp = paint ? paint.startTime : null;
  let before = nav ? nav.transferSize : 0, total = before;
  const files = [];
  for (const r of performance.getEntriesByType('resource')) {
    total += r.transferSize;
    if (fcp !== null && r.responseEnd <= fcp) before += r.transferSize;
    files.push([new URL(r.name).pathname, r.transferSize]);
  }
  const marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
  const server = Object.fromEntries((nav ? nav.serverTiming : []).map((t) => [t.name, t.duration]));
  return {fcp, before, total, html: nav ? nav.transferSize : 0, marks, server, files,
          response_end: nav ? nav.responseEnd : null};
}"""


def free_port() -> int:
    for port in range(8900, 9000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port in 8900-8999")


def start_server(**settings: str) -> tuple[subprocess.Popen, str]:
    """``python -m backend`` on a free port, with the bench pages and ``settings`` (as env vars)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "BENCH_PAGES": "true", **settings}
    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/api/hierarchy", timeout=1)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start")


def check_bench_pages(base: str) -> None:
    try:
        urllib.request.urlopen(f"{base}/_bench/pyodide", timeout=10)
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{base}/_bench/pyodide answered {exc.code}: run that server with BENCH_PAGES=true") from None


def visit(page: Any, url: str, kind: str, timeout_s: float = 90.0) -> dict[str, Any]:
    """One navigation to ``url``: the milestones of ``kind`` (ms from navigation start), then what
    the page transferred and marked. Raises if a milestone is not reached within ``timeout_s``."""
    wanted = MILESTONES[kind]
    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate(SEEN)
        if all(isinstance(seen.get(name), (int, float)) for name in wanted):
            break
        page.wait_for_timeout(50)
    else:
        raise RuntimeError(f"{url}: not reached in {timeout_s:.0f} s: {[n for n in wanted if seen.get(n) is None]}")
    page.wait_for_timeout(300)  # late resources count in the total
    summary = page.evaluate(SUMMARY)
    result: dict[str, Any] = {name: seen[name] / 1000 for name in wanted}
    result.update(fcp=None if summary["fcp"] is None else summary["fcp"] / 1000, before=summary["before"],
                  total=summary["total"], html=summary["html"], files=summary["files"])
    for name, ms in summary["server"].items():
        result[f"server_{name}"] = ms / 1000
    marks = summary["marks"]
    for start, end, name in BOOT_PHASES:
        if start in marks and end in marks:
            result[f"boot_{name}"] = (marks[end] - marks[start]) / 1000
    if "boot:start" in marks:
        result["boot_start"] = marks["boot:start"] / 1000  # boot.js began, from navigation start
    if "boot:ready" in marks and "interactive" in result:
        result["ready_to_interactive"] = result["interactive"] - marks["boot:ready"] / 1000
    if "bare:start" in marks and "bare:ready" in marks:
        result["bare_boot"] = (marks["bare:ready"] - marks["bare:start"]) / 1000
    return result


def run(base: str, sport: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    urls = {"page": f"{base}/live/{sport}", "floor": f"{base}/_bench/plain/live/{sport}", "bare": f"{base}/_bench/pyodide",
            "bare_stdlib": f"{base}/_bench/pyodide?stdlib=compiled"}
    visits: dict[str, dict[str, list[dict[str, Any]]]] = {kind: {cache: [] for cache in CACHES} for kind in KINDS}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for index in range(runs):
                # Each run starts with another page (page, floor, bare, ...; then floor, bare, ...):
                # the first visit after the server start, or after a Pyodide boot, pays for that.
                for kind in KINDS[index % len(KINDS):] + KINDS[:index % len(KINDS)]:
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    context.add_init_script(WATCH)
                    page = context.new_page()
                    try:
                        for cache in CACHES:
                            visits[kind][cache].append(visit(page, urls[kind], kind))
                    finally:
                        context.close()
        finally:
            browser.close()
    return {"urls": urls, "visits": visits}


# --snapshot-trial: Pyodide's experimental memory snapshot (docs/ui.md 9). A snapshot with our packages
# imported cannot be made or loaded on Pyodide 314 (loadPackage leaves JavaScript references; msgspec's
# extension is not restored), so the trial snapshots the bare interpreter and loads our packages after
# it, against the boot the page does, each from a page with no script of its own (the plain floor).
SNAPSHOT_MAKE = """async ([m]) => {
  const abs = (u) => new URL(u, location.origin).href;
  const { loadPyodide } = await import(abs(m.pyodide.module));
  const py = await loadPyodide({indexURL: abs(m.pyodide.indexURL), lockFileURL: abs(m.pyodide.lockFileURL),
                                fullStdLib: false, _makeSnapshot: true});
  const snap = py.makeMemorySnapshot();
  const parts = [];
  for (let i = 0; i < snap.length; i += 0x8000) parts.push(String.fromCharCode.apply(null, snap.subarray(i, i + 0x8000)));
  return btoa(parts.join(''));
}"""
SNAPSHOT_BOOT = """async ([m, snapshotUrl]) => {
  const abs = (u) => new URL(u, location.origin).href;
  const t0 = performance.now();
  const { loadPyodide } = await import(abs(m.pyodide.module));
  const options = {indexURL: abs(m.pyodide.indexURL), lockFileURL: abs(m.pyodide.lockFileURL), fullStdLib: false};
  if (snapshotUrl) options._loadSnapshot = new Uint8Array(await (await fetch(snapshotUrl)).arrayBuffer());
  const py = await loadPyodide(options);
  const t1 = performance.now();
  await py.loadPackage(m.packages, {checkIntegrity: true});
  py.runPython('import oddsui.app, msgspec; assert msgspec.json.decode(b"[1]") == [1]');
  const t2 = performance.now();
  const bytes = performance.getEntriesByType('resource').reduce((a, r) => a + r.transferSize, 0);
  return {pyodide: (t1 - t0) / 1000, packages: (t2 - t1) / 1000, total: (t2 - t0) / 1000, bytes};
}"""


def snapshot_trial(base: str, runs: int) -> dict[str, Any]:
    """Boot Pyodide plain and from a memory snapshot, cold and warm, ``runs`` times each."""
    import base64
    import gzip
    import hashlib

    from playwright.sync_api import sync_playwright

    manifest = json.loads(urllib.request.urlopen(f"{base}/manifest.json", timeout=10).read())
    host = f"{base}/_bench/plain/live"  # a page with no script: the boot below is the only one
    assets = ROOT / "build" / "static" / "assets"
    out: dict[str, Any] = {"visits": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        written: list[Path] = []
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(host)
            raw = base64.b64decode(page.evaluate(SNAPSHOT_MAKE, [manifest]))
            context.close()
            name = f"snapshot.{hashlib.sha256(raw).hexdigest()[:12]}.bin"
            packed = gzip.compress(raw, 6, mtime=0)
            for path, data in ((assets / name, raw), (assets / f"{name}.gz", packed)):
                path.write_bytes(data)
                written.append(path)
            out.update(raw_bytes=len(raw), gzip_bytes=len(packed))
            for _ in range(runs):
                for how, url in (("plain", None), ("snapshot", f"{base}/immutable/assets/{name}")):
                    context = browser.new_context()
                    page = context.new_page()
                    for cache in CACHES:
                        page.goto(host)
                        out["visits"].setdefault(f"{how} {cache}", []).append(page.evaluate(SNAPSHOT_BOOT, [manifest, url]))
                    context.close()
        finally:
            browser.close()
            for path in written:
                path.unlink(missing_ok=True)
    out["medians"] = {key: {field: median([v[field] for v in visits]) for field in visits[0]}
                      for key, visits in out["visits"].items()}
    return out


def snapshot_report(trial: dict[str, Any]) -> str:
    lines = [f"\nmemory snapshot trial (bare interpreter: {trial['raw_bytes']:,} bytes, {trial['gzip_bytes']:,} gzipped;"
             " our packages loaded after it)", f"{'':18}{'pyodide':>9}{'packages':>9}{'total':>9}{'bytes':>12}"]
    for key, m in trial["medians"].items():
        lines.append(f"  {key:<16}{_s(m['pyodide']):>9}{_s(m['packages']):>9}{_s(m['total']):>9}{_b(m['bytes']):>12}")
    return "\n".join(lines)


def median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(numbers) if numbers else None


def interval(ours: list[Any], against: list[Any], rounds: int = 2000, seed: int = 0) -> tuple[float, float] | None:
    """A 90% bootstrap interval of median(ours) / median(against): how far the ratio moves when the
    same visits are drawn again (each side resampled with replacement). A target inside it is met or
    missed by the noise of this run, not by the pages."""
    a = [v for v in ours if isinstance(v, (int, float))]
    b = [v for v in against if isinstance(v, (int, float)) and v]
    if len(a) < 2 or len(b) < 2:
        return None
    rng = random.Random(seed)
    return _middle_90(sorted(statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
                             for _ in range(rounds)))


def _middle_90(drawn: list[float]) -> tuple[float, float]:
    """The 5th and 95th percentiles of sorted bootstrap draws."""
    return drawn[int(0.05 * len(drawn))], drawn[int(0.95 * len(drawn)) - 1]


def paired(ours: list[Any], against: list[Any], rounds: int = 2000,
           seed: int = 0) -> tuple[float, tuple[float, float] | None] | None:
    """The median of the runs' own ratios, ``ours[i] / against[i]`` (the two visits of run ``i``,
    made within seconds of each other, so a slow stretch of the machine moves both), and its 90%
    bootstrap interval (the runs drawn again). A run without either milestone does not count."""
    ratios = [a / b for a, b in zip(ours, against)
              if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b]
    if not ratios:
        return None
    if len(ratios) < 2:
        return statistics.median(ratios), None
    rng = random.Random(seed)
    drawn = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(rounds))
    return statistics.median(ratios), _middle_90(drawn)


def summarize(visits: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    medians: dict[str, dict[str, dict[str, float | None]]] = {}
    for kind, by_cache in visits.items():
        for cache, runs in by_cache.items():
            keys = sorted({key for r in runs for key, value in r.items() if isinstance(value, (int, float))})
            medians.setdefault(kind, {})[cache] = {key: median([r.get(key) for r in runs]) for key in keys}
    ratios = []
    for metric, ours, against, only, target in RATIOS + EXTRA_RATIOS:
        for cache in CACHES:
            if only not in (None, cache):
                continue
            theirs = "bare" if against.startswith("bare") else metric
            a = medians[ours][cache].get(metric)
            b = medians[against][cache].get(theirs)
            value = a / b if a is not None and b else None
            mine = [r.get(metric) for r in visits[ours][cache]]
            their = [r.get(theirs) for r in visits[against][cache]]
            by_run = paired(mine, their)
            ratios.append({"metric": metric, "cache": cache, "ours": a, "against": against, "floor": b,
                           "ratio": value, "interval": interval(mine, their), "target": target,
                           "paired": None if by_run is None else by_run[0],
                           "paired_interval": None if by_run is None else by_run[1],
                           "pass": None if target is None else value is not None and value <= target})
    byte_checks = [{"cache": cache, "total": medians["page"][cache].get("total"), "limit": limit,
                    "pass": (medians["page"][cache].get("total") or float("inf")) <= limit}
                   for cache, limit in BYTE_LIMITS.items()]
    return {"medians": medians, "ratios": ratios, "bytes": byte_checks}


def _s(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _b(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def report(base: str, runs: int, summary: dict[str, Any]) -> str:
    m = summary["medians"]
    lines = [f"first paint, {base}, medians of {runs} (seconds from navigation start; bytes)", ""]
    lines.append(f"{'':28}{'cold':>9}{'warm':>9}")
    rows = [("page", "sidebar"), ("page", "odds"), ("page", "interactive"), ("page", "fcp"),
            ("page", "boot_start"), ("page", "boot_files"), ("page", "boot_pyodide"), ("page", "boot_packages"),
            ("page", "boot_ready"), ("page", "boot_import"), ("page", "boot_start_app"), ("page", "ready_to_interactive"),
            ("page", "server_state"), ("page", "server_render"), ("page", "server_compress"),
            ("floor", "sidebar"), ("floor", "odds"), ("floor", "fcp"), ("floor", "server_render"),
            ("bare", "bare"), ("bare", "bare_boot"), ("bare_stdlib", "bare"), ("bare_stdlib", "bare_boot")]
    for kind, key in rows:
        lines.append(f"{kind + ' ' + key:28}{_s(m[kind]['cold'].get(key)):>9}{_s(m[kind]['warm'].get(key)):>9}")
    for kind in KINDS:
        for key in ("html", "before", "total"):
            lines.append(f"{kind + ' bytes ' + key:28}{_b(m[kind]['cold'].get(key)):>12}{_b(m[kind]['warm'].get(key)):>12}")
    lines += ["", "boot: msgspec and our wheel (with its bytecode) in one loadPackage from the page's lock, the",
              "standard library with its imported modules compiled; bare: Pyodide as npm ships it, bare_stdlib:",
              "with our standard library; --snapshot-trial for the memory snapshot",
              "", "ratios against the issue's targets (in brackets: 90% bootstrap interval of the ratio, this run's noise;",
              "paired: the median of each run's own ratio, its two visits made seconds apart)"]
    for r in summary["ratios"]:
        value = "  -  " if r["ratio"] is None else f"{r['ratio']:5.2f}"
        spread = "({:.2f}-{:.2f})".format(*r["interval"]) if r.get("interval") else ""
        verdict = "(no target)" if r["target"] is None else f"target <= {r['target']}x  {'PASS' if r['pass'] else 'MISS'}"
        by_run = "" if r.get("paired") is None else f"  paired {r['paired']:.2f}x"
        if r.get("paired_interval"):
            by_run += " ({:.2f}-{:.2f})".format(*r["paired_interval"])
        lines.append(f"  {r['cache']:<5} {r['metric']:<12} ours/{r['against']:<11} {_s(r['ours'])} / {_s(r['floor'])}"
                     f" = {value}x {spread:>11}  {verdict}{by_run}")
    for b in summary["bytes"]:
        lines.append(f"  {b['cache']:<5} bytes total  {_b(b['total']):>12}  target <= {_b(b['limit'])}  "
                     f"{'PASS' if b['pass'] else 'MISS'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=16,
                        help="a multiple of 4: each page starts a quarter of the runs (16: a ratio's 90%% interval about +-15%%)")
    parser.add_argument("--url", default=None, help="a running server (with BENCH_PAGES=true)")
    parser.add_argument("--sport", default="1")
    parser.add_argument("--json", type=Path, default=None, help="write every visit, the medians and the ratios here")
    parser.add_argument("--snapshot-trial", action="store_true",
                        help="also boot Pyodide from a memory snapshot against a plain boot (docs/ui.md 9)")
    args = parser.parse_args(argv)

    proc = None
    base = args.url.rstrip("/") if args.url else None
    if base is None:
        proc, base = start_server()
    try:
        check_bench_pages(base)
        measured = run(base, args.sport, args.runs)
        trial = snapshot_trial(base, args.runs) if args.snapshot_trial else None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    summary = summarize(measured["visits"])
    print(report(base, args.runs, summary))
    if trial is not None:
        print(snapshot_report(trial))
    if args.json is not None:
        args.json.write_text(json.dumps({"base": base, "runs": args.runs, "sport": args.sport, **measured, **summary,
                                         "snapshot_trial": trial}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
