"""The stats scan on a library with known sizes, durations and planted faults: local folder
and the loopback OCI bucket, the problems it lists, bounded playlist reads, the cache."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from lib.format import format_duration, format_size
from lib.library import MAX_PLAYLIST_BYTES, Library
from lib.services import build_storage
from lib.stats import (
    DEFAULT_PRICES,
    GIB,
    KIND_LABELS,
    MAX_LISTED,
    NOT_A_VIDEO,
    NOT_IN_A_TAB,
    LibraryStats,
    ProblemKind,
    Problems,
    Report,
    ScanProgress,
    locate,
    monthly_cost,
    resolve,
    scan_library,
)
from lib.storage.local import LocalStorage
from lib.storage.oci import SCAN_FIELDS
from tests.conftest import STATS_BUCKET, StatsLibrary
from tests.loopback import settings_for
from tests.recording_storage import RecordingStorage
from tests.stats_library import APP_STATE, HLS_SECONDS, TITLES, WEDDING, library_sizes

VARIANT_PLAYLISTS = ["Years/Variants.hls/stream_0.m3u8", "Years/Variants.hls/stream_1.m3u8"]
EXPECTED_PROBLEMS = {
    (ProblemKind.NO_PLAYLIST, "Years/Broken.hls/"),
    (ProblemKind.MISSING_SEGMENT, "Years/Gap.hls/output001.ts"),
    (ProblemKind.BAD_PLAYLIST, "Hostile/Huge.hls/output.m3u8"),
    (ProblemKind.BAD_PLAYLIST, "Hostile/Binary.hls/output.m3u8"),
    (ProblemKind.BAD_PLAYLIST, "Hostile/Garbage.hls/output.m3u8"),
    (ProblemKind.OUTSIDE_REFERENCE, "Hostile/Elsewhere.hls/output.m3u8"),
    (ProblemKind.UNPLAYABLE, "Events/Old tape.avi"),
    (ProblemKind.NESTED, "Years/deeper/Nested.mp4"),
    (ProblemKind.ZERO_BYTES, "Events/Empty.mp4"),
}


@pytest.fixture
def local(stats_library: StatsLibrary) -> RecordingStorage:
    return RecordingStorage(stats_library.root)


@pytest.fixture(scope="module")
def local_report(stats_library: StatsLibrary) -> Report:
    return scan_library(LocalStorage(stats_library.root))


@pytest.fixture(scope="module")
def oci_report(oci, stats_bucket: str) -> Report:
    return scan_library(build_storage(settings_for(oci, stats_bucket)))


@pytest.fixture(params=["local", "oci"])
def report(request) -> Report:
    """The same library scanned from the folder and from the bucket: the same answers."""
    return request.getfixturevalue(f"{request.param}_report")


def row(report: Report, name: str) -> dict:
    rows = report.videos[report.videos["name"] == name].to_dict("records")
    assert len(rows) == 1, name
    return rows[0]


def write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    """Write each (relative name, text or bytes) below `folder`, making folders as needed."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def test_totals_count_every_object_but_the_app_state(report, stats_library):
    sizes = library_sizes(stats_library)
    assert report.objects == len(sizes)
    assert report.bytes == sum(sizes.values())
    assert report.app_state_objects == 1


def test_one_row_per_title_as_the_library_shows_them(report):
    titles = sorted(zip(report.videos["tab"], report.videos["title"], strict=True))
    assert titles == sorted(TITLES)


@pytest.mark.parametrize("backend", ["local", "oci"])
def test_the_titles_are_the_ones_the_library_page_shows(backend, stats_library, request):
    if backend == "local":
        storage = LocalStorage(stats_library.root)
    else:
        storage = build_storage(settings_for(request.getfixturevalue("oci"), STATS_BUCKET))
    request.getfixturevalue("stats_bucket")
    library = Library(storage)
    shown = {
        (tab.label, video.title, KIND_LABELS[video.kind], video.name)
        for tab in library.tabs()
        for video in library.videos(tab)
    }
    report = scan_library(storage)
    assert set(report.videos[["tab", "title", "kind", "name"]].itertuples(index=False)) == shown


def test_folder_markers_count_but_are_neither_titles_nor_problems(oci):
    """The OCI console makes a zero-byte object 'Folder/' for each folder it creates."""
    bucket = "stats-markers"
    for name in ("Trips/", "Trips/Alps.hls/", "Trips/Empty.hls/", "Trips/Odd/"):
        oci.server.put_bytes(bucket, name, b"")
    oci.server.put_bytes(bucket, "Trips/Alps.hls/output.m3u8", b"#EXTM3U\n#EXTINF:2.5,\na.ts\n")
    oci.server.put_bytes(bucket, "Trips/Alps.hls/a.ts", b"\x47" * 188)
    storage = build_storage(settings_for(oci, bucket))
    report = scan_library(storage)
    assert report.objects == 6
    rows = report.videos.set_index("name")
    assert list(rows.index) == ["Trips/Alps.hls/", "Trips/Empty.hls/"]
    assert rows.loc["Trips/Alps.hls/", "objects"] == 3
    assert rows.loc["Trips/Alps.hls/", "duration_seconds"] == 2.5
    assert [(p.kind, p.name) for p in report.problems] == [
        (ProblemKind.NO_PLAYLIST, "Trips/Empty.hls/")
    ]
    library = Library(storage)
    assert [v.name for v in library.videos(library.tabs()[0])] == list(rows.index)


def test_a_file_title_has_its_size_kind_and_dates(report, stats_library):
    wedding = row(report, "Events/Wedding.mp4")
    assert wedding["kind"] == "mp4"
    assert wedding["bytes"] == sum(stats_library.sizes[name] for name in WEDDING)
    assert wedding["objects"] == len(WEDDING)
    assert wedding["created"] is not None and wedding["modified"] >= wedding["created"]
    assert math.isnan(wedding["duration_seconds"]) and math.isnan(wedding["average_kbps"])
    assert row(report, "Events/Old tape.avi")["kind"] == "other"


def test_an_hls_title_adds_up_its_folder_and_its_playlist_duration(report, stats_library):
    for folder, seconds in HLS_SECONDS.items():
        title = row(report, folder)
        objects = stats_library.below(folder)
        assert title["kind"] == "hls"
        assert title["objects"] == len(objects)
        assert title["bytes"] == sum(objects.values())
        assert title["duration_seconds"] == pytest.approx(seconds, abs=0.05)
        assert title["average_kbps"] == pytest.approx(title["bytes"] * 8 / seconds / 1000, 0.01)
    assert report.hls_seconds == pytest.approx(sum(HLS_SECONDS.values()), abs=0.2)
    broken = row(report, "Years/Broken.hls/")
    assert broken["kind"] == "hls" and math.isnan(broken["duration_seconds"])


def test_one_row_per_tab_with_everything_below_it(report, stats_library):
    tabs = report.tabs.set_index("tab")
    assert list(tabs.index) == ["Events", "Hostile", "Years", "Unsorted", NOT_IN_A_TAB]
    sizes = library_sizes(stats_library)
    for tab, prefix in (("Events", "Events/"), ("Hostile", "Hostile/"), ("Years", "Years/")):
        below = {n: s for n, s in sizes.items() if n.startswith(prefix)}
        assert tabs.loc[tab, "bytes"] == sum(below.values()), tab
        assert tabs.loc[tab, "objects"] == len(below), tab
    assert tabs.loc["Unsorted", "bytes"] == sizes["Root clip.mp4"]
    assert tabs.loc[NOT_IN_A_TAB, "bytes"] == sizes[".hidden/private.mp4"]
    assert tabs.loc["Events", ["videos", "mp4", "hls", "other"]].tolist() == [6, 4, 1, 1]
    assert tabs.loc["Years", ["videos", "mp4", "hls", "other"]].tolist() == [5, 1, 4, 0]
    years = sum(s for folder, s in HLS_SECONDS.items() if folder.startswith("Years/"))
    assert tabs.loc["Years", "hls_hours"] == pytest.approx(years / 3600, abs=0.1 / 3600)
    assert tabs["bytes"].sum() == report.bytes


def test_storage_per_kind_adds_up_to_the_total(report, stats_library):
    kinds = report.by_kind().set_index("kind")["bytes"]
    assert list(kinds.index) == ["hls", "mp4", "other", NOT_A_VIDEO]
    assert kinds.sum() == report.bytes
    sizes = stats_library.sizes
    assert kinds["hls"] == sum(size for name, size in sizes.items() if ".hls/" in name)
    assert kinds["other"] == sizes["Events/Old tape.avi"]
    assert kinds[NOT_A_VIDEO] == (
        sizes["Events/notes.txt"] + sizes["Years/deeper/Nested.mp4"] + sizes[".hidden/private.mp4"]
    )


def test_posters_and_subtitles_count_with_their_file_title_once(tmp_path):
    """As inside an .hls folder; 'Trip.part2.vtt' is offered to 'Trip.part2' and 'Trip'."""
    files = {
        "Tab/Trip.mp4": b"t" * 100,
        "Tab/Trip.jpg": b"p" * 20,
        "Tab/Trip.en.vtt": b"e" * 3,
        "Tab/Trip.part2.mp4": b"u" * 50,
        "Tab/Trip.part2.vtt": b"s" * 5,
        "Tab/Trip.txt": b"n" * 7,
    }
    write_files(tmp_path, files)
    storage = LocalStorage(tmp_path)
    library = Library(storage)
    [trip, part2] = library.videos(library.tabs()[0])
    assert [t.name for t in trip.subtitles] == ["Tab/Trip.en.vtt", "Tab/Trip.part2.vtt"]
    assert [t.name for t in part2.subtitles] == ["Tab/Trip.part2.vtt"]
    report = scan_library(storage)
    assert report.videos.set_index("name")[["bytes", "objects"]].to_dict("index") == {
        "Tab/Trip.mp4": {"bytes": 100 + 20 + 3, "objects": 3},
        "Tab/Trip.part2.mp4": {"bytes": 50 + 5, "objects": 2},
    }
    assert report.by_kind().to_dict("records") == [
        {"kind": "mp4", "bytes": 178},
        {"kind": NOT_A_VIDEO, "bytes": 7},
    ]


def test_the_largest_titles_come_first(report):
    largest = report.largest(3)
    assert len(largest) == 3
    assert list(largest["bytes"]) == sorted(report.videos["bytes"], reverse=True)[:3]
    first = report.videos.loc[report.videos["bytes"].idxmax()]
    assert largest.loc[0, "video"] == f"{first['tab']} / {first['title']}"


def test_every_planted_fault_is_listed_by_its_full_name(report):
    assert {(p.kind, p.name) for p in report.problems} == EXPECTED_PROBLEMS
    assert report.problem_counts[ProblemKind.OUTSIDE_REFERENCE] == 2
    assert sum(report.problem_counts.values()) == len(EXPECTED_PROBLEMS) + 1


def test_hostile_playlists_are_explained(report):
    details = {(p.name, p.detail) for p in report.problems if p.name.startswith("Hostile/")}
    assert details == {
        ("Hostile/Huge.hls/output.m3u8", "is 9 MB; a playlist over 8 MB is not read"),
        ("Hostile/Binary.hls/output.m3u8", "is binary data, not a text playlist"),
        ("Hostile/Garbage.hls/output.m3u8", "cannot be parsed (ValueError)"),
        ("Hostile/Elsewhere.hls/output.m3u8", "refers to https://elsewhere.example/stolen.ts"),
        ("Hostile/Elsewhere.hls/output.m3u8", "refers to ../../Years/2024.mp4"),
    }


def test_the_missing_segment_names_its_playlist(report):
    missing = [p for p in report.problems if p.kind is ProblemKind.MISSING_SEGMENT]
    assert [(p.name, p.detail) for p in missing] == [
        ("Years/Gap.hls/output001.ts", "listed in output.m3u8")
    ]


def test_playlists_are_read_once_each_within_the_byte_limit(local, stats_library):
    scan_library(local)
    assert local.scans == [""]
    read = {name: (start, end) for name, start, end in local.reads}
    assert len(read) == len(local.reads), "each playlist is read once"
    assert "Hostile/Huge.hls/output.m3u8" not in read
    # Every title's output.m3u8 and the variant playlists a master playlist lists.
    playlists = {n: s for n, s in stats_library.sizes.items() if n.endswith(".m3u8")}
    assert set(VARIANT_PLAYLISTS) < playlists.keys()
    del playlists["Hostile/Huge.hls/output.m3u8"]
    assert read == {name: (0, size - 1) for name, size in playlists.items()}
    assert max(end for _, end in read.values()) < MAX_PLAYLIST_BYTES


def test_the_oci_scan_reads_each_playlist_with_one_bounded_get(oci, stats_bucket, stats_library):
    mark = oci.server.mark()
    scan_library(build_storage(settings_for(oci, stats_bucket)))
    seen = oci.server.since(mark)
    reads = {s.path.split(f"/b/{stats_bucket}/o/", 1)[1]: s for s in seen if "/o/" in s.path}
    assert len(reads) == len([s for s in seen if "/o/" in s.path])
    assert "Hostile/Huge.hls/output.m3u8" not in reads
    assert {name: (s.status, s.body_bytes) for name, s in reads.items()} == {
        name: (206, size)
        for name, size in stats_library.sizes.items()
        if name.endswith(".m3u8") and name != "Hostile/Huge.hls/output.m3u8"
    }


def test_tiers_and_months_add_up_to_the_total(report):
    assert report.tiers["bytes"].sum() == report.bytes
    assert report.tiers["objects"].sum() == report.objects
    assert report.months["cumulative_bytes"].iloc[-1] == report.bytes
    assert report.months["bytes"].sum() == report.bytes


def test_a_local_folder_has_no_tiers_and_a_bucket_does(local_report, oci_report):
    assert not local_report.tiers_known
    assert oci_report.tiers_known
    assert list(oci_report.tiers["tier"]) == ["Standard"]


def test_progress_is_reported_while_scanning(stats_library):
    seen: list[ScanProgress] = []
    scan_library(LocalStorage(stats_library.root), seen.append)
    assert seen, "at least one report, for the playlists"
    titles = [n for n in stats_library.sizes if n.endswith("/output.m3u8")]  # one check each
    assert seen[-1].playlists == seen[-1].playlists_read == len(titles)
    assert seen[-1].objects == len(stats_library.sizes)


def test_the_report_is_cached_until_the_ttl_or_a_refresh(local):
    now = [1000.0]
    stats = LibraryStats(local, ttl=60, clock=lambda: now[0])
    assert stats.cached() is None
    first = stats.report()
    assert stats.report() is first and stats.cached() is first
    assert local.scans == [""]
    now[0] += 59
    assert stats.report() is first
    now[0] += 1
    assert stats.cached() is None
    second = stats.report()
    assert second is not first and local.scans == ["", ""]
    stats.forget()
    assert stats.cached() is None
    stats.report()
    assert local.scans == ["", "", ""]


def test_quick_totals_leave_out_the_app_state(local, oci, stats_bucket, stats_library):
    sizes = library_sizes(stats_library)
    for storage in (local, build_storage(settings_for(oci, stats_bucket))):
        totals = LibraryStats(storage, ttl=60).totals()
        assert (totals.objects, totals.bytes) == (len(sizes), sum(sizes.values()))
    assert local.scans == ["", APP_STATE]  # a folder is counted, then its app state


def test_local_usage_counts_the_whole_folder(local, stats_library):
    assert local.usage() == (len(stats_library.sizes), sum(stats_library.sizes.values()))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Root.mp4", ("", "Root.mp4")),
        ("Top.hls/output.m3u8", ("", "Top.hls/")),
        ("Top.hls/720p/seg.ts", ("", "Top.hls/")),
        ("Years/2024.mp4", ("Years/", "Years/2024.mp4")),
        ("Years/2022.hls/output000.ts", ("Years/", "Years/2022.hls/")),
        ("Years/2022.hls/720p/seg.ts", ("Years/", "Years/2022.hls/")),
        ("Years/deeper/Nested.mp4", ("Years/", None)),
        ("Years/", ("Years/", "Years/")),
    ],
)
def test_locate_places_an_object_in_the_layout(name, expected):
    assert locate(name) == expected


@pytest.mark.parametrize(
    ("base", "uri", "expected"),
    [
        ("", "output000.ts", "output000.ts"),
        ("", "output%20000.ts?token=1#t", "output 000.ts"),
        ("", "720p/index.m3u8", "720p/index.m3u8"),
        ("720p", "../audio/a.ts", "audio/a.ts"),
        ("720p", "seg.ts", "720p/seg.ts"),
        ("", "../other.hls/seg.ts", None),
        ("", "/video/seg.ts", None),
        ("", "https://elsewhere.example/seg.ts", None),
        ("", "//elsewhere.example/seg.ts", None),
        ("", "data:video/mp2t;base64,AAAA", None),
        ("", "", None),
    ],
)
def test_resolve_keeps_references_inside_the_folder(base, uri, expected):
    assert resolve(base, uri) == expected


def test_sizes_and_durations_read_as_people_write_them():
    assert [format_size(n) for n in (0, 512, 1536, 3 * 1024**2, 1.25 * 1024**4)] == [
        "0 B",
        "512 B",
        "1.5 KB",
        "3 MB",
        "1.25 TB",
    ]
    assert [format_duration(s) for s in (0, 42.4, 200, 43_500)] == [
        "0 s",
        "42 s",
        "3 min 20 s",
        "12 h 05 min",
    ]


# ----- a bucket of 10,000+ objects on the loopback OCI server -----

BIG_BUCKET = "stats-big"
TRIPS = 8
SEGMENTS = 1300
SEGMENT_BYTES = 1_000_000
ARCHIVED_BYTES = 2 * GIB


@pytest.fixture(scope="module")
def big_bucket(oci) -> dict[str, int]:
    """8 HLS titles of 1,300 generated segments (the last 4 in Infrequent Access, created a
    year later; segment 5 of Trip 7 missing) and 3 archived 2 GiB files: 10,410 objects."""
    sizes: dict[str, int] = {}
    for trip in range(TRIPS):
        folder = f"Trips/Trip {trip}.hls/"
        lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"]
        segments = []
        for number in range(SEGMENTS):
            lines += ["#EXTINF:2.0,", f"output{number:04d}.ts"]
            if (trip, number) != (7, 5):
                segments.append((f"{folder}output{number:04d}.ts", SEGMENT_BYTES))
        later = trip >= TRIPS // 2
        created = datetime(2024 if later else 2023, 3 + trip, 1, tzinfo=UTC)
        playlist = ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()
        stored = oci.server.put_bytes(BIG_BUCKET, folder + "output.m3u8", playlist)
        stored.created = stored.modified = created
        oci.server.put_generated(
            BIG_BUCKET,
            segments,
            created=created,
            tier="InfrequentAccess" if later else "Standard",
        )
        sizes.update(segments)
        sizes[folder + "output.m3u8"] = len(playlist)
    archived = [(f"Archive/Tape {n}.mp4", ARCHIVED_BYTES) for n in range(3)]
    oci.server.put_generated(
        BIG_BUCKET, archived, created=datetime(2022, 12, 24, tzinfo=UTC), tier="Archive"
    )
    sizes.update(archived)
    return sizes


@pytest.fixture(scope="module")
def big_scan(oci, big_bucket) -> tuple[Report, list]:
    storage = build_storage(settings_for(oci, BIG_BUCKET))
    storage.namespace  # noqa: B018 - asked once, before the scan's requests are counted
    mark = oci.server.mark()
    report = scan_library(storage)
    return report, oci.server.since(mark)


def test_the_scan_pages_through_every_object_once(big_bucket, big_scan):
    report, seen = big_scan
    listings = [s for s in seen if s.method == "GET" and s.path.endswith(f"/b/{BIG_BUCKET}/o")]
    names = sorted(big_bucket)
    assert len(names) == 10_410 and report.objects == len(names)
    assert len(listings) == 11  # 1,000 names a page
    assert all(s.status == 200 for s in listings)
    assert all("delimiter" not in s.query and s.query.get("limit") == "1000" for s in listings)
    assert all(s.query["fields"] == SCAN_FIELDS for s in listings)
    assert "start" not in listings[0].query
    assert [s.query["start"] for s in listings[1:]] == names[1000::1000]


def test_the_big_scan_reads_only_the_playlists(big_bucket, big_scan):
    _, seen = big_scan
    reads = [s for s in seen if "/o/" in s.path]
    assert sorted(s.path.rsplit("/o/", 1)[1] for s in reads) == [
        f"Trips/Trip {trip}.hls/output.m3u8" for trip in range(TRIPS)
    ]
    assert all(s.method == "GET" and s.status == 206 for s in reads)
    assert len(seen) == len(reads) + 11


def test_the_big_scan_adds_up_each_title(big_bucket, big_scan):
    report, _ = big_scan
    for trip in range(TRIPS):
        folder = f"Trips/Trip {trip}.hls/"
        title = row(report, folder)
        below = {n: s for n, s in big_bucket.items() if n.startswith(folder)}
        assert (title["objects"], title["bytes"]) == (len(below), sum(below.values()))
        assert title["duration_seconds"] == SEGMENTS * 2.0
        assert title["storage_tier"] == ("Mixed" if trip >= TRIPS // 2 else "Standard")
    assert row(report, "Archive/Tape 0.mp4")["storage_tier"] == "Archive"
    assert report.hls_seconds == TRIPS * SEGMENTS * 2.0
    assert [(p.kind, p.name) for p in report.problems] == [
        (ProblemKind.MISSING_SEGMENT, "Trips/Trip 7.hls/output0005.ts")
    ]


def test_storage_per_tier_and_its_estimated_cost(big_bucket, big_scan):
    report, _ = big_scan
    tiers = report.tiers.set_index("tier")
    later = [n for n in big_bucket if n.endswith(".ts") and int(n.split("Trip ")[1][0]) >= 4]
    assert tiers.loc["Archive", "bytes"] == 3 * ARCHIVED_BYTES
    assert tiers.loc["InfrequentAccess", "bytes"] == len(later) * SEGMENT_BYTES
    assert tiers["bytes"].sum() == sum(big_bucket.values())
    cost = monthly_cost(report.tiers, DEFAULT_PRICES).set_index("tier")
    assert cost.loc["Archive", "usd_per_month"] == pytest.approx(6 * 0.0026)
    assert cost.loc["Infrequent Access", "usd_per_month"] == pytest.approx(
        len(later) * SEGMENT_BYTES / GIB * 0.01
    )
    doubled = monthly_cost(report.tiers, {**DEFAULT_PRICES, "Archive": 0.0052})
    assert doubled.set_index("tier").loc["Archive", "usd_per_month"] == pytest.approx(6 * 0.0052)


def test_library_size_grows_by_month_of_creation(big_bucket, big_scan):
    report, _ = big_scan
    months = report.months
    assert months["month"].iloc[0] == pd.Timestamp(2022, 12, 1)
    assert months["month"].iloc[-1] == pd.Timestamp(2024, 10, 1)
    assert len(months) == 23  # every month in between, even those adding nothing
    by_month = dict(zip(months["month"], months["bytes"], strict=True))
    assert by_month[pd.Timestamp(2022, 12, 1)] == 3 * ARCHIVED_BYTES
    assert by_month[pd.Timestamp(2023, 1, 1)] == 0
    trip_7 = {n: s for n, s in big_bucket.items() if n.startswith("Trips/Trip 7.hls/")}
    assert by_month[pd.Timestamp(2024, 10, 1)] == sum(trip_7.values())
    assert months["cumulative_bytes"].is_monotonic_increasing
    assert months["cumulative_bytes"].iloc[-1] == report.bytes


# ----- master playlists, and the list of problems -----

MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="a"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="a"
high/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=4000000,AUDIO="a"
gone/index.m3u8
"""


def media_playlist(seconds: float, *uris: str, key: str = "") -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6"]
    if key:
        lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{key}"')
    for uri in uris:
        lines += [f"#EXTINF:{seconds},", uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def test_a_master_playlist_is_checked_through_its_variants(tmp_path):
    folder = tmp_path / "Tab" / "Multi.hls"
    files = {
        "output.m3u8": MASTER,
        "low/index.m3u8": media_playlist(
            4.0, "seg0.ts", "seg1.ts", "seg2.ts", key="https://keys.example/k"
        ),
        "high/index.m3u8": media_playlist(4.0, "seg0.ts", "seg1.ts", "seg2.ts"),
        "audio/en.m3u8": media_playlist(6.0, "a0.ts", "a1.ts"),
        "low/seg0.ts": "x",
        "low/seg1.ts": "x",
        "low/seg2.ts": "x",
        "high/seg0.ts": "x",
        "high/seg1.ts": "x",
        "audio/a0.ts": "x",
        "audio/a1.ts": "x",
    }
    write_files(folder, files)
    nest = tmp_path / "Tab" / "Nest.hls"
    (nest / "v").mkdir(parents=True)
    (nest / "output.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n")
    (nest / "v" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n")
    report = scan_library(LocalStorage(tmp_path))
    assert row(report, "Tab/Multi.hls/")["duration_seconds"] == 12.0
    assert row(report, "Tab/Multi.hls/")["objects"] == len(files)
    assert math.isnan(row(report, "Tab/Nest.hls/")["duration_seconds"])
    assert [(p.kind, p.name, p.detail) for p in report.problems] == [
        (ProblemKind.MISSING_SEGMENT, "Tab/Multi.hls/gone/index.m3u8", "listed in output.m3u8"),
        (ProblemKind.MISSING_SEGMENT, "Tab/Multi.hls/high/seg2.ts", "listed in high/index.m3u8"),
        (
            ProblemKind.BAD_PLAYLIST,
            "Tab/Nest.hls/v/index.m3u8",
            "is a master playlist inside a master playlist",
        ),
        (
            ProblemKind.OUTSIDE_REFERENCE,
            "Tab/Multi.hls/low/index.m3u8",
            "refers to https://keys.example/k",
        ),
    ]


def test_a_playlist_a_master_lists_twice_is_read_and_checked_once(tmp_path):
    folder = tmp_path / "Tab" / "Twice.hls"
    files = {
        "output.m3u8": "\n".join(
            [
                "#EXTM3U",
                '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="lo",NAME="English",URI="audio/en.m3u8"',
                '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="hi",NAME="English",URI="audio/en.m3u8"',
                '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="lo"',
                "v/index.m3u8",
                '#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="hi"',
                "v/index.m3u8",
                "",
            ]
        ),
        "v/index.m3u8": media_playlist(4.0, "seg0.ts", "seg1.ts"),
        "audio/en.m3u8": media_playlist(4.0, "a0.ts", "a1.ts"),
        "v/seg0.ts": "x",
        "audio/a0.ts": "x",
        "audio/a1.ts": "x",
    }
    write_files(folder, files)
    storage = RecordingStorage(tmp_path)
    report = scan_library(storage)
    assert sorted(name for name, _, _ in storage.reads) == [
        "Tab/Twice.hls/audio/en.m3u8",
        "Tab/Twice.hls/output.m3u8",
        "Tab/Twice.hls/v/index.m3u8",
    ]
    assert row(report, "Tab/Twice.hls/")["duration_seconds"] == 8.0
    assert report.problem_counts == {ProblemKind.MISSING_SEGMENT: 1}
    assert [(p.name, p.detail) for p in report.problems] == [
        ("Tab/Twice.hls/v/seg1.ts", "listed in v/index.m3u8")
    ]


def test_problems_are_all_counted_but_only_the_first_listed():
    found = Problems(limit=2)
    for number in range(3):
        found.add(ProblemKind.ZERO_BYTES, f"empty{number}")
    found.add(ProblemKind.NESTED, "deep")
    more = Problems(limit=2)
    for number in range(3):
        more.add(ProblemKind.NESTED, f"deeper{number}")
    found.extend(more)
    assert found.counts == {ProblemKind.ZERO_BYTES: 3, ProblemKind.NESTED: 4}
    assert [p.name for p in found.listed] == ["empty0", "empty1", "deep", "deeper0"]


def test_a_library_with_thousands_of_faults_lists_a_thousand_of_each(tmp_path):
    for number in range(MAX_LISTED + 5):
        (tmp_path / "Tab" / f"{number:04d}.mp4").parent.mkdir(exist_ok=True)
        (tmp_path / "Tab" / f"{number:04d}.mp4").write_bytes(b"")
    report = scan_library(LocalStorage(tmp_path))
    assert report.problem_counts == {ProblemKind.ZERO_BYTES: MAX_LISTED + 5}
    assert len(report.problems) == MAX_LISTED
    assert report.problems[0].name == "Tab/0000.mp4"
