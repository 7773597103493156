"""Putting a finished title into the library, so that no viewer ever sees half of it.

A local library gets the title built in a hidden folder on the same file system and renamed
into place. A bucket gets its objects uploaded a few at a time (large ones in parts), with a
marker object in the folder while they travel, the master playlist last and the marker
removed after it. Run again after an interruption, objects already there with the right size
and MD5 are not sent again.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lib.ingest.playlists import MASTER
from lib.library import INGEST_MARKER, IngestMarker
from lib.storage import NotFound, Storage

UPLOAD_WORKERS = 4
MARKER_EVERY_SECONDS = 10.0
MARKER_EVERY_PERCENT = 10.0
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".wmv": "video/x-ms-wmv",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".mts": "video/mp2t",
    ".m2ts": "video/mp2t",
}
DEFAULT_TYPE = "application/octet-stream"


def content_type(name: str) -> str:
    """The Content-Type an object of this name is stored with."""
    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower(), DEFAULT_TYPE)


@dataclass(frozen=True)
class Item:
    """One object of a title: its name inside the `.hls` folder and the local file holding it."""

    name: str
    path: Path
    tier: str | None = None  # a storage tier for this object (the kept original)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class Sent:
    """What a publish did: objects and bytes sent, and objects found already in place."""

    objects: int = 0
    bytes: int = 0
    skipped: int = 0
    deleted: int = 0


def folder_items(folder: Path) -> list[Item]:
    """Every file below `folder` as items, the master playlist last."""
    items = [
        Item(path.relative_to(folder).as_posix(), path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    return sorted(items, key=lambda item: item.name == MASTER)


def marker_body(title: str, started: datetime, percent: float) -> bytes:
    """The marker's JSON (its format lives in lib.library, which reads it)."""
    return IngestMarker(title, started, datetime.now(UTC), round(percent, 1)).to_json()


@dataclass
class BucketPublisher:
    """Publish titles into any storage backend by uploading their objects (used for buckets)."""

    storage: Storage
    workers: int = UPLOAD_WORKERS
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def exists(self, prefix: str) -> bool:
        """Whether a complete title (its master playlist) is at `prefix`."""
        try:
            self.storage.stat(prefix + MASTER)
        except NotFound:
            return False
        return True

    def pending(self, prefix: str, items: list[Item]) -> tuple[list[Item], dict[str, int]]:
        """Return the items still to send and the sizes of what `prefix` holds now."""
        present = {info.name: info.size for info in self.storage.scan(prefix)}
        todo = []
        for item in items:
            name = prefix + item.name
            if present.get(name) == item.size and self.storage.matches(name, item.path):
                continue
            todo.append(item)
        return todo, present

    def publish(
        self,
        prefix: str,
        title: str,
        items: list[Item],
        progress: Callable[[int, int], None] | None = None,
    ) -> Sent:
        """Upload `items` below `prefix` (the master last, then the marker goes); `progress`
        gets (bytes sent, bytes to send). Raises StorageError if the storage fails."""
        sent = Sent()
        self.storage.abort_uploads(prefix)
        todo, present = self.pending(prefix, items)
        master = [item for item in todo if item.name == MASTER]
        # Largest first, so a big original is not left travelling alone at the end.
        body = sorted((item for item in todo if item.name != MASTER), key=lambda i: -i.size)
        if prefix + MASTER in present and body:
            # Replacing a title: hide the old one first, so old and new never mix. The new
            # master is then sent even when it is byte for byte the old one.
            self.storage.delete(prefix + MASTER)
            master = [item for item in items if item.name == MASTER]
        sent.skipped = len(items) - len(body) - len(master)
        total = sum(item.size for item in todo)
        started = datetime.now(UTC)
        marker = prefix + INGEST_MARKER
        last = {"at": self.clock(), "percent": 0.0}

        def write_marker(percent: float) -> None:
            self.storage.write(marker, marker_body(title, started, percent), "application/json")

        def advance(count: int) -> None:
            with self._lock:
                sent.bytes += count
                done = sent.bytes
            if progress is not None:
                progress(done, total)

        if body:
            write_marker(0.0)
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            pending = {pool.submit(self._send, prefix + item.name, item, advance) for item in body}
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()  # raise the first failure (the others are cancelled)
                    sent.objects += 1
                percent = 100.0 * sent.bytes / total if total else 100.0
                if pending and (
                    self.clock() - last["at"] >= MARKER_EVERY_SECONDS
                    or percent - last["percent"] >= MARKER_EVERY_PERCENT
                ):
                    write_marker(percent)
                    last.update(at=self.clock(), percent=percent)
        finally:
            # On a failure or Ctrl-C, objects not yet started are not started.
            pool.shutdown(wait=True, cancel_futures=True)
        for item in master:
            self._send(prefix + MASTER, item, advance)
            sent.objects += 1
        wanted = {prefix + item.name for item in items}
        for name in sorted(set(present) | {marker}):
            if name not in wanted:
                try:
                    self.storage.delete(name)
                except NotFound:
                    continue
                sent.deleted += name != marker
        return sent

    def _send(self, name: str, item: Item, advance: Callable[[int], None]) -> None:
        self.storage.upload(name, item.path, content_type(name), tier=item.tier, progress=advance)


@dataclass
class FolderPublisher:
    """Publish titles into a local library folder: a rename on the same file system."""

    root: Path

    def exists(self, prefix: str) -> bool:
        return (self.root / prefix / MASTER).is_file()

    def publish(self, prefix: str, staged: Path, items: list[Item]) -> Sent:
        """Move the staged `.hls` folder to `prefix` (replacing what is there), after copying
        in the items that live outside it (the kept original)."""
        sent = Sent()
        for item in items:
            target = staged / item.name
            if item.path.resolve() != target.resolve():
                _copy(item.path, target)
        destination = self.root / prefix.rstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        old = staged.with_name(staged.name + ".old")
        if destination.exists():
            os.replace(destination, old)
        os.replace(staged, destination)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
            sent.deleted = 1
        sent.objects = sum(1 for _ in _files(destination))
        sent.bytes = sum(path.stat().st_size for path in _files(destination))
        return sent


def _files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file())


def _copy(source: Path, target: Path) -> None:
    """Hard-link `source` as `target` when they share a file system, else copy it in chunks."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)  # streams in chunks; never whole in memory
