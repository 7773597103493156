"""The library model: storage listings turned into tabs and videos.

Each top-level folder is a tab; files and `.hls` folders at the root form the "Unsorted" tab.
Only one folder level is listed per tab, so HLS segments are never enumerated here.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lib.cache import TTLCache
from lib.search import SearchIndex
from lib.sidecars import HLS_POSTER, FolderSidecars, Subtitle, hls_subtitles
from lib.storage import Listing, NotFound, Storage, StorageError

PLAYABLE_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm"})
UNPLAYABLE_EXTENSIONS = frozenset(
    {
        ".avi",
        ".mkv",
        ".wmv",
        ".flv",
        ".mpg",
        ".mpeg",
        ".3gp",
        ".mts",
        ".m2ts",
        ".vob",
        ".ogv",
        ".ts",
    }
)
VIDEO_FILE_EXTENSIONS = PLAYABLE_EXTENSIONS | UNPLAYABLE_EXTENSIONS
ORIGINAL_STEM = "original"  # ingest --keep-original stores the source as original.<ext>
HLS_SUFFIX = ".hls"
PLAYLIST_NAME = "output.m3u8"
PLAYLIST_SUFFIX = ".m3u8"
# Hours of video list in well under a megabyte: a playlist larger than this is not served
# (the media route) nor read (the stats page), and the stats page says so.
MAX_PLAYLIST_BYTES = 8 * 1024 * 1024
# While `ingest` uploads a title its folder holds this marker (written first, deleted after
# output.m3u8, which is written last): such a folder is a title being added, not a broken one.
INGEST_MARKER = ".ingest.json"
MAX_MARKER_BYTES = 64 * 1024  # a marker is a hundred bytes; anything far larger is not one
STALE_MARKER_SECONDS = 86400  # a marker not updated for this long: the upload was interrupted
UNSORTED = "Unsorted"
LISTING_ERROR_SECONDS = 10.0  # a folder that failed is not listed again for this long

log = logging.getLogger("homemovies.library")


class Kind(StrEnum):
    """How a library item can be watched."""

    FILE = "file"  # a file the browser plays natively
    HLS = "hls"  # a .hls folder with output.m3u8
    UNPLAYABLE = "unplayable"  # a video file a browser cannot play; offered for download
    BROKEN = "broken"  # a .hls folder without output.m3u8
    ADDING = "adding"  # a .hls folder without output.m3u8 but with INGEST_MARKER: being uploaded


@dataclass(frozen=True)
class Tab:
    """A tab of the library page: its label and the prefix it lists ('' for the root)."""

    label: str
    prefix: str


@dataclass(frozen=True)
class Video:
    """One title: a file, or a `.hls` folder (then `name` is the folder prefix ending in '/')."""

    tab: str
    title: str
    name: str
    kind: Kind
    size: int | None = None
    modified: datetime | None = None
    added: datetime | None = None
    poster: str | None = None  # the object holding its poster image, if there is one
    subtitles: tuple[Subtitle, ...] = ()  # for `.hls` folders: see Library.subtitles()
    progress: float | None = None  # ADDING: the percent uploaded, if its marker says
    interrupted: bool = False  # ADDING: its marker has not been updated for a day
    etag: str | None = None  # of the file, or of an HLS title's playlist: its version

    @property
    def playable(self) -> bool:
        """Whether a browser can play this title: a file it plays natively, or an HLS folder."""
        return self.kind in (Kind.FILE, Kind.HLS)

    @property
    def playlist(self) -> str:
        """The object holding the playlist (HLS) or the media itself (files)."""
        return self.name + PLAYLIST_NAME if self.name.endswith("/") else self.name

    @property
    def scope(self) -> str:
        """What a media token for this title must cover: the file, or the whole folder."""
        return self.name

    def sidecar_scope(self, name: str) -> str:
        """The token scope covering sidecar `name`: the `.hls` folder, or that one file."""
        return self.scope if self.scope.endswith("/") else name

    @property
    def extension(self) -> str:
        return _extension(self.name.rstrip("/"))


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def _basename(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _title(name: str) -> str:
    base = _basename(name)
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def tabs_from_root(listing: Listing) -> list[Tab]:
    """Given the root listing, return the tabs in name order, "Unsorted" last if needed."""
    folders = [p for p in listing.prefixes if not _is_hidden(p) and not _is_hls_prefix(p)]
    tabs = [Tab(label=_basename(p), prefix=p) for p in sorted(folders, key=str.casefold)]
    root_items = videos_from_listing(UNSORTED, listing)
    if root_items:
        labels = {tab.label for tab in tabs}
        label = UNSORTED if UNSORTED not in labels else f"{UNSORTED} (top level)"
        tabs.append(Tab(label=label, prefix=""))
    return tabs


def videos_from_listing(tab: str, listing: Listing) -> list[Video]:
    """Given one folder level, return its titles in name order.

    `.hls` folders are HLS titles (their playlist and poster are checked later); playable
    files play natively, with the poster and subtitles found beside them; known video files
    a browser cannot play are kept as UNPLAYABLE; the rest (notes) and deeper folders are
    not titles.
    """
    sidecars = FolderSidecars.from_names(info.name for info in listing.objects)
    videos: list[Video] = []
    for info in listing.objects:
        if _is_hidden(info.name) or info.name.endswith("/"):
            continue
        extension = _extension(info.name)
        title = _title(info.name)
        if extension in PLAYABLE_EXTENSIONS:
            video = Video(
                tab,
                title,
                info.name,
                Kind.FILE,
                info.size,
                info.modified,
                info.created or info.modified,
                sidecars.posters.get(title),
                sidecars.subtitles.get(title, ()),
                etag=info.etag,
            )
        elif extension in UNPLAYABLE_EXTENSIONS:
            video = Video(
                tab,
                title,
                info.name,
                Kind.UNPLAYABLE,
                info.size,
                info.modified,
                info.created,
                etag=info.etag,
            )
        else:
            continue
        videos.append(video)
    for prefix in listing.prefixes:
        if _is_hls_prefix(prefix) and not _is_hidden(prefix):
            videos.append(Video(tab, _title(prefix), prefix, Kind.HLS))
    videos.sort(key=lambda video: (video.title.casefold(), video.name))
    return videos


def _is_hls_prefix(prefix: str) -> bool:
    return prefix.endswith(HLS_SUFFIX + "/") and len(_basename(prefix)) > len(HLS_SUFFIX)


def _is_hidden(name: str) -> bool:
    return _basename(name).startswith(".")


@dataclass(frozen=True)
class IngestMarker:
    """What the marker of a title being added says; a field it lacks (or garbles) is None."""

    title: str | None = None
    started: datetime | None = None
    updated: datetime | None = None  # the marker object's own time when the JSON does not say
    percent: float | None = None  # 0..100

    def is_stale(self, now: float) -> bool:
        """Return whether it was last updated more than STALE_MARKER_SECONDS before `now`."""
        return self.updated is not None and now - self.updated.timestamp() > STALE_MARKER_SECONDS

    def to_json(self) -> bytes:
        """Return the marker as the JSON object `read_marker` reads back (times in UTC)."""
        value = {
            "title": self.title,
            "started": _iso(self.started),
            "updated": _iso(self.updated),
            "percent": self.percent,
        }
        return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_percent(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        percent = float(value)
    except OverflowError:
        return None
    return min(max(percent, 0.0), 100.0) if math.isfinite(percent) else None


def parse_marker(data: bytes, modified: datetime | None = None) -> IngestMarker:
    """Given a marker's bytes (and the object's time), return what it says; garbage says nothing."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        return IngestMarker(updated=modified)
    title = value.get("title")
    return IngestMarker(
        title=title if isinstance(title, str) else None,
        started=_parse_time(value.get("started")),
        updated=_parse_time(value.get("updated")) or modified,
        percent=_parse_percent(value.get("percent")),
    )


def read_marker(storage: Storage, prefix: str) -> IngestMarker | None:
    """Given a `.hls` folder prefix, return its ingest marker, or None when it has none.

    One stat and, for a marker of plausible size, one read; raises StorageError when storage
    cannot answer.
    """
    name = prefix + INGEST_MARKER
    try:
        info = storage.stat(name)
    except NotFound:
        return None
    if not 0 < info.size <= MAX_MARKER_BYTES:
        return IngestMarker(updated=info.modified)
    try:
        chunks = storage.read(name, 0, info.size - 1)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except NotFound:
        # Deleted since the stat: the title was being added a moment ago (it is done now).
        return IngestMarker(updated=info.modified)
    return parse_marker(data, info.modified)


def check_playlists(
    storage: Storage,
    videos: list[Video],
    workers: int = 8,
    clock: Callable[[], float] = time.time,
) -> list[Video]:
    """Return `videos` with each HLS title whose folder lacks output.m3u8 marked BROKEN, or
    ADDING when its ingest marker is there (`clock` tells an interrupted upload).

    Two stats per folder (playlist, poster.jpg) keep segments from ever being enumerated; a
    folder without its playlist costs the marker's stat (and read) instead of the poster's.
    """
    hls = [video for video in videos if video.kind is Kind.HLS]
    if not hls:
        return videos

    def check(video: Video) -> Video:
        try:
            info = storage.stat(video.playlist)
        except NotFound:
            marker = read_marker(storage, video.name)
            if marker is None:
                return replace(video, kind=Kind.BROKEN)
            return replace(
                video,
                kind=Kind.ADDING,
                progress=marker.percent,
                interrupted=marker.is_stale(clock()),
            )
        try:
            poster = storage.stat(video.name + HLS_POSTER).name
        except NotFound:
            poster = None
        return replace(
            video,
            modified=info.modified,
            added=info.created or info.modified,
            poster=poster,
            etag=info.etag,
        )

    with ThreadPoolExecutor(max_workers=min(workers, len(hls))) as pool:
        checked = dict(zip((v.name for v in hls), pool.map(check, hls), strict=True))
    return [checked.get(video.name, video) for video in videos]


class Library:
    """Tabs and titles of one storage backend, with listings cached for `ttl` seconds.

    `clock` (the wall clock) tells an interrupted upload from one under way.
    """

    def __init__(
        self, storage: Storage, ttl: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.clock = clock
        self._tabs: TTLCache[list[Tab]] = self._new_cache(ttl)
        self._videos: TTLCache[list[Video]] = self._new_cache(ttl)
        self._index: TTLCache[SearchIndex] = self._new_cache(ttl)
        self._folders: TTLCache[tuple[str, ...]] = self._new_cache(ttl)

    @staticmethod
    def _new_cache(ttl: float) -> TTLCache[Any]:
        return TTLCache(ttl, error_ttl=LISTING_ERROR_SECONDS, errors=(StorageError,))

    def tabs(self) -> list[Tab]:
        """Return the tabs (one root listing, cached)."""
        return self._tabs.get("", lambda: tabs_from_root(self.storage.list("")))

    def videos(self, tab: Tab) -> list[Video]:
        """Return the titles of one tab (one listing of that folder level, cached)."""

        def load() -> list[Video]:
            videos = videos_from_listing(tab.label, self.storage.list(tab.prefix))
            return check_playlists(self.storage, videos, clock=self.clock)

        return self._videos.get(tab.prefix, load)

    def all_videos(self) -> list[Video]:
        """Return the titles of every tab that lists (one listing per tab, each cached).

        A folder that cannot be listed right now is left out (and logged) so the others stay
        searchable; its own tab shows the error.
        """
        videos: list[Video] = []
        for tab in self.tabs():
            try:
                videos.extend(self.videos(tab))
            except StorageError as error:
                log.warning("left %r out of the search: %s", tab.label, error)
        return videos

    def search_index(self) -> SearchIndex:
        """Return the index searching every tab, rebuilt when the listings expire."""
        return self._index.get("", lambda: SearchIndex(self.all_videos()))

    def subtitles(self, video: Video) -> tuple[Subtitle, ...]:
        """Return a title's subtitle tracks; a `.hls` folder is listed only when asked (opened)."""
        if video.kind is not Kind.HLS:
            return video.subtitles
        return hls_subtitles(self.folder_objects(video))

    def folder_objects(self, video: Video) -> tuple[str, ...]:
        """Return the objects directly inside an HLS title's folder (listed once, cached)."""
        return self._folders.get(
            video.name, lambda: tuple(info.name for info in self.storage.list(video.name).objects)
        )

    def original(self, video: Video) -> str | None:
        """Return the source file ingest kept in an HLS title's folder (`original.<ext>`)."""
        if video.kind is not Kind.HLS:
            return None
        for name in self.folder_objects(video):
            base = _basename(name)
            if _title(base) == ORIGINAL_STEM and _extension(base) in VIDEO_FILE_EXTENSIONS:
                return name
        return None

    def find(self, name: str) -> Video | None:
        """Return the title whose object name or folder prefix is `name`, if listed.

        Only the tab that can hold `name` is listed, so one failing folder does not hide
        titles of the others.
        """
        at_root = "/" not in name.rstrip("/")
        for tab in self.tabs():
            if (tab.prefix and name.startswith(tab.prefix)) or (not tab.prefix and at_root):
                return next((video for video in self.videos(tab) if video.name == name), None)
        return None

    def refresh(self) -> None:
        """Forget cached listings so the next page load lists storage again."""
        for cache in (self._tabs, self._videos, self._index, self._folders):
            cache.clear()
