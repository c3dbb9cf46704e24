"""The whole app on the fakes: a ``Page`` started on a ``FakeDom`` and ``FakePlatform``, with helpers
to drive it like a user (clicks, keys) and to feed its streams (shared by the app-level tests)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from oddsui.app import HIERARCHY_URL, Page
from ui_fakes import FakeDom, FakeEventTarget, FakeNode, FakePlatform, click

HIERARCHY = {"sport": {
    "1": {"id": 1, "name": "Football", "alias": "Soccer", "order": 1},
    "3": {"id": 3, "name": "Basketball", "alias": "Basketball", "order": 3},
    "2": {"id": 2, "name": "Tennis", "alias": "Tennis", "order": 2},
}, "cached": True}


def counts(pairs):
    return json.dumps({"sports": [{"name": n, "count": c} for n, c in pairs],
                       "total_games": sum(c for _, c in pairs)})


def games(sport_id, ids, type_=1):
    return json.dumps({"sportId": str(sport_id), "sportName": "X", "last_updated": "t", "data": [
        {"id": i, "type": type_, "team1_name": f"H{i}", "team2_name": f"A{i}", "region": "England",
         "competition": "League", "competition_id": 5, "markets_count": 20, "market": {}} for i in ids]})


def odds(sport_id, gid, p1, px=3.4, p2=4.2, game_id_as_str=False):
    return json.dumps({"sportId": str(sport_id), "updates": [{
        "gameId": str(gid) if game_id_as_str else gid, "markets_count": 20,
        "odds": [{"label": "1", "price": p1, "blocked": False}, {"label": "X", "price": px, "blocked": False},
                 {"label": "2", "price": p2, "blocked": False}]}]})


class World:
    def __init__(self, hierarchy_status=200):
        self.platform = FakePlatform()
        self.platform.responses[HIERARCHY_URL] = (hierarchy_status, json.dumps(HIERARCHY))
        self.dom = FakeDom()
        self.window = FakeEventTarget()
        self.page = Page(self.platform, self.dom, self.window)
        self.page.start()
        self.app = self.page.app

    def frame(self):
        """Render: the pending frame and the frames it asks for (a list is built over several)."""
        for _ in range(50):
            if not self.platform.run_frame():
                return

    def source(self, prefix):
        found = [s for s in self.platform.event_sources if s.url.startswith(prefix) and not s.closed]
        assert len(found) == 1, [s.url for s in self.platform.event_sources]
        return found[0]

    def sidebar(self):
        return [(n.attrs["data-sport-id"], n.find(cls="sport-count").text)
                for n in self.dom.by_id("sport-list").children]

    def click_sport(self, sport_id):
        self.frame()  # the sidebar renders in a frame
        node = [n for n in self.dom.by_id("sport-list").children if n.attrs["data-sport-id"] == str(sport_id)][0]
        click(node.find(cls="sport-name"), self.dom.by_id("sport-list"))

    def click_mode(self, mode):
        click(self.dom.by_id(f"tab-{mode}"), self.dom.by_id("mode-tabs"))

    def rows(self):
        return [n.attrs["data-game-id"] for n in self.dom.by_id("games").find_all(cls="game-row")]



    def key(self, node: FakeNode, key: str, container: FakeNode | None = None, shift: bool = False) -> Any:
        """A keydown on ``node``, dispatched to ``container``'s listeners (delegation) and the window's."""
        event = SimpleNamespace(target=node, type="keydown", key=key, shiftKey=shift, default_prevented=False)
        if container is not None:
            container.dispatch("keydown", event)
        self.window.dispatch("keydown", event)
        return event

    def click_node(self, node: FakeNode, container: FakeNode) -> None:
        self.dom.focused = node
        click(node, container)

    def open_row(self, game_id: Any) -> Any:
        row = [n for n in self.dom.by_id("games").find_all(cls="game-row") if n.attrs["data-game-id"] == str(game_id)][0]
        self.click_node(row.find(cls="game-open"), self.dom.by_id("games"))
        return row

    def run_frames(self, limit: int = 50) -> int:
        ran = 0
        while self.platform.frames and ran < limit:
            self.frame()
            ran += 1
        return ran

    def sources(self, prefix: str) -> list[Any]:
        return [s for s in self.platform.event_sources if s.url.startswith(prefix) and not s.closed]

    def listener_total(self) -> int:
        """Every listener on every fake target the app can reach: page nodes, sources, workers, window."""
        total = self.window.listener_count() + self.platform.total_es_listeners()
        total += sum(n.listener_count() for n in self.dom.root.iter())
        return total
