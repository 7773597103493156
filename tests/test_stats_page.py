"""AppTest: the stats page in-process, for an admin and (not) for a viewer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.format import format_duration, format_size
from lib.services import Services, build_services, build_storage, install
from lib.settings import Settings
from lib.stats import GIB
from lib.storage import Storage
from lib.storage.oci import SCAN_FIELDS
from tests.apptest import shown, sign_in
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COOKIE_KEY,
    REPO,
    STATS_BUCKET,
    VIEWER,
    VIEWER_PASSWORD,
    StatsLibrary,
)
from tests.loopback import settings_for
from tests.oci_server import Fault
from tests.recording_storage import RecordingStorage
from tests.stats_library import HLS_SECONDS, TITLES, library_sizes
from tests.users import write_users

ENTRY = str(REPO / "pages" / "main.py")
STATS_PAGE = str(REPO / "pages" / "stats.py")


@pytest.fixture
def users(tmp_path_factory) -> Path:
    """A users file with the viewer (the admin is the single --username one)."""
    folder = tmp_path_factory.mktemp("users")
    return write_users(folder / "users.yaml", {VIEWER: (VIEWER_PASSWORD, "viewer")})


@pytest.fixture
def storage(stats_library: StatsLibrary) -> RecordingStorage:
    return RecordingStorage(stats_library.root)


def services_for(storage: Storage, users: Path, settings: Settings) -> Services:
    """The services on `storage`, with the admin of `settings` and the viewer of `users`."""
    return build_services(replace(settings, users=users, stats_ttl=600), storage=storage)


@pytest.fixture
def services(stats_library, storage, users) -> Services:
    settings = Settings(
        library=stats_library.root,
        username=ADMIN,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
    )
    services = services_for(storage, users, settings)
    install(services)
    return services


def signed_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    return sign_in(at, username, password)


def stats_page(username: str = ADMIN, password: str = ADMIN_PASSWORD) -> AppTest:
    at = signed_in(username, password)
    at.switch_page("stats.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_an_admin_sees_the_headline_numbers(services, stats_library):
    at = stats_page()
    assert [title.value for title in at.title] == ["Library stats"]
    sizes = library_sizes(stats_library)
    shown = metrics(at)
    assert shown["Storage"] == format_size(sum(sizes.values()))
    assert shown["Objects"] == f"{len(sizes):,}"
    assert shown["Videos"] == str(len(TITLES))
    assert shown["HLS video"] == format_duration(sum(HLS_SECONDS.values()))
    # The app's own objects: the fixture's one, and the sign-in's ticket (AppTest does not
    # follow the hand-over's redirect, so nobody takes it).
    assert "(under .homemovies/: 2) are not counted" in at.caption[0].value


def test_an_admin_sees_the_problems_and_the_tables(services):
    at = stats_page()
    problems = [md.value for md in at.markdown if md.value.startswith("- **")]
    assert problems == [
        "- **.hls folder without output.m3u8**: 1",
        "- **Listed in a playlist but missing from storage**: 1",
        "- **Playlist that cannot be used**: 3",
        "- **Playlist pointing outside its folder**: 2",
        "- **Video file a browser cannot play**: 1",
        "- **Nested deeper than the layout allows (viewers never see it)**: 1",
        "- **Zero-byte object**: 1",
    ]
    frames = [frame.value for frame in at.dataframe]
    names = {frozenset(frame.columns) for frame in frames}
    assert frozenset({"problem", "name", "detail"}) in names
    videos = next(frame for frame in frames if "duration_seconds" in frame.columns)
    assert len(videos) == len(TITLES)
    assert [button.label for button in at.get("download_button")] == [
        "Download the video table (CSV)"
    ]


def test_the_scan_is_cached_and_scan_again_rescans(services, storage):
    at = stats_page()
    assert storage.scans.count("") == 2  # the folder's usage, then the full scan
    at.run()
    assert storage.scans.count("") == 2
    next(button for button in at.button if button.label == "Scan again").click().run()
    assert not at.exception
    assert storage.scans.count("") == 4


def test_editing_a_price_changes_the_estimate(services, stats_library):
    at = stats_page()
    assert metrics(at)["Estimated monthly cost"] == "$0.00"
    at.number_input(key="price:Standard").set_value(1_000_000.0).run()
    expected = sum(library_sizes(stats_library).values()) / GIB * 1_000_000
    assert metrics(at)["Estimated monthly cost"] == f"${expected:,.2f}"
    assert any("An estimate, not a bill" in caption.value for caption in at.caption)


def test_a_viewer_has_no_stats_page(services, storage):
    at = signed_in(VIEWER, VIEWER_PASSWORD)
    at.run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == ["Events", "Hostile", "Years", "Unsorted"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("stats.py")
    assert storage.scans == []


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_the_stats_script_itself_draws_nothing_but_for_an_admin(services, storage, who):
    at = AppTest.from_file(STATS_PAGE, default_timeout=60)
    if who == "viewer":
        at.session_state["user"] = services.accounts.get(VIEWER)
    at.run()
    assert not at.exception
    assert len(at.main.children) == 0 and len(at.sidebar.children) == 0
    assert storage.scans == [] and storage.reads == []


def test_the_stats_script_draws_for_an_admin(services):
    at = AppTest.from_file(STATS_PAGE, default_timeout=60)
    at.session_state["user"] = services.accounts.get(ADMIN)
    at.run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Library stats"]


def test_a_bucket_that_refuses_the_scan_gets_a_sentence(oci, stats_bucket, users):
    storage = build_storage(settings_for(oci, stats_bucket))
    settings = settings_for(
        oci, stats_bucket, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(services_for(storage, users, settings))
    oci.server.inject(Fault("status", query={"fields": SCAN_FIELDS}, status=401, times=10))
    try:
        at = stats_page()
    finally:
        oci.server.clear_faults()
    refused = (
        f"OCI refused the credentials for bucket {STATS_BUCKET} (401 NotAuthenticated); "
        "check the API key or the IAM policy (see README, OCI)."
    )
    assert [shown(error.value) for error in at.error] == [
        f"The library's totals cannot be read right now: OCI refused the credentials for "
        f"'.homemovies/' in bucket {STATS_BUCKET} (401 NotAuthenticated); check the API key "
        "or the IAM policy (see README, OCI).",
        f"The library cannot be scanned right now: {refused}",
    ]
    assert len(at.dataframe) == 0


def test_an_empty_library_says_so(tmp_path, users):
    storage = RecordingStorage(tmp_path)
    settings = Settings(
        library=tmp_path, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(services_for(storage, users, settings))
    at = stats_page()
    assert metrics(at) == {"Storage": "0 B", "Objects": "0", "Videos": "0", "HLS video": "0 s"}
    assert [info.value for info in at.info] == [
        "The library is empty. Add a folder of videos to the bucket (see README)."
    ]


def test_an_admin_sees_how_far_the_library_index_has_got(services):
    from lib.media_index import IndexEntry, version_of

    playable = [video for video in services.library.all_videos() if video.playable]
    first = playable[0]
    etag, size = version_of(first)
    services.index.put(
        IndexEntry(first.name, etag, size, video_codec="h264", width=320, height=180)
    )
    at = stats_page()
    assert [header.value for header in at.header][-2:] == ["Library index", "Videos"]
    bars = [bar.proto.text for bar in at.get("progress")]
    assert f"Indexed 1 of {len(playable)} playable titles" in bars
    assert any(f"{len(playable) - 1} to do" in caption.value for caption in at.caption)
    videos = next(frame.value for frame in at.dataframe if "video_codec" in frame.value.columns)
    row = videos[videos["name"] == first.name].iloc[0]
    assert (row["video_codec"], row["resolution"], row["index"]) == ("h264", "320×180", "indexed")
    assert set(videos[videos["name"] != first.name]["index"]) <= {"to do"}
