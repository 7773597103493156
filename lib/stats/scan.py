"""The scan: every object of the storage listed once, tallied per title, per top-level folder,
per storage tier and per month of upload (never one record per object), with each HLS
title's playlists checked in a few threads as its folder is passed."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from lib.library import (
    HLS_SUFFIX,
    INGEST_MARKER,
    ORIGINAL_STEM,
    PLAYLIST_NAME,
    Kind,
    Tab,
    Video,
    tabs_from_root,
    videos_from_listing,
)
from lib.stats.labels import TIER_LABELS
from lib.stats.playlists import check_playlist
from lib.stats.problems import ProblemKind, Problems
from lib.storage import Listing, ObjectInfo, Storage
from lib.storage.appstate import is_app_state

PLAYLIST_WORKERS = 4
PROGRESS_EVERY = 1000  # objects between two progress reports (one listing page)


@dataclass(frozen=True)
class ScanProgress:
    """How far a scan has come: objects listed, playlists read of those found so far."""

    objects: int
    playlists_read: int = 0
    playlists: int = 0


class Tally:
    """Running totals of one title's objects."""

    __slots__ = ("bytes", "created", "modified", "objects", "tiers")

    def __init__(self) -> None:
        self.objects = 0
        self.bytes = 0
        self.created: datetime | None = None
        self.modified: datetime | None = None
        self.tiers: dict[str, int] = {}

    def add(self, info: ObjectInfo, tier: str) -> None:
        self.objects += 1
        self.bytes += info.size
        self.tiers[tier] = self.tiers.get(tier, 0) + info.size
        if info.created is not None and (self.created is None or info.created < self.created):
            self.created = info.created
        if info.modified is not None and (self.modified is None or info.modified > self.modified):
            self.modified = info.modified

    def absorb(self, other: Tally) -> None:
        """Count another tally's objects as this title's too (a file title's sidecars)."""
        self.objects += other.objects
        self.bytes += other.bytes
        for tier, size in other.tiers.items():
            self.tiers[tier] = self.tiers.get(tier, 0) + size
        self.created = min((d for d in (self.created, other.created) if d), default=None)
        self.modified = max((d for d in (self.modified, other.modified) if d), default=None)

    @property
    def tier(self) -> str:
        """The storage tier holding the title's bytes, or 'Mixed' when there are several."""
        used = [tier for tier, size in self.tiers.items() if size] or list(self.tiers)
        return TIER_LABELS.get(used[0], used[0]) if len(used) == 1 else "Mixed"


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.rstrip("/").split("/"))


def locate(name: str) -> tuple[str, str | None]:
    """Given an object name, return its top-level folder prefix ('' at the root) and the title
    it may belong to: its own name for a file, a `.hls/` folder prefix, or None when it is
    nested deeper than the layout allows."""
    first, slash, rest = name.partition("/")
    if not slash:
        return "", name
    top = first + "/"
    if first.endswith(HLS_SUFFIX):
        return "", top
    second, slash, _ = rest.partition("/")
    if not slash:
        return top, name
    if second.endswith(HLS_SUFFIX):
        return top, f"{top}{second}/"
    return top, None


@dataclass
class Folder:
    """The HLS folder the scan is inside: the names it holds, relative to it."""

    key: str
    top: str
    tally: Tally
    sizes: dict[str, int] = field(default_factory=dict)  # relative name -> size
    marker: ObjectInfo | None = None  # its ingest marker: the title is being added


class Scan:
    """One scan in progress: tallies per title, per top-level folder, per tier and month.

    Relies on a folder's objects arriving together, which the protocol's name order ensures:
    only the HLS folder being scanned keeps its names (for the missing-segment check).
    """

    def __init__(self, storage: Storage, pool: ThreadPoolExecutor, workers: int) -> None:
        self.storage = storage
        self.pool = pool
        self.slots = threading.BoundedSemaphore(workers * 4)  # playlist checks queued at once
        self.checks: dict[str, Future[tuple[float | None, Problems]]] = {}
        self.objects = 0  # every object listed, app state included
        self.app_state = 0
        self.titles: dict[str, Tally] = {}
        self.tops: dict[str, list[int]] = {}  # top prefix -> [objects, bytes]
        self.tiers: dict[str, list[int]] = {}  # tier -> [objects, bytes]
        self.months: Counter[tuple[int, int]] = Counter()
        self.level_files: dict[str, list[ObjectInfo]] = {}  # top prefix -> files at its level
        self.level_folders: dict[str, set[str]] = {}  # top prefix -> .hls prefixes at its level
        self.tiers_known = False
        self.problems = Problems()
        self.folder: Folder | None = None
        self.adding: dict[str, ObjectInfo] = {}  # .hls prefix without a playlist -> its marker
        self.originals: dict[str, list[int]] = {}  # tier -> [objects, bytes] of kept originals

    def add(self, info: ObjectInfo) -> None:
        """Count one object."""
        self.objects += 1
        name = info.name
        if is_app_state(name):
            self.app_state += 1
            return
        folder = self.folder
        if folder is None or not name.startswith(folder.key):
            self.close_folder()
            folder = self.enter(info)
            if folder is None:
                return
        # Inside an HLS folder: most objects of a library are segments.
        tier = self.count(info, folder.top)
        folder.tally.add(info, tier)
        relative = name[len(folder.key) :]
        if relative.rsplit(".", 1)[0] == ORIGINAL_STEM and "/" not in relative:
            counts = self.originals.setdefault(tier, [0, 0])
            counts[0] += 1
            counts[1] += info.size
        folder.sizes[relative] = info.size
        if relative == INGEST_MARKER:
            folder.marker = info

    def enter(self, info: ObjectInfo) -> Folder | None:
        """Count an object outside the current HLS folder; return the folder it opens, if any."""
        top, key = locate(info.name)
        if key is not None and key.endswith(HLS_SUFFIX + "/"):  # in (or marking) an .hls folder
            self.level_folders.setdefault(top, set()).add(key)
            self.folder = Folder(key, top, self.titles.setdefault(key, Tally()))
            return self.folder
        tier = self.count(info, top)
        if key is None:
            if not _hidden(info.name) and not info.name.endswith("/"):
                self.problems.add(
                    ProblemKind.NESTED,
                    info.name,
                    "videos go in a tab folder, or in an .hls folder there",
                )
            return None
        self.titles.setdefault(key, Tally()).add(info, tier)
        self.level_files.setdefault(top, []).append(info)
        return None

    def count(self, info: ObjectInfo, top: str) -> str:
        """Add an object to the totals per top folder, tier and month; return its tier."""
        tier = info.storage_tier or "Standard"  # a local folder is priced as if Standard
        self.tiers_known = self.tiers_known or info.storage_tier is not None
        for counts in (self.tops.setdefault(top, [0, 0]), self.tiers.setdefault(tier, [0, 0])):
            counts[0] += 1
            counts[1] += info.size
        if info.created is not None:
            self.months[(info.created.year, info.created.month)] += info.size
        if info.size == 0 and not info.name.endswith("/") and not _hidden(info.name):
            self.problems.add(ProblemKind.ZERO_BYTES, info.name)
        return tier

    def close_folder(self) -> None:
        """Leave the HLS folder being scanned: queue the check of its playlist (or, when it has
        none yet, note the title being added)."""
        folder, self.folder = self.folder, None
        if folder is None or _hidden(folder.key):
            return
        if PLAYLIST_NAME not in folder.sizes:
            if folder.marker is not None:
                self.adding[folder.key] = folder.marker
            return
        self.slots.acquire()  # the scan waits rather than queueing every folder's names
        future = self.pool.submit(check_playlist, self.storage, folder.key, folder.sizes)
        future.add_done_callback(lambda _: self.slots.release())
        self.checks[folder.key] = future

    def listing(self, top: str) -> Listing:
        """The one-level listing of a top folder ('' for the root) rebuilt from the scan."""
        folders = self.level_folders.get(top, set())
        if top == "":
            folders = folders | {prefix for prefix in self.tops if prefix}
        files = tuple(self.level_files.get(top, ()))
        return Listing(objects=files, prefixes=tuple(sorted(folders)))

    def library(self) -> tuple[list[Tab], list[Video]]:
        """The tabs and titles the library page shows, decided by lib.library itself."""
        tabs = tabs_from_root(self.listing(""))
        videos: list[Video] = []
        for tab in tabs:
            for video in videos_from_listing(tab.label, self.listing(tab.prefix)):
                if video.kind is Kind.HLS and video.name not in self.checks:
                    adding = video.name in self.adding
                    video = replace(video, kind=Kind.ADDING if adding else Kind.BROKEN)
                videos.append(video)
        return tabs, videos
