"""The server's render and the browser's render of the same state are the same DOM (issue 10), and
adopting the server's page writes nothing and keeps working (hypothesis, under CPython)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oddsui import htmldom, markup
from oddsui.app import Page
from oddsui.firstview import AdoptError, AdoptingDom, FirstView, StreamSnapshot
from oddsui.htmldom import TreeDom, parse_document, serialize
from oddsui.render import page_url, parse_page_url
from oddsui.ssr import render_page
from ui_fakes import FakeEventTarget, FakePlatform
from ui_world import HIERARCHY

INDEX = (Path(__file__).resolve().parents[2] / "frontend" / "index.html").read_text()
REGIONS = ["England", "Spain", "Brazil"]
COMPS = ["League", "Cup", "Premier <b>&amp;"]


class LaidOutDom(TreeDom):
    """A browser-like page whose viewport holds every row (so its window is the whole list)."""

    def scroll_box(self, node):
        return 0.0, 0.0, 1e9


game = st.fixed_dictionaries({
    "region": st.sampled_from(REGIONS), "competition": st.sampled_from(COMPS),
    "team1_name": st.text(min_size=1, max_size=12), "team2_name": st.text(min_size=1, max_size=12),
    "markets_count": st.integers(0, 300), "start_ts": st.integers(1_700_000_000, 1_800_000_000),
    "price": st.floats(1.01, 500, allow_nan=False).map(lambda p: round(p, 3)), "blocked": st.booleans(),
})


def events_for(sport: str, games: list[dict]) -> list[tuple[str, str]]:
    data = [{"id": 1000 + i, "type": 1, "team1_name": g["team1_name"], "team2_name": g["team2_name"],
             "region": g["region"], "competition": g["competition"], "competition_id": COMPS.index(g["competition"]) + 1,
             "markets_count": g["markets_count"], "start_ts": g["start_ts"], "market": {}} for i, g in enumerate(games)]
    odds = {"sportId": sport, "updates": [{"gameId": str(1000 + i), "markets_count": g["markets_count"], "odds": [
        {"label": "1", "price": g["price"], "blocked": g["blocked"]}, {"label": "X", "price": 3.1, "blocked": False},
        {"label": "2", "price": 4.2, "blocked": False}]} for i, g in enumerate(games)]}
    counts = json.dumps({"sports": [{"name": "Football", "count": len(games)}], "total_games": len(games)})
    return [("counts", counts), ("prematch_counts", counts),
            ("games", json.dumps({"sportId": sport, "sportName": "Football", "data": data, "last_updated": "t"})),
            ("odds", json.dumps(odds))]


def first_view(events: list[tuple[str, str]], wall_ms: float) -> FirstView:
    return FirstView(mode="live", sport_id="1", wall_ms=wall_ms, hierarchy=msgspec.Raw(json.dumps(HIERARCHY).encode()),
                     streams=[StreamSnapshot(name="sport", url="/api/live-stream?sportId=1", last_event_id="ab-7",
                                             events=[(e, msgspec.Raw(d.encode())) for e, d in events])])


def parts(root) -> dict[str, str]:
    by_id = {n.attrs.get("id"): n for n in root.iter()}
    return {name: serialize(by_id[name]) for name in ("sidebar", "mode-tabs", "mode-panel")}


def browser_render(events: list[tuple[str, str]], wall_ms: float) -> dict[str, str]:
    """The app as the browser runs it without a first view: it fetches, streams, renders in frames."""
    _, root = parse_document(INDEX)
    platform = FakePlatform()
    platform.responses["/api/hierarchy"] = (200, json.dumps(HIERARCHY))
    page = Page(platform, LaidOutDom(root), FakeEventTarget())
    page.start()
    for _ in range(5):
        platform.advance(0)
        platform.run_frame()
    page.app.select_sport("1")
    source = next(s for s in platform.event_sources if "live-stream" in s.url)
    for event, data in events:
        source.emit(event, data)
    for _ in range(200):
        platform.advance(16)
        platform.run_frame()
    page.app.updated_ms = wall_ms  # the browser stamps arrival time; the server its render time
    page.app._render_header()
    return parts(root)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(game, min_size=0, max_size=25))
def test_the_server_render_and_the_browser_render_of_a_state_are_the_same_dom(games):
    events = events_for("1", games)
    wall = 1_767_000_000_000.0
    html = render_page(INDEX, first_view(events, wall))
    _, server_root = parse_document(html)
    assert parts(server_root) == browser_render(events, wall)


@settings(max_examples=15, deadline=None)
@given(st.lists(game, min_size=1, max_size=15))
def test_adopting_the_page_writes_nothing_and_the_stream_resumes_from_its_id(games):
    html = render_page(INDEX, first_view(events_for("1", games), 1_767_000_000_000.0))
    _, root = parse_document(html)
    before = serialize(root)
    state = next(n for n in root.iter() if n.attrs.get("id") == "first-view").text
    platform = FakePlatform()
    page = Page(platform, LaidOutDom(root), FakeEventTarget(), first_view=FirstView.from_json(state))
    page.start()
    assert page.adopted is True
    assert serialize(root) == before  # not one node written
    (source,) = [s for s in platform.event_sources if "live-stream" in s.url]
    assert source.url == "/api/live-stream?sportId=1&lastEventId=ab-7"
    # An event after the take-over lands on the adopted row.
    source.emit("odds", json.dumps({"sportId": "1", "updates": [{"gameId": 1000, "markets_count": 1, "odds": [
        {"label": "1", "price": 777.5, "blocked": False}]}]}))
    for _ in range(50):
        platform.advance(16)
        platform.run_frame()
    button = next(n for n in root.iter() if n.attrs.get("data-odd-index") == "0"
                  and n.attrs.get("data-price") is not None
                  and any(p.attrs.get("data-game-id") == "1000" for p in _ancestors(n)))
    assert button.attrs["data-price"] == "777.500"


def test_adopting_builds_no_row_markup_and_a_row_after_the_take_over_gets_its_own(monkeypatch):
    from oddsui import render

    games = [{"region": REGIONS[i % 3], "competition": COMPS[i % 3], "team1_name": f"Home {i}",
              "team2_name": f"Away {i}", "markets_count": 10 + i, "start_ts": 1_767_000_000 + i,
              "price": 1.5 + i, "blocked": False} for i in range(12)]
    events = events_for("1", games)
    html = render_page(INDEX, first_view(events, 1_767_000_000_000.0))
    _, root = parse_document(html)
    before = serialize(root)
    state = next(n for n in root.iter() if n.attrs.get("id") == "first-view").text
    built: list[str] = []
    real = render.row_html
    monkeypatch.setattr(render, "row_html", lambda key, model: built.append(key) or real(key, model))
    heads: list[str] = []
    real_tag = render.tag
    monkeypatch.setattr(render, "tag", lambda name, *a, **k: heads.append(name) or real_tag(name, *a, **k))
    platform = FakePlatform()
    page = Page(platform, LaidOutDom(root), FakeEventTarget(), first_view=FirstView.from_json(state))
    page.start()
    assert page.adopted is True and serialize(root) == before
    assert page.app.games_view.rows_built == 12 and built == []  # 12 rows adopted, no markup made for them
    assert len(page.app.games_view.competitions) == 3 and heads == []  # nor for their groups' heads
    (source,) = [s for s in platform.event_sources if "live-stream" in s.url]
    data = json.loads(events[2][1])
    data["data"].append({**data["data"][0], "id": 2000, "team1_name": "New home", "team2_name": "New away"})
    source.emit("games", json.dumps(data))
    for _ in range(50):
        platform.advance(16)
        platform.run_frame()
    assert built == ["2000"]
    assert any(n.attrs.get("data-game-id") == "2000" for n in root.iter())


def _ancestors(node):
    while node is not None:
        yield node
        node = node.parent


def _shape(node):
    if isinstance(node, htmldom.Text):
        return ("#text", node.data)
    return (node.tag, tuple(node.attrs.items()), tuple(_shape(child) for child in node.children))


def _by_html_parser(html: str):
    builder = htmldom._TreeBuilder()
    builder.feed(html)
    builder.close()
    return [_shape(node) for node in builder.root.children]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(game, min_size=1, max_size=25))
def test_the_fast_tokenizer_and_the_splitter_read_every_fragment_the_views_make_as_html_parser_does(games):
    made: list[str] = []
    real = htmldom.TreeDom.fragment

    def recording(self, html: str):
        made.append(html)
        return real(self, html)

    htmldom.TreeDom.fragment = recording
    try:
        render_page(INDEX, first_view(events_for("1", games), 1_767_000_000_000.0))
    finally:
        htmldom.TreeDom.fragment = real
    assert made  # the rows were built from markup
    for html in made:
        fast = htmldom._parse_fragment_fast(html)
        assert fast is not None, html  # our own markup never needs the slow path
        expected = _by_html_parser(html)
        assert [_shape(node) for node in fast] == expected
        deferred = htmldom.split_fragment(html)
        assert deferred is not None, html  # nor does it need a parse to be split into its elements
        assert "".join(htmldom.serialize(node) for node in deferred) == html  # unread: written as it came
        assert [_shape(node) for node in deferred] == [shape for shape in expected if shape[0] != "#text"]


_words = st.text(alphabet="ab <>&\"'=/-", max_size=6)


def _elements(inner):
    return st.one_of(
        st.builds(lambda name, title, kids: markup.tag(name, {"class": "c", "title": title}, *kids),
                  st.sampled_from(["div", "span", "button", "li"]), _words, st.lists(inner, max_size=3)),
        st.builds(lambda value: markup.tag("input", {"value": value, "disabled": True}), _words),
        st.builds(lambda value: markup.tag("br", {"data-x": value}), _words),
    )


_markup = st.recursive(_words.map(markup.esc), _elements, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(_elements(_markup), max_size=5))
def test_a_split_fragment_is_the_parsed_fragment_and_a_write_inside_it_is_serialized(parts):
    html = "".join(parts)
    deferred = htmldom.split_fragment(html)
    assert deferred is not None, html  # escaped markup from markup.tag is always split
    parsed = [node for node in htmldom.parse_fragment(html) if isinstance(node, htmldom.Element)]
    assert "".join(htmldom.serialize(node) for node in deferred) == html
    assert [_shape(node) for node in deferred] == [_shape(node) for node in parsed]
    # Read inside (as a row's write does): from then on it is written from its nodes, with the write.
    for node, twin in zip(deferred, parsed):
        node.attrs["data-w"] = "1"
        twin.attrs["data-w"] = "1"
        for child in list(node.iter())[1:2]:
            child.attrs["data-inner"] = "<&>"
        for child in list(twin.iter())[1:2]:
            child.attrs["data-inner"] = "<&>"
        assert htmldom.serialize(node) == htmldom.serialize(twin)
        assert all(child.parent is node for child in node.children)


def test_markup_the_splitter_does_not_know_is_parsed_instead():
    for html in ('<div><!-- note --></div>', '<style>a < b</style>', '<p>1 < 2</p>', '<span/>', '<b><i>open',
                 '<b><i>crossed</b></i>', '</p>stray'):
        assert htmldom.split_fragment(html) is None, html
        dom = TreeDom(htmldom.Element("div"), defer_fragments=True)
        assert [_shape(n) for n in dom.fragment(html)] == [s for s in _by_html_parser(html) if s[0] != "#text"]


def test_markup_the_tokenizer_does_not_know_goes_to_html_parser():
    for html in ('<div class=unquoted>x</div>', '<div><!-- note --></div>', '<style>a < b</style>',
                 '<p>1 < 2</p>', '<div class = "spaced">y</div>'):
        assert htmldom._parse_fragment_fast(html) is None, html
        assert [_shape(node) for node in htmldom.parse_fragment(html)] == _by_html_parser(html)
    for html in ('<p title="a &amp; b">x &lt; y &#169;</p>', '<input disabled><br/>text', '<b><i>open', '</p>stray'):
        assert [_shape(node) for node in htmldom.parse_fragment(html)] == _by_html_parser(html), html


class ClickableDom(LaidOutDom):
    """The adopted page with events: a click's target and its ancestors answer ``closest``."""

    def closest_attr(self, event, selector, attr):
        node = event.target
        while node is not None:
            if attr in node.attrs:
                return node.attrs[attr]
            node = node.parent
        return None

    def prevent_default(self, event):
        event.default_prevented = True


def _click(container, target):
    event = SimpleNamespace(type="click", target=target, default_prevented=False)
    for listener in list(container.listeners.get("click", [])):
        listener(event)
    assert event.default_prevented  # a link: the app shows its page in place, the browser does not load it
    return event


def test_after_the_take_over_clicks_update_the_address_and_back_and_forward_show_those_pages():
    sports = json.dumps({"sports": [{"name": "Football", "count": 2}, {"name": "Tennis", "count": 3}],
                         "total_games": 5})
    events = [(e, sports if e in ("counts", "prematch_counts") else d)
              for e, d in events_for("1", [{"region": "England", "competition": "League", "team1_name": "A",
                                            "team2_name": "B", "markets_count": 3, "start_ts": 1_767_000_000,
                                            "price": 1.5, "blocked": False}])]
    html = render_page(INDEX, first_view(events, 1_767_000_000_000.0))
    _, root = parse_document(html)
    state = next(n for n in root.iter() if n.attrs.get("id") == "first-view").text
    platform, window = FakePlatform(), FakeEventTarget()
    platform.path, platform.history = "/live/1", ["/live/1"]  # the page the server rendered
    page = Page(platform, ClickableDom(root), window, first_view=FirstView.from_json(state))
    page.start()
    assert page.adopted is True and platform.history == ["/live/1"]  # taking over adds no entry
    by_id = {n.attrs.get("id"): n for n in root.iter() if "id" in n.attrs}
    app = page.app

    def frames():
        for _ in range(50):
            platform.advance(16)
            platform.run_frame()

    def open_streams():
        return sorted(s.url.split("&lastEventId")[0] for s in platform.event_sources if not s.closed)

    # a mode tab, then a sport: each click is a history entry naming that page
    _click(by_id["mode-tabs"], by_id["tab-prematch"].children[0])
    assert (app.mode, app.sport_id) == ("prematch", "1")
    assert platform.history == ["/live/1", "/prematch/1"]
    frames()
    tennis = next(n for n in by_id["sport-list"].iter() if n.attrs.get("data-sport-id") == "2")
    assert tennis.attrs["href"] == "/prematch/2"
    _click(by_id["sport-list"], tennis.element_children()[0])
    assert platform.history == ["/live/1", "/prematch/1", "/prematch/2"]
    assert parse_page_url(platform.path) == (app.mode, app.sport_id) == ("prematch", "2")  # a reload renders this
    _click(by_id["sport-list"], tennis)  # the page already shown: no new entry
    assert len(platform.history) == 3
    football = next(n for n in by_id["sport-list"].iter() if n.attrs.get("data-sport-id") == "1")
    for modifiers in ({"ctrlKey": True}, {"metaKey": True}, {"shiftKey": True}, {"button": 1}):
        event = SimpleNamespace(type="click", target=football, default_prevented=False, **modifiers)
        for listener in list(by_id["sport-list"].listeners.get("click", [])):
            listener(event)
        # a new tab or window is the browser's to open: the app neither stops it nor changes page
        assert not event.default_prevented and app.sport_id == "2" and len(platform.history) == 3

    # Back, Back: the pages come back, streams follow, and nothing is pushed meanwhile
    platform.back(window)
    assert (app.mode, app.sport_id) == ("prematch", "1") and platform.history == ["/live/1", "/prematch/1"]
    assert [u for u in open_streams() if "prematch-stream" in u] == [
        "/api/prematch-stream?sportId=1&sportName=Football"]
    platform.back(window)
    assert (app.mode, app.sport_id) == ("live", "1") and platform.history == ["/live/1"]
    assert "/api/live-stream?sportId=1" in open_streams()
    assert not [u for u in open_streams() if "prematch-stream" in u]
    frames()
    assert by_id["tab-live"].attrs["aria-selected"] == "true"

    # an address that names no page changes nothing
    platform.path = "/nowhere"
    window.dispatch("popstate", SimpleNamespace(type="popstate", state=None))
    assert (app.mode, app.sport_id) == ("live", "1")
    assert not platform.errors


def test_a_start_without_the_servers_page_shows_the_page_the_address_names():
    platform, window = FakePlatform(), FakeEventTarget()
    platform.responses["/api/hierarchy"] = (200, json.dumps(HIERARCHY))
    platform.path, platform.history = "/prematch/3", ["/prematch/3"]
    _, root = parse_document(INDEX)
    page = Page(platform, LaidOutDom(root), window)
    page.start()
    assert (page.app.mode, page.app.sport_id) == ("prematch", "3")
    assert platform.history == ["/prematch/3"]
    assert any(s.url.startswith("/api/prematch-stream?sportId=3") for s in platform.event_sources if not s.closed)


def test_page_urls_read_back_as_the_view_they_name():
    for mode in ("live", "prematch", "results"):
        assert parse_page_url(page_url(mode)) == (mode, None)
        assert parse_page_url(page_url(mode, "42")) == (mode, "42")
    assert parse_page_url("/") == ("live", None) and parse_page_url("/live/007") == ("live", "7")
    for path in ("/live/0", "/live/x", "/live/1/2", "/nowhere", "/live/" + "9" * 16, "/live/\u0661"):
        assert parse_page_url(path) is None, path


def test_a_mismatch_a_frame_job_swallowed_still_fails_the_adoption(dom):
    adopting = AdoptingDom(dom, [])  # the page recorded no node the views would make
    try:
        adopting.element("div")  # inside a frame job: the batcher reports the error and goes on
    except AdoptError:
        pass
    with pytest.raises(AdoptError, match="more than the 0 recorded"):
        adopting.adopt_done()  # where the app learns of it, and starts without the page
