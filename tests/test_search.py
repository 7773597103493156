"""Find: accent- and case-insensitive matching, and the three sort orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.library import Kind, Library, Video
from lib.search import SearchIndex, SortOrder, fold, sort_videos
from lib.storage.local import LocalStorage
from tests.conftest import ODD_MP4


def video(title: str, size: int | None = None, day: int | None = None, kind=Kind.FILE) -> Video:
    added = datetime(2024, 1, day, tzinfo=UTC) if day else None
    return Video("Tab", title, f"Tab/{title}.mp4", kind, size, added, added)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Grand-Mère ÉTÉ", "grand-mere ete"),
        ("Straße", "strasse"),
        ("Ångström", "angstrom"),
        ("ﬁsh", "fish"),  # compatibility forms fold too
        ("2024", "2024"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_search_ignores_case_and_accents_and_needs_every_word():
    index = SearchIndex(
        [video("Grand-mère's 90th – été 2021"), video("Wedding"), video("Summer 2021")]
    )
    assert [v.title for v in index.search("GRAND mere")] == ["Grand-mère's 90th – été 2021"]
    assert [v.title for v in index.search("ete")] == ["Grand-mère's 90th – été 2021"]
    assert [v.title for v in index.search("2021")] == [
        "Grand-mère's 90th – été 2021",
        "Summer 2021",
    ]
    assert [v.title for v in index.search("2021 summer")] == ["Summer 2021"]
    assert index.search("birthday") == []
    assert len(index.search("   ")) == 3


def test_sort_orders():
    videos = [
        video("b", size=10, day=3),
        video("A", size=30, day=1),
        video("c", size=None, day=None, kind=Kind.HLS),
        video("d", size=20, day=2),
    ]
    assert [v.title for v in sort_videos(videos, SortOrder.NAME)] == ["A", "b", "c", "d"]
    assert [v.title for v in sort_videos(videos, SortOrder.ADDED)] == ["b", "d", "A", "c"]
    assert [v.title for v in sort_videos(videos, SortOrder.SIZE)] == ["A", "d", "b", "c"]


def test_search_spans_every_tab_of_the_library(fixture_library):
    index = Library(LocalStorage(fixture_library.root)).search_index()
    found = index.search("spaces E U")
    assert [(v.tab, v.title) for v in found] == [("Events", ODD_MP4.removesuffix(".mp4"))]
    assert {v.tab for v in index.search("")} == {"Events", "Years", "Unsorted"}
    assert [v.title for v in index.search("root")] == ["Root clip"]
