"""The library index on the stats page: how far it has got, and its columns in the video table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lib.library import Video
from lib.media_index import IndexEntry, MediaIndex, Status

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class IndexProgress:
    """How many playable titles the index covers (their current version), and how many wait."""

    indexed: int
    unreadable: int  # indexed, but ffprobe could not read them
    to_do: int

    @property
    def total(self) -> int:
        return self.indexed + self.to_do

    @property
    def fraction(self) -> float:
        return self.indexed / self.total if self.total else 1.0


def index_progress(videos: Iterable[Video], index: MediaIndex) -> IndexProgress:
    """Given the library's titles, return how far the index has got with the playable ones."""
    indexed = unreadable = to_do = 0
    for video in videos:
        if not video.playable:
            continue
        entry = index.entry(video)
        if entry is None:
            to_do += 1
            continue
        indexed += 1
        unreadable += entry.status is Status.UNREADABLE
    return IndexProgress(indexed, unreadable, to_do)


def _resolution(entry: IndexEntry) -> str | None:
    return f"{entry.width}×{entry.height}" if entry.width and entry.height else None


def with_index(videos: pd.DataFrame, entries: Mapping[str, IndexEntry]) -> pd.DataFrame:
    """Return the stats page's video table with what the index knows of each title: its
    codecs, picture size, recording date and index state, and the duration of files."""
    import pandas as pd

    found = [entries.get(name) for name in videos["name"]]

    def column(value: Callable[[IndexEntry], object]) -> pd.Series:
        return pd.Series(
            [value(entry) if entry else None for entry in found], index=videos.index, dtype=object
        )

    frame = videos.assign(
        video_codec=column(lambda entry: entry.video_codec),
        audio_codec=column(lambda entry: entry.audio_codec),
        resolution=column(_resolution),
        recorded=pd.to_datetime(column(lambda entry: entry.recorded), utc=True),
        index=column(
            lambda entry: "cannot be read" if entry.status is Status.UNREADABLE else "indexed"
        ).fillna("to do"),
    )
    durations = column(lambda entry: entry.duration).astype("float64")
    frame["duration_seconds"] = frame["duration_seconds"].fillna(durations)
    return frame
