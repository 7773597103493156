"""The library index: what the app knows of each title's media, kept under `.homemovies/index/`.

For every playable title the indexer (lib/ingest/indexer.py) records an `IndexEntry`: its
duration, picture size, codecs, recording date, and where its poster and seek preview are.
All entries live in one small JSON object (`CATALOG`), so a library page costs one read,
not one per title; posters and previews the indexer makes go in a folder per title
(`entry_folder`), so the user's own folders are never written. An entry belongs to one
version of its title: when the object's ETag or size changes it is made again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from lib.cache import TTLCache
from lib.library import Kind, Video
from lib.storage import NotFound, Storage, StorageError
from lib.storage.appstate import APP_PREFIX

INDEX_PREFIX = APP_PREFIX + "index/"
CATALOG = INDEX_PREFIX + "catalog.json"
MAX_CATALOG_BYTES = 64 * 1024 * 1024  # ~300 bytes a title: far more titles than any family has
POSTER = "poster.jpg"  # inside entry_folder(name)
SPRITE = "sprite.jpg"
SPRITE_VTT = "thumbnails.vtt"

log = logging.getLogger("homemovies.index")


class Status(StrEnum):
    """What indexing a title came to."""

    OK = "ok"
    UNREADABLE = "unreadable"  # ffprobe could not read it: recorded once, not retried


@dataclass(frozen=True)
class IndexEntry:
    """What the index knows of one title (a file, or a `.hls` folder prefix ending in '/')."""

    name: str
    etag: str | None  # of the file, or of the HLS title's master playlist
    size: int | None  # of the file; None for HLS titles
    status: Status = Status.OK
    duration: float | None = None  # seconds
    width: int | None = None  # as displayed (rotation applied)
    height: int | None = None
    video_codec: str | None = None  # ffprobe's codec_name: h264, hevc, mpeg4, vp9...
    audio_codec: str | None = None
    mime: str | None = None  # what the browser is asked: 'video/mp4; codecs="hvc1.1.6.L93.B0"'
    recorded: datetime | None = None  # creation_time, else the object's time
    poster: str | None = None  # the object holding the poster it made or found
    preview: str | None = None  # the seek preview's WebVTT map (its sprite sits beside it)
    error: str | None = None  # UNREADABLE: one sentence saying why
    bytes_read: int = 0  # what indexing it read from storage
    indexed: datetime | None = None

    @property
    def has_picture(self) -> bool:
        """Whether the title has a video stream (so a player showing no picture is failing)."""
        return self.video_codec is not None

    def is_current(self, etag: str | None, size: int | None) -> bool:
        """Return whether this entry was made from the version with this ETag and size."""
        return self.etag == etag and self.size == size

    def to_json(self) -> dict[str, Any]:
        """Return the entry as a JSON object (times in ISO 8601, empty fields left out)."""
        value: dict[str, Any] = {}
        for key, item in asdict(self).items():
            if item is None:
                continue
            if isinstance(item, datetime):
                item = item.isoformat()
            value[key] = str(item) if isinstance(item, Status) else item
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> IndexEntry | None:
        """Return the entry a JSON object describes, or None when it is not one of ours."""
        known = {field.name for field in fields(cls)}
        try:
            data: dict[str, Any] = {"etag": None, "size": None}  # to_json leaves out None
            data.update({key: item for key, item in value.items() if key in known})
            for key in ("recorded", "indexed"):
                if data.get(key) is not None:
                    data[key] = datetime.fromisoformat(data[key])
            data["status"] = Status(data.get("status", Status.OK))
            entry = cls(**data)
        except (TypeError, ValueError):
            return None
        return entry if isinstance(entry.name, str) and entry.name else None


def entry_folder(name: str) -> str:
    """Return the folder holding what the indexer made for title `name` (its media-token scope)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{INDEX_PREFIX}{digest}/"


def scope_of(video: Video, name: str) -> str:
    """Return the media-token scope covering object `name` shown for `video`: the index
    folder for what the indexer made, else the title's own (lib.library.Video.sidecar_scope)."""
    if name.startswith(INDEX_PREFIX):
        return entry_folder(video.name)
    return video.sidecar_scope(name)


def version_of(video: Video) -> tuple[str | None, int | None]:
    """Return the (ETag, size) an entry for `video` must have been made from."""
    return video.etag, (video.size if video.kind is Kind.FILE else None)


def parse_catalog(data: bytes) -> dict[str, IndexEntry]:
    """Given the catalog's bytes, return its entries by title; garbage yields none."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    items = value.get("entries") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return {}
    entries = {}
    for item in items:
        entry = IndexEntry.from_json(item) if isinstance(item, dict) else None
        if entry is not None:
            entries[entry.name] = entry
    return entries


def catalog_json(entries: Iterable[IndexEntry]) -> bytes:
    """Return the catalog object holding `entries` (in name order)."""
    items = [entry.to_json() for entry in sorted(entries, key=lambda entry: entry.name)]
    return json.dumps({"version": 1, "entries": items}, separators=(",", ":")).encode("utf-8")


class MediaIndex:
    """The catalog of index entries, read from storage (cached for `ttl` seconds) and updated
    in place by the indexer of this process, which stores it at most every `save_every` s."""

    def __init__(
        self,
        storage: Storage,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        save_every: float = 5.0,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.save_every = save_every
        self._lock = threading.Lock()
        self._cache: TTLCache[dict[str, IndexEntry]] = TTLCache(
            ttl, error_ttl=10.0, errors=(StorageError,)
        )
        self._pending: dict[str, IndexEntry | None] = {}  # changed here, not yet stored
        self._saved_at = 0.0

    def entries(self) -> dict[str, IndexEntry]:
        """Return every entry by title name (one read of the catalog, cached); {} when
        storage cannot answer (cards then show what the listing knows)."""
        try:
            stored = self._cache.get("", self._load)
        except StorageError as error:
            log.warning("the library index cannot be read right now: %s", error)
            stored = {}
        with self._lock:
            if not self._pending:
                return stored
            merged = dict(stored)
            for name, entry in self._pending.items():
                if entry is None:
                    merged.pop(name, None)
                else:
                    merged[name] = entry
            return merged

    def entry(self, video: Video) -> IndexEntry | None:
        """Return the entry of `video`'s current version, if it has been indexed."""
        entry = self.entries().get(video.name)
        if entry is None or not entry.is_current(*version_of(video)):
            return None
        return entry

    def _load(self) -> dict[str, IndexEntry]:
        try:
            info = self.storage.stat(CATALOG)
        except NotFound:
            return {}
        if not 0 < info.size <= MAX_CATALOG_BYTES:
            log.warning("ignoring %s: %d bytes is not a catalog", CATALOG, info.size)
            return {}
        chunks = self.storage.read(CATALOG, 0, info.size - 1)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return parse_catalog(data)

    def put(self, entry: IndexEntry) -> None:
        """Record `entry` (seen at once by this process; stored by `save`)."""
        with self._lock:
            self._pending[entry.name] = entry

    def remove(self, name: str) -> None:
        """Forget the entry of a title that is gone."""
        with self._lock:
            self._pending[name] = None

    def save(self, force: bool = False) -> bool:
        """Store the catalog when entries changed and `save_every` seconds have passed (or
        `force`); return whether it was written. Raises StorageError when storage refuses."""
        with self._lock:
            if not self._pending or (not force and self.clock() - self._saved_at < self.save_every):
                return False
            changed = dict(self._pending)
        self._cache.clear()  # merge into what storage holds now, not into an old copy
        merged = dict(self._cache.get("", self._load))
        for name, entry in changed.items():
            if entry is None:
                merged.pop(name, None)
            else:
                merged[name] = entry
        self.storage.write(CATALOG, catalog_json(merged.values()), "application/json")
        self._cache.clear()
        with self._lock:
            self._saved_at = self.clock()
            for name, entry in changed.items():
                if self._pending.get(name, entry) is entry:  # not changed again meanwhile
                    self._pending.pop(name, None)
        log.debug("stored the index: %d titles (%d changed)", len(merged), len(changed))
        return True
