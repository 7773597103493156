"""A source kept by `ingest --keep-original`: counted by the stats page with its cost, and
found by the library for the player's download offer."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.library import Kind, Library
from lib.stats import DEFAULT_PRICES, monthly_cost, scan_library
from lib.storage.local import LocalStorage

PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.ts\n#EXT-X-ENDLIST\n"


def library_with_original(root: Path) -> LocalStorage:
    title = root / "Events" / "Wedding.hls"
    title.mkdir(parents=True)
    (title / "output.m3u8").write_bytes(PLAYLIST)
    (title / "seg.ts").write_bytes(b"\x47" * 188 * 10)
    (title / "original.mov").write_bytes(b"m" * 3_000_000)
    other = root / "Events" / "Party.hls"
    other.mkdir()
    (other / "output.m3u8").write_bytes(PLAYLIST)
    (other / "seg.ts").write_bytes(b"\x47" * 188)
    (other / "original-notes.txt").write_bytes(b"not an original")
    return LocalStorage(root)


def test_the_stats_count_kept_originals_and_their_cost(tmp_path: Path) -> None:
    report = scan_library(library_with_original(tmp_path))
    originals = report.originals
    assert originals.to_dict("records") == [{"tier": "Standard", "bytes": 3_000_000, "objects": 1}]
    cost = monthly_cost(originals, DEFAULT_PRICES)
    assert cost["usd_per_month"].sum() == pytest.approx(3_000_000 / 2**30 * 0.0255, abs=1e-4)
    assert report.videos["bytes"].sum() >= 3_000_000  # the original is part of its title


def test_the_library_finds_the_original_of_an_hls_title_only(tmp_path: Path) -> None:
    library = Library(library_with_original(tmp_path))
    videos = {video.title: video for video in library.all_videos()}
    assert videos["Wedding"].kind is Kind.HLS
    assert library.original(videos["Wedding"]) == "Events/Wedding.hls/original.mov"
    assert library.original(videos["Party"]) is None
