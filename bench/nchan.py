"""The nchan peer: Debian's nginx with the nchan pub/sub module, run as a child process.

:func:`ensure_installed` finds ``/usr/sbin/nginx`` and ``ngx_nchan_module.so`` and, if either is
missing and we are root on Debian, installs ``nginx-light`` and ``libnginx-mod-nchan`` with
apt-get (service start-up is left to the system's policy; we never use the system nginx).
:func:`write_config` writes a self-contained config into a temp dir: one server on 127.0.0.1, the
subscriber at the hub's own path ``/api/live-stream`` (EventSource, event name ``odds``, every
subscriber on one channel, a new subscriber first gets the last message -- the counterpart of the
hub's late-joiner snapshot) and the publisher at ``/pub``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NGINX = "/usr/sbin/nginx"
MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules")
PACKAGES = ("nginx-light", "libnginx-mod-nchan")


def find_module() -> str | None:
    for d in MODULE_DIRS:
        path = Path(d) / "ngx_nchan_module.so"
        if path.exists():
            return str(path)
    return None


def ensure_installed(allow_install: bool) -> tuple[str | None, str]:
    """``(module path, note)``; the path is None when nchan is unavailable (the note says why)."""
    module = find_module()
    if module and os.access(NGINX, os.X_OK):
        return module, "already installed"
    if not allow_install:
        return None, "nginx/nchan not installed and --no-install given"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "nginx/nchan not installed and cannot apt-get install it (needs root on Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:  # stale package lists: refresh once and retry
        subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True, timeout=300)
        result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    module = find_module()
    if result.returncode != 0 or not module or not os.access(NGINX, os.X_OK):
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return None, "apt-get install " + " ".join(PACKAGES) + " failed: " + " / ".join(tail)
    return module, "installed now with apt-get: " + " ".join(PACKAGES)


def write_config(directory: Path, module: str, port: int, workers: int, max_clients: int) -> Path:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(f"""\
load_module {module};
user root;
daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile {max_clients * 2 + 1024};
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log warn;

events {{
    worker_connections {max_clients + 1024};
    use epoll;
}}

http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 3600s;
    nchan_shared_memory_size 128M;

    server {{
        listen 127.0.0.1:{port} backlog=2048{' reuseport' if workers > 1 else ''};

        location = /api/live-stream {{
            nchan_subscriber eventsource;
            nchan_channel_id odds;
            nchan_eventsource_event odds;
            nchan_subscriber_first_message oldest;
            nchan_subscriber_timeout 0;
        }}

        location = /pub {{
            nchan_publisher;
            nchan_channel_id odds;
            nchan_message_buffer_length 1;
            nchan_message_timeout 1h;
        }}
    }}
}}
""")
    return conf


def command(conf: Path) -> list[str]:
    return [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", str(conf.parent / "logs" / "error.log")]
