"""nginx in front of several app processes, as a load balancer keeping each visitor on one
replica (`ip_hash`) and passing Streamlit's websocket through."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

FRAME = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}
}}
"""

BALANCER = """\
    upstream replicas {{
        ip_hash;
{servers}
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 3600s;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            add_header X-Replica $upstream_addr always;
        }}
    }}"""


def nginx_conf(tmp: Path | str, http: str) -> str:
    """Return an nginx config running in the foreground from folder `tmp`, whose `http`
    block holds `http` (its servers, upstreams and types)."""
    return FRAME.format(tmp=tmp, http=http)


@dataclass(frozen=True)
class LoadBalancer:
    """The balancer's URL: every replica's pages and routes, one replica per visitor."""

    url: str

    def replica(self) -> str:
        """Return the `host:port` of the replica this machine's requests go to now."""
        with urllib.request.urlopen(self.url + "/_stcore/health", timeout=10) as response:
            return response.headers["X-Replica"].split(",")[-1].strip()


@contextlib.contextmanager
def load_balancer(replicas: Sequence[str], folder: Path) -> Iterator[LoadBalancer]:
    """Run nginx balancing over the `replicas` (base URLs) for the block's duration."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is needed: apt-get install -y nginx-light")
    port = free_port()
    servers = "\n".join(f"        server {url.removeprefix('http://')};" for url in replicas)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder, BALANCER.format(port=port, servers=servers)))
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf)])
    balancer = LoadBalancer(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                balancer.replica()
                break
            except (OSError, urllib.error.URLError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "error.log").read_text()
                    raise RuntimeError(f"nginx did not start: {log}") from None
                time.sleep(0.05)
        yield balancer
    finally:
        process.terminate()
        process.wait(10)
