"""One typed Settings object, read from the environment.

Every field names its environment variable (the field name in upper case) and says what it does.
``Settings.from_env()`` is called once by ``create_app``; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

if TYPE_CHECKING:
    from backend.simulator.config import SimulatorConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable could not be parsed."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    """Interface the HTTP server binds."""
    port: int = 8787
    """HTTP port. 8787 is where the original UI looks for the API on localhost."""
    reuse_port: bool = False
    """Bind the port with SO_REUSEPORT, so several processes (a cluster's, on one machine) share it
    and the kernel spreads the connections among them."""

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
    swarm_idle_probe: float = 3.0
    """Seconds the feed may stay silent while we expect traffic before a probe request is sent."""
    swarm_probe_timeout: float = 3.0
    """Seconds a probe may go unanswered before the connection counts as stalled and is replaced."""
    max_subscriptions: int = 1_000
    """Upstream subscriptions open at once. Groups are refused (429) before this is reached."""

    # The embedded simulator's settings; unset ones keep the simulator's own defaults
    # (backend/simulator/config.py, the one place they are written down).
    sim_host: str | None = None
    """Interface of the embedded simulator (default 127.0.0.1)."""
    sim_port: int | None = None
    """Port of the embedded simulator (default 0: a free one)."""
    sim_seed: int | None = None
    """Seed of the simulated world: the same seed gives the same world."""
    sim_live_games: int | None = None
    """Live games in the simulated world (default 300)."""
    sim_prematch_games: int | None = None
    """Prematch games in the simulated world (default 3,000)."""
    sim_price_changes_per_second: float | None = None
    """Total price changes per second across the simulated world (default 300)."""
    sim_time_scale: float | None = None
    """How fast simulated matches run (default 1.0: real time; 60.0 plays a football match in about 95 s)."""

    live_tracker_ws_url: str = ""
    """The live-tracker feed (one WebSocket per followed game). Empty: the embedded simulator's when it
    runs, else the live tracker is off (``/api/live-tracker`` answers 503)."""
    tracker_partner_id: str = "1"
    """``partner_id`` in the tracker feed's URL."""
    tracker_site_ref: str = "http://localhost:8787/"
    """``site_ref`` in the tracker feed's URL (the site the widget would be on)."""
    tracker_connect_timeout: float = 30.0
    """Seconds before a tracker connection attempt is abandoned."""
    tracker_idle_timeout: float = 20.0
    """Seconds a tracker feed may stay silent before its connection counts as stalled and is replaced."""
    tracker_max_clients: int = 10_000
    """Concurrent live-tracker SSE clients; the next gets 429."""
    tracker_max_games: int = 1_000
    """Games followed at once; a client of one more gets 429."""
    tracker_memory_budget: int = 64 * 1024 * 1024
    """Bytes the live tracker may retain (replay plus match states), as ``memory_budget`` for the hub."""

    redis_url: str = ""
    """A Redis server to form a cluster on (``redis://127.0.0.1:6379/0``): every process started with
    the same URL serves every stream, and one of them at a time holds each upstream. Empty: one
    process, no Redis."""

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
    memory_budget: int = 256 * 1024 * 1024
    """Bytes the hub may retain in all: replay rings plus cached payloads. Past it, the oldest replay
    frames of the whole hub are trimmed first (a resume beyond them gets a snapshot)."""
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
    bounds them: the odds hub's and the live tracker's clients share ``limit - fd_reserve``, and
    ``max_clients`` and ``tracker_max_clients`` are lowered to fit (``client_limits``), so clients
    get 429 before accept() fails (listeners, upstream and simulator sockets, files being served and
    short HTTP requests use the rest)."""

    cors_allow_origins: tuple[str, ...] = ()
    """Origins echoed in Access-Control-Allow-Origin; any other origin gets ``*``."""
    proxy_headers: bool = False
    """Trust X-Forwarded-For/Proto (uvicorn's proxy headers) -- only behind a proxy you run. Off by
    default: it costs a wrapper per connection and nothing here needs the client address."""
    static_dir: Path = field(default_factory=lambda: REPO_ROOT / "build" / "static")
    """Built front-end assets (Pyodide, wheels); made by scripts/build_assets.py."""
    log_level: str = "INFO"
    """Python logging level."""
    debug_introspection: bool = False
    """Mount ``GET /api/debug/introspection`` (``backend/debug.py``): asyncio task counts, open files and
    tracemalloc growth, for the soak and chaos tools. Off by default; only on a server bound to 127.0.0.1."""
    page_share_seconds: float = 0.5
    """Seconds a server-rendered page is given again to the next requests for the same page (the same
    view, time-zone cookie and encoding), counted from the start of its render: a burst of loads of one
    page costs one render. The browser resumes each stream from the id the page carries, so a shared
    page misses no event. 0: only requests that arrive while the render runs share it; negative: none
    does (each request renders its own page)."""
    bench_pages: bool = False
    """Mount the pages ``bench/firstpaint.py`` compares the UI with (``backend/web.py``): ``/_bench/plain/...``
    (the same server-rendered page with no script, no preload hint and no embedded state: the floor) and
    ``/_bench/pyodide`` (a page that only boots Pyodide from the same immutable files). Off by default."""

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

    def simulator_config(self) -> SimulatorConfig:
        """The embedded simulator's configuration: its defaults, with the ``SIM_*`` settings given."""
        from backend.simulator.config import SimulatorConfig

        given = {name: value for name, value in (
            ("host", self.sim_host), ("port", self.sim_port), ("seed", self.sim_seed),
            ("live_games", self.sim_live_games), ("prematch_games", self.sim_prematch_games),
            ("price_changes_per_second", self.sim_price_changes_per_second),
            ("time_scale", self.sim_time_scale)) if value is not None}
        return SimulatorConfig(**given)


def client_limit(max_clients: int, open_files: int | None, fd_reserve: int) -> int:
    """SSE clients to allow: ``max_clients``, or fewer when ``open_files`` (the process's
    RLIMIT_NOFILE; None for unlimited) minus ``fd_reserve`` is lower -- at least 1."""
    if open_files is None:
        return max_clients
    return max(1, min(max_clients, open_files - fd_reserve))


def client_limits(max_clients: int, tracker_max_clients: int | None, open_files: int | None,
                  fd_reserve: int) -> tuple[int, int | None]:
    """The odds hub's and the live tracker's SSE client limits under the open-file limit.

    Their clients share the ``open_files - fd_reserve`` descriptors (``tracker_max_clients`` None: no
    tracker runs, the hub has them all, as :func:`client_limit`). When both limits fit together they
    stay. Otherwise each gets half; a limit already below its half keeps it and leaves the rest to the
    other (the hub takes the odd descriptor). Each stays at least 1; neither is ever raised.
    """
    if tracker_max_clients is None or open_files is None:
        return client_limit(max_clients, open_files, fd_reserve), tracker_max_clients
    shared = open_files - fd_reserve
    if max_clients + tracker_max_clients <= shared:
        return max_clients, tracker_max_clients
    half = shared // 2
    if max_clients <= half:
        return max_clients, max(1, shared - max_clients)
    if tracker_max_clients <= half:
        return max(1, shared - tracker_max_clients), tracker_max_clients
    return max(1, shared - half), max(1, half)


def _parse(name: str, kind: Any, raw: str) -> Any:
    args = [a for a in get_args(kind) if a is not type(None)]
    if len(args) == 1 and type(None) in get_args(kind):  # "X | None": unset when empty
        return None if raw.strip() == "" else _parse(name, args[0], raw)
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
