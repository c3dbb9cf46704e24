"""Accessible to everyone (docs/ui.md 6), in Debian's Chromium against the real server.

* axe-core (npm, injected by Playwright) finds no violation of the WCAG 2.0/2.1 A and AA rules in any
  view, with its real content, at desktop and phone width: the live and prematch lists with moving
  odds, the drawer, the details panel with markets and tracker, a toast, the health modal, results;
* a keyboard-only path (no mouse): a sport, a game's details, a market tab, closing it, the health
  modal, the mode tabs -- with a visible focus ring, Escape closing what is open and focus going
  back where it came from;
* reduced motion: a price move is a static outline plus its arrow, never an animation;
* 200 % zoom: the layout reflows without horizontal scrolling;
* what a screen reader is given for a row and for the details panel (Chromium's accessibility tree,
  as Playwright's ARIA snapshot), printed for the record (run with ``-s``).
"""

from __future__ import annotations

import re

import pytest
from helpers import (
    AXE_SCRIPT,
    COUNTS,
    PHONE,
    boot_to_live_list,
    choose_sport,
    open_details,
    open_drawer_if_phone,
    open_results,
    wait_tracker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


@pytest.fixture(autouse=True)
def _axe_built():
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"{AXE_SCRIPT} is missing: scripts/build_assets.py fetches axe-core from npm")


def assert_clean(ui, view, report):
    violations = ui.axe()
    report.append((view, len(violations)))
    assert violations == [], f"{view}: {violations}"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_axe_finds_no_wcag_a_or_aa_violation_in_any_view(make_ui, width):
    ui = make_ui(PHONE, is_mobile=True, has_touch=True) if width == "phone" else make_ui()
    page = ui.page
    report: list[tuple[str, int]] = []
    ui.boot()
    page.wait_for_selector(COUNTS, state="attached", timeout=30_000)
    page.wait_for_selector(".wcard", timeout=20_000)
    assert_clean(ui, "welcome", report)
    if width == "phone":
        open_drawer_if_phone(ui)
        page.wait_for_timeout(300)
        assert_clean(ui, "drawer", report)
    choose_sport(ui, "1")
    page.wait_for_selector(".odd-btn.odd-up, .odd-btn.odd-down", timeout=60_000)  # prices moving
    assert_clean(ui, "live list", report)
    open_details(ui)
    wait_tracker(ui)
    page.wait_for_timeout(500)
    assert_clean(ui, "details with markets and tracker", report)
    page.click(".details-tab[data-tab='totals']")
    page.wait_for_function("() => [...document.querySelectorAll('.mgroup')].filter(g => !g.hidden)"
                           ".every(g => g.dataset.tab === 'totals')")
    page.click("#details-follow")
    page.wait_for_function("() => document.getElementById('sr-announce').textContent !== ''", timeout=10_000)
    assert_clean(ui, "details: a market tab, announcing", report)
    page.keyboard.press("Escape")
    page.click("#refresh-btn")
    page.wait_for_selector(".toast", timeout=20_000)
    assert_clean(ui, "toast", report)
    page.click("#health-btn")
    page.wait_for_selector("[data-card='status']", timeout=20_000)
    assert_clean(ui, "health modal", report)
    page.keyboard.press("Escape")
    page.click("#tab-prematch")
    choose_sport(ui, "5")
    assert_clean(ui, "prematch list", report)
    open_details(ui)
    page.wait_for_selector("#details-prematch .dsec", timeout=20_000)
    assert_clean(ui, "prematch details", report)
    page.keyboard.press("Escape")
    open_results(ui)
    page.locator(".result-open").first.click()
    page.wait_for_selector(".settle-table", timeout=20_000)
    assert_clean(ui, "results with settlements", report)
    print(f"\naxe-core, WCAG 2 A/AA, {width}: " + ", ".join(f"{view} {n}" for view, n in report))
    ui.assert_no_errors()


def focused(page):
    """What has focus, and whether its focus ring shows whole: an outline, not cut off by an ancestor
    that clips (a row clips what lies outside it)."""
    return page.evaluate("""() => { const el = document.activeElement; if (!el) return {};
        const s = getComputedStyle(el);
        let ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
        const grow = parseFloat(s.outlineOffset) + parseFloat(s.outlineWidth), r = el.getBoundingClientRect();
        for (let p = el.parentElement; ring && p; p = p.parentElement) {
            const ps = getComputedStyle(p);
            if (ps.overflow === 'visible' && !/paint|strict|content/.test(ps.contain)) continue;
            const b = p.getBoundingClientRect();
            ring = r.top - grow >= b.top - 0.5 && r.bottom + grow <= b.bottom + 0.5 &&
                   r.left - grow >= b.left - 0.5 && r.right + grow <= b.right + 0.5;
        }
        return {id: el.id, cls: el.className, role: el.getAttribute('role'), tab: el.dataset.tab, mode: el.dataset.mode,
                game: el.dataset.openGame, sport: el.dataset.sportId, label: el.getAttribute('aria-label'),
                expanded: el.getAttribute('aria-expanded'), ring,
                outline: s.outlineStyle, outlineWidth: s.outlineWidth}; }""")


def tab_until(page, predicate, limit=60, back=False):
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        if predicate(now):
            return now
    pytest.fail(f"never reached the element by {'Shift+' if back else ''}Tab; last: {focused(page)}")


def test_the_whole_path_works_from_the_keyboard_alone(ui):
    page = ui.page
    ui.boot()
    page.wait_for_selector(COUNTS, state="attached", timeout=30_000)
    first = tab_until(page, lambda f: True, limit=1)
    assert "skip-link" in first["cls"]  # the first stop skips to the games
    # The sports list is one tab stop; arrow keys move in it, Enter chooses.
    sport = tab_until(page, lambda f: f["role"] == "option")
    assert sport["ring"], sport  # a visible focus ring
    page.keyboard.press("Home")
    assert focused(page)["sport"] == "1"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_selector(".game-row .odd-btn[data-price]:not([data-price='-'])", timeout=60_000)
    # Into the list: the region's and the competition's toggles (Enter folds and unfolds), then a
    # game's button opens its details, and so does an odds button.
    region = tab_until(page, lambda f: "region-head" in (f["cls"] or ""))
    assert region["ring"] and region["expanded"] == "true", region
    competition = tab_until(page, lambda f: "competition-head" in (f["cls"] or ""))
    assert competition["ring"] and competition["expanded"] == "true", competition
    page.keyboard.press("Enter")
    assert focused(page)["expanded"] == "false"
    page.keyboard.press("Enter")
    page.wait_for_selector(".game-row .odd-btn[data-price]:not([data-price='-'])")
    assert focused(page)["expanded"] == "true"
    row = tab_until(page, lambda f: f["game"] is not None)
    assert row["ring"], row
    odd = tab_until(page, lambda f: "odd-btn" in (f["cls"] or ""))
    assert odd["ring"], odd
    tab_until(page, lambda f: f["game"] is not None, back=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#details:not([hidden]) .mgroup", timeout=30_000)
    assert focused(page)["id"] == "details-title"
    tab = tab_until(page, lambda f: f["role"] == "tab" and f["tab"] is not None)
    assert tab["tab"] == "all" and tab["ring"], tab
    page.keyboard.press("ArrowRight")
    now = focused(page)
    assert now["tab"] == "main" and page.get_attribute(".details-tab[data-tab='main']", "aria-selected") == "true"
    assert page.eval_on_selector_all(".mgroup:not([hidden])", "gs => gs.map(g => g.dataset.tab)") == ["main"]
    # the group's accordion: Enter closes it, Enter opens it again
    accordion = tab_until(page, lambda f: "mgroup-head" in (f["cls"] or ""))
    assert accordion["ring"] and accordion["expanded"] == "true", accordion
    page.keyboard.press("Enter")
    assert focused(page)["expanded"] == "false"
    page.keyboard.press("Enter")
    assert focused(page)["expanded"] == "true"
    page.keyboard.press("Escape")
    page.wait_for_selector("#details", state="hidden")
    assert focused(page)["game"] == row["game"]  # back on the row's button
    # Back up to the health button; the modal keeps focus inside, Escape returns it.
    tab_until(page, lambda f: f["id"] == "health-btn", back=True, limit=80)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-card='status']", timeout=20_000)
    assert focused(page)["id"] == "health-title"
    for _ in range(4):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('health-modal').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.wait_for_selector("#health-modal", state="hidden")
    assert focused(page)["id"] == "health-btn"
    # The mode tabs: one stop, arrow keys move and select.
    tab_until(page, lambda f: f["mode"] is not None, back=True)
    assert focused(page)["mode"] == "live"
    page.keyboard.press("ArrowLeft")
    assert focused(page)["mode"] == "prematch" and page.get_attribute("#tab-prematch", "aria-selected") == "true"
    page.keyboard.press("End")
    assert focused(page)["mode"] == "results"
    # Results (of the sport chosen above): a date choice (Yesterday: a whole day of finished games),
    # then a game's settlements open from its row.
    today = tab_until(page, lambda f: "chip-btn" in (f["cls"] or ""))
    assert today["ring"] and page.evaluate("document.activeElement.dataset.range") == "today", today
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.range") == "yesterday"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector(\"[data-range='yesterday']\").getAttribute('aria-pressed') === 'true'")
    page.wait_for_selector(".result-row", timeout=20_000)
    assert page.evaluate("document.activeElement.dataset.range") == "yesterday"  # focus stays on the choice
    result = tab_until(page, lambda f: "result-open" in (f["cls"] or ""))
    assert result["ring"] and result["expanded"] == "false", result
    page.keyboard.press("Enter")
    page.wait_for_selector(".settlements:not([hidden]) .settle-table", timeout=20_000)
    assert focused(page)["expanded"] == "true"
    ui.assert_no_errors()


def test_reduced_motion_shows_a_static_marker_and_the_arrow_instead_of_a_flash(make_ui):
    ui = make_ui(reduced_motion="reduce")
    page = ui.page
    boot_to_live_list(ui)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.odd-btn.odd-up, .odd-btn.odd-down')].some(b => {
                 const s = getComputedStyle(b); window.__e2eFlash = {
                   animation: getComputedStyle(b, '::before').animationName,
                   shadow: s.boxShadow, arrow: b.querySelector('.odd-arrow').textContent};
                 return true; })""", timeout=60_000)
    flash = page.evaluate("window.__e2eFlash")
    assert flash["animation"] == "none" and flash["shadow"] != "none" and flash["arrow"] in ("\u25b2", "\u25bc"), flash
    open_details(ui)
    wait_tracker(ui)
    assert page.eval_on_selector("#details-tracker .tk-ball", "b => getComputedStyle(b).transitionDuration") in (
        "0s", "1e-06s")
    ui.assert_no_errors()


def test_at_200_percent_zoom_every_view_reflows_without_horizontal_scrolling(make_ui):
    # A 1280 x 800 window at 200 % zoom lays the page out in 640 x 400 CSS pixels.
    ui = make_ui({"width": 640, "height": 400}, device_scale_factor=2)
    page = ui.page
    ui.boot()
    page.wait_for_selector(COUNTS, state="attached", timeout=30_000)

    def reflows(view):
        overflow = ui.no_horizontal_overflow()
        assert overflow["scrollWidth"] <= overflow["width"] and overflow["wide"] == 0, (view, overflow)

    reflows("welcome")
    choose_sport(ui, "1")
    reflows("live list")
    open_details(ui)
    wait_tracker(ui)
    reflows("details")
    ui.screenshot("zoom-200-details")
    page.click("#details-close")
    page.click("#health-btn")
    page.wait_for_selector("[data-card='status']", timeout=20_000)
    reflows("health")
    page.keyboard.press("Escape")
    open_results(ui)
    reflows("results")
    ui.assert_no_errors()


def test_what_a_screen_reader_is_given_for_a_row_and_the_details_panel(ui):
    page = ui.page
    boot_to_live_list(ui)
    row = page.locator(".game-row[data-game-id]").first
    snapshot = row.aria_snapshot()
    print("\nA row, as Chromium's accessibility tree gives it:\n" + snapshot)
    assert snapshot.startswith("- listitem")
    assert re.search(r'- button "Home 1 \d+\.\d{3}', snapshot), snapshot  # meaning and value, not "1.850"
    assert re.search(r'- button "[^"]+\. Live, [^"]*score \d+:\d+[^"]*\. Details"', snapshot), snapshot
    # a price that moved says where it went, in its name
    page.wait_for_selector(".game-row .odd-btn.odd-up, .game-row .odd-btn.odd-down", timeout=60_000)
    moved = page.locator(".game-row .odd-btn.odd-up, .game-row .odd-btn.odd-down").first.aria_snapshot()
    print("\nAn odds button whose price just moved:\n" + moved)
    assert re.search(r'button "(Home|Draw|Away) \S+ \d+\.\d{3}, (rising|falling)"', moved), moved
    # the live list announces nothing by itself: prices are not live regions
    assert page.locator("#games [aria-live]").count() == 0
    open_details(ui)
    wait_tracker(ui)
    panel = page.locator("#details").aria_snapshot()
    print("\nThe details panel (first 60 lines):\n" + "\n".join(panel.splitlines()[:60]))
    assert "- complementary" in panel and "- tablist" in panel and "- tab " in panel
    assert "- table" in panel and 'img "Pitch:' in panel
    assert "button \"Close details\"" in panel
    # Opting in to one game's announcements: a polite summary, at most one per 5 s; opting out stops it.
    page.evaluate("""() => { window.__e2eSaid = [];
        new MutationObserver(() => window.__e2eSaid.push([performance.now(), document.getElementById('sr-announce').textContent]))
          .observe(document.getElementById('sr-announce'), {childList: true, characterData: true, subtree: true}); }""")
    page.click("#details-follow")
    assert page.get_attribute("#details-follow", "aria-pressed") == "true"
    assert page.get_attribute("#sr-announce", "aria-live") == "polite"
    page.wait_for_function("() => window.__e2eSaid.some(([, t]) => t)", timeout=10_000)
    page.wait_for_timeout(6_000)
    said = [(at, text) for at, text in page.evaluate("window.__e2eSaid") if text]
    print(f"\nAnnounced while following (over ~6 s): {said}")
    assert all(b - a >= 4_900 for (a, _), (b, _) in zip(said, said[1:])), said
    assert "Leeds" in said[0][1] or ":" in said[0][1], said  # the score and prices, in words
    page.click("#details-follow")
    assert page.get_attribute("#details-follow", "aria-pressed") == "false"
    assert page.text_content("#sr-announce") == ""
    # the connection state and the toasts are polite live regions
    assert page.get_attribute("#conn-status", "role") == "status"
    assert page.get_attribute("#toasts", "role") == "status" and page.get_attribute("#toasts", "aria-live") == "polite"
    print("\nThe sports list:\n" + "\n".join(page.locator("#sport-list").aria_snapshot().splitlines()[:6]))
    print("\nThe mode tabs:\n" + page.locator("#mode-tabs").aria_snapshot())
    ui.assert_no_errors()


FLASH_FRAMES = """([where, direction, steps]) => {
  const button = document.querySelector(`${where} .odd-btn.odd-${direction}`);
  if (!button) return null;
  const rgba = (css) => { const [r, g, b, a] = css.match(/[\\d.]+/g).map(Number); return [r, g, b, a ?? 1]; };
  let backdrop = null;
  for (let node = button.parentElement; node && !backdrop; node = node.parentElement) {
    const color = rgba(getComputedStyle(node).backgroundColor);
    if (color[3] === 1) backdrop = color;
  }
  // the flash is a wash (the button's ::before) whose opacity fades, over the button's own background
  const animations = button.getAnimations({subtree: true});
  const frames = [], washes = [];
  for (let i = 0; i <= steps; i++) {  // the flash held at each of steps + 1 moments, start to end
    for (const animation of animations) {
      animation.pause();
      animation.currentTime = animation.effect.getComputedTiming().duration * i / steps;
    }
    const wash = getComputedStyle(button, '::before');
    const [wr, wg, wb, wa0] = rgba(wash.backgroundColor);
    const wa = wa0 * Number(wash.opacity);
    const [br, bg, bb, ba] = rgba(getComputedStyle(button).backgroundColor);
    const alpha = wa + ba * (1 - wa);  // the wash composited over the button's background
    const mix = (w, b) => alpha ? (w * wa + b * ba * (1 - wa)) / alpha : 0;
    frames.push([mix(wr, br), mix(wg, bg), mix(wb, bb), alpha]);
    washes.push(wa);
  }
  // what else a button can be over: a row, a hovered or selected row, the panel, the page
  const root = getComputedStyle(document.documentElement);
  const others = ["--bg", "--bg-raised", "--bg-row", "--bg-row-hover", "--bg-head"].map((name) => {
    const probe = document.createElement("div");
    probe.style.background = root.getPropertyValue(name);
    document.body.append(probe);
    const color = rgba(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return color;
  });
  return {frames, washes, backdrop, others, animations: animations.filter((a) => a.effect.pseudoElement === '::before').length,
          text: rgba(getComputedStyle(button.querySelector('.odd-price')).color)};
}"""


def _contrast(text, background):
    def luminance(rgb):
        def channel(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        r, g, b = (channel(v) for v in rgb[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(text), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_a_flashing_price_keeps_its_contrast_through_its_whole_flash(ui):
    """axe samples a flash at whatever moment it runs (it once caught a falling price in the details
    panel at 4.49:1): here each direction's flash, in the list and in the panel, is held at 21
    moments from start to end, and the price's text must have 4.5:1 against its button at every one,
    composited over what is behind it and over each background a button can be on (a hovered or
    selected row: that 4.49:1 was a selected row's)."""
    page = ui.page
    boot_to_live_list(ui)
    for where in ("#games", "#details"):
        if where == "#details":
            open_details(ui)
        for direction in ("up", "down"):
            found = None
            for _ in range(5):  # the flash waited for may end (1.1 s) before the sampling starts on a loaded machine
                page.wait_for_selector(f"{where} .odd-btn.odd-{direction}", state="attached", timeout=90_000)
                found = page.evaluate(FLASH_FRAMES, [where, direction, 20])
                if found is not None:
                    break
            assert found is not None and found["backdrop"] is not None and found["animations"] >= 1, found
            # it starts from the whole flash colour and fades to none of it
            assert found["washes"][0] > 0.2 and found["washes"][-1] < 0.01, found
            assert found["frames"][0][:3] != found["frames"][-1][:3], found
            ratios = []
            for backdrop in [found["backdrop"], *found["others"]]:
                for color in found["frames"]:
                    alpha = color[3]
                    seen = [alpha * c + (1 - alpha) * b for c, b in zip(color, backdrop)]
                    ratios.append(_contrast(found["text"], seen))
            print(f"\n{where} {direction}: text {found['text'][:3]}, the lowest contrast over the flash, "
                  f"on any of the page's backgrounds, {min(ratios):.2f}:1")
            assert min(ratios) >= 4.5, (where, direction, [round(r, 2) for r in ratios], found)
    ui.assert_no_errors()
