"""One playlist size limit: what the media route serves, the stats page reads, on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.library import MAX_PLAYLIST_BYTES
from lib.links import media_url
from lib.services import build_services
from lib.settings import Settings
from lib.stats import ProblemKind, scan_library
from lib.storage.local import LocalStorage
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY

MiB = 1024 * 1024


def padded_playlist(size: int) -> bytes:
    """Return a valid one-segment playlist of exactly `size` bytes (comment lines pad it)."""
    head = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment.ts\n"
    tail = b"#EXT-X-ENDLIST\n"
    padding = size - len(head) - len(tail)
    lines, rest = divmod(padding, 1024)
    body = (b"# " + b"p" * 1021 + b"\n") * lines
    if rest:
        body += b"#" * (rest - 1) + b"\n" if rest > 1 else b"\n"
    return head + body + tail


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Playlists just under, at and just over the limit, each in its own title."""
    root = tmp_path_factory.mktemp("limit")
    for title, size in {
        "Long": 3 * MiB,
        "At": MAX_PLAYLIST_BYTES,
        "Over": MAX_PLAYLIST_BYTES + 1,
    }.items():
        folder = root / "Clips" / f"{title}.hls"
        folder.mkdir(parents=True)
        (folder / "output.m3u8").write_bytes(padded_playlist(size))
        (folder / "segment.ts").write_bytes(b"\x47" * 188)
    return root


@pytest.fixture(scope="module")
def client(library):
    settings = Settings(
        library=library, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    services = build_services(settings)
    with client_for(services) as client:
        yield client, services


def playlist_status(client, title: str) -> int:
    client, services = client
    scope = f"Clips/{title}.hls/"
    token = services.signer.issue(scope, ADMIN, 600)
    return client.get(media_url(token, scope + "output.m3u8")).status_code


def test_the_padding_makes_playlists_of_the_exact_size(library):
    sizes = {p.parent.name: p.stat().st_size for p in library.glob("Clips/*.hls/output.m3u8")}
    assert sizes == {
        "Long.hls": 3 * MiB,
        "At.hls": MAX_PLAYLIST_BYTES,
        "Over.hls": MAX_PLAYLIST_BYTES + 1,
    }


@pytest.mark.parametrize("title", ["Long", "At"])
def test_a_playlist_within_the_limit_plays_and_the_stats_page_reads_it(client, library, title):
    assert playlist_status(client, title) == 200
    report = scan_library(LocalStorage(library))
    unusable = {p.name for p in report.problems if p.kind is ProblemKind.BAD_PLAYLIST}
    assert f"Clips/{title}.hls/output.m3u8" not in unusable
    row = report.videos.set_index("name").loc[f"Clips/{title}.hls/"]
    assert row["duration_seconds"] == pytest.approx(2.0)


def test_a_playlist_over_the_limit_is_refused_by_both(client, library):
    assert playlist_status(client, "Over") == 422
    report = scan_library(LocalStorage(library))
    [problem] = [p for p in report.problems if p.name == "Clips/Over.hls/output.m3u8"]
    assert problem.kind is ProblemKind.BAD_PLAYLIST
    assert problem.detail == "is 8 MB; a playlist over 8 MB is not read"
