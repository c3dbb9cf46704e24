"""``python -m backend``: serve the whole system with uvicorn and print the URL.

SIGTERM/SIGINT first ends every open SSE stream (uvicorn would otherwise wait for them forever),
then uvicorn finishes its normal shutdown and the lifespans close the services and the simulator.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn

from backend.app import create_app
from backend.server import uvicorn_config
from backend.settings import Settings, SettingsError


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: object) -> None:
        super().__init__(config)
        self._app_state = app_state

    def handle_exit(self, sig: int, frame: object) -> None:
        for name in ("hub", "tracker"):
            service = getattr(self._app_state, name, None)
            if service is not None:
                try:
                    asyncio.get_running_loop().call_soon_threadsafe(service.close_streams, "shutdown")
                except RuntimeError:
                    pass
        super().handle_exit(sig, frame)


def reusable_socket(host: str, port: int) -> socket.socket:
    """A listening socket with SO_REUSEPORT: every process of a cluster on this machine binds the same
    port, and the kernel spreads new connections among them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"invalid setting: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    config = uvicorn_config(app, settings)
    server = Server(config, app.state)
    shown = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
    print(f"Odds browser: http://{shown}:{settings.port}/  (API under /api/, health at /api/health)", flush=True)
    server.run(sockets=[reusable_socket(settings.host, settings.port)] if settings.reuse_port else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
