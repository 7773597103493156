"""The library index's catalog: entries survive a round trip through storage, belong to one
version of a title, and two writers (the indexer, another process) do not lose each other's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lib.library import Kind, Video
from lib.media_index import (
    CATALOG,
    INDEX_PREFIX,
    IndexEntry,
    MediaIndex,
    Status,
    catalog_json,
    entry_folder,
    parse_catalog,
    scope_of,
)
from lib.search import SortOrder, sort_videos
from lib.storage.local import LocalStorage
from lib.ui.grid import MAY_NOT_PLAY, card_html
from tests.html_parsed import Parsed

RECORDED = datetime(2024, 6, 5, 14, 30, tzinfo=UTC)


def file_video(name: str = "Trips/Beach.mp4", etag: str = "e1", size: int = 1000) -> Video:
    return Video("Trips", name.rsplit("/", 1)[-1][:-4], name, Kind.FILE, size=size, etag=etag)


def entry_for(video: Video, **more: object) -> IndexEntry:
    values: dict[str, object] = {
        "name": video.name,
        "etag": video.etag,
        "size": video.size if video.kind is Kind.FILE else None,
        "duration": 125.4,
        "width": 1280,
        "height": 720,
        "video_codec": "hevc",
        "audio_codec": "aac",
        "mime": 'video/mp4; codecs="hvc1.1.6.L93.B0,mp4a.40.2"',
        "recorded": RECORDED,
        "poster": entry_folder(video.name) + "poster.jpg",
        "preview": entry_folder(video.name) + "thumbnails.vtt",
    }
    values.update(more)
    return IndexEntry(**values)  # type: ignore[arg-type]


def test_an_entry_survives_the_catalog_round_trip():
    video = file_video()
    hls = Video("Trips", "Walk", "Trips/Walk.hls/", Kind.HLS)  # no size, no ETag: left out
    entries = [
        entry_for(video),
        IndexEntry("Trips/Bad.mp4", "e2", 5, Status.UNREADABLE, error="x"),
        entry_for(hls),
    ]
    parsed = parse_catalog(catalog_json(entries))
    assert parsed == {entry.name: entry for entry in entries}
    assert parsed["Trips/Bad.mp4"].status is Status.UNREADABLE
    assert parsed[video.name].has_picture and not parsed["Trips/Bad.mp4"].has_picture


def test_a_garbled_catalog_or_entry_is_ignored_not_fatal():
    assert parse_catalog(b"\xff not json") == {}
    assert parse_catalog(b'{"entries": 3}') == {}
    good = entry_for(file_video()).to_json()
    data = (
        b'{"entries": [{"name": 5}, {"status": "??", "name": "a"}, 7, %s]}'
        % (catalog_json([entry_for(file_video())])[len(b'{"version":1,"entries":[') : -2])
    )
    assert list(parse_catalog(data)) == [good["name"]]


def test_an_entry_is_for_one_version_of_its_title(tmp_path: Path):
    index = MediaIndex(LocalStorage(tmp_path))
    video = file_video()
    index.put(entry_for(video))
    assert index.entry(video) is not None
    assert index.entry(file_video(etag="e2")) is None  # the file was replaced
    assert index.entry(file_video(size=999)) is None
    hls = Video("Trips", "Walk", "Trips/Walk.hls/", Kind.HLS, etag="p1")
    index.put(entry_for(hls))
    assert index.entry(hls) is not None and index.entry(hls).size is None


def test_saved_entries_are_read_by_another_process_and_merged_not_overwritten(tmp_path: Path):
    storage = LocalStorage(tmp_path)
    first, second = MediaIndex(storage, ttl=0), MediaIndex(storage, ttl=0)
    one, two = file_video("Trips/One.mp4"), file_video("Trips/Two.mp4")
    first.put(entry_for(one))
    assert first.save()
    first.put(entry_for(one, duration=3.0))
    assert not first.save()  # debounced: not again within save_every seconds...
    assert first.entries()[one.name].duration == 3.0  # ...but seen here at once
    assert first.save(force=True)
    second.put(entry_for(two))
    assert second.save(force=True)
    assert set(MediaIndex(storage).entries()) == {one.name, two.name}
    assert storage.stat(CATALOG).size > 0
    assert not second.save(force=True)  # nothing changed since


def test_what_the_indexer_made_is_under_its_own_token_scope():
    video = file_video()
    made = entry_folder(video.name) + "poster.jpg"
    assert made.startswith(INDEX_PREFIX) and scope_of(video, made) == entry_folder(video.name)
    assert entry_folder(video.name) != entry_folder("Trips/Other.mp4")
    assert scope_of(video, "Trips/Beach.jpg") == "Trips/Beach.jpg"  # a hand-made poster
    hls = Video("Trips", "Walk", "Trips/Walk.hls/", Kind.HLS)
    assert scope_of(hls, "Trips/Walk.hls/poster.jpg") == "Trips/Walk.hls/"


def test_sorting_by_date_recorded_puts_the_newest_first_and_the_unknown_last():
    videos = [file_video(f"Trips/{name}.mp4") for name in ("a", "b", "c")]
    recorded = {"Trips/a.mp4": RECORDED, "Trips/c.mp4": RECORDED.replace(year=2025)}
    ordered = sort_videos(videos, SortOrder.RECORDED, lambda v: recorded.get(v.name))
    assert [v.name for v in ordered] == ["Trips/c.mp4", "Trips/a.mp4", "Trips/b.mp4"]


class Card(Parsed):
    """A card as a browser reads it, and its elements by class."""

    def with_class(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if name in (attrs.get("class") or "").split()]


def card(video: Video, entry: IndexEntry | None, admin: bool = False) -> Card:
    return Card(card_html(video, lambda v: "/poster.jpg", lambda v: "/download", "", admin, entry))


def test_a_card_shows_the_length_and_recording_day_and_carries_the_codecs_for_the_browser():
    video = file_video()
    shown = card(video, entry_for(video))
    assert "2:05" in shown.text and any("5 Jun 2024" in text for text in shown.text)
    (attrs,) = shown.with_class("hm-card")
    assert attrs["data-hm-mime"] == 'video/mp4; codecs="hvc1.1.6.L93.B0,mp4a.40.2"'
    assert attrs["data-hm-engine"] == "native"
    (badge,) = shown.with_class("hm-maynot")
    assert "hidden" in badge and MAY_NOT_PLAY in shown.text  # the browser decides to unhide it
    assert shown.with_class("hm-maynot-admin") == []  # a viewer gets no convert offer
    (offer,) = card(video, entry_for(video), admin=True).with_class("hm-maynot-admin")
    assert "hidden" in offer


def test_a_card_without_an_entry_is_as_before_and_an_unreadable_one_says_so():
    video = file_video()
    plain = card(video, None)
    assert plain.with_class("hm-duration") == [] and plain.with_class("hm-maynot") == []
    assert "data-hm-mime" not in plain.with_class("hm-card")[0]
    bad = card(video, IndexEntry(video.name, "e1", 1000, Status.UNREADABLE, error="x"))
    assert any("cannot be read" in text for text in bad.text)
    hls = Video("Trips", "Walk", "Trips/Walk.hls/", Kind.HLS, etag="p1")
    assert card(hls, entry_for(hls)).with_class("hm-card")[0]["data-hm-engine"] == "mse"


def test_the_stats_page_counts_what_the_index_covers_and_adds_its_columns(tmp_path: Path):
    import pandas as pd

    from lib.stats import index_progress, with_index

    index = MediaIndex(LocalStorage(tmp_path))
    done, bad, waiting = (file_video(f"Trips/{n}.mp4") for n in ("done", "bad", "waiting"))
    unplayable = Video("Trips", "Tape", "Trips/Tape.avi", Kind.UNPLAYABLE, size=5)
    index.put(entry_for(done))
    index.put(IndexEntry(bad.name, bad.etag, bad.size, Status.UNREADABLE, error="x"))
    progress = index_progress([done, bad, waiting, unplayable], index)
    assert (progress.indexed, progress.unreadable, progress.to_do) == (2, 1, 1)
    assert progress.total == 3 and round(progress.fraction, 2) == 0.67
    table = pd.DataFrame(
        {"name": [done.name, bad.name, waiting.name], "duration_seconds": [None, None, None]}
    )
    current = {v.name: e for v in (done, bad, waiting) if (e := index.entry(v)) is not None}
    shown = with_index(table, current)
    assert list(shown["index"]) == ["indexed", "cannot be read", "to do"]
    assert shown["video_codec"][0] == "hevc" and shown["video_codec"][1:].isna().all()
    assert shown["resolution"][0] == "1280×720" and shown["duration_seconds"][0] == 125.4
