"""Competition odds on expand (docs/api.md B5): the streams of the competitions the user
opened, each owned by its own scope under the app's.

Expanding a competition opens ``/api/competition-odds-stream?competitionId=&sportId=&mode=`` for
it, so every game's main odds in it are pushed as they change (in prematch mode the sport stream
only polls them); collapsing it closes that stream, and so does a change of sport or mode
(``close_all``). A browser keeps at most six HTTP/1.1 connections per origin, and the page already
holds the sport stream (plus the counts stream in prematch, or a game's stream and tracker in the
details panel) and needs one for its requests: so at most ``MAX_OPEN`` competition streams are
open, and expanding one more closes the stream of the one expanded longest ago (it stays
expanded, its odds then come from the sport stream). Each stream reconnects like the others
(``streams.EventStream``: full-jitter backoff, ``Retry-After`` honoured).

Pure: the EventSources go through the platform of the scope; no ``js``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .backoff import Backoff
from .parsing import Decoded, ParserService
from .scope import Scope
from .streams import EventStream

__all__ = ["COMPETITION_URL", "MAX_OPEN", "CompetitionStreams"]

COMPETITION_URL = "/api/competition-odds-stream"
MAX_OPEN = 2
BACKOFF_MS = 2000.0


class CompetitionStreams:
    """The open competition streams, by competition group key, oldest first."""

    def __init__(self, parent: Scope, parser: ParserService, *,
                 on_odds: Callable[[str, str, Any], None], on_error: Callable[[BaseException], None],
                 on_change: Callable[[str, bool], None], on_server_error: Callable[[str], None],
                 limit: int = MAX_OPEN) -> None:
        self.scope = parent.child("competitions")
        self.parser = parser
        self.limit = limit
        self._on_odds = on_odds
        self._on_error = on_error
        self._on_change = on_change
        self._on_server_error = on_server_error
        self.streams: OrderedDict[str, EventStream] = OrderedDict()
        self.opened = 0

    def __contains__(self, key: object) -> bool:
        return key in self.streams

    def keys(self) -> list[str]:
        return list(self.streams)

    def open(self, key: str, competition_id: str, sport_id: str, mode: str) -> EventStream | None:
        """Open the stream of one competition (no-op if open); returns it."""
        if self.scope.closed:
            return None
        if key in self.streams:
            return self.streams[key]
        while len(self.streams) >= self.limit:
            oldest = next(iter(self.streams))
            self.close(oldest)
        url = (f"{COMPETITION_URL}?competitionId={quote(competition_id, safe='')}"
               f"&sportId={quote(sport_id, safe='')}&mode={quote(mode, safe='')}")
        stream = EventStream(
            self.scope, url,
            {"odds": Decoded("odds", lambda payload: self._on_odds(mode, sport_id, payload), self._on_error)},
            parser=self.parser, name=f"competition:{mode}:{competition_id}",
            backoff=Backoff(base_ms=BACKOFF_MS, cap_ms=30000.0, floor_ms=BACKOFF_MS / 2),
            on_server_error=self._on_server_error,
        )
        self.streams[key] = stream
        self.opened += 1
        stream.open()
        self._on_change(key, True)
        return stream

    def close(self, key: str) -> None:
        stream = self.streams.pop(key, None)
        if stream is not None:
            stream.close()
            self._on_change(key, False)

    def close_all(self) -> None:
        for key in list(self.streams):
            self.close(key)
