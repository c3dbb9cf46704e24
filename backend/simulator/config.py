"""The simulator's one configuration object (pure data, no I/O).

:class:`SimulatorConfig` is read by the world (sizes, seed, rates), the per-connection protocol
(limits) and the server adapter (address, push cadence). Every field is documented where it is
declared; :meth:`SimulatorConfig.__post_init__` rejects values that cannot work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything that shapes a simulated Swarm feed. Defaults give a realistic full-size world."""

    host: str = "127.0.0.1"
    """Interface the WebSocket server binds to."""

    port: int = 0
    """TCP port; 0 asks the OS for an ephemeral one (read it back from ``SwarmSimulator.url``)."""

    seed: int = 1
    """Everything random (the world, its dynamics, the results history, session ids) derives from it."""

    sports: int = 18
    """How many regular sports (type 0) of the catalog to include, at least 1 and at most 18."""

    extra_sports: bool = True
    """Also include the virtual (type 1) and outright-style (type 4) sports the hub filters out."""

    live_games: int = 300
    """Target number of live games (type 1). The world hovers around it as games start and finish."""

    prematch_games: int = 3000
    """Target number of prematch games (type 0 or 2). Each game that goes live is replaced."""

    price_changes_per_second: float = 300.0
    """Total rate of single-event price moves across the world (a Poisson process)."""

    live_price_share: float = 0.75
    """Fraction of price moves that hit live games; the rest hit prematch games."""

    block_changes_per_second: float = 1.0
    """Rate at which a random market (mostly) or game is suspended for a few seconds."""

    push_interval: float = 0.25
    """Seconds between two ticks of the world; subscription deltas are pushed after each tick."""

    time_scale: float = 1.0
    """How fast live games run: 10.0 plays a 90-minute football match in 9 real minutes."""

    history_days: int = 7
    """Days of finished games generated into the results history before the start time."""

    history_games_per_day: int = 300
    """Finished games per day in the generated results history."""

    max_subscriptions_per_session: int = 2000
    """A ``get`` with ``subscribe`` beyond this many live subscriptions answers
    ``CODE_TOO_MANY_SUBSCRIPTIONS``."""

    send_queue_limit: int = 5000
    """Frames queued for one client before it is considered stuck and disconnected."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, got {self.port}")
        if not 1 <= self.sports <= 18:
            raise ValueError(f"sports must be within 1..18, got {self.sports}")
        if self.live_games < 0 or self.prematch_games < 0:
            raise ValueError("game counts must not be negative")
        if self.price_changes_per_second < 0 or self.block_changes_per_second < 0:
            raise ValueError("rates must not be negative")
        if not 0.0 <= self.live_price_share <= 1.0:
            raise ValueError("live_price_share must be within 0..1")
        if self.push_interval <= 0:
            raise ValueError("push_interval must be positive")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.history_days < 0 or self.history_games_per_day < 0:
            raise ValueError("history sizes must not be negative")
        if self.max_subscriptions_per_session < 1 or self.send_queue_limit < 1:
            raise ValueError("limits must be at least 1")
