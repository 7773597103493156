"""What the stats page can find wrong with a library: the kinds of problem, and a bounded list."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

MAX_LISTED = 1000  # problems listed per kind; their count stays exact


class ProblemKind(StrEnum):
    """What can be wrong with an object, as the admin reads it."""

    NO_PLAYLIST = ".hls folder without output.m3u8"
    INTERRUPTED = "Upload interrupted (no progress for a day)"
    MISSING_SEGMENT = "Listed in a playlist but missing from storage"
    BAD_PLAYLIST = "Playlist that cannot be used"
    OUTSIDE_REFERENCE = "Playlist pointing outside its folder"
    UNPLAYABLE = "Video file a browser cannot play"
    NESTED = "Nested deeper than the layout allows (viewers never see it)"
    ZERO_BYTES = "Zero-byte object"


@dataclass(frozen=True)
class Problem:
    """One thing to fix: what is wrong, the full object (or folder) name, and details."""

    kind: ProblemKind
    name: str
    detail: str = ""


class Problems:
    """Problems found so far: every one counted, the first `limit` of each kind kept."""

    def __init__(self, limit: int = MAX_LISTED) -> None:
        self.limit = limit
        self.listed: list[Problem] = []
        self.counts: Counter[ProblemKind] = Counter()

    def add(self, kind: ProblemKind, name: str, detail: str = "") -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= self.limit:
            self.listed.append(Problem(kind, name, detail))

    def extend(self, other: Problems) -> None:
        for kind, count in other.counts.items():
            room = max(self.limit - self.counts[kind], 0)
            self.listed.extend([p for p in other.listed if p.kind is kind][:room])
            self.counts[kind] += count
