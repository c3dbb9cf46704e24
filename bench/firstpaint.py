"""First paint of the server-rendered page against the floor (the same page with JavaScript off: a
plain server-rendered page, no Pyodide), in Debian's Chromium, cold and warm cache (issue 10).

    uv run python -m bench.firstpaint [--runs 3] [--url http://127.0.0.1:8787] [--sport 1]

Without ``--url`` it starts ``python -m backend`` on a free port in 8900-8999. Per run, a fresh
browser context (cold: empty cache; warm: the same context reloaded): navigation to the sidebar with
counts, to the first odds, to interactive (the app running, its sport stream open), and the bytes
transferred before the first paint and in total (Resource Timing transfer sizes). Medians of
``--runs``; each as a ratio to the floor, against the issue's targets.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"sidebar": 1.2, "odds": 1.2}  # x the floor
COLD_BYTES_MAX = 13.4e6 / 2
WARM_BYTES_MAX = 100e3

PROBE = """() => {
  const t = (sel) => document.querySelector(sel) !== null;
  return {sidebar: t('#sport-list .sport-count[data-count]:not([data-count=""])'), odds: t('.odd-btn[data-price]')};
}"""
BYTES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  const fcp = paint ? paint.startTime : Infinity;
  let before = nav ? nav.transferSize : 0, total = before;
  for (const r of performance.getEntriesByType('resource')) {
    total += r.transferSize;
    if (r.responseEnd <= fcp) before += r.transferSize;
  }
  const marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
  return {before, total, fcp, marks};
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


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/api/hierarchy", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start")


def visit(page, url: str, interactive: bool) -> dict[str, float]:
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    seen: dict[str, float] = {}
    deadline = start + 60
    while time.perf_counter() < deadline:
        state = page.evaluate(PROBE)
        now = time.perf_counter() - start
        for key, on in state.items():
            if on and key not in seen:
                seen[key] = now
        if interactive and "interactive" not in seen and page.locator("#conn-status[data-state=open]").count():
            seen["interactive"] = now
        if len(seen) == (3 if interactive else 2):
            break
        page.wait_for_timeout(10)
    page.wait_for_timeout(300)
    sizes = page.evaluate(BYTES)
    seen.update(before=sizes["before"], total=sizes["total"])
    marks = sizes["marks"]
    if "boot:start" in marks:
        for a, b in (("boot:start", "boot:files"), ("boot:files", "boot:pyodide"), ("boot:pyodide", "boot:packages"),
                     ("boot:packages", "boot:ready")):
            if a in marks and b in marks:
                seen[f"{b.split(':')[1]}"] = (marks[b] - marks[a]) / 1000
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=None)
    parser.add_argument("--sport", default="1")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    proc = None
    base = args.url
    if base is None:
        proc, base = start_server()
    url = f"{base.rstrip('/')}/live/{args.sport}"
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(args.runs):
                for kind, js in (("page", True), ("floor", False)):
                    context = browser.new_context(java_script_enabled=js, viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    results.setdefault((kind, "cold"), []).append(visit(page, url, js))
                    results.setdefault((kind, "warm"), []).append(visit(page, url, js))
                    context.close()
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)

    def med(kind: str, cache: str, key: str) -> float:
        values = [r[key] for r in results[(kind, cache)] if key in r]
        return statistics.median(values) if values else float("nan")

    print(f"first paint, {url}, medians of {args.runs} (seconds; bytes)")
    for cache in ("cold", "warm"):
        print(f"\n[{cache}]")
        for key in ("sidebar", "odds"):
            ours, floor = med("page", cache, key), med("floor", cache, key)
            ratio = ours / floor if floor else float("nan")
            verdict = "ok" if ratio <= TARGETS[key] else "MISSED"
            print(f"  nav->{key:<12} ours {ours:.3f}  floor {floor:.3f}  ratio {ratio:.2f} (target <= {TARGETS[key]}) {verdict}")
        print(f"  nav->interactive  ours {med('page', cache, 'interactive'):.3f}")
        for phase in ("files", "pyodide", "packages", "ready"):
            print(f"    boot phase {phase:<9} {med('page', cache, phase):.3f}")
        before, total = med("page", cache, "before"), med("page", cache, "total")
        limit = COLD_BYTES_MAX if cache == "cold" else WARM_BYTES_MAX
        print(f"  bytes before first paint {before:,.0f}  total {total:,.0f} (target total <= {limit:,.0f}) "
              f"{'ok' if total <= limit else 'MISSED'}   floor total {med('floor', cache, 'total'):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
