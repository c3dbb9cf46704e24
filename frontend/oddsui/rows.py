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
from .markup import escape
from .messages import Game
from .odds import format_price, is_blocked, markets_pill_text
from .ports import DomPort
from .store import GameOdds

__all__ = ["DEFAULT_LABELS", "LOCK", "RowModel", "RowView", "odds_label", "row_html", "row_model"]

DEFAULT_LABELS = ("1", "X", "2")
LOCK = "\U0001f512"

Prop = tuple[str, str]
RowModel = dict[Prop, Any]


LABEL_WORDS = {"1": "Home", "X": "Draw", "2": "Away", "W1": "Home", "W2": "Away", "P1": "Home", "P2": "Away"}
DIRECTION_WORDS = {"up": "rising", "down": "falling"}


def odds_label(label: str, price_text: str, locked: bool, direction: str | None) -> str:
    """An odds button's accessible name (for screen readers): "Home 1 1.850, rising" or "Draw X suspended":
    the meaning, then what the button shows (WCAG 2.5.3: the visible text is part of the name),
    then where the price went. It is the button's one visually hidden text; the visible label and
    price are ``aria-hidden``, so the name is said once."""
    word = LABEL_WORDS.get(label, "")
    shown = label if locked else f"{label} {price_text}"
    name = f"{word} {shown}" if word and word != label else shown
    if locked:
        return f"{name} suspended"
    if price_text == "-":
        return f"{name}, no price"
    trend = DIRECTION_WORDS.get(direction or "")
    return f"{name}, {trend}" if trend else name


def row_model(game: Game, entry: GameOdds | None, sport_name: str | None,
              utc_offset: Callable[[float], int], selected: bool = False,
              directions: list[str | None] | None = None,
              position: tuple[int, int] | None = None) -> tuple[RowModel, list[Any]]:
    """The row's look, plus the price per button (None when not a shown price) for flash decisions.

    ``directions`` is where each button's price went last (for its accessible name); ``position``
    is (index, count) within the competition, for ``aria-posinset``/``aria-setsize`` (a windowed
    list only has some of its rows in the DOM).
    """
    m: RowModel = {}
    live = is_live_row(game)
    blocked_game = is_blocked(game.is_blocked)
    m[("row", "class:game-live")] = live
    m[("row", "class:game-blocked")] = blocked_game
    m[("row", "class:selected")] = selected
    m[("row", "attr:aria-current")] = "true" if selected else "false"
    if position is not None:
        m[("row", "attr:aria-posinset")] = str(position[0] + 1)
        m[("row", "attr:aria-setsize")] = str(position[1])
    m[("badge", "hidden")] = not live
    m[("badge", "class:suspended")] = live and blocked_game
    m[("badge-t", "text")] = "LIVE"
    m[("lock", "hidden")] = not (live and blocked_game)
    if live:
        clock = clock_text(game, sport_name)
        phase = phase_text(game, sport_name)
        score = score_text(game)
        m[("clock", "text")] = clock
        m[("phase", "text")] = phase
        m[("score", "text")] = score
        m[("periods", "text")] = periods_text(game)
        m[("date", "text")] = ""
        m[("time", "text")] = ""
        when = ", ".join(x for x in ("Live", clock, phase, f"score {score}" if score else "") if x)
    else:
        ts = game.start_ts
        day, hour = start_text(ts, utc_offset(float(ts)) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0)
        m[("clock", "text")] = ""
        m[("phase", "text")] = ""
        m[("score", "text")] = ""
        m[("periods", "text")] = ""
        m[("date", "text")] = day
        m[("time", "text")] = hour
        when = f"Starts {day} {hour}".strip() if day else ""
    team1, team2 = team_names(game)
    m[("team1", "text")] = team1
    m[("team2", "text")] = team2
    # Said after the (visible) team names: what the row shows around them, and what the button does.
    m[("open-sr", "text")] = (f". {when}" if when else "") + ". Details"
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
        direction = directions[index] if directions is not None and index < len(directions) else None
        m[(f"b{index}", "class:odd-empty")] = empty
        m[(f"b{index}", "class:odd-blocked")] = locked
        m[(f"b{index}", "attr:data-odd-label")] = label
        m[(f"b{index}", "attr:data-price")] = text
        m[(f"n{index}", "text")] = odds_label(label, text, locked, direction)
        m[(f"l{index}", "text")] = label
        m[(f"p{index}", "text")] = "" if locked else text  # the lock is drawn by CSS (.odd-locked)
        m[(f"p{index}", "class:odd-locked")] = locked
        prices.append(None if empty else price)
    count = entry.markets_count if entry is not None and entry.markets_count is not None else None
    if count is None and isinstance(game.markets_count, (int, float)) and not isinstance(game.markets_count, bool):
        count = game.markets_count  # no odds for it yet: the list's own count
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


_META = (("clock", "game-clock"), ("phase", "game-phase"), ("date", "game-date"), ("time", "game-time"))


def row_html(key: str, m: RowModel) -> str:
    """The HTML of a new row showing model ``m`` (all text and attribute values escaped).

    A row is a list item (its competition's body is the list); the teams are the button that opens
    the details panel; the three odds are buttons whose names ``odds_label`` says (visually hidden
    words around the visible label and price); locks are drawn by CSS (an inline SVG), not a font glyph.
    """
    k = escape(key)
    s = _by_slot(m)
    badge = _node(s, "span", "badge", "live-badge",
                  _node(s, "span", "badge-t", "live-text")
                  + _node(s, "span", "lock", "lock-icon", "", ' role="img" aria-label="suspended"'))
    meta = badge + "".join(_node(s, "span", slot, base) for slot, base in _META)
    hidden = ' aria-hidden="true"'
    teams = "".join(
        f'<span class="team team{n}">{_node(s, "span", f"dot{n}", "team-dot", "", hidden)}'
        f'{_node(s, "span", f"team{n}", "team-name")}</span>'
        for n in (1, 2)
    )
    score = _node(s, "span", "score", "score-main") + _node(s, "span", "periods", "game-periods")
    buttons = "".join(
        _node(s, "button", f"b{i}", "odd-btn",
              _node(s, "span", f"n{i}", "sr-only")
              + _node(s, "span", f"l{i}", "odd-label", "", hidden)
              + _node(s, "span", f"p{i}", "odd-price", "", hidden)
              + f'<span class="odd-arrow" data-s="a{i}" aria-hidden="true"></span>',
              f' type="button" data-odd-index="{i}"')
        for i in range(3)
    )
    pill = _node(s, "span", "pill", "markets-pill")
    open_button = _node(s, "button", "open", "game-open",
                        f'<span class="game-teams">{teams}</span>' + _node(s, "span", "open-sr", "sr-only"),
                        f' type="button" data-open-game="{k}"')
    return (
        f'<div {_root_attrs(s.get("row", []), "game-row")} data-game-id="{k}" role="listitem">'
        f'<div class="game-meta">{meta}</div>'
        f'{open_button}'
        f'<div class="game-score">{score}</div>'
        f'<div class="game-odds" data-server-game-id="{k}" role="group" aria-label="Match odds">{buttons}{pill}</div>'
        f"</div>"
    )


def _root_attrs(props: list[tuple[str, Any]], base: str) -> str:
    attrs = [f'class="{escape(_classes(props, base))}"']
    for prop, value in props:
        if prop.startswith("attr:"):
            attrs.append(f'{prop[5:]}="{escape(str(value))}"')
    return " ".join(attrs)


class RowView:
    """A rendered row: its root node, the model last written, and lazily found child nodes."""

    __slots__ = ("_nodes", "directions", "dom", "key", "model", "node", "trail", "writes")

    def __init__(self, dom: DomPort, key: str, node: Any, model: RowModel, prices: list[Any]) -> None:
        self.dom = dom
        self.key = key
        self.node = node
        self.model = dict(model)
        self.trail = PriceTrail(_labels(model), prices)
        self.directions: list[str | None] = [None, None, None]  # where each button's price went last
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

    def moves(self, model: RowModel, prices: list[Any]) -> list[tuple[int, str]]:
        """Record the new prices; return (button, direction) for those that moved (a relabelled
        button forgets its direction, like its price)."""
        labels = _labels(model)
        for index, label in enumerate(labels):
            if label != self.trail.labels[index]:
                self.directions[index] = None
        empty = [bool(model.get((f"b{i}", "class:odd-empty"))) for i in range(len(prices))]
        moved = self.trail.moves(labels, prices, empty)
        for index, direction in moved:
            self.directions[index] = direction
        return moved

    def write(self, model: RowModel) -> None:
        """Write what differs from the last model written."""
        current = self.model
        for prop_key, value in model.items():
            if current.get(prop_key) != value:
                self._write(prop_key[0], prop_key[1], value)
                current[prop_key] = value

    def apply(self, model: RowModel, prices: list[Any]) -> list[tuple[int, str]]:
        """Write what differs from the last model; return (button, direction) for prices that moved."""
        self.write(model)
        return self.moves(model, prices)


def _labels(model: RowModel) -> list[Any]:
    return [model.get((f"b{i}", "attr:data-odd-label")) for i in range(3)]
