"""Run the real app (uvicorn, real sockets on 127.0.0.1) inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from backend.app import create_app
from backend.server import uvicorn_config
from backend.settings import Settings

SMALL_WORLD = dict(sim_live_games=40, sim_prematch_games=200, sim_price_changes_per_second=400.0,
                   port=0, log_level="WARNING")


@dataclass
class RunningServer:
    base_url: str
    app: Any
    server: uvicorn.Server

    @property
    def hub(self) -> Any:
        return self.app.state.hub

    @property
    def simulator(self) -> Any:
        return self.app.state.simulator

    @property
    def tracker(self) -> Any:
        return self.app.state.tracker


@asynccontextmanager
async def running_server(**overrides: Any) -> AsyncIterator[RunningServer]:
    settings = Settings.from_env({}, **{**SMALL_WORLD, **overrides})
    app = create_app(settings)
    # The Config ``python -m backend`` runs with (head size and time limits, connection cap).
    config = uvicorn_config(app, settings, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # uvicorn < 0.29 only
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", app, server)
    finally:
        app.state.hub.close_streams("shutdown")
        if getattr(app.state, "tracker", None) is not None:
            app.state.tracker.close_streams("shutdown")
        server.should_exit = True
        await asyncio.wait_for(task, 15)
