"""The UI under the server's Content-Security-Policy (docs/api.md 0, "Security headers"), in Debian's Chromium.

Every e2e test runs against ``python -m backend``, so every one runs under the policy; this one
makes sure the policy is really there and that nothing the UI does runs into it: boot (Pyodide,
msgspec and our wheel from the page's lock), a live view with moving odds, and prematch mode, where the parse worker
boots its own Pyodide under the policy its script was served with and parses a big list. Any
``securitypolicyviolation`` event in the page, any console message about the policy from the page
or the worker, and any console error fails the test.
"""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

VIOLATION_RECORDER = """
(() => {
  const seen = [];
  Object.defineProperty(window, "__e2eCspViolations", { value: seen });
  document.addEventListener("securitypolicyviolation", (e) => seen.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
})();
"""
ROWS_TIMEOUT_MS = 60_000
WORKER_READY_TIMEOUT_S = 90


def about_the_policy(text: str) -> bool:
    return "Content Security Policy" in text or "Content-Security-Policy" in text


def test_boot_a_live_view_and_the_parse_worker_run_under_the_policy_without_a_violation(ui):
    page = ui.page
    policy_messages: list[str] = []

    def watch(msg) -> None:
        if about_the_policy(msg.text):
            policy_messages.append(f"{msg.type}: {msg.text}")

    page.on("console", watch)
    page.on("worker", lambda worker: worker.on("console", watch))
    page.add_init_script(VIOLATION_RECORDER)

    with page.expect_response(lambda r: r.url == f"{ui.base_url}/") as document:
        ui.boot()
    policy = document.value.headers.get("content-security-policy", "")
    assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "frame-ancestors 'none'" in policy, policy
    assert document.value.headers.get("x-content-type-options") == "nosniff"

    # A live view: the busiest live sport's rows with odds.
    page.wait_for_selector(".sport-item .sport-count:not([data-count='']):not([data-count='0'])", timeout=20_000)
    busiest = max(page.eval_on_selector_all(
        ".sport-item", "items => items.map(i => ({id: i.dataset.sportId, count: Number(i.querySelector('.sport-count').dataset.count || '0')}))"),
        key=lambda s: s["count"])
    page.click(f".sport-item[data-sport-id='{busiest['id']}']")
    page.wait_for_selector(".game-row[data-game-id] .odd-btn[data-price]:not([data-price='-'])", timeout=ROWS_TIMEOUT_MS)
    page.wait_for_selector(".odd-btn.odd-up, .odd-btn.odd-down", timeout=30_000)  # prices move and flash

    # Prematch: the parse worker boots under the policy of its own script and parses a big list.
    page.click("#tab-prematch")
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
    while (state := ui.python("page.app.debug_state()['parser']"))["state"] \
            not in ("ready", "broken"):
        assert time.monotonic() < deadline, f"the parse worker did not boot: {state}"
        page.wait_for_timeout(200)
    assert state["state"] == "ready", state
    page.click(f".sport-item[data-sport-id='{busiest['id']}']")
    page.wait_for_selector(".game-row[data-game-id]", timeout=ROWS_TIMEOUT_MS)
    page.wait_for_timeout(500)  # late reports

    assert page.evaluate("window.__e2eCspViolations") == []
    assert policy_messages == []
    ui.assert_no_errors()
