"""Priming: the game list's code paths run once, on made-up games, while the page is idle.

In Pyodide the first run of a code path is several times slower than every later run (measured on
a 3,000-game list: the first render pass 43-53 ms, the same pass on the same list 10-13 ms the next
time), so the first list a user opens paid for it with a long task. ``prime_steps`` renders a small
made-up list (live and prematch rows, odds, a price that moves and flashes) into nodes that are
never in the page, a few milliseconds per step; the app runs one step per idle timer after start
(``App._prime_step``) and stops as soon as a real list has been built (nothing left to warm).

Everything a step makes is owned by ``scope`` (the flash timer) or by nobody (the detached nodes,
garbage once the generator ends); the generator closes ``scope`` when it ends or is closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .flash import Flasher
from .messages import decode
from .ports import DomPort
from .render import GamesView, NodeCache
from .scope import Scope
from .store import Store

__all__ = ["PRIME_GAMES", "prime_steps"]

# Two regions, two competitions each, live and prematch rows: every kind of row and group head.
PRIME_GAMES = 8
_MAX_PASSES = 20  # a bound on the render passes (a handful are needed)


def _game(index: int) -> dict[str, Any]:
    live = index % 2 == 0
    game: dict[str, Any] = {
        "id": index + 1, "type": 1 if live else 0, "start_ts": 1767700800 + index * 5400,
        "team1_name": f"Home {index}", "team2_name": f"Away {index}", "is_blocked": 1 if index == 3 else 0,
        "markets_count": 12 + index, "competition_id": 100 + index % 4, "region_id": 10 + index % 2,
        "sport": "Football", "region": f"Region {index % 2}", "competition": f"Competition {index % 4}",
        "market": {},
    }
    if live:
        game["info"] = {"current_game_state": "set2", "current_game_time": str(50 + index), "score1": "1",
                        "score2": str(index % 3), "shirt1_color": "C8102E", "shirt2_color": "1D428A",
                        "add_minutes": ""}
        game["text_info"] = f"1:{index % 3} {50 + index}`"
    return game


def _odds(price: float) -> str:
    return json.dumps({"sportId": "1", "updates": [
        {"gameId": index + 1, "markets_count": 12 + index,
         "odds": [{"label": "1", "price": price + index / 10}, {"label": "X", "price": 3.4, "blocked": index == 5},
                  {"label": "2", "price": 4.25}]}
        for index in range(PRIME_GAMES)]})


def prime_steps(dom: DomPort, scope: Scope, utc_offset: Callable[[float], int],
                now: Callable[[], float] | None = None) -> Iterator[None]:
    """One step of priming per ``next()``; ends (StopIteration) when every path has run once."""
    try:
        store = Store()
        store.set_games(decode(json.dumps({"sportId": "1", "data": [_game(i) for i in range(PRIME_GAMES)]}),
                               "games"))
        store.apply_odds(decode(_odds(1.85), "odds"))
        yield
        container, empty = dom.fragment("<div></div><div></div>")
        view = GamesView(dom, container, empty, NodeCache(dom), Flasher(scope, dom), utc_offset, now=now)
        for _ in range(_MAX_PASSES):
            done = view.render(store, "Football", None)
            yield
            if done:
                break
        for key in store.apply_odds(decode(_odds(1.95), "odds")):  # every home price moves up: flashes
            view.update_odds(store, key)
        yield
        view.clear()
    finally:
        scope.close()
