"""The staging area: browser uploads as they arrive, in one folder of the local disk.

Each upload is two files: `<id>.part`, the bytes received so far, and `<id>.json`, its
record (who sent it, how long it will be, its tus metadata, when it expires). The offset is
the size of the `.part` file, so a request cut off mid-body leaves an offset that is true.
An upload that has not moved for `expire_seconds` is swept away; a complete one stays
until its consumer (lib/ingest/intake.py) has handed it off and removes it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

UPLOAD_SCOPE = "upload"  # what an upload token grants (lib/web/uploads.py checks it)
FREE_MARGIN_BYTES = 64 * 1024 * 1024  # room left on the disk beyond the file itself
SWEEP_EVERY_SECONDS = 60.0
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
PART, RECORD = ".part", ".json"

log = logging.getLogger("homemovies.staging")


class StagingError(Exception):
    """An upload cannot go on; the message is one sentence for the person uploading."""


class TooLarge(StagingError):
    """The file is over the upload limit."""


class NoSpace(StagingError):
    """The staging folder's disk has no room for the file."""


class UnknownUpload(StagingError):
    """No such upload: never made, expired, removed, or another user's."""


class OffsetMismatch(StagingError):
    """A chunk claims to start elsewhere than where the upload stands."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class TooLong(StagingError):
    """A chunk would go past the upload's declared length."""


class Busy(StagingError):
    """Another request is writing to this upload right now."""


def _size(size: int, *, exact: bool = False) -> str:
    """Return a size in decimal units, as the --max_upload_gb flag counts: '25.0 GB'."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:g} {unit}" if exact else f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def is_upload_id(text: str) -> bool:
    """Whether `text` can be an upload id (ids reach us from browsers)."""
    return UPLOAD_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class StagedUpload:
    """One upload in the staging folder; its offset is the size of `path` on disk."""

    id: str
    user: str
    length: int
    filename: str
    metadata: dict[str, str]
    created: float
    expires: float
    complete: bool
    path: Path

    def record(self) -> dict[str, Any]:
        """Return the JSON record of the upload (its path is where the record lies)."""
        fields = asdict(self)
        del fields["path"]
        return fields


class UploadWriter:
    """The one writer of an upload: appends chunks to its `.part` file, then `close()`
    syncs the bytes and records the new state. Made by `Staging.writer`."""

    def __init__(self, staging: Staging, upload: StagedUpload, fd: int) -> None:
        self.staging = staging
        self.upload = upload
        self.offset = os.fstat(fd).st_size
        self.completed = False  # set by close() when this writer made the upload whole
        self._fd: int | None = fd

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append `data`; raise TooLong (writing none of it) if it would pass the length,
        NoSpace if the disk is full."""
        if self._fd is None:
            raise ValueError("the writer is closed")
        if self.offset + len(data) > self.upload.length:
            raise TooLong("This request sends more bytes than the file has (Upload-Length).")
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                self.offset += written
                view = view[written:]
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self.staging.no_space(self.upload.length) from error
            raise

    def close(self) -> StagedUpload:
        """Sync what was written, refresh the expiry, mark the upload complete once whole,
        and let the next writer in; return the upload as it now stands."""
        if self._fd is None:
            return self.upload
        fd, self._fd = self._fd, None
        before = self.upload
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
            try:
                self.upload = self.staging.record_progress(before, self.offset)
                self.completed = self.upload.complete and not before.complete
            finally:
                self.staging.release(before.id)
        return self.upload

    def __enter__(self) -> UploadWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Staging:
    """The staging folder `root` (made if missing): create, find, append to and sweep
    uploads of at most `max_bytes` each."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        expire_seconds: float = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.expire_seconds = expire_seconds
        self.clock = clock  # the folder is made by the first upload (a read-only app never writes)
        self._guard = threading.Lock()  # the set of uploads being written, and record files
        self._writing: set[str] = set()
        self._last_sweep: float | None = None

    # ----- paths: the one place an id from a browser becomes a file name -----

    def part_path(self, upload_id: str) -> Path:
        """Return the `.part` file of `upload_id`, or raise UnknownUpload if it is no id."""
        if not is_upload_id(upload_id):
            raise UnknownUpload("There is no such upload; it may have expired.")
        return self.root / f"{upload_id}{PART}"

    def record_path(self, upload_id: str) -> Path:
        return self.part_path(upload_id).with_suffix(RECORD)

    # ----- uploads -----

    def create(self, user: str, length: int, metadata: Mapping[str, str]) -> StagedUpload:
        """Return a new, empty upload of `length` bytes for `user`; raise TooLarge over the
        limit and NoSpace when the disk lacks room for it."""
        if length < 0:
            raise ValueError("an upload's length cannot be negative")
        if length > self.max_bytes:
            raise TooLarge(
                f"This file is {_size(length)}; uploads are limited to "
                f"{_size(self.max_bytes, exact=True)} (--max_upload_gb)."
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StagingError(
                f"Uploads cannot be received: the staging folder {self.root} cannot be made "
                f"({error.strerror}); pass --staging DIR."
            ) from None
        if shutil.disk_usage(self.root).free < length + FREE_MARGIN_BYTES:
            raise self.no_space(length)
        now = self.clock()
        upload_id = secrets.token_urlsafe(16)
        upload = StagedUpload(
            id=upload_id,
            user=user,
            length=length,
            filename=metadata.get("filename", ""),
            metadata=dict(metadata),
            created=now,
            expires=now + self.expire_seconds,
            complete=length == 0,
            path=self.part_path(upload_id),
        )
        upload.path.touch(exist_ok=False)
        self._save(upload)
        return upload

    def no_space(self, length: int) -> NoSpace:
        """Return the error saying the disk cannot take a file of `length` bytes."""
        free = shutil.disk_usage(self.root).free
        return NoSpace(
            f"The server has {_size(free)} free for uploads and this file needs "
            f"{_size(length)}; free some space there and try again."
        )

    def get(self, upload_id: str, user: str) -> StagedUpload:
        """Return `user`'s upload `upload_id`; raise UnknownUpload when there is none, it
        expired, or it is someone else's."""
        upload = self._load(self.record_path(upload_id))
        if upload is None or upload.user != user or self._expired(upload):
            raise UnknownUpload("There is no such upload; it may have expired.")
        return upload

    @staticmethod
    def offset(upload: StagedUpload) -> int:
        """Return how many bytes of `upload` have arrived (the size of its file)."""
        try:
            return upload.path.stat().st_size
        except FileNotFoundError:
            raise UnknownUpload("There is no such upload; it may have expired.") from None

    def writer(self, upload: StagedUpload, offset: int) -> UploadWriter:
        """Return the writer appending to `upload` from `offset`; raise Busy while another
        writer holds it, OffsetMismatch unless `offset` is where it stands."""
        with self._guard:
            if upload.id in self._writing:
                raise Busy("This upload is being sent by another request; try again shortly.")
            self._writing.add(upload.id)
        try:
            # No O_CREAT: an upload removed meanwhile is not brought back to life.
            fd = os.open(upload.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            self.release(upload.id)
            raise UnknownUpload("There is no such upload; it may have expired.") from None
        writer = UploadWriter(self, upload, fd)
        if writer.offset != offset:
            os.close(fd)
            self.release(upload.id)
            raise OffsetMismatch(
                f"This upload stands at byte {writer.offset}, not {offset}; ask where to resume.",
                writer.offset,
            )
        return writer

    def append(self, upload: StagedUpload, offset: int, chunks: Iterable[bytes]) -> StagedUpload:
        """Append `chunks` to `upload` from `offset` (see `writer`); return the upload."""
        with self.writer(upload, offset) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return writer.upload

    def release(self, upload_id: str) -> None:
        """Let the next writer of `upload_id` in."""
        with self._guard:
            self._writing.discard(upload_id)

    def record_progress(self, upload: StagedUpload, offset: int) -> StagedUpload:
        """Record that `upload` stands at `offset`: a fresh expiry, complete once whole.
        Raise UnknownUpload if it was removed while being written."""
        done = upload.complete or offset == upload.length
        moved = replace(upload, complete=done, expires=self.clock() + self.expire_seconds)
        with self._guard:
            if not self.record_path(upload.id).exists():
                raise UnknownUpload("This upload was cancelled.")
            self._save_unlocked(moved)
        return moved

    def remove(self, upload_id: str) -> None:
        """Delete the upload's files (nothing happens if it is already gone)."""
        record, part = self.record_path(upload_id), self.part_path(upload_id)
        with self._guard:
            record.unlink(missing_ok=True)
            part.unlink(missing_ok=True)

    # ----- listing and expiry -----

    def completed(self) -> list[StagedUpload]:
        """Return the complete uploads still here (each still to be handed off)."""
        return [upload for upload in self._records() if upload.complete]

    def active(self, user: str) -> list[StagedUpload]:
        """Return `user`'s uploads still arriving (incomplete and unexpired), oldest first."""
        found = [
            upload
            for upload in self._records()
            if upload.user == user and not upload.complete and not self._expired(upload)
        ]
        return sorted(found, key=lambda upload: upload.created)

    def sweep(self) -> int:
        """Delete expired incomplete uploads, and leftovers no record explains; return how
        many uploads went."""
        now = self.clock()
        removed = 0
        for upload in self._records():
            if self._expired(upload, now) and upload.id not in self._writing:
                self.remove(upload.id)
                removed += 1
        for path in self.root.iterdir() if self.root.is_dir() else ():
            if not self._is_leftover(path, now):
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                log.info("removed the leftover staging file %s", path.name)
        return removed

    def sweep_if_due(self, every: float = SWEEP_EVERY_SECONDS) -> int:
        """Run `sweep` unless one ran less than `every` seconds ago; return what it removed."""
        now = self.clock()
        with self._guard:
            if self._last_sweep is not None and now - self._last_sweep < every:
                return 0
            self._last_sweep = now
        return self.sweep()

    def _expired(self, upload: StagedUpload, now: float | None = None) -> bool:
        return not upload.complete and upload.expires <= (self.clock() if now is None else now)

    def _is_leftover(self, path: Path, now: float) -> bool:
        """A `.part` without a record, an unreadable record or a temporary file, left by a
        crash; only once it has been still for as long as an upload may be."""
        name = path.name
        if name.endswith(PART):
            upload_id = name.removesuffix(PART)
            if not is_upload_id(upload_id) or self.record_path(upload_id).exists():
                return False
        elif name.endswith(RECORD):
            upload_id = name.removesuffix(RECORD)
            if not is_upload_id(upload_id) or self._load(path) is not None:
                return False
        elif not name.endswith(".tmp"):
            return False
        try:
            return path.stat().st_mtime + self.expire_seconds <= now
        except FileNotFoundError:
            return False

    def _records(self) -> Iterator[StagedUpload]:
        for path in sorted(self.root.glob("*" + RECORD)):
            if is_upload_id(path.name.removesuffix(RECORD)):
                upload = self._load(path)
                if upload is not None:
                    yield upload

    def _load(self, path: Path) -> StagedUpload | None:
        """Return the upload recorded at `path`, or None if there is none (or it is unreadable,
        which the sweep clears)."""
        try:
            fields = json.loads(path.read_bytes())
            metadata = fields["metadata"]
            if not isinstance(metadata, dict):
                raise TypeError("metadata is not an object")
            return StagedUpload(
                id=path.name.removesuffix(RECORD),
                user=str(fields["user"]),
                length=int(fields["length"]),
                filename=str(fields["filename"]),
                metadata={str(key): str(value) for key, value in metadata.items()},
                created=float(fields["created"]),
                expires=float(fields["expires"]),
                complete=bool(fields["complete"]),
                path=path.with_suffix(PART),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            log.warning("unreadable staging record %s: %s", path.name, error)
            return None

    def _save(self, upload: StagedUpload) -> None:
        with self._guard:
            self._save_unlocked(upload)

    def _save_unlocked(self, upload: StagedUpload) -> None:
        """Write the record through a temporary file, so a crash never leaves half of one."""
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=f".{upload.id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(upload.record(), handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.record_path(upload.id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
