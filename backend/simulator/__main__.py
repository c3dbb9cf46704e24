"""``python -m backend.simulator``: run the feed simulator on its own until Ctrl-C (the Swarm feed at
the printed URL, the live-tracker feed at its ``/tracker`` path).

SIGUSR1 freezes the world (nothing moves or is pushed; requests are still answered) and SIGUSR2 lets
it go on: the chaos tool (``bench/chaos.py``) compares the hub's state with the feed's that way."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .config import SimulatorConfig
from .server import SwarmSimulator


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m backend.simulator",
        description="Serve a simulated Swarm odds feed and its live-tracker feed over WebSocket, on one port: "
                    "the Swarm feed at ws://HOST:PORT/, the tracker feed at ws://HOST:PORT/tracker (one socket per "
                    "followed game). Deterministic from --seed. "
                    "SIGUSR1 freezes the world, SIGUSR2 lets it go on.",
    )
    parser.add_argument("--host", default=defaults.host, help="interface to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port, 0 for any free one (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="world seed (default %(default)s)")
    parser.add_argument("--sports", type=int, default=defaults.sports, help="regular sports, 1-18 (default %(default)s)")
    parser.add_argument("--no-extra-sports", action="store_true", help="leave out the virtual/outright sports")
    parser.add_argument("--live", type=int, default=defaults.live_games, help="live games (default %(default)s)")
    parser.add_argument("--prematch", type=int, default=defaults.prematch_games, help="prematch games (default %(default)s)")
    parser.add_argument("--rate", type=float, default=defaults.price_changes_per_second,
                        help="price changes per second (default %(default)s)")
    parser.add_argument("--push-interval", type=float, default=defaults.push_interval,
                        help="seconds between ticks and pushes (default %(default)s)")
    parser.add_argument("--time-scale", type=float, default=defaults.time_scale,
                        help="live clock speed-up (default %(default)s)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return SimulatorConfig(
            host=args.host, port=args.port, seed=args.seed, sports=args.sports,
            extra_sports=not args.no_extra_sports, live_games=args.live, prematch_games=args.prematch,
            price_changes_per_second=args.rate, push_interval=args.push_interval, time_scale=args.time_scale,
        )
    except ValueError as exc:
        parser.error(str(exc))


def startup_lines(url: str, tracker_url: str) -> str:
    """What is printed once both feeds listen: each feed's URL (the Swarm feed's first) and the
    backend setting that points at it."""
    return f"Swarm feed:   {url}  (the backend's SWARM_WS_URL)\ntracker feed: {tracker_url}  (LIVE_TRACKER_WS_URL)"


async def run(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SwarmSimulator(config) as sim:
        for sig, hook in ((signal.SIGUSR1, sim.pause), (signal.SIGUSR2, sim.resume)):
            with contextlib.suppress(NotImplementedError, AttributeError):
                loop.add_signal_handler(sig, hook)
        print(startup_lines(sim.url, sim.tracker_url), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
