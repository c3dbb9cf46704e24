"""The details panel's views: header, live statistics, period scores, events, prematch statistics
and every market (docs/api.md B4, C3). Pure: markup is a function of the model, DOM writes
go through the ``DomPort``, flashes through a ``flash.Flasher``; no ``js``.

* ``header_html``, ``live_html``, ``prematch_html`` are whole sections: :class:`SectionView` swaps a
  section's content only when its markup changed (nothing in them is focusable or animated).
* :class:`MarketsView` keeps one node per market group (an accordion: a heading with a button whose
  ``aria-expanded`` says whether it is open) and one per market item (``markets.MarketItem``: a
  market's outcome buttons, or a line table). Items keep their nodes while their shape stays the
  same, and only prices, locks and labels are written, so open accordions, the scroll position and
  running flashes survive every ``game`` event. A price that moves flashes its button like a row's
  (``flash.Flasher``, keyed ``(item key, event id)``); a rebuilt or removed item takes its flashes
  along. Each button's accessible name says what it is and where the price went ("Over 2.5 2.000,
  rising", "Draw suspended"), so it is current whenever it is focused; nothing here is live.
* :class:`TabsView` is the tab list (``role=tablist``, roving ``tabindex``; arrow keys are the
  panel's).

Attributes the tests rely on: ``.mgroup[data-group][data-tab]`` > ``.mgroup-head[data-acc]
[aria-expanded]``; ``.market[data-item]`` > ``.odd-btn[data-event][data-price]`` (classes
``odd-up``/``odd-down``/``odd-blocked``); ``table.lines``; ``.details-tab[data-tab][aria-selected]``;
``.stat[data-stat]``, ``table.periods``, ``.timeline-item``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .display import clock_text, is_live_row, phase_text, score_text, shirt_color, start_text, team_names
from .flash import Flasher, flash_direction
from .markets import TAB_ALL, Cell, MarketGroup, MarketItem, Tab
from .markup import Markup, join, tag
from .messages import FullGame, Game, GameStats
from .odds import format_price, is_blocked
from .ports import DomPort
from .slots import Model, SlotView, reconcile, slot_attrs, slot_tag

__all__ = [
    "LOCK",
    "MarketsView",
    "SectionView",
    "TabsView",
    "cell_label",
    "header_html",
    "live_html",
    "period_label",
    "periods_model",
    "prematch_html",
    "stats_model",
    "timeline_model",
]

LOCK = "\U0001f512"
UP_WORD = {"up": "rising", "down": "falling"}
MAX_TIMELINE = 30

_SCORE_SET = re.compile(r"^score_set(\d+)$")
_HALVES = {"football", "soccer", "rugby", "rugby union", "rugby league", "handball", "futsal"}
_SETS = {"tennis", "volleyball", "table tennis", "badminton", "beach volleyball", "squash", "padel"}
_QUARTERS = {"basketball", "american football", "water polo"}
_MAPS_WORDS = ("esport", "cs2", "dota", "valorant", "league of legends")
STAT_NAMES = {
    "corner": "Corners", "corners": "Corners", "yellow_card": "Yellow cards", "yellow_cards": "Yellow cards",
    "red_card": "Red cards", "red_cards": "Red cards", "shot": "Shots", "shots": "Shots",
    "shot_on_target": "Shots on target", "shots_on_target": "Shots on target", "foul": "Fouls",
    "dangerous_attack": "Dangerous attacks", "free_kick": "Free kicks", "substitution": "Substitutions",
    "timeout": "Time-outs", "ace": "Aces", "double_fault": "Double faults",
}
EVENT_NAMES = {
    "goal": "Goal", "score": "Score", "set_won": "Set won", "corner": "Corner", "yellow_card": "Yellow card",
    "red_card": "Red card", "shot": "Shot", "shot_on_target": "Shot on target", "free_kick": "Free kick",
    "substitution": "Substitution", "dangerous_attack": "Dangerous attack", "foul": "Foul",
    "timeout": "Time-out", "penalty": "Penalty",
}


# ------------------------------------------------------------------------------------------------
# pure models and markup


def _sport(game: Game | FullGame, sport_name: str | None) -> str:
    name = game.sport if isinstance(game.sport, str) else sport_name
    return (name or "").strip().lower()


def period_label(sport: str, number: int) -> str:
    """How period ``number`` (1-based) of ``sport`` is headed: 1H, S2, Q3, M1 or P2."""
    if sport in _HALVES:
        return f"{number}H" if number <= 2 else f"ET{number - 2}"
    if sport in _SETS:
        return f"S{number}"
    if sport in _QUARTERS:
        return f"Q{number}"
    if any(word in sport for word in _MAPS_WORDS):
        return f"M{number}"
    return f"P{number}"


def _value(entry: Any, side: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(f"{side}_value")
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _show(value: Any) -> str:
    number = _num(value)
    if number is not None and number.is_integer():
        return str(int(number))
    return "-" if value is None else str(value)


def stats_model(stats: Any) -> list[tuple[str, str, str, str, float]]:
    """(key, name, home text, away text, home share 0..100) per statistic, scores left out."""
    if not isinstance(stats, dict):
        return []
    out = []
    for key, entry in stats.items():
        if not isinstance(key, str) or _SCORE_SET.match(key) or key in ("score", "point"):
            continue
        home, away = _value(entry, "team1"), _value(entry, "team2")
        if home is None and away is None:
            continue
        a, b = _num(home) or 0.0, _num(away) or 0.0
        share = 50.0 if a + b <= 0 else round(100.0 * a / (a + b), 1)
        out.append((key, STAT_NAMES.get(key, key.replace("_", " ").capitalize()), _show(home), _show(away), share))
    return out


def periods_model(game: Game | FullGame, sport: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(period headers, [(home, away)] per period) from ``stats.score_setN``."""
    stats = game.stats if isinstance(game.stats, dict) else {}
    numbered = []
    for key, entry in stats.items():
        match = _SCORE_SET.match(key) if isinstance(key, str) else None
        if match:
            numbered.append((int(match.group(1)), entry))
    numbered.sort(key=lambda pair: pair[0])
    return ([period_label(sport, n) for n, _ in numbered],
            [(_show(_value(e, "team1")), _show(_value(e, "team2"))) for _, e in numbered])


def timeline_model(events: Any, team1: str, team2: str) -> list[tuple[str, str, str, str]]:
    """(time, kind, text, side) per event of ``live_events``, newest first, at most MAX_TIMELINE."""
    if not isinstance(events, list):
        return []
    out = []
    for event in reversed(events[-MAX_TIMELINE:]):
        if not isinstance(event, dict):
            continue
        kind = str(event.get("event_type") or event.get("type") or "event")
        team = event.get("team")
        side = "home" if team in ("team1", 1, "1", "home") else "away" if team in ("team2", 2, "2", "away") else ""
        who = team1 if side == "home" else team2 if side == "away" else ""
        minute = _show(event.get("time")) if event.get("time") not in (None, "") else ""
        name = EVENT_NAMES.get(kind, kind.replace("_", " ").capitalize())
        out.append((f"{minute}'" if minute and minute != "-" else "", kind, f"{name}: {who}" if who else name,
                    side))
    return out


def _name_of(field: str, *sources: object) -> str | None:
    """The first source whose ``field`` is a non-empty string (a name, not the feed's object)."""
    for source in sources:
        value = getattr(source, field, None) if source is not None else None
        if isinstance(value, str) and value:
            return value
    return None


def _dot(color: str | None) -> Markup:
    return tag("span", {"class": "team-dot", "style": f"background:{color}" if color else None, "aria-hidden": "true"})


def header_html(game: Game | FullGame, sport_name: str | None, utc_offset: Callable[[float], int],
                listed: Game | None = None) -> Markup:
    """The top of the panel: where, who, the score and clock (live) or the start (prematch).

    The game stream's full game carries no competition or region names (the feed's game has ids
    only); ``listed``, the game as the list has it, supplies them."""
    team1, team2 = team_names(game)  # type: ignore[arg-type]
    live = is_live_row(game)  # type: ignore[arg-type]
    where = " \u00b7 ".join(v for v in (_name_of("competition", game, listed), _name_of("region", game, listed)) if v)
    if live:
        blocked = is_blocked(game.is_blocked)
        badge = tag("span", {"class": "live-badge" + (" suspended" if blocked else "")},
                    tag("span", None, "LIVE"),
                    tag("span", {"class": "lock-icon", "role": "img", "aria-label": "suspended"}) if blocked else None)
        clock = clock_text(game, sport_name)  # type: ignore[arg-type]
        phase = phase_text(game, sport_name)  # type: ignore[arg-type]
        status = join([badge, tag("span", {"class": "dh-clock"}, clock) if clock else None,
                       tag("span", {"class": "dh-phase"}, phase) if phase else None])
        middle = tag("span", {"class": "dh-score"}, tag("span", {"class": "sr-only"}, "score "),
                     tag("span", None, score_text(game) or "-"))  # type: ignore[arg-type]
    else:
        ts = game.start_ts
        offset = utc_offset(float(ts)) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0
        day, hour = start_text(ts, offset)
        status = tag("span", {"class": "dh-start"}, f"{day} {hour}".strip() or "Prematch")
        middle = tag("span", {"class": "dh-vs"}, "v")
    return tag("div", {"class": "dh"},
               tag("div", {"class": "dh-where"}, where or " "),
               tag("div", {"class": "dh-teams"},
                   tag("span", {"class": "dh-team dh-home"}, _dot(shirt_color(game, 1)),  # type: ignore[arg-type]
                       tag("span", {"class": "dh-name"}, team1)),
                   middle,
                   tag("span", {"class": "dh-team dh-away"}, tag("span", {"class": "dh-name"}, team2),
                       _dot(shirt_color(game, 2)))),  # type: ignore[arg-type]
               tag("div", {"class": "dh-status"}, status))


def live_html(game: Game | FullGame, sport_name: str | None) -> Markup:
    """Statistics bars, the per-period score table and the events timeline of a live game."""
    team1, team2 = team_names(game)  # type: ignore[arg-type]
    sport = _sport(game, sport_name)
    parts: list[Any] = []
    stats = stats_model(game.stats)
    if stats:
        bars = [
            tag("div", {"class": "stat", "data-stat": key},
                tag("div", {"class": "stat-row"},
                    tag("span", {"class": "stat-v"}, home), tag("span", {"class": "stat-name"}, name),
                    tag("span", {"class": "stat-v"}, away)),
                tag("div", {"class": "stat-bar", "role": "img",
                            "aria-label": f"{name}: {team1} {home}, {team2} {away}"},
                    tag("span", {"class": "stat-home", "style": f"width:{share:g}%"}),
                    tag("span", {"class": "stat-away", "style": f"width:{100 - share:g}%"})))
            for key, name, home, away, share in stats
        ]
        parts.append(tag("section", {"class": "dsec", "aria-labelledby": "dsec-stats"},
                         tag("h3", {"class": "dsec-title", "id": "dsec-stats"}, "Statistics"), *bars))
    headers, rows = periods_model(game, sport)
    if headers:
        total = score_text(game)  # type: ignore[arg-type]
        totals = total.split(":", 1) if ":" in total else ["", ""]
        head = tag("tr", None, tag("th", {"scope": "col"}, tag("span", {"class": "sr-only"}, "Team")),
                   *(tag("th", {"scope": "col"}, h) for h in headers), tag("th", {"scope": "col"}, "Total"))
        body = [
            tag("tr", None, tag("th", {"scope": "row"}, name),
                *(tag("td", None, pair[i]) for pair in rows), tag("td", {"class": "total"}, totals[i].strip() or "-"))
            for i, name in enumerate((team1, team2))
        ]
        parts.append(tag("section", {"class": "dsec", "aria-labelledby": "dsec-periods"},
                         tag("h3", {"class": "dsec-title", "id": "dsec-periods"}, "Score by period"),
                         tag("div", {"class": "table-wrap"},
                             tag("table", {"class": "periods"}, tag("thead", None, head), tag("tbody", None, *body)))))
    events = timeline_model(game.live_events if isinstance(game, FullGame) else None, team1, team2)
    if events:
        items = [tag("li", {"class": f"timeline-item side-{side or 'none'}", "data-kind": kind},
                     tag("span", {"class": "tl-time"}, minute or "\u2013"),
                     tag("span", {"class": f"tl-icon ev-{re.sub('[^a-z_]', '', kind)}", "aria-hidden": "true"}),
                     tag("span", {"class": "tl-text"}, text))
                 for minute, kind, text, side in events]
        parts.append(tag("section", {"class": "dsec", "aria-labelledby": "dsec-events"},
                         tag("h3", {"class": "dsec-title", "id": "dsec-events"}, "Events"),
                         tag("ol", {"class": "timeline"}, *items)))
    return join(parts)


def prematch_html(stats: GameStats | None, team1: str, team2: str, loading: bool) -> Markup:
    """``/api/game-stats`` of a prematch game: a small table, or why there is none."""
    title = tag("h3", {"class": "dsec-title", "id": "dsec-prestats"}, "Team statistics")
    if loading:
        body: Any = tag("p", {"class": "muted"}, "Loading statistics\u2026")
    elif stats is None or stats.error or not isinstance(stats.stats, dict) or not stats.stats:
        body = tag("p", {"class": "muted"}, "No stats available")
    else:
        rows = []
        for name, side in ((team1, "home"), (team2, "away")):
            entry = stats.stats.get(side)
            form = entry.form if entry is not None and isinstance(entry.form, list) else []
            rows.append(tag("tr", None, tag("th", {"scope": "row"}, name),
                            tag("td", None, _show(entry.position) if entry else "-"),
                            tag("td", None, _show(entry.points) if entry else "-"),
                            tag("td", {"class": "form"}, " ".join(str(f) for f in form) or "-")))
        body = tag("div", {"class": "table-wrap"}, tag("table", {"class": "prestats"},
                   tag("thead", None, tag("tr", None, tag("th", {"scope": "col"}, "Team"),
                                          tag("th", {"scope": "col"}, "Position"),
                                          tag("th", {"scope": "col"}, "Points"),
                                          tag("th", {"scope": "col"}, "Form"))),
                   tag("tbody", None, *rows)))
    return tag("section", {"class": "dsec", "aria-labelledby": "dsec-prestats"}, title, body)


class SectionView:
    """A container whose whole content is replaced when (and only when) its markup changes."""

    def __init__(self, dom: DomPort, node: Any) -> None:
        self.dom = dom
        self.node = node
        self.html: str | None = None
        self.replaced = 0

    def render(self, html: str) -> bool:
        if html == self.html:
            return False
        self.html = html
        self.dom.set_text(self.node, "")
        if html:
            for child in self.dom.fragment(html):
                self.dom.append(self.node, child)
        self.replaced += 1
        return True

    def clear(self) -> None:
        self.render("")


# ------------------------------------------------------------------------------------------------
# tabs


class TabsView:
    """The market tabs: rebuilt when the tab list changes, the selection written in place."""

    def __init__(self, dom: DomPort, node: Any) -> None:
        self.dom = dom
        self.node = node
        self._shape: tuple[Any, ...] | None = None
        self._buttons: dict[str, Any] = {}
        self._active: str | None = None

    def render(self, tabs: Sequence[Tab], active: str) -> None:
        shape = tuple((t.key, t.label, t.count) for t in tabs)
        if shape != self._shape:
            focused = self.dom.active_element()
            refocus = next((k for k, b in self._buttons.items() if b is focused), None)
            html = join(
                tag("button", {"type": "button", "class": "details-tab", "role": "tab", "id": f"dtab-{t.key}",
                               "data-tab": t.key, "aria-selected": "false", "tabindex": "-1",
                               "aria-controls": "details-markets"},
                    tag("span", None, t.label), tag("span", {"class": "tab-count"}, f" ({t.count})"))
                for t in tabs)
            self.dom.set_text(self.node, "")
            nodes = self.dom.fragment(html) if tabs else []
            self._buttons = {}
            for t, button in zip(tabs, nodes):
                self.dom.append(self.node, button)
                self._buttons[t.key] = button
            self._shape = shape
            self._active = None
            if refocus is not None and refocus in self._buttons:
                self.dom.focus(self._buttons[refocus])
        if active != self._active:
            for key, button in self._buttons.items():
                self.dom.set_attr(button, "aria-selected", "true" if key == active else "false")
                self.dom.set_attr(button, "tabindex", "0" if key == active else "-1")
                self.dom.toggle_class(button, "active", key == active)
            self._active = active

    def keys(self) -> list[str]:
        return list(self._buttons)

    def button(self, key: str) -> Any:
        return self._buttons.get(key)

    def clear(self) -> None:
        self.dom.set_text(self.node, "")
        self._buttons = {}
        self._shape = None
        self._active = None


# ------------------------------------------------------------------------------------------------
# markets


def cell_label(cell: Cell, context: str, direction: str | None) -> str:
    """A button's accessible name: "<what> <price>[, rising|falling]" or "<what> suspended"."""
    what = f"{cell.label} {context}".strip() if context else cell.label
    if cell.locked:
        return f"{what} suspended"
    price = format_price(cell.price)
    if price == "-":
        return f"{what}, no price"
    word = UP_WORD.get(direction or "")
    return f"{what} {price}, {word}" if word else f"{what} {price}"


def _cell_model(m: Model, cell: Cell, context: str, direction: str | None) -> None:
    price = format_price(cell.price)
    m[(f"b{cell.key}", "class:odd-blocked")] = cell.locked
    m[(f"b{cell.key}", "attr:data-price")] = price
    m[(f"b{cell.key}", "attr:aria-label")] = cell_label(cell, context, direction)
    m[(f"p{cell.key}", "text")] = "" if cell.locked else price  # the lock is drawn by CSS (.odd-locked)
    m[(f"p{cell.key}", "class:odd-locked")] = cell.locked


def item_model(item: MarketItem, directions: Mapping[str, str]) -> Model:
    m: Model = {("root", "class:market-locked"): item.locked}
    if item.kind == "table":
        for row in item.rows:
            for cell in row.cells:
                _cell_model(m, cell, row.line, directions.get(cell.key))
    else:
        for cell in item.cells:
            _cell_model(m, cell, "", directions.get(cell.key))
    return m


def _button(m: Model, cell: Cell, show_label: bool) -> Markup:
    # The label's trailing space hangs at the end of its line (nothing shows), but it keeps the visible
    # text "W1 2.680" (not "W12.680"), so the accessible name starts with what is seen (WCAG 2.5.3).
    inner = [tag("span", {"class": "odd-label"}, f"{cell.label} ") if show_label else None,
             slot_tag(m, "span", f"p{cell.key}", "odd-price"),
             tag("span", {"class": "odd-arrow", "data-s": f"a{cell.key}", "aria-hidden": "true"})]
    return slot_tag(m, "button", f"b{cell.key}", "odd-btn mcell", *inner,
                    extra={"type": "button", "data-event": cell.key})


def item_html(item: MarketItem, m: Model) -> Markup:
    attrs, _text = slot_attrs(m, "root", "market" + (" market-table" if item.kind == "table" else ""),
                              {"data-item": item.key})
    if item.kind == "table":
        head = tag("tr", None, tag("th", {"scope": "col"}, "Line"),
                   *(tag("th", {"scope": "col"}, c) for c in item.columns))
        rows = [tag("tr", None, tag("th", {"scope": "row", "class": "line"}, row.line),
                    *(tag("td", None, _button(m, cell, False)) for cell in row.cells)) for row in item.rows]
        body = tag("table", {"class": "lines"}, tag("caption", {"class": "market-title"}, item.title),
                   tag("thead", None, head), tag("tbody", None, *rows))
        return tag("div", attrs, body)
    cells = tag("div", {"class": "market-cells", "role": "group", "aria-label": item.title,
                        "style": f"--cols:{item.cols}"},
                *(_button(m, cell, True) for cell in item.cells))
    return tag("div", attrs, tag("div", {"class": "market-title"}, tag("span", None, item.title)), cells)


def _dom_id(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", key)


def group_model(group: MarketGroup, expanded: bool, shown: bool) -> Model:
    return {
        ("root", "hidden"): not shown,
        ("head", "attr:aria-expanded"): "true" if expanded else "false",
        ("root", "class:collapsed"): not expanded,
        ("gname", "text"): group.name,
        ("gcount", "text"): str(group.market_count),
        ("body", "hidden"): not expanded,
    }


def group_html(group: MarketGroup, m: Model) -> Markup:
    body_id = f"mg-{_dom_id(group.key)}"
    attrs, _ = slot_attrs(m, "root", "mgroup", {"data-group": group.key, "data-tab": group.tab})
    head = slot_tag(m, "button", "head", "mgroup-head",
                    tag("span", {"class": "chevron", "aria-hidden": "true"}),
                    slot_tag(m, "span", "gname", "mgroup-name"),
                    slot_tag(m, "span", "gcount", "group-count"),
                    tag("span", {"class": "sr-only"}, " markets"),
                    extra={"type": "button", "data-acc": group.key, "aria-controls": body_id})
    body = slot_tag(m, "div", "body", "mgroup-body", extra={"id": body_id})
    return tag("div", attrs, tag("h3", {"class": "mgroup-title"}, head), body)


class _ItemView:
    __slots__ = ("item", "shape", "slots")

    def __init__(self, item: MarketItem, slots: SlotView) -> None:
        self.item = item
        self.shape = item.shape
        self.slots = slots


class _GroupView:
    __slots__ = ("body", "items", "order", "slots")

    def __init__(self, slots: SlotView, body: Any) -> None:
        self.slots = slots
        self.body = body
        self.items: dict[str, _ItemView] = {}
        self.order: list[str] = []


class MarketsView:
    """Every market group as an accordion; items patched in place (see the module docstring)."""

    def __init__(self, dom: DomPort, container: Any, flasher: Flasher) -> None:
        self.dom = dom
        self.container = container
        self.flasher = flasher
        self.groups: dict[str, _GroupView] = {}
        self._order: list[str] = []
        self.collapsed: set[str] = set()
        self._prices: dict[str, Any] = {}  # event key -> the price last shown (None: locked or none)
        self._directions: dict[str, str] = {}  # event key -> where its price went last
        self.items_built = 0

    def __len__(self) -> int:
        return sum(len(g.items) for g in self.groups.values())

    def toggle(self, group_key: str) -> bool | None:
        """Open or close a group; returns whether it is open now (None if there is no such group)."""
        group = self.groups.get(group_key)
        if group is None:
            return None
        if group_key in self.collapsed:
            self.collapsed.discard(group_key)
        else:
            self.collapsed.add(group_key)
        expanded = group_key not in self.collapsed
        m = dict(group.slots.model)
        m[("head", "attr:aria-expanded")] = "true" if expanded else "false"
        m[("root", "class:collapsed")] = not expanded
        m[("body", "hidden")] = not expanded
        group.slots.apply(m)
        return expanded

    def render(self, groups: Sequence[MarketGroup], tab: str) -> None:
        new_order = [g.key for g in groups]
        for group in groups:
            shown = tab == TAB_ALL or group.tab == tab
            expanded = group.key not in self.collapsed
            gm = group_model(group, expanded, shown)
            view = self.groups.get(group.key)
            if view is None:
                node = self.dom.fragment(group_html(group, gm))[0]
                slots = SlotView(self.dom, node, gm)
                view = self.groups[group.key] = _GroupView(slots, slots.slot("body"))
            else:
                view.slots.apply(gm)
            self._render_items(view, group)
        reconcile(self.dom, self.container, self._order, new_order, lambda k: self.groups[k].slots.node, True)
        for key in [k for k in self.groups if k not in set(new_order)]:
            for item_key in self.groups.pop(key).items:
                self.flasher.forget(item_key)
        self._order = new_order

    def _render_items(self, view: _GroupView, group: MarketGroup) -> None:
        fresh: list[tuple[MarketItem, Model]] = []
        for item in group.items:
            existing = view.items.get(item.key)
            moves = self._moves(item)
            model = item_model(item, self._directions)
            if existing is not None and existing.shape == item.shape:
                existing.item = item
                existing.slots.apply(model)
                for cell_key, direction in moves:
                    self.flasher.flash((item.key, cell_key), existing.slots.slot(f"b{cell_key}"),
                                       existing.slots.slot(f"a{cell_key}"), direction)
                continue
            if existing is not None:  # another shape: rebuilt, its flashes end with its nodes
                self.dom.remove(existing.slots.node)
                self.flasher.forget(item.key)
                del view.items[item.key]
            fresh.append((item, model))
        if fresh:
            nodes = self.dom.fragment(join(item_html(item, model) for item, model in fresh))
            for (item, model), node in zip(fresh, nodes):
                view.items[item.key] = _ItemView(item, SlotView(self.dom, node, model))
                self.items_built += 1
        new_order = [item.key for item in group.items]
        reconcile(self.dom, view.body, view.order, new_order, lambda k: view.items[k].slots.node, True)
        wanted = set(new_order)
        for key in [k for k in view.items if k not in wanted]:
            del view.items[key]
            self.flasher.forget(key)
        view.order = new_order

    def _moves(self, item: MarketItem) -> list[tuple[str, str]]:
        moved = []
        for cell in item.all_cells():
            shown = None if cell.locked else cell.price
            old = self._prices.get(cell.key)
            direction = flash_direction(old, shown) if old is not None and shown is not None else None
            if direction is not None:
                moved.append((cell.key, direction))
                self._directions[cell.key] = direction
            if shown is not None or cell.key not in self._prices:
                self._prices[cell.key] = shown
        return moved

    def button(self, item_key: str, event_key: str) -> Any:
        for view in self.groups.values():
            item = view.items.get(item_key)
            if item is not None:
                return item.slots.slot(f"b{event_key}")
        return None

    def clear(self) -> None:
        for key in self._order:
            self.dom.remove(self.groups[key].slots.node)
        self.flasher.clear()
        self.groups = {}
        self._order = []
        self._prices = {}
        self._directions = {}
