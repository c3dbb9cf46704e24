"""One typed Settings object, read from the environment.

Every field names its environment variable (the field name in upper case) and says what it does.
``Settings.from_env()`` is called once by ``create_app``; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable could not be parsed."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    """Interface the HTTP server binds."""
    port: int = 8787
    """HTTP port. 8787 is where the original UI looks for the API on localhost."""

    swarm_ws_url: str = ""
    """Upstream Swarm feed. Empty: start the embedded simulator and use it."""
    swarm_site_id: int = 1
    """``site_id`` sent in ``request_session``."""
    swarm_connect_timeout: float = 30.0
    """Seconds before a connection attempt (socket + session) is abandoned."""
    swarm_request_timeout: float = 60.0
    """Default seconds a request waits for its reply."""
    swarm_backoff_base: float = 0.5
    """First reconnect delay ceiling in seconds (full jitter: the delay is uniform below it)."""
    swarm_backoff_cap: float = 30.0
    """Largest reconnect delay ceiling in seconds."""

    sim_host: str = "127.0.0.1"
    """Interface of the embedded simulator."""
    sim_port: int = 0
    """Port of the embedded simulator; 0 picks a free one."""
    sim_seed: int = 7
    """Seed of the simulated world: the same seed gives the same world."""
    sim_live_games: int = 300
    """Live games in the simulated world."""
    sim_prematch_games: int = 3000
    """Prematch games in the simulated world."""
    sim_price_changes_per_second: float = 300.0
    """Total price changes per second across the simulated world."""

    group_grace: float = 5.0
    """Seconds a group with no clients is kept (and its upstream subscriptions) before teardown."""
    max_clients: int = 10_000
    """Concurrent SSE clients across the hub; the next gets 429."""
    max_game_groups: int = 1_000
    """Concurrent live-game groups; the next new one gets 429."""
    heartbeat_interval: float = 15.0
    """Seconds between heartbeat comments on every stream."""
    write_timeout: float = 15.0
    """Seconds a write may stay blocked (the client not reading) before the client is dropped.
    With heartbeats every 15 s, a client that shows no sign of life is gone within 30 s."""
    replay_frames: int = 2048
    """Frames each group keeps for resuming clients (``Last-Event-ID``) and for slow readers."""
    replay_bytes: int = 8 * 1024 * 1024
    """Bytes each group's replay ring may hold; a client that falls further behind is dropped."""
    sse_retry_ms: int = 2000
    """The ``retry:`` hint every stream starts with (the browser's reconnect delay)."""
    hierarchy_ttl: float = 1800.0
    """Seconds the hierarchy cache is fresh."""
    market_types_ttl: float = 43_200.0
    """Seconds a sport's market-type priorities are cached."""
    games_poll_interval: float = 5.0
    """Seconds between prematch game-list polls (and live polls when a subscription failed)."""
    odds_poll_interval: float = 2.5
    """Seconds between prematch odds-chunk polls."""
    poll_rate: float = 20.0
    """Upstream polls per second across the whole hub (a token bucket paces every poller)."""
    poll_burst: int = 40
    """Polls that may go out at once after a quiet spell."""

    max_request_head_bytes: int = 32 * 1024
    """Largest request line plus headers accepted; beyond it the request is answered 431."""
    request_head_timeout: float = 10.0
    """Seconds a connection has to deliver a complete request head (from its accept, then from the
    first byte of each later request); late ones get 408 or are closed (slowloris)."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle keep-alive connection is kept between requests."""
    fd_reserve: int = 128
    """File descriptors kept free of SSE clients when the open-file limit (RLIMIT_NOFILE) is what
    bounds them: the client limit is then ``limit - fd_reserve`` if that is below ``max_clients``,
    so clients get 429 before accept() fails (listeners, upstream and simulator sockets, files
    being served and short HTTP requests use the rest)."""

    cors_allow_origins: tuple[str, ...] = ()
    """Origins echoed in Access-Control-Allow-Origin; any other origin gets ``*``."""
    proxy_headers: bool = False
    """Trust X-Forwarded-For/Proto (uvicorn's proxy headers) -- only behind a proxy you run. Off by
    default: it costs a wrapper per connection and nothing here needs the client address."""
    static_dir: Path = field(default_factory=lambda: REPO_ROOT / "build" / "static")
    """Built front-end assets (Pyodide, wheels); made by scripts/build_assets.py."""
    log_level: str = "INFO"
    """Python logging level."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f.name, hints[f.name], raw)
        values.update(overrides)
        return cls(**values)

    @property
    def uses_simulator(self) -> bool:
        return not self.swarm_ws_url


def client_limit(max_clients: int, open_files: int | None, fd_reserve: int) -> int:
    """SSE clients to allow: ``max_clients``, or fewer when ``open_files`` (the process's
    RLIMIT_NOFILE; None for unlimited) minus ``fd_reserve`` is lower -- at least 1."""
    if open_files is None:
        return max_clients
    return max(1, min(max_clients, open_files - fd_reserve))


def _parse(name: str, kind: Any, raw: str) -> Any:
    try:
        if kind is bool:
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("expected a boolean (1/0, true/false, yes/no, on/off)")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw)
        if kind == tuple[str, ...]:
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        return raw
    except ValueError as exc:
        raise SettingsError(f"{name.upper()}={raw!r}: {exc}") from None
