"""Pure text for a game row (docs/api.md C1): teams, colours, score, phase, clock, date."""

from __future__ import annotations

import datetime as _dt  # imported with the package: a first import inside a frame costs tens of ms
import re
from typing import Any

from .messages import Game

__all__ = [
    "clock_text",
    "is_live_row",
    "periods_text",
    "phase_text",
    "score_text",
    "shirt_color",
    "start_text",
    "team_names",
]

SCORE_KEYS = ("score", "ss", "score_str", "scoreString", "current_score")
PHASE_KEYS = ("current_game_state", "period", "period_name", "stage", "phase")
CLOCK_KEYS = ("current_game_time", "time", "timer", "match_time", "minute", "min")
ADD_KEYS = ("add_minutes", "added_minutes", "addMinutes", "addedMinutes")

_SCORE_RE = re.compile(r"(\d+)\s*[:\-]\s*(\d+)")
_PERIODS_RE = re.compile(r"\((\d+\s*:\s*\d+(?:\s*,\s*\d+\s*:\s*\d+)*)\)")
_SET_RE = re.compile(r"^set\s*(\d+)$", re.IGNORECASE)
_HEX_RE = re.compile(r"^[0-9a-fA-F]{6}$")

_HALVES = {"football", "soccer", "rugby", "rugby union", "rugby league", "handball", "futsal"}
_SETS = {"tennis", "volleyball", "table tennis", "badminton", "beach volleyball", "squash", "padel"}
_MAPS = {"esports", "e-sports", "counter-strike", "cs2", "dota 2", "league of legends", "valorant"}
_FOOTBALLISH = {"football", "soccer"}


def _info(game: Game) -> dict:
    return game.info if isinstance(game.info, dict) else {}


def _first(mapping: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_live_row(game: Game) -> bool:
    """Live rows need ``type === 1`` as a number (docs/api.md C1)."""
    return isinstance(game.type, int) and not isinstance(game.type, bool) and game.type == 1


def team_names(game: Game) -> tuple[str, str]:
    team1 = game.team1_name if isinstance(game.team1_name, str) and game.team1_name else None
    team2 = game.team2_name if isinstance(game.team2_name, str) and game.team2_name else None
    if team1 is None and isinstance(game.name, str) and game.name:
        return game.name, team2 or "-"
    return team1 or "Team 1", team2 or "Team 2"


def shirt_color(game: Game, team: int) -> str | None:
    """``#rrggbb`` from ``info.shirtN_color`` (hex without '#'); ``000000`` means unknown."""
    value = _info(game).get(f"shirt{team}_color")
    if not isinstance(value, str) or not _HEX_RE.match(value) or value == "000000":
        return None
    return f"#{value.upper()}"


def score_text(game: Game) -> str:
    """text_info's score wins, then ``stats.score_setN``/``point`` totals, then info score keys."""
    if isinstance(game.text_info, str) and game.text_info.strip():
        match = _SCORE_RE.search(game.text_info)
        if match:
            return f"{match.group(1)}:{match.group(2)}"
    stats = game.stats if isinstance(game.stats, dict) else {}
    total = stats.get("score") or stats.get("point")
    if isinstance(total, dict) and "team1_value" in total:
        return f"{_text(total.get('team1_value'))}:{_text(total.get('team2_value'))}"
    info = _info(game)
    score = _first(info, SCORE_KEYS)
    if score is not None:
        return _text(score)
    if info.get("score1") is not None or info.get("score2") is not None:
        return f"{_text(info.get('score1') or 0)}:{_text(info.get('score2') or 0)}"
    if isinstance(game.text_info, str):
        return game.text_info.strip()
    return ""


def periods_text(game: Game) -> str:
    """Period scores like ``(1:0, 0:0)``: from text_info if it has them, else ``stats.score_setN``."""
    if isinstance(game.text_info, str):
        match = _PERIODS_RE.search(game.text_info)
        if match:
            return "(" + ", ".join(part.replace(" ", "") for part in match.group(1).split(",")) + ")"
    stats = game.stats if isinstance(game.stats, dict) else {}
    parts = []
    index = 1
    while f"score_set{index}" in stats:
        entry = stats[f"score_set{index}"]
        if isinstance(entry, dict):
            parts.append(f"{_text(entry.get('team1_value'))}:{_text(entry.get('team2_value'))}")
        index += 1
    return f"({', '.join(parts)})" if parts else ""


def _sport_name(game: Game, fallback: str | None) -> str:
    name = game.sport if isinstance(game.sport, str) else fallback
    return (name or "").strip().lower()


def phase_text(game: Game, sport_name: str | None = None) -> str:
    """``setN`` rendered per sport: 1H/2H (halves), Set N, Map N, or PN; other states prettified."""
    value = _first(_info(game), PHASE_KEYS)
    if value is None:
        return ""
    text = _text(value).strip()
    match = _SET_RE.match(text)
    if not match:
        lowered = text.lower()
        if lowered in ("notstarted", "not_started"):
            return "Not started"
        return text.replace("_", " ").capitalize() if text.islower() else text
    number = int(match.group(1))
    sport = _sport_name(game, sport_name)
    if sport in _HALVES:
        return f"{number}H" if number <= 2 else f"ET{number - 2}"
    if sport in _SETS:
        return f"Set {number}"
    if sport in _MAPS or "esport" in sport:
        return f"Map {number}"
    return f"P{number}"


def clock_text(game: Game, sport_name: str | None = None) -> str:
    """Match clock; football shows minutes with added time as ``67+3'``."""
    info = _info(game)
    value = _first(info, CLOCK_KEYS)
    if value is None:
        return ""
    text = _text(value).strip()
    if _sport_name(game, sport_name) in _FOOTBALLISH and text.isdigit():
        added = _first(info, ADD_KEYS)
        added_text = _text(added).strip() if added is not None else ""
        if added_text.isdigit() and int(added_text) > 0:
            return f"{text}+{added_text}'"
        return f"{text}'"
    return text


def start_text(start_ts: Any, utc_offset_minutes: int) -> tuple[str, str]:
    """(``dd/mm``, ``HH:MM``) of a unix-seconds start in local time (en-GB), or ("", "")."""
    if isinstance(start_ts, bool) or not isinstance(start_ts, (int, float)):
        return "", ""
    try:
        moment = _dt.datetime.fromtimestamp(float(start_ts), tz=_dt.timezone.utc) + _dt.timedelta(
            minutes=utc_offset_minutes
        )
    except (OverflowError, OSError, ValueError):
        return "", ""
    return moment.strftime("%d/%m"), moment.strftime("%H:%M")
