"""The storage protocol every backend (local folder, OCI bucket) implements.

Names are object names as in a bucket: '/'-separated, no leading '/', e.g. 'Years/2024.mp4'.
A prefix ending in '/' plays the role of a folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object."""

    name: str
    size: int
    modified: datetime | None = None
    created: datetime | None = None
    etag: str | None = None
    storage_tier: str | None = None


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
        """Yield every object below `prefix`, at any depth, in name order (a full scan)."""
        ...

    def usage(self) -> tuple[int, int]:
        """Return how many objects the storage holds and their total size in bytes.

        A bucket answers from its approximate totals without a scan; a folder is counted.
        """
        ...

    def write(self, name: str, data: bytes) -> None:
        """Store a small object (app state such as saved positions), replacing it whole."""
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
