"""nginx in front of several app processes, as a load balancer keeping each visitor on one
replica (`ip_hash`) and passing Streamlit's websocket through."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
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
def nginx(folder: Path, http: Callable[[int], str]) -> Iterator[tuple[str, int]]:
    """Run nginx from `folder` with the `http` block `http(port)` for the block's duration;
    yield its base URL and pid once it answers (any HTTP status)."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is needed: apt-get install -y nginx-light")
    port = free_port()
    conf = Path(folder) / "nginx.conf"
    conf.write_text(nginx_conf(folder, http(port)))
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (Path(folder) / "error.log").read_text()
                    raise RuntimeError(f"nginx did not start: {log}") from None
                time.sleep(0.05)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


def upstreams(replicas: Sequence[str]) -> str:
    """The `server` lines of an upstream block for the `replicas` (base URLs)."""
    return "\n".join(f"        server {url.removeprefix('http://')};" for url in replicas)


@contextlib.contextmanager
def load_balancer(replicas: Sequence[str], folder: Path) -> Iterator[LoadBalancer]:
    """Run nginx balancing over the `replicas` (base URLs) for the block's duration."""
    servers = upstreams(replicas)
    with nginx(folder, lambda port: BALANCER.format(port=port, servers=servers)) as (url, _):
        yield LoadBalancer(url)
