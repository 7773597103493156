"""Find: titles matched case- and accent-insensitively, and the orders a grid can be sorted in."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lib.library builds its search index from this module
    from lib.library import Video

OLDEST = datetime.min.replace(tzinfo=UTC)


def fold(text: str) -> str:
    """Return `text` without case or accents: 'Grand-Mère ÉTÉ' -> 'grand-mere ete'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.casefold()


class SortOrder(StrEnum):
    """How a grid of titles is ordered."""

    NAME = "Name"
    ADDED = "Date added"  # newest first
    RECORDED = "Date recorded"  # newest first, as the library index knows it; unknown last
    SIZE = "Size"  # largest first; titles of unknown size (HLS folders) last


def sort_videos(
    videos: Iterable[Video],
    order: SortOrder,
    recorded: Callable[[Video], datetime | None] = lambda video: None,
) -> list[Video]:
    """Return `videos` in `order` (`recorded` says when each was recorded); ties keep name order."""
    by_name = sorted(videos, key=lambda v: (v.title.casefold(), v.name))
    if order is SortOrder.RECORDED:
        return sorted(by_name, key=lambda v: recorded(v) or OLDEST, reverse=True)
    if order is SortOrder.ADDED:
        return sorted(by_name, key=lambda v: v.added or OLDEST, reverse=True)
    if order is SortOrder.SIZE:
        return sorted(by_name, key=lambda v: -1 if v.size is None else v.size, reverse=True)
    return by_name


class SearchIndex:
    """Titles with their folded text, built once per listing and queried on every keystroke."""

    def __init__(self, videos: Iterable[Video]) -> None:
        self._entries = [(fold(video.title), video) for video in videos]

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str) -> list[Video]:
        """Return the titles containing every word of `query`, in index order."""
        words = fold(query).split()
        if not words:
            return [video for _, video in self._entries]
        return [video for text, video in self._entries if all(word in text for word in words)]
