"""Streaming many chunks: exact bytes across chunk and range boundaries, and a client that
hangs up mid-stream makes the server close the file.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lib.links import media_url
from lib.services import build_services
from lib.settings import Settings
from lib.storage.local import LocalStorage
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, app_env, start_app, stop_app
from tests.media_tokens import SIGNER
from tests.raw_http import raw_get

SMALL_CHUNK = 7
BIG = "Big/long.mp4"
BIG_SIZE = 3 * 1024 * 1024 + 12_345  # three full 1 MiB chunks and a ragged end
HUGE = "Big/huge.mp4"
HUGE_SIZE = 2**40  # 1 TiB, sparse: no server streams it all before the test gives up


def url(name: str) -> str:
    return media_url(SIGNER.issue(name, ADMIN, 600), name)


@pytest.fixture(scope="module")
def streaming_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("streaming")
    (root / "Big").mkdir()
    (root / "Big" / "short.mp4").write_bytes(bytes(range(256)) * 4 + b"tail")
    (root / BIG).write_bytes(os.urandom(BIG_SIZE))
    with (root / HUGE).open("wb") as handle:
        handle.truncate(HUGE_SIZE)
    return root


@pytest.fixture(scope="module")
def small_chunk_client(streaming_library):
    """The app's routes over the streaming library, read in chunks of a few bytes."""
    settings = Settings(
        library=streaming_library, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    storage = LocalStorage(streaming_library, chunk_size=SMALL_CHUNK)
    with client_for(build_services(settings, storage=storage)) as client:
        yield client


@pytest.fixture(scope="module")
def streaming_app(streaming_library):
    app = start_app(
        ["--library", str(streaming_library), "--username", ADMIN], app_env(), "streaming"
    )
    yield app
    stop_app(app)


@pytest.mark.parametrize(
    ("first", "last"),
    [(0, 1027), (0, 0), (6, 7), (7, 13), (5, 20), (1000, 1027), (13, 13), (3, 700)],
)
def test_ranges_across_chunk_boundaries_return_exact_bytes(
    small_chunk_client, streaming_library, first, last
):
    data = (streaming_library / "Big" / "short.mp4").read_bytes()
    response = small_chunk_client.get(
        url("Big/short.mp4"), headers={"Range": f"bytes={first}-{last}"}
    )
    assert response.status_code == 206
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.content == data[first : last + 1]


def test_whole_file_in_many_small_chunks_is_exact(small_chunk_client, streaming_library):
    response = small_chunk_client.get(url("Big/short.mp4"))
    assert response.status_code == 200
    assert response.content == (streaming_library / "Big" / "short.mp4").read_bytes()


def test_real_server_streams_a_multi_chunk_file_exactly(streaming_app, streaming_library):
    data = (streaming_library / BIG).read_bytes()
    status, body, headers = raw_get(streaming_app.url, url(BIG))
    assert status == 200
    assert headers["Content-Length"] == str(BIG_SIZE)
    assert body == data
    first, last = 1024 * 1024 - 5, 2 * 1024 * 1024 + 5  # straddles two chunk boundaries
    status, body, headers = raw_get(streaming_app.url, url(BIG), {"Range": f"bytes={first}-{last}"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/{BIG_SIZE}"
    assert body == data[first : last + 1]


def open_handles(pid: int, path: Path) -> int:
    """Return how many of process `pid`'s file descriptors point at `path`."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count


def wait_for(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_client_hanging_up_mid_stream_closes_the_file(streaming_app, streaming_library):
    path = (streaming_library / HUGE).resolve()
    pid = streaming_app.process.pid
    parts = urlsplit(streaming_app.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as client:
        client.sendall(f"GET {url(HUGE)} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        received = client.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 ")
        assert wait_for(lambda: open_handles(pid, path) == 1), "the file was never opened"
    assert wait_for(lambda: open_handles(pid, path) == 0), "the file stayed open"
