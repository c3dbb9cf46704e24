"""Game rows: a pure view model, its HTML, and an in-place updater that writes only differences.

A row's look is a flat *model*: ``{(slot, prop): value}`` where ``slot`` names a node of the row
(``row``, ``clock``, ``b0``, ``p0``, ``pill``, ...) and ``prop`` is ``text``, ``hidden``,
``class:<name>``, ``attr:<name>`` or ``style:<name>``. ``row_model`` computes it from the game and its
odds (pure); ``row_html`` renders a new row from it, so creating hundreds of rows costs one HTML parse
instead of thousands of DOM calls; ``RowView.apply`` diffs a new model against the last one written
and touches only what changed. Child nodes are looked up lazily (``[data-s=slot]``) the first time
they need a write, so a row that never changes never costs a lookup.

Flash classes (``odd-up``/``odd-down``/``flash-alt``) and arrows are not part of the model: they
belong to ``flash.Flasher``. ``RowView.apply`` only reports which buttons' prices moved (through the
row's ``flash.PriceTrail``); ``button()``/``arrow()`` give the nodes a flash is shown on.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from .display import (
    clock_text,
    is_live_row,
    periods_text,
    phase_text,
    score_text,
    shirt_color,
    start_text,
    team_names,
)
from .flash import PriceTrail
from .messages import Game
from .odds import format_price, is_blocked, markets_pill_text
from .ports import DomPort
from .store import GameOdds

__all__ = ["DEFAULT_LABELS", "LOCK", "RowModel", "RowView", "row_html", "row_model"]

DEFAULT_LABELS = ("1", "X", "2")
LOCK = "\U0001f512"

Prop = tuple[str, str]
RowModel = dict[Prop, Any]


def row_model(game: Game, entry: GameOdds | None, sport_name: str | None,
              utc_offset: Callable[[float], int]) -> tuple[RowModel, list[Any]]:
    """The row's look, plus the price per button (None when not a shown price) for flash decisions."""
    m: RowModel = {}
    live = is_live_row(game)
    blocked_game = is_blocked(game.is_blocked)
    m[("row", "class:game-live")] = live
    m[("row", "class:game-blocked")] = blocked_game
    m[("badge", "hidden")] = not live
    m[("badge", "text")] = f"LIVE {LOCK}" if live and blocked_game else "LIVE"
    m[("badge", "class:suspended")] = live and blocked_game
    if live:
        m[("clock", "text")] = clock_text(game, sport_name)
        m[("phase", "text")] = phase_text(game, sport_name)
        m[("score", "text")] = score_text(game)
        m[("periods", "text")] = periods_text(game)
        m[("date", "text")] = ""
        m[("time", "text")] = ""
    else:
        ts = game.start_ts
        day, hour = start_text(ts, utc_offset(float(ts)) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0)
        m[("clock", "text")] = ""
        m[("phase", "text")] = ""
        m[("score", "text")] = ""
        m[("periods", "text")] = ""
        m[("date", "text")] = day
        m[("time", "text")] = hour
    team1, team2 = team_names(game)
    m[("team1", "text")] = team1
    m[("team2", "text")] = team2
    m[("dot1", "style:background")] = shirt_color(game, 1) or ""
    m[("dot2", "style:background")] = shirt_color(game, 2) or ""

    outcomes = entry.outcomes if entry is not None else None
    prices: list[Any] = []
    for index in range(3):
        if outcomes is None:
            label, price, blocked, empty = DEFAULT_LABELS[index], None, blocked_game, False
        elif index < len(outcomes):
            outcome = outcomes[index]
            label = str(outcome.label) if outcome.label not in (None, "") else DEFAULT_LABELS[index]
            price, blocked, empty = outcome.price, is_blocked(outcome.blocked) or blocked_game, False
        else:
            label, price, blocked, empty = DEFAULT_LABELS[index], None, False, True
        text = format_price(price)
        locked = blocked and not empty
        m[(f"b{index}", "class:odd-empty")] = empty
        m[(f"b{index}", "class:odd-blocked")] = locked
        m[(f"b{index}", "attr:data-odd-label")] = label
        m[(f"b{index}", "attr:data-price")] = text
        m[(f"l{index}", "text")] = label
        m[(f"p{index}", "text")] = LOCK if locked else text
        m[(f"p{index}", "class:odd-locked")] = locked
        prices.append(None if empty else price)
    count = entry.markets_count if entry is not None and entry.markets_count is not None else None
    if count is None and isinstance(game.market, dict) and game.market:
        count = len(game.market)
    pill = markets_pill_text(count, outcomes is not None)
    m[("pill", "text")] = pill
    m[("pill", "hidden")] = pill == ""
    return m, prices


def _by_slot(m: RowModel) -> dict[str, list[tuple[str, Any]]]:
    slots: dict[str, list[tuple[str, Any]]] = {}
    for (slot, prop), value in m.items():
        slots.setdefault(slot, []).append((prop, value))
    return slots


def _classes(props: list[tuple[str, Any]], base: str) -> str:
    extra = [prop[6:] for prop, on in props if on and prop.startswith("class:")]
    return " ".join([base, *extra]) if extra else base


def _node(slots: dict[str, list[tuple[str, Any]]], tag: str, slot: str, base: str, inner: str = "",
          extra_attrs: str = "") -> str:
    props = slots.get(slot, [])
    attrs = [f'class="{escape(_classes(props, base))}" data-s="{slot}"']
    text = None
    for prop, value in props:
        if prop == "text":
            text = value
        elif prop.startswith("attr:"):
            attrs.append(f'{prop[5:]}="{escape(str(value))}"')
        elif prop.startswith("style:"):
            if value:
                attrs.append(f'style="{prop[6:]}:{escape(str(value))}"')
        elif prop == "hidden":
            if value:
                attrs.append("hidden")
    body = escape(text) if text is not None else inner
    return f"<{tag} {' '.join(attrs)}{extra_attrs}>{body}</{tag}>"


_META = (("badge", "live-badge"), ("clock", "game-clock"), ("phase", "game-phase"), ("date", "game-date"),
         ("time", "game-time"))


def row_html(key: str, m: RowModel) -> str:
    """The HTML of a new row showing model ``m`` (all text and attribute values escaped)."""
    k = escape(key)
    s = _by_slot(m)
    meta = "".join(_node(s, "span", slot, base) for slot, base in _META)
    teams = "".join(
        f'<div class="team team{n}">{_node(s, "span", f"dot{n}", "team-dot")}'
        f'{_node(s, "span", f"team{n}", "team-name")}</div>'
        for n in (1, 2)
    )
    score = _node(s, "span", "score", "score-main") + _node(s, "span", "periods", "game-periods")
    buttons = "".join(
        _node(s, "button", f"b{i}", "odd-btn",
              _node(s, "span", f"l{i}", "odd-label") + _node(s, "span", f"p{i}", "odd-price")
              + f'<span class="odd-arrow" data-s="a{i}"></span>',
              f' type="button" data-odd-index="{i}"')
        for i in range(3)
    )
    pill = _node(s, "span", "pill", "markets-pill")
    return (
        f'<div class="{escape(_classes(s.get("row", []), "game-row"))}" data-game-id="{k}">'
        f'<div class="game-meta">{meta}</div>'
        f'<div class="game-teams">{teams}</div>'
        f'<div class="game-score">{score}</div>'
        f'<div class="game-odds" data-server-game-id="{k}">{buttons}{pill}</div>'
        f"</div>"
    )


class RowView:
    """A rendered row: its root node, the model last written, and lazily found child nodes."""

    __slots__ = ("_nodes", "dom", "key", "model", "node", "trail", "writes")

    def __init__(self, dom: DomPort, key: str, node: Any, model: RowModel, prices: list[Any]) -> None:
        self.dom = dom
        self.key = key
        self.node = node
        self.model = dict(model)
        self.trail = PriceTrail(_labels(model), prices)
        self._nodes: dict[str, Any] = {"row": node}
        self.writes = 0

    def button(self, index: int) -> Any:
        """The node of odds button ``index`` (what a flash animates)."""
        return self._slot(f"b{index}")

    def arrow(self, index: int) -> Any:
        """The arrow node inside odds button ``index``."""
        return self._slot(f"a{index}")

    def _slot(self, slot: str) -> Any:
        node = self._nodes.get(slot)
        if node is None:
            node = self.dom.find(self.node, f'[data-s="{slot}"]')
            if node is None:
                raise LookupError(f"row {self.key} has no [data-s={slot}]")
            self._nodes[slot] = node
        return node

    def _write(self, slot: str, prop: str, value: Any) -> None:
        node = self._slot(slot)
        dom = self.dom
        if prop == "text":
            dom.set_text(node, value)
        elif prop == "hidden":
            dom.set_hidden(node, bool(value))
        elif prop.startswith("class:"):
            dom.toggle_class(node, prop[6:], bool(value))
        elif prop.startswith("attr:"):
            dom.set_attr(node, prop[5:], str(value))
        elif prop.startswith("style:"):
            dom.set_style(node, prop[6:], str(value))
        else:  # pragma: no cover - a model key nobody can write is a programming error
            raise ValueError(f"unknown row property {prop!r}")
        self.writes += 1

    def apply(self, model: RowModel, prices: list[Any]) -> list[tuple[int, str]]:
        """Write what differs from the last model; return (button, direction) for prices that moved."""
        current = self.model
        for prop_key, value in model.items():
            if current.get(prop_key) != value:
                self._write(prop_key[0], prop_key[1], value)
                current[prop_key] = value
        empty = [bool(model.get((f"b{i}", "class:odd-empty"))) for i in range(len(prices))]
        return self.trail.moves(_labels(model), prices, empty)


def _labels(model: RowModel) -> list[Any]:
    return [model.get((f"b{i}", "attr:data-odd-label")) for i in range(3)]
