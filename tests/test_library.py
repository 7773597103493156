"""The library model: tabs and titles from listings, on hand-made listings and a real folder."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lib.cache import TTLCache
from lib.library import Kind, Library, Tab, tabs_from_root, videos_from_listing
from lib.storage import Listing, NotFound, ObjectInfo, Unavailable
from lib.storage.local import LocalStorage
from tests.conftest import ODD_HLS, ODD_MP4, CountingStorage


def objects(*names: str) -> tuple[ObjectInfo, ...]:
    return tuple(ObjectInfo(name=name, size=10) for name in names)


def test_tabs_are_top_level_folders_in_name_order_with_unsorted_last():
    listing = Listing(
        objects=objects("Root.mp4", "readme.txt"),
        prefixes=("Years/", "events/", "Loose.hls/", ".homemovies/"),
    )
    tabs = tabs_from_root(listing)
    assert [tab.label for tab in tabs] == ["events", "Years", "Unsorted"]
    assert tabs[-1].prefix == ""


def test_no_unsorted_tab_without_root_titles():
    listing = Listing(objects=objects("readme.txt"), prefixes=("Years/",))
    assert [tab.label for tab in tabs_from_root(listing)] == ["Years"]


def test_unsorted_label_does_not_clash_with_a_folder_of_that_name():
    listing = Listing(objects=objects("a.mp4"), prefixes=("Unsorted/",))
    assert [tab.label for tab in tabs_from_root(listing)] == ["Unsorted", "Unsorted (top level)"]


def test_titles_kinds_and_what_is_not_a_title():
    listing = Listing(
        objects=objects(
            "Years/2024.mp4",
            "Years/Clip.MOV",
            "Years/b.webm",
            "Years/c.m4v",
            "Years/old.avi",
            "Years/tape.mkv",
            "Years/2024.jpg",
            "Years/2024.vtt",
            "Years/.secret.mp4",
            "Years/",
        ),
        prefixes=("Years/2022.hls/", "Years/deeper/", "Years/.hls/"),
    )
    videos = videos_from_listing("Years", listing)
    assert [(v.title, v.kind) for v in videos] == [
        ("2022", Kind.HLS),
        ("2024", Kind.FILE),
        ("b", Kind.FILE),
        ("c", Kind.FILE),
        ("Clip", Kind.FILE),
        ("old", Kind.UNPLAYABLE),
        ("tape", Kind.UNPLAYABLE),
    ]
    hls = videos[0]
    assert hls.name == "Years/2022.hls/"
    assert hls.playlist == "Years/2022.hls/output.m3u8"
    assert hls.scope == "Years/2022.hls/"
    assert videos[1].playlist == videos[1].scope == "Years/2024.mp4"


def test_odd_names_keep_their_characters():
    name = "Events/Spaces é ü #1 ?&%+.mp4"
    videos = videos_from_listing("Events", Listing(objects=objects(name)))
    assert videos[0].title == "Spaces é ü #1 ?&%+"
    assert videos[0].name == name


def test_local_folder_model(fixture_library):
    library = Library(LocalStorage(fixture_library.root))
    tabs = library.tabs()
    assert [tab.label for tab in tabs] == ["Events", "Years", "Unsorted"]
    by_label = {tab.label: tab for tab in tabs}

    years = {v.title: v.kind for v in library.videos(by_label["Years"])}
    assert years == {
        "2022": Kind.HLS,
        "2024": Kind.FILE,
        "Broken": Kind.BROKEN,
        "Variants": Kind.HLS,
    }

    events = {v.title: v.kind for v in library.videos(by_label["Events"])}
    assert events == {
        "Wedding": Kind.FILE,
        "Long walk": Kind.FILE,
        ODD_MP4.removesuffix(".mp4"): Kind.FILE,
        ODD_HLS.removesuffix(".hls"): Kind.HLS,
        "Old tape": Kind.UNPLAYABLE,
    }
    assert [v.title for v in library.videos(by_label["Unsorted"])] == ["Root clip"]
    assert library.find("Years/2022.hls/").kind is Kind.HLS
    assert library.find("Years/deeper/Nested.mp4") is None


class ListingStorage(LocalStorage):
    def __init__(self, root):
        super().__init__(root)
        self.listings: list[str] = []

    def list(self, prefix: str = "") -> Listing:
        self.listings.append(prefix)
        return super().list(prefix)


def test_listings_are_cached_until_refresh(fixture_library):
    storage = ListingStorage(fixture_library.root)
    library = Library(storage, ttl=60)
    years = Tab("Years", "Years/")
    library.tabs()
    library.videos(years)
    library.tabs()
    library.videos(years)
    assert storage.listings == ["", "Years/"]
    library.refresh()
    library.videos(years)
    assert storage.listings == ["", "Years/", "Years/"]


def test_ttl_cache_expires():
    now = [0.0]
    cache = TTLCache(10, clock=lambda: now[0])
    calls = []
    assert cache.get("k", lambda: calls.append(1) or "a") == "a"
    now[0] = 9.9
    assert cache.get("k", lambda: "b") == "a"
    now[0] = 10.1
    assert cache.get("k", lambda: "c") == "c"


def test_ttl_cache_callers_arriving_together_share_one_computation():
    cache = TTLCache(60)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_listing() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "listing"

    # One worker each: the four callers of one key and the caller of another.
    with ThreadPoolExecutor(max_workers=5) as pool:
        first = pool.submit(cache.get, "Years/", slow_listing)
        assert started.wait(10)
        others = [pool.submit(cache.get, "Years/", slow_listing) for _ in range(3)]
        other_key = pool.submit(cache.get, "Events/", lambda: "events")
        assert other_key.result(10) == "events"  # another key does not wait for this one
        release.set()
        assert [f.result(10) for f in (first, *others)] == ["listing"] * 4
    assert calls == [1]


def test_local_backend_scan_write_delete(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write(".homemovies/state/alice.json", b"{}")
    storage.write("A/b.mp4", b"12345")
    assert [(info.name, info.size) for info in storage.scan()] == [
        (".homemovies/state/alice.json", 2),
        ("A/b.mp4", 5),
    ]
    assert storage.list("").prefixes == ("A/",)  # the hidden state folder is not listed
    storage.delete("A/b.mp4")
    assert [info.name for info in storage.scan("A/")] == []
    assert [info.name for info in storage.scan("Never made/")] == []  # as a bucket answers
    with pytest.raises(NotFound):
        storage.delete("A/b.mp4")
    with pytest.raises(NotFound):
        storage.write("../escape.json", b"x")


# --- posters and subtitles ----------------------------------------------------------------


def test_sidecars_beside_a_file_title():
    listing = Listing(
        objects=objects(
            "Events/Wedding.mp4",
            "Events/Wedding.jpg",
            "Events/Wedding.vtt",
            "Events/Wedding.en.vtt",
            "Events/Wedding.pt-BR.vtt",
            "Events/Wedding.sdh.vtt",
            "Events/Wedding 2.mp4",
            "Events/Wedding 2.fr.vtt",
            "Events/Party.MP4",
            "Events/Party.JPEG",
        )
    )
    by_title = {v.title: v for v in videos_from_listing("Events", listing)}
    wedding = by_title["Wedding"]
    assert wedding.poster == "Events/Wedding.jpg"
    assert [(s.label, s.language, s.name) for s in wedding.subtitles] == [
        ("English", "en", "Events/Wedding.en.vtt"),
        ("Portuguese (Brazil)", "pt-BR", "Events/Wedding.pt-BR.vtt"),
        ("sdh", "", "Events/Wedding.sdh.vtt"),  # not taken for Southern Kurdish
        ("Subtitles", "", "Events/Wedding.vtt"),
    ]
    assert [s.label for s in by_title["Wedding 2"].subtitles] == ["French"]
    assert by_title["Wedding 2"].poster is None
    assert by_title["Party"].poster == "Events/Party.JPEG"
    # A file title's sidecars get tokens of their own; an .hls folder's share the folder's.
    assert wedding.sidecar_scope("Events/Wedding.jpg") == "Events/Wedding.jpg"


def test_hls_subtitle_labels():
    from lib.sidecars import hls_subtitles

    tracks = hls_subtitles(
        ["Y/a.hls/output.m3u8", "Y/a.hls/en.vtt", "Y/a.hls/a.de.vtt", "Y/a.hls/commentary.vtt"]
    )
    assert [(t.label, t.language) for t in tracks] == [
        ("commentary", ""),
        ("English", "en"),
        ("German", "de"),
    ]


def test_posters_and_subtitles_in_the_fixture_library(fixture_library):
    storage = CountingStorage(fixture_library.root)
    library = Library(storage)
    years = {v.title: v for v in library.videos(Tab("Years", "Years/"))}
    # An .hls folder's poster costs one stat; its segments are never listed for the grid.
    assert years["2022"].poster == "Years/2022.hls/poster.jpg"
    assert years["2022"].sidecar_scope(years["2022"].poster) == "Years/2022.hls/"
    assert years["Variants"].poster is None
    assert not any(call.startswith("list Years/2022.hls") for call in storage.calls)
    assert "stat Years/2022.hls/poster.jpg" in storage.calls
    # Its subtitles are found by listing the folder once, when the title is opened.
    assert [t.label for t in library.subtitles(years["2022"])] == ["German"]
    assert [t.label for t in library.subtitles(years["2022"])] == ["German"]
    assert storage.calls.count("list Years/2022.hls/") == 1
    events = {v.title: v for v in library.videos(Tab("Events", "Events/"))}
    assert events["Wedding"].poster == "Events/Wedding.jpg"
    assert [t.label for t in library.subtitles(events["Wedding"])] == ["English"]
    assert events["Long walk"].poster is None
    assert events["Wedding"].added is not None


def test_local_backend_refuses_writes_to_a_read_only_folder(tmp_path):
    from lib.storage import Unavailable

    storage = LocalStorage(tmp_path)
    (tmp_path / ".homemovies").mkdir()
    (tmp_path / ".homemovies" / "state").write_text("a file where a folder should be")
    with pytest.raises(Unavailable, match="cannot be written to"):
        storage.write(".homemovies/state/positions/mum.json", b"{}")


def test_ttl_cache_remembers_a_storage_error_briefly():
    now = [0.0]
    cache = TTLCache(60, error_ttl=5, errors=(Unavailable,), clock=lambda: now[0])
    calls = []

    def failing():
        calls.append(1)
        raise Unavailable("storage is down")

    for _ in range(3):
        with pytest.raises(Unavailable):
            cache.get("k", failing)
    assert len(calls) == 1
    now[0] = 5.1
    assert cache.get("k", lambda: "back") == "back"
