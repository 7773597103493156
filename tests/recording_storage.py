"""The real local backend, recording the scans and reads made through it."""

from __future__ import annotations

from collections.abc import Iterator

from lib.storage import ObjectInfo
from lib.storage.local import LocalStorage


class RecordingStorage(LocalStorage):
    """The real local backend, recording the scans and reads the stats make."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scans: list[str] = []
        self.reads: list[tuple[str, int, int]] = []

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.scans.append(prefix)
        return super().scan(prefix)

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        self.reads.append((name, start, end))
        return super().read(name, start, end)
