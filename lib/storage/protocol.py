"""The storage protocol every backend (local folder, OCI bucket) implements.

Names are object names as in a bucket: '/'-separated, no leading '/', e.g. 'Years/2024.mp4'.
A prefix ending in '/' plays the role of a folder.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

# Each chunk costs a worker-thread hop (50-100 µs on a busy 2-core box) and a client holds
# about one chunk in memory: 1 MiB streams at nginx speed and 50 clients stay under 100 MB.
CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """Storage could not answer; the message is safe to show to a user."""


class NotFound(StorageError):
    """The object or folder does not exist (or may not be read)."""


class Unavailable(StorageError):
    """The storage is down, throttling, refusing our credentials or unreachable."""


class Conflict(StorageError):
    """A conditional write lost: the object changed (or appeared) since it was read."""


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object."""

    name: str
    size: int
    modified: datetime | None = None
    created: datetime | None = None
    etag: str | None = None
    storage_tier: str | None = None
    # As the backend reports it: base64 MD5, or for a multipart object "base64(...)-PARTS".
    md5: str | None = None


@dataclass(frozen=True)
class Listing:
    """One folder level: the objects directly inside a prefix and its sub-prefixes."""

    objects: tuple[ObjectInfo, ...] = ()
    prefixes: tuple[str, ...] = field(default=())


@runtime_checkable
class Storage(Protocol):
    """What the library model and the media route need from a backend."""

    def list(self, prefix: str = "") -> Listing:
        """Given a prefix ('' or ending in '/'), return one level below it (delimiter '/')."""
        ...

    def stat(self, name: str) -> ObjectInfo:
        """Given an object name, return its info or raise NotFound."""
        ...

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """Given an object and an inclusive byte range, yield its bytes in chunks.

        Closing the iterator releases whatever the read holds open. Chunks of about
        CHUNK_SIZE keep streaming cheap; keep no reference to a chunk once yielded, so a
        client costs one chunk of memory.
        """
        ...

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object below `prefix`, at any depth, in name order (a full scan); nothing
        when no object is below it."""
        ...

    def usage(self) -> tuple[int, int]:
        """Return how many objects the storage holds and their total size in bytes.

        A bucket answers from its approximate totals without a scan; a folder is counted.
        """
        ...

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store a small object (app state such as saved positions), replacing it whole."""
        ...

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        """Return a small object's bytes and its version (raise NotFound).

        A version is opaque: compare it, pass it to `write_if` or `delete_if`, nothing else.
        """
        ...

    def write_if(self, name: str, data: bytes, content_type: str, *, version: str | None) -> str:
        """Store a small object only if it is still at `version` (None: only if absent); return
        the new version, or raise Conflict (also when the object is gone meanwhile).

        Tried once: a lost answer is Unavailable, and the caller reads again to learn the outcome.
        """
        ...

    def delete_if(self, name: str, *, version: str) -> None:
        """Remove an object only if it is still at `version`; raise Conflict, or NotFound."""
        ...

    def upload(
        self,
        name: str,
        path: Path,
        content_type: str,
        *,
        tier: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Stream local file `path` into object `name` (replacing it), never holding it whole.

        `progress(n)` is told the bytes stored since its last call, at least once a part;
        `tier` is an OCI storage tier ("Standard", "InfrequentAccess", "Archive"), if any.
        """
        ...

    def matches(self, name: str, path: Path) -> bool:
        """Return whether object `name` holds exactly the bytes of local file `path`
        (same size and MD5); False when there is no such object."""
        ...

    def abort_uploads(self, prefix: str) -> int:
        """Remove what interrupted uploads below `prefix` left behind; return how many."""
        ...

    def delete(self, name: str) -> None:
        """Remove an object; raise NotFound if it is not there."""
        ...

    def describe(self) -> str:
        """Return a short, secret-free description for logs and the UI."""
        ...


def is_safe_name(name: str, max_length: int = 1024) -> bool:
    """Return whether `name` is an object name we may look up at all.

    Rejects traversal ('..', '.' segments), absolute paths, backslashes, empty segments,
    control characters and names longer than OCI allows.
    """
    if not name or len(name.encode("utf-8", "surrogatepass")) > max_length:
        return False
    if name.startswith("/") or "\\" in name:
        return False
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        return False
    parts = name.split("/")
    body, last = parts[:-1], parts[-1]
    return not (any(part in {"", ".", ".."} for part in body) or last in {".", ".."})


def part_digests(path: Path, part_size: int | None = None) -> list[bytes]:
    """Return the raw MD5 of each `part_size` part of local file `path` (of the whole file
    when `part_size` is None; an empty file is one empty part), reading it in chunks."""
    digests: list[bytes] = []
    part = hashlib.md5(usedforsecurity=False)
    in_part = 0
    with path.open("rb", buffering=0) as handle:
        while True:
            want = CHUNK_SIZE if part_size is None else min(CHUNK_SIZE, part_size - in_part)
            chunk = handle.read(want)
            if not chunk:
                break
            part.update(chunk)
            in_part += len(chunk)
            if in_part == part_size:
                digests.append(part.digest())
                part, in_part = hashlib.md5(usedforsecurity=False), 0
    if in_part or not digests:
        digests.append(part.digest())
    return digests


def md5_text(digests: list[bytes]) -> str:
    """Given the raw MD5s of an object's parts, return its MD5 as object storage reports it:
    base64 of the MD5 for one part; for more, OCI's multipart form, base64 of the MD5 of the
    parts' MD5s, then "-" and their count."""
    if len(digests) == 1:
        return base64.b64encode(digests[0]).decode("ascii")
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False).digest()
    return f"{base64.b64encode(combined).decode('ascii')}-{len(digests)}"


def file_md5(path: Path, part_size: int | None = None) -> str:
    """Return the MD5 of local file `path` as a store reports it when uploaded in parts of
    `part_size` (or in one piece)."""
    return md5_text(part_digests(path, part_size))
