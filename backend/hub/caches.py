"""The hub's request caches: the sports hierarchy and per-sport market-type priorities.

Both are single-flight (concurrent callers share one upstream request) and keep the last good
value when a refresh fails. Hits and misses are counted for health metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from backend.clock import Clock

from . import queries
from .payloads import market_types_from_details

log = logging.getLogger(__name__)

Request = Callable[[str, dict[str, Any], float], Awaitable[Any]]


class HierarchyError(Exception):
    """No hierarchy could be loaded and no earlier copy exists."""


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


class HierarchyCache:
    """docs/api.md A1: 30 min TTL; a stale copy is served while a background refresh runs."""

    def __init__(self, request: Request, clock: Clock, ttl: float, stats: CacheStats) -> None:
        self._request = request
        self._clock = clock
        self.ttl = ttl
        self.stats = stats
        self.data: dict[str, Any] | None = None
        self.cached_at: float | None = None
        self._inflight: asyncio.Task[dict[str, Any]] | None = None

    @staticmethod
    def sport_count(data: dict[str, Any] | None) -> int:
        sports = (data or {}).get("sport")
        return len(sports) if isinstance(sports, dict) else 0

    async def get(self, refresh: bool = False) -> tuple[dict[str, Any], dict[str, bool]]:
        """Return ``(tree, flags)``; flags are spread into the response (``cached``, ``stale``)."""
        now = self._clock.monotonic()
        if not refresh and self.data is not None and self.sport_count(self.data) > 0:
            self.stats.hits += 1
            if self.cached_at is not None and now - self.cached_at < self.ttl:
                return self.data, {"cached": True}
            self._start_refresh()
            return self.data, {"cached": True, "stale": True}
        self.stats.misses += 1
        return await self._refresh_shared(), {"cached": False}

    def _start_refresh(self) -> asyncio.Task[dict[str, Any]]:
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._refresh(), name="hierarchy-refresh")
            self._inflight.add_done_callback(_log_failure)
        return self._inflight

    async def _refresh_shared(self) -> dict[str, Any]:
        return await asyncio.shield(self._start_refresh())

    async def _refresh(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for filtered in (True, False):
            what, where = queries.hierarchy(filtered)
            data = await self._request("get", {"source": "betting", "what": what, "where": where}, 60.0)
            if self.sport_count(data) > 0:
                break
        if self.sport_count(data) == 0:
            if self.data is not None:
                return self.data  # keep the last good copy
            raise HierarchyError("Hierarchy refresh returned 0 sports")
        self.data = data
        self.cached_at = self._clock.monotonic()
        return data

    def sport(self, sport_id: str) -> dict[str, Any] | None:
        sports = (self.data or {}).get("sport")
        if not isinstance(sports, dict):
            return None
        sport = sports.get(sport_id)
        return sport if isinstance(sport, dict) else None


class MarketTypeCache:
    """Per-sport market-type priority lists from ``get_market_type``, cached for ``ttl`` seconds."""

    def __init__(self, request: Request, clock: Clock, ttl: float, stats: CacheStats) -> None:
        self._request = request
        self._clock = clock
        self.ttl = ttl
        self.stats = stats
        self._entries: dict[str, tuple[float, list[str]]] = {}
        self._inflight: dict[str, asyncio.Task[list[str]]] = {}

    async def get(self, sport_alias: str | None) -> list[str]:
        """The dynamic priority list, or ``[]`` (callers then use the fallback lists)."""
        if not sport_alias:
            return []
        now = self._clock.monotonic()
        entry = self._entries.get(sport_alias)
        if entry is not None and now - entry[0] < self.ttl:
            self.stats.hits += 1
            return entry[1]
        self.stats.misses += 1
        task = self._inflight.get(sport_alias)
        if task is None or task.done():
            task = self._inflight[sport_alias] = asyncio.create_task(self._load(sport_alias))
        try:
            return await asyncio.shield(task)
        except Exception as exc:
            log.warning("market types for %s unavailable, using fallback: %s", sport_alias, exc)
            return entry[1] if entry else []
        finally:
            if task.done():
                self._inflight.pop(sport_alias, None)

    async def _load(self, alias: str) -> list[str]:
        data = await self._request("get_market_type", {"sport_alias": alias}, 20.0)
        details = data.get("details") if isinstance(data, dict) else None
        types = market_types_from_details(details)
        self._entries[alias] = (self._clock.monotonic(), types)
        return types


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("hierarchy refresh failed: %s", task.exception())
