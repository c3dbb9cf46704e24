"""The embedded feed simulator: a deterministic, seeded stand-in for the real odds feed (Swarm) and
the live-tracker feed, both driven by one simulated world.

Modules, each owning one thing:

* :mod:`.config`   -- :class:`SimulatorConfig`, every knob documented.
* :mod:`.catalog`  -- static data: sports and how they are played, countries, names.
* :mod:`.pricing`  -- outcome probabilities and prices (pure math).
* :mod:`.markets`  -- which markets a game offers and their Swarm dict view (the book).
* :mod:`.results`  -- the finished-games history and the results commands' shapes.
* :mod:`.world`    -- the world state and its dynamics, ``tick(now)`` (pure, seeded).
* :mod:`.query`    -- ``get`` what/where evaluation (pure).
* :mod:`.diff`     -- subscription deltas (pure).
* :mod:`.protocol` -- one connection's Swarm session, sans-I/O.
* :mod:`.tracker`  -- one game's live-tracker frames, from the world and its own generator (pure).
* :mod:`.server`   -- :class:`SwarmSimulator`, the ``websockets`` adapter with fault hooks; it
  serves the Swarm feed and, at ``/tracker``, the tracker feed.

Run it alone with ``python -m backend.simulator --help``.
"""

from .config import SimulatorConfig
from .server import SwarmSimulator

__all__ = ["SimulatorConfig", "SwarmSimulator"]
