"""Titles being added: an `.hls` folder whose upload is under way (it holds the ingest marker,
not yet its playlist) is listed as "Being added", never as broken, on the library page and on
the stats page, and an upload that stopped a day ago says so to admins."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.accounts import Role, User
from lib.library import (
    INGEST_MARKER,
    STALE_MARKER_SECONDS,
    IngestMarker,
    Kind,
    Library,
    Tab,
    Video,
    read_marker,
)
from lib.services import build_services, build_storage, install
from lib.settings import Settings
from lib.stats import ProblemKind, scan_library
from lib.storage.local import LocalStorage
from lib.ui.grid import card_html
from tests.conftest import ADMIN_PASSWORD, COOKIE_KEY, REPO, CountingStorage, FakeClock
from tests.loopback import settings_for

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TRIPS = Tab("Trips", "Trips/")
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n"
VARIANT = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.ts\n"
VARIANT += "#EXT-X-ENDLIST\n"


def marker_bytes(percent: float, updated: datetime, title: str = "Alps") -> bytes:
    started = updated - timedelta(minutes=5)
    return IngestMarker(title, started, updated, percent).to_json()


def write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)


def ingest_folder(marker: bytes | None = None, done: bool = False) -> dict[str, str | bytes]:
    """The objects `ingest` writes into a title's folder, in the order it writes them."""
    files: dict[str, str | bytes] = {} if marker is None else {INGEST_MARKER: marker}
    files |= {
        "360p/index.m3u8": VARIANT,
        "360p/seg0.ts": b"\x47" * 188 * 3,
        "360p/seg1.ts": b"\x47" * 188 * 2,
        "poster.jpg": b"\xff\xd8 poster",
        "info.json": '{"duration": 8.0, "width": 640, "height": 360}',
        "preview/sprite.jpg": b"\xff\xd8 sprite",
        "preview/thumbnails.vtt": "WEBVTT\n",
        "original.mov": b"original bytes",
    }
    if done:
        files["output.m3u8"] = MASTER
    return files


@pytest.fixture
def trips(tmp_path) -> Path:
    """A tab with a title on its way (42 %), one whose upload stopped two days ago, one done,
    one broken, and one whose marker is garbage."""
    root = tmp_path / "library"
    write_files(root / "Trips" / "Alps.hls", ingest_folder(marker_bytes(42.5, NOW)))
    stalled = marker_bytes(10, NOW - timedelta(days=2), "Coast")
    write_files(root / "Trips" / "Coast.hls", ingest_folder(stalled))
    write_files(root / "Trips" / "Done.hls", ingest_folder(done=True))
    write_files(root / "Trips" / "Broken.hls", {"360p/seg0.ts": b"\x47" * 188})
    write_files(root / "Trips" / "Garbled.hls", {INGEST_MARKER: b"\x00{ not json"})
    return root


def videos_of(root: Path, now: datetime = NOW) -> tuple[dict[str, Video], CountingStorage]:
    storage = CountingStorage(root)
    library = Library(storage, clock=FakeClock(now.timestamp()))
    return {video.title: video for video in library.videos(TRIPS)}, storage


# ----- the library model -----


def test_a_folder_with_the_marker_and_no_playlist_is_being_added(trips):
    videos, _ = videos_of(trips)
    alps = videos["Alps"]
    assert alps.kind is Kind.ADDING
    assert alps.progress == 42.5
    assert not alps.interrupted
    assert not alps.playable


def test_a_marker_not_updated_for_a_day_is_an_interrupted_upload(trips):
    videos, _ = videos_of(trips)
    assert videos["Coast"].kind is Kind.ADDING and videos["Coast"].interrupted
    assert videos["Coast"].progress == 10.0
    # Measured by the library's clock: three days earlier the same marker was fresh.
    earlier, _ = videos_of(trips, NOW - timedelta(days=3))
    assert not earlier["Coast"].interrupted


def test_a_garbled_marker_still_means_being_added(trips):
    videos, _ = videos_of(trips)
    garbled = videos["Garbled"]
    assert garbled.kind is Kind.ADDING
    assert garbled.progress is None


def test_a_folder_without_marker_or_playlist_stays_broken_and_a_finished_one_plays(trips):
    videos, _ = videos_of(trips)
    assert videos["Broken"].kind is Kind.BROKEN
    assert videos["Done"].kind is Kind.HLS and videos["Done"].playable
    assert videos["Done"].poster == "Trips/Done.hls/poster.jpg"
    # The original, poster, sidecar and previews inside the folders are not titles.
    assert sorted(videos) == ["Alps", "Broken", "Coast", "Done", "Garbled"]


def test_two_stats_per_folder_whether_it_is_done_being_added_or_broken(trips):
    _, storage = videos_of(trips)
    stats = [call for call in storage.calls if call.startswith("stat ")]
    assert sorted(stats) == sorted(
        [
            "stat Trips/Alps.hls/output.m3u8",
            "stat Trips/Alps.hls/.ingest.json",
            "stat Trips/Broken.hls/output.m3u8",
            "stat Trips/Broken.hls/.ingest.json",
            "stat Trips/Coast.hls/output.m3u8",
            "stat Trips/Coast.hls/.ingest.json",
            "stat Trips/Done.hls/output.m3u8",
            "stat Trips/Done.hls/poster.jpg",
            "stat Trips/Garbled.hls/output.m3u8",
            "stat Trips/Garbled.hls/.ingest.json",
        ]
    )
    assert [call for call in storage.calls if call.startswith("list ")] == ["list Trips/"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"title": "Alps", "percent": 150}, 100.0),
        ({"title": "Alps", "percent": -3}, 0.0),
        ({"title": "Alps", "percent": "42"}, None),
        ({"title": "Alps", "percent": True}, None),
        ({"title": "Alps", "percent": 1e400}, None),
        ({"title": "Alps"}, None),
        (["not", "an", "object"], None),
    ],
)
def test_an_odd_percent_is_bounded_or_left_out(tmp_path, content, expected):
    (tmp_path / "A.hls").mkdir()
    (tmp_path / "A.hls" / INGEST_MARKER).write_text(json.dumps(content))
    marker = read_marker(LocalStorage(tmp_path), "A.hls/")
    assert marker is not None and marker.percent == expected


def test_a_marker_reads_back_what_was_written_and_none_when_absent(tmp_path):
    storage = LocalStorage(tmp_path)
    (tmp_path / "A.hls").mkdir()
    assert read_marker(storage, "A.hls/") is None
    written = IngestMarker("Alps", NOW - timedelta(minutes=5), NOW, 42.5)
    storage.write("A.hls/" + INGEST_MARKER, written.to_json())
    assert read_marker(storage, "A.hls/") == written
    assert json.loads(written.to_json())["updated"] == "2025-06-01T12:00:00Z"


def test_a_marker_without_an_update_time_is_as_old_as_its_object(tmp_path):
    (tmp_path / "A.hls").mkdir()
    path = tmp_path / "A.hls" / INGEST_MARKER
    path.write_text('{"title": "Alps", "percent": 5}')
    old = NOW.timestamp() - STALE_MARKER_SECONDS - 60
    os.utime(path, (old, old))
    marker = read_marker(LocalStorage(tmp_path), "A.hls/")
    assert marker is not None and marker.is_stale(NOW.timestamp())
    assert not marker.is_stale(old + STALE_MARKER_SECONDS)


def test_a_title_being_added_is_found_but_never_opened(trips):
    settings = Settings(library=trips, username="mum", password=ADMIN_PASSWORD)
    services = build_services(settings)
    assert [v.title for v in services.library.search_index().search("alps")] == ["Alps"]
    assert services.library.find("Trips/Alps.hls/").kind is Kind.ADDING


def test_the_loopback_bucket_lists_a_title_being_added(oci):
    bucket = "being-added"
    oci.server.put_bytes(bucket, "Trips/Alps.hls/" + INGEST_MARKER, marker_bytes(42.5, NOW))
    oci.server.put_bytes(bucket, "Trips/Alps.hls/360p/seg0.ts", b"\x47" * 188)
    oci.server.put_bytes(bucket, "Trips/Gone.hls/360p/seg0.ts", b"\x47" * 188)
    library = Library(build_storage(settings_for(oci, bucket)), clock=lambda: NOW.timestamp())
    videos = {video.title: video for video in library.videos(TRIPS)}
    assert (videos["Alps"].kind, videos["Alps"].progress) == (Kind.ADDING, 42.5)
    assert videos["Gone"].kind is Kind.BROKEN


# ----- the grid card -----


class Parsed(HTMLParser):
    """The text of some cards as a browser shows it, and the objects their play buttons name."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.plays: list[str | None] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.plays += [value for name, value in attrs if name == "data-hm-play"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def poster(video: Video) -> str:
    return f"/video/token/{video.name}poster.jpg"


def download(video: Video) -> str:
    return f"/video/token/{video.name}?download=1"


def adding(progress: float | None = 42.7, interrupted: bool = False) -> Video:
    name = "Trips/Alps.hls/"
    return Video("Trips", "Alps", name, Kind.ADDING, progress=progress, interrupted=interrupted)


def card(video: Video, admin: bool) -> Parsed:
    return Parsed(card_html(video, poster, download, "Trips", admin=admin))


def test_a_viewer_sees_being_added_and_nothing_to_play():
    for video in (adding(), adding(interrupted=True), adding(progress=None)):
        shown = card(video, admin=False)
        assert shown.plays == []
        assert "Being added" in shown.text
        assert "Alps" in shown.text
        assert not any("output.m3u8" in text or "%" in text for text in shown.text)


def test_an_admin_sees_how_far_it_is_or_that_it_stopped():
    assert "Being added — 42 %" in card(adding(), admin=True).text
    assert "Being added" in card(adding(progress=None), admin=True).text
    stopped = card(adding(interrupted=True), admin=True)
    assert "Upload interrupted: run ingest again" in stopped.text
    assert stopped.plays == []


ADMIN_USER = User("mum", "Mum", Role.ADMIN, "unused")
VIEWER_USER = User("grandpa", "Grandpa", Role.VIEWER, "unused")


def library_page(root: Path, user: User) -> AppTest:
    """The library page run in-process as `user`, on the Trips tab."""
    settings = Settings(
        library=root, username="mum", password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(build_services(settings))
    at = AppTest.from_file(str(REPO / "pages" / "library.py"), default_timeout=30)
    at.session_state["user"] = user
    return at.run()


def statuses(at: AppTest) -> tuple[list[str], list[str | None]]:
    """The status lines of the cards of titles being added, and the play buttons' objects."""
    page = Parsed("".join(element.proto.body for element in at.get("html")))
    shown = [text for text in page.text if text.startswith(("Being added", "Upload"))]
    return shown, page.plays


@pytest.fixture
def live_trips(tmp_path) -> Path:
    """Trips as the app sees it now: Alps at 42 %, Coast stopped two days ago, Done."""
    root = tmp_path / "library"
    now = datetime.now(UTC)
    write_files(root / "Trips" / "Alps.hls", ingest_folder(marker_bytes(42.5, now)))
    stalled = marker_bytes(10, now - timedelta(days=2), "Coast")
    write_files(root / "Trips" / "Coast.hls", ingest_folder(stalled))
    write_files(root / "Trips" / "Done.hls", ingest_folder(done=True))
    return root


def test_the_library_page_shows_an_admin_the_progress(live_trips):
    at = library_page(live_trips, ADMIN_USER)
    assert not at.exception
    assert statuses(at) == (
        ["Being added — 42 %", "Upload interrupted: run ingest again"],
        ["Trips/Done.hls/"],
    )
    assert "Broken" not in str(at.get("html"))


def test_the_library_page_shows_a_viewer_only_being_added(live_trips):
    at = library_page(live_trips, VIEWER_USER)
    assert not at.exception
    assert statuses(at) == (["Being added", "Being added"], ["Trips/Done.hls/"])


# ----- the stats -----


def test_stats_count_a_title_being_added_whole_and_not_as_a_problem(trips):
    alps = trips / "Trips" / "Alps.hls" / INGEST_MARKER
    os.utime(alps)  # updated just now: on its way
    coast = trips / "Trips" / "Coast.hls" / INGEST_MARKER
    old = datetime.now(UTC).timestamp() - STALE_MARKER_SECONDS - 3600
    os.utime(coast, (old, old))
    report = scan_library(LocalStorage(trips))
    rows = report.videos.set_index("name")
    sizes = {
        path.relative_to(trips).as_posix(): path.stat().st_size
        for path in trips.rglob("*")
        if path.is_file()
    }
    for name in ("Trips/Alps.hls/", "Trips/Coast.hls/", "Trips/Done.hls/"):
        inside = [size for object_name, size in sizes.items() if object_name.startswith(name)]
        assert rows.loc[name, "bytes"] == sum(inside)
        assert rows.loc[name, "objects"] == len(inside)
    assert report.bytes == sum(sizes.values()) and report.objects == len(sizes)
    assert [(p.kind, p.name) for p in report.problems] == [
        (ProblemKind.NO_PLAYLIST, "Trips/Broken.hls/"),
        (ProblemKind.INTERRUPTED, "Trips/Coast.hls/"),
    ]
    assert rows.loc["Trips/Alps.hls/", "kind"] == "hls"
    assert sorted(rows.index) == [
        "Trips/Alps.hls/",
        "Trips/Broken.hls/",
        "Trips/Coast.hls/",
        "Trips/Done.hls/",
        "Trips/Garbled.hls/",
    ]


def test_a_finished_ingest_folder_with_nested_variants_is_one_title(tmp_path):
    files = ingest_folder(done=True) | {
        "720p/index.m3u8": VARIANT,
        "720p/seg0.ts": b"\x47" * 188 * 4,
        "720p/seg1.ts": b"\x47" * 188 * 5,
    }
    files["output.m3u8"] = MASTER + "#EXT-X-STREAM-INF:BANDWIDTH=2000000\n720p/index.m3u8\n"
    write_files(tmp_path / "Trips" / "Alps.hls", files)
    write_files(tmp_path / "Unsorted.hls", ingest_folder(done=True))  # at the root too
    report = scan_library(LocalStorage(tmp_path))
    rows = report.videos.set_index("name")
    assert sorted(rows.index) == ["Trips/Alps.hls/", "Unsorted.hls/"]
    folder = tmp_path / "Trips" / "Alps.hls"
    inside = [path.stat().st_size for path in folder.rglob("*") if path.is_file()]
    assert rows.loc["Trips/Alps.hls/", "bytes"] == sum(inside)
    assert rows.loc["Trips/Alps.hls/", "objects"] == len(files)
    assert rows.loc["Trips/Alps.hls/", "duration_seconds"] == 8.0
    assert report.problems == ()
