"""The server-rendered page and its assets over real HTTP (issue 10): the page for a sport URL, its
cache headers and compression, the immutable assets' negotiation, and resuming a stream from the id
a page was rendered at (``lastEventId`` in the query)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path

import brotli
import httpx
import pytest

from tests.support.sse import SseStream

pytestmark = pytest.mark.asyncio(loop_scope="module")

STATIC = "build/static"


def _first_view(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="first-view">(.*?)</script>', html, re.S)
    assert found, "the page carries no first view"
    return json.loads(found.group(1))


async def test_a_sport_url_is_rendered_with_its_games_and_odds_uncached(http):
    response = await http.get("/live/1", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert "content-encoding" not in response.headers
    html = response.text
    assert html.count('class="game-row') > 0 and 'data-price="' in html
    assert 'href="/live/1"' in html and 'aria-selected="true"' in html
    view = _first_view(html)
    assert view["mode"] == "live" and view["sport_id"] == "1"
    (stream,) = view["streams"]
    assert stream["name"] == "sport" and re.fullmatch(r"[0-9a-z.]+-\d+", stream["last_event_id"])
    assert 'rel="modulepreload"' not in html  # boot.js hints the modules after the first frame


async def test_the_page_hints_nothing_of_pyodides_and_names_it_all_for_boot_js(http):
    manifest = json.loads((await http.get("/manifest.json")).text)
    page = manifest["page"]
    assert any(url.endswith("pyodide.asm.wasm") for url in page["sizes"])  # what boot.js fetches, with progress
    assert any(url.endswith("pyodide.asm.mjs") for url in page["modulepreload"])  # ... and hints after the first frame
    for booted in (None, page["booted"], "000000000000"):  # a first visit, a returning browser, another build's
        if booted is not None:
            http.cookies.set("booted", booted)
        try:
            html = (await http.get("/live/1")).text
        finally:
            http.cookies.clear()
        head = html.split('id="manifest"')[0]
        assert "preload" not in head, booted  # neither the big files nor the modules: nothing competes with the paint
        assert all(url not in head for url in [*page["sizes"], *page["modulepreload"]]), booted
        assert 'id="manifest"' in html and 'id="first-view"' in html


async def test_the_page_is_compressed_as_the_client_accepts(http):
    plain = (await http.get("/prematch/1", headers={"accept-encoding": "identity"})).text
    for accept, encoding in (("br", "br"), ("gzip, br;q=0.5", "gzip"), ("gzip;q=0, br", "br"), ("gzip", "gzip")):
        response = await http.get("/prematch/1", headers={"accept-encoding": accept})
        assert response.headers["content-encoding"] == encoding, accept
        assert len(response.headers["content-length"]) and int(response.headers["content-length"]) < len(plain) / 3
    assert (await http.get("/live/0")).status_code == 404
    assert (await http.get("/nowhere/1")).status_code == 404


async def test_immutable_assets_are_negotiated_and_cached_for_a_year(http):
    manifest = json.loads((await http.get("/manifest.json")).text)
    wasm = manifest["pyodide"]["indexURL"] + "pyodide.asm.wasm"
    raw = Path(STATIC, "pyodide", "pyodide.asm.wasm").read_bytes()  # noqa: ASYNC240
    for accept, encoding, unpack in (("br, gzip", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress),
                                     ("identity", None, lambda b: b)):
        async with http.stream("GET", wasm, headers={"accept-encoding": accept}) as response:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.status_code == 200
        assert response.headers["cache-control"] == "max-age=31536000, public, immutable"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-type"] == "application/wasm"
        assert response.headers.get("content-encoding") == encoding
        assert unpack(body) == raw
    css = manifest["page"]["css"]
    response = await http.get(css, headers={"accept-encoding": "br"})
    assert response.headers["content-encoding"] == "br" and "immutable" in response.headers["cache-control"]
    # another hash, a variant asked for by name, or a path outside: not served
    assert (await http.get(wasm.replace(manifest["pyodide"]["indexURL"], "/immutable/pyodide-000000000000/"))).status_code == 404
    assert (await http.get(wasm + ".br")).status_code == 404
    assert (await http.get("/immutable/assets/../manifest.json")).status_code == 404


async def test_a_stream_resumes_from_the_id_in_its_query(http):
    async with SseStream(http, "/api/live-stream?sportId=1") as first:
        seen = []
        while len([m for m in seen if m.id]) < 4:
            seen.append(await first.next_message())
    with_ids = [m for m in seen if m.id and m.data]
    start, after = with_ids[0].id, [m for m in with_ids[1:]]
    async with SseStream(http, f"/api/live-stream?sportId=1&lastEventId={start}") as resumed:
        got = []
        while len(got) < len(after):
            message = await resumed.next_message()
            if message.data:
                got.append(message)
    # exactly the events after the id: none missed, none twice, no snapshot in front
    assert [(m.id, m.event, m.data) for m in got] == [(m.id, m.event, m.data) for m in after]
    # the header wins over the query (an EventSource's own reconnect)
    async with SseStream(http, "/api/live-stream?sportId=1&lastEventId=nonsense-1",
                         headers={"last-event-id": start}) as header:
        message = await header.next_message()
        while not message.data:
            message = await header.next_message()
        assert (message.id, message.data) == (after[0].id, after[0].data)


async def test_the_page_says_where_the_servers_time_went(http):
    # a time zone no other test asks for: a render of its own, not a page shared with another test's
    response = await http.get("/live/1", headers={"cookie": "tzo=-17"})
    timings = dict(re.fullmatch(r"(\w+);dur=([0-9.]+)", part.strip()).groups()
                   for part in response.headers["server-timing"].split(","))
    assert set(timings) == {"state", "queue", "render", "compress"}
    assert all(float(ms) >= 0 for ms in timings.values()) and float(timings["render"]) > 0


async def test_the_bench_pages_exist_only_when_asked_for(http):
    for path in ("/_bench/plain/live/1", "/_bench/pyodide", "/_bench/bare.mjs"):
        assert (await http.get(path)).status_code == 404, path


async def test_the_plain_floor_is_the_same_render_without_any_script_hint_or_state():
    from tests.support.feed import wait_for
    from tests.support.server import running_server

    async with running_server(bench_pages=True) as server:
        await wait_for(lambda: server.hub.conn.connected, 15)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            page = (await client.get("/live/1")).text
            response = await client.get("/_bench/plain/live/1")
            plain = response.text
            assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
            assert "<script" not in plain and "preload" not in plain and 'id="first-view"' not in plain
            # the same views rendered: the sidebar, the tabs, the rows with their prices
            assert plain.count('class="game-row') == page.count('class="game-row') > 0
            assert 'data-price="' in plain and 'href="/live/1"' in plain
            css = re.search(r'<link rel="stylesheet" href="([^"]+)"', plain).group(1)
            assert css.startswith("/immutable/assets/") and css in page
            assert (await client.get("/_bench/plain/nowhere")).status_code == 404

            bare = await client.get("/_bench/pyodide")
            manifest = json.loads((await client.get("/manifest.json")).text)
            config = json.loads(re.search(r'id="bare-config">(.*?)</script>', bare.text, re.S).group(1))
            assert config == {key: manifest["pyodide"][key] for key in ("module", "indexURL", "lockFileURL")}
            assert "preload" not in bare.text
            script = await client.get("/_bench/bare.mjs")
            assert script.headers["content-type"].startswith("text/javascript") and "loadPyodide" in script.text


async def test_a_sport_the_hierarchy_does_not_name_makes_no_group(http, srv):
    groups = set(srv.hub.groups)
    response = await http.get("/live/987654321")
    assert response.status_code == 200
    view = _first_view(response.text)
    assert view["mode"] == "live" and view["sport_id"] is None
    assert [s["name"] for s in view["streams"]] == ["counts"]
    assert not any("987654321" in repr(key) for key in set(srv.hub.groups) - groups)


async def test_a_missing_immutable_file_is_a_404_no_cache_keeps(http):
    for path in ("/immutable/pyodide-0000000000/pyodide.asm.wasm", "/immutable/pyodide-None/pyodide.mjs",
                 "/immutable/assets/.hidden", "/immutable/assets/app.css.br"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert response.headers["cache-control"] == "no-store", path


def _timings(response: httpx.Response) -> dict[str, float]:
    return {name: float(ms) for name, ms in re.findall(r"(\w+);dur=([0-9.]+)", response.headers["server-timing"])}


async def test_a_burst_of_loads_of_one_page_costs_one_render():
    from tests.support.feed import wait_for
    from tests.support.server import running_server

    # a window wider than any stall of a loaded machine: which requests share is then certain
    async with running_server(page_share_seconds=30) as server:
        await wait_for(lambda: server.hub.conn.connected, 15)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60,
                                     limits=httpx.Limits(max_connections=40)) as client:
            br = {"accept-encoding": "br"}
            burst = await asyncio.gather(*(client.get("/live/1", headers=br) for _ in range(40)))
            assert {r.status_code for r in burst} == {200}
            rendered = [r for r in burst if "shared" not in _timings(r)]
            assert len(rendered) == 1  # one render; the other 39 waited for it
            assert len({r.content for r in burst}) == 1
            assert all(r.headers["content-encoding"] == "br" and r.headers["cache-control"] == "no-store"
                       for r in burst)
            # the page's own timings, on every copy of it
            assert all(_timings(r)["render"] == _timings(rendered[0])["render"] for r in burst)

            # what the page shows differs by encoding, time zone and view: each has a render of its own
            for path, headers in (("/live/1", {"accept-encoding": "gzip"}), ("/live/1", {**br, "cookie": "tzo=60"}),
                                  ("/prematch/1", br), ("/live", br)):
                response = await client.get(path, headers=headers)
                assert response.status_code == 200 and "shared" not in _timings(response), (path, headers)
            again = await client.get("/live/1", headers=br)
            assert "shared" in _timings(again) and again.content == burst[0].content
            # a sport the hierarchy does not name is the mode's page: made-up ids share its render
            made_up = await asyncio.gather(*(client.get(f"/live/{987654321 + n}", headers=br) for n in range(10)))
            assert all("shared" in _timings(r) for r in made_up)
            assert {_first_view(r.text)["sport_id"] for r in made_up} == {None}

            # a shared page resumes like a fresh one: its id replays the stream's events since the render
            view = _first_view(burst[-1].text)
            (stream,) = view["streams"]
            async with SseStream(client, f"{stream['url']}&lastEventId={stream['last_event_id']}") as resumed:
                message = await resumed.next_message()
                while not message.data:
                    message = await resumed.next_message()
            epoch, seq = stream["last_event_id"].rsplit("-", 1)  # the first event after the render's
            assert message.id.rsplit("-", 1) == [epoch, str(int(seq) + 1)]


async def test_a_page_is_shared_only_within_its_window_from_the_start_of_its_render():
    from tests.support.feed import wait_for
    from tests.support.server import running_server

    async with running_server(page_share_seconds=2.0) as server:
        await wait_for(lambda: server.hub.conn.connected, 15)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            first = await client.get("/live/1")
            soon = await client.get("/live/1")
            assert "shared" not in _timings(first) and "shared" in _timings(soon)
            assert soon.content == first.content
            await asyncio.sleep(2.2)
            later = await client.get("/live/1")
            assert "shared" not in _timings(later)  # rendered again, from the stream as it is now
            ids = [_first_view(r.text)["streams"][0]["last_event_id"] for r in (first, later)]
            assert ids[0] != ids[1]  # prices moved meanwhile: the new render is at a later id
