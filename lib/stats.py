"""Library stats: one full scan of the storage, aggregated per title and per tab, as pandas tables.

The scan pages through every object once and keeps a running tally per title and per top-level
folder (never one entry per object), reads each HLS playlist (bounded, in a few threads) for its
duration and the segments it needs, and lists what is wrong with the library so an admin can
fix it. Titles and tabs are decided by `lib.library` exactly as the library page decides them.
"""

from __future__ import annotations

import math
import posixpath
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import m3u8

from lib.library import (
    HLS_SUFFIX,
    PLAYLIST_NAME,
    Kind,
    Tab,
    Video,
    tabs_from_root,
    videos_from_listing,
)
from lib.storage import Listing, NotFound, ObjectInfo, Storage, StorageError

if TYPE_CHECKING:
    import pandas as pd

APP_STATE_PREFIX = ".homemovies/"  # the app's own state (positions, share links): not library
MAX_PLAYLIST_BYTES = 2 * 1024 * 1024  # ten hours in 2 s segments is under 1 MiB of playlist
MAX_CHILD_PLAYLISTS = 8  # variant and rendition playlists read below one master playlist
MAX_LISTED = 1000  # problems listed per kind; their count stays exact
PLAYLIST_WORKERS = 4
PROGRESS_EVERY = 1000  # objects between two progress reports (one listing page)
GIB = 1024**3  # OCI prices storage per GB-month of 2^30 bytes
NOT_IN_A_TAB = "(not in a tab)"
DEFAULT_PRICES: Mapping[str, float] = {  # OCI list prices, USD per GB-month
    "Standard": 0.0255,
    "InfrequentAccess": 0.01,
    "Archive": 0.0026,
}
TIER_LABELS: Mapping[str, str] = {
    "Standard": "Standard",
    "InfrequentAccess": "Infrequent Access",
    "Archive": "Archive",
}
KIND_LABELS: Mapping[Kind, str] = {
    Kind.FILE: "mp4",
    Kind.HLS: "hls",
    Kind.BROKEN: "hls",
    Kind.UNPLAYABLE: "other",
}
NOT_A_VIDEO = "not a video"


class ProblemKind(StrEnum):
    """What can be wrong with an object, as the admin reads it."""

    NO_PLAYLIST = ".hls folder without output.m3u8"
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


@dataclass(frozen=True)
class Totals:
    """How many objects the library holds and their size (app state left out)."""

    objects: int
    bytes: int


@dataclass(frozen=True)
class ScanProgress:
    """How far a scan has come: objects listed, playlists read of those found so far."""

    objects: int
    playlists_read: int = 0
    playlists: int = 0


@dataclass(frozen=True)
class Report:
    """The result of one scan: the tables the stats page draws, and the problems."""

    videos: pd.DataFrame  # one row per title
    tabs: pd.DataFrame  # one row per tab
    tiers: pd.DataFrame  # bytes and objects per storage tier
    months: pd.DataFrame  # bytes created per month, and the running total
    problems: tuple[Problem, ...]
    problem_counts: Mapping[ProblemKind, int]
    objects: int
    bytes: int
    hls_seconds: float
    app_state_objects: int
    scanned_at: datetime
    seconds: float
    tiers_known: bool = True  # False when storage has no tiers (a local folder)

    @property
    def totals(self) -> Totals:
        return Totals(self.objects, self.bytes)

    def by_kind(self) -> pd.DataFrame:
        """Bytes per kind of title, plus what belongs to no title (notes, nested files)."""
        import pandas as pd

        kinds = self.videos.groupby("kind", sort=True)["bytes"].sum()
        rest = self.bytes - int(kinds.sum())
        frame = kinds.rename_axis("kind").reset_index()
        if rest:
            frame = pd.concat([frame, pd.DataFrame({"kind": [NOT_A_VIDEO], "bytes": [rest]})])
        return frame.reset_index(drop=True)

    def largest(self, count: int = 10) -> pd.DataFrame:
        """The `count` largest titles, largest first, labelled 'tab / title'."""
        top = self.videos.nlargest(count, "bytes")[["tab", "title", "bytes"]]
        return top.assign(video=top["tab"] + " / " + top["title"]).reset_index(drop=True)

    def problems_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [(p.kind.value, p.name, p.detail) for p in self.problems],
            columns=["problem", "name", "detail"],
        )


def monthly_cost(tiers: pd.DataFrame, prices: Mapping[str, float]) -> pd.DataFrame:
    """Given bytes per tier and USD per GB-month per tier, return each tier's monthly cost."""
    frame = tiers[["tier", "bytes"]].copy()
    frame["gb"] = frame["bytes"] / GIB
    frame["usd_per_gb_month"] = [prices.get(tier, 0.0) for tier in frame["tier"]]
    frame["usd_per_month"] = frame["gb"] * frame["usd_per_gb_month"]
    frame["tier"] = [TIER_LABELS.get(tier, tier) for tier in frame["tier"]]
    return frame


def format_size(size: float) -> str:
    """Return a size for people: '512 B', '3.4 MB', '1.25 TB' (units of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """Return a duration for people: '42 s', '3 min 20 s', '12 h 05 min'."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def size_unit(size: float) -> tuple[str, int]:
    """Return the unit (label, bytes) that shows `size` as a number between 1 and 1024."""
    for power, unit in enumerate(("B", "KB", "MB", "GB", "TB")):
        if size < 1024 ** (power + 1) or unit == "TB":
            return unit, 1024**power
    raise AssertionError("unreachable")


# ----- reading playlists -----


def _decode(data: bytes) -> str | None:
    """Return a playlist's text, or None when it is not UTF-8 text (binary)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def resolve(base: str, uri: str) -> str | None:
    """Given a playlist's folder-relative directory and a URI in it, return the folder-relative
    name it points to, or None when it leaves the folder (another host, '/', '..')."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc or parts.path.startswith("/") or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
    if path in (".", "..") or path.startswith("../"):
        return None
    return path


class PlaylistCheck:
    """Read one HLS title's playlists: their duration and what they reference that is missing."""

    def __init__(self, storage: Storage, folder: str, sizes: Mapping[str, int]) -> None:
        self.storage = storage
        self.folder = folder
        self.sizes = sizes  # every object in the folder, by its name relative to the folder
        self.problems = Problems()

    def run(self) -> float | None:
        """Return the title's duration in seconds (None if unknown); problems go to .problems."""
        playlist = self.parse(PLAYLIST_NAME)
        if playlist is None:
            return None
        if not playlist.is_variant:
            return self.media_duration(PLAYLIST_NAME, playlist)
        children = [
            *playlist.playlists,
            *playlist.media,
            *playlist.iframe_playlists,
            *playlist.image_playlists,
        ]
        durations: list[float | None] = []
        # One playlist may be listed more than once (a rendition in several audio groups):
        # read and check it once.
        uris = list(dict.fromkeys(child.uri for child in children if child.uri))
        for uri in uris[:MAX_CHILD_PLAYLISTS]:
            name = self.reference(PLAYLIST_NAME, uri)
            child = self.parse(name) if name is not None else None
            if child is None:
                continue
            if child.is_variant:
                self.bad(name, "is a master playlist inside a master playlist")
                continue
            durations.append(self.media_duration(name, child))
        known = [seconds for seconds in durations if seconds is not None]
        return max(known) if known else None

    def bad(self, name: str, detail: str) -> None:
        self.problems.add(ProblemKind.BAD_PLAYLIST, self.folder + name, detail)

    def parse(self, name: str) -> m3u8.M3U8 | None:
        """Read a playlist of this folder (bounded) and parse it; None (and a problem) if it
        cannot be used."""
        size = self.sizes.get(name, 0)
        if size == 0:
            self.bad(name, "is empty")
            return None
        if size > MAX_PLAYLIST_BYTES:
            self.bad(
                name,
                f"is {format_size(size)}; a playlist over {format_size(MAX_PLAYLIST_BYTES)} "
                "is not read",
            )
            return None
        try:
            data = b"".join(self.storage.read(self.folder + name, 0, size - 1))
        except StorageError as error:
            self.bad(name, f"could not be read: {error}")
            return None
        text = _decode(data)
        if text is None:
            self.bad(name, "is binary data, not a text playlist")
            return None
        if not text.startswith("#EXTM3U"):
            self.bad(name, "does not start with #EXTM3U")
            return None
        try:
            return m3u8.loads(text)
        except Exception as error:
            # Hostile text makes the parser raise ValueError, TypeError, KeyError,
            # OverflowError... (seen fuzzing it): a problem to report, not a crash.
            self.bad(name, f"cannot be parsed ({type(error).__name__})")
            return None

    def reference(self, playlist: str, uri: str) -> str | None:
        """Return the name a URI of `playlist` points to if it is in the folder; else report."""
        name = resolve(posixpath.dirname(playlist), uri)
        if name is None:
            shown = uri if len(uri) <= 120 else uri[:117] + "..."
            self.problems.add(
                ProblemKind.OUTSIDE_REFERENCE, self.folder + playlist, f"refers to {shown}"
            )
            return None
        if name not in self.sizes:
            self.problems.add(
                ProblemKind.MISSING_SEGMENT, self.folder + name, f"listed in {playlist}"
            )
            return None
        return name

    def media_duration(self, name: str, playlist: m3u8.M3U8) -> float | None:
        """Check a media playlist's references; return the sum of its #EXTINF durations."""
        uris = [*playlist.files, *(m.uri for m in playlist.segment_map if m and m.uri)]
        for uri in dict.fromkeys(uri for uri in uris if uri):
            self.reference(name, uri)
        if not playlist.segments:
            self.bad(name, "lists no segments")
            return None
        durations = [segment.duration for segment in playlist.segments]
        if not all(isinstance(d, int | float) and math.isfinite(d) and d >= 0 for d in durations):
            self.bad(name, "has a segment without a valid #EXTINF duration")
            return None
        total = float(sum(durations))
        if not math.isfinite(total):
            self.bad(name, "adds up to an impossible duration")
            return None
        return total


def check_playlist(
    storage: Storage, folder: str, sizes: Mapping[str, int]
) -> tuple[float | None, Problems]:
    """Given an HLS folder prefix and the sizes of the objects in it (by relative name),
    return the title's duration in seconds (None if unknown) and its playlists' problems."""
    check = PlaylistCheck(storage, folder, sizes)
    return check.run(), check.problems


# ----- the scan -----


class _Tally:
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

    def absorb(self, other: _Tally) -> None:
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
class _Folder:
    """The HLS folder the scan is inside: the names it holds, relative to it."""

    key: str
    top: str
    tally: _Tally
    sizes: dict[str, int] = field(default_factory=dict)  # relative name -> size


class _Scan:
    """One scan in progress: tallies per title, per top-level folder, per tier and month.

    Relies on a folder's objects arriving together, which the protocol's name order ensures:
    only the HLS folder being scanned keeps its names (for the missing-segment check).
    """

    def __init__(self, storage: Storage, pool: ThreadPoolExecutor, workers: int) -> None:
        self.storage = storage
        self.pool = pool
        self.slots = threading.BoundedSemaphore(workers * 4)  # playlist checks queued at once
        self.checks: dict[str, Future] = {}
        self.objects = 0  # every object listed, app state included
        self.app_state = 0
        self.titles: dict[str, _Tally] = {}
        self.tops: dict[str, list[int]] = {}  # top prefix -> [objects, bytes]
        self.tiers: dict[str, list[int]] = {}  # tier -> [objects, bytes]
        self.months: Counter[tuple[int, int]] = Counter()
        self.level_files: dict[str, list[ObjectInfo]] = {}  # top prefix -> files at its level
        self.level_folders: dict[str, set[str]] = {}  # top prefix -> .hls prefixes at its level
        self.tiers_known = False
        self.problems = Problems()
        self.folder: _Folder | None = None

    def add(self, info: ObjectInfo) -> None:
        """Count one object."""
        self.objects += 1
        name = info.name
        if name.startswith(APP_STATE_PREFIX):
            self.app_state += 1
            return
        folder = self.folder
        if folder is None or not name.startswith(folder.key):
            self.close_folder()
            folder = self.enter(info)
            if folder is None:
                return
        # Inside an HLS folder: most objects of a library are segments.
        folder.tally.add(info, self.count(info, folder.top))
        folder.sizes[name[len(folder.key) :]] = info.size

    def enter(self, info: ObjectInfo) -> _Folder | None:
        """Count an object outside the current HLS folder; return the folder it opens, if any."""
        top, key = locate(info.name)
        if key is not None and key.endswith(HLS_SUFFIX + "/"):  # in (or marking) an .hls folder
            self.level_folders.setdefault(top, set()).add(key)
            self.folder = _Folder(key, top, self.titles.setdefault(key, _Tally()))
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
        self.titles.setdefault(key, _Tally()).add(info, tier)
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
        """Leave the HLS folder being scanned: queue the check of its playlist."""
        folder, self.folder = self.folder, None
        if folder is None or PLAYLIST_NAME not in folder.sizes or _hidden(folder.key):
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
                    video = replace(video, kind=Kind.BROKEN)
                videos.append(video)
        return tabs, videos


def scan_library(
    storage: Storage,
    progress: Callable[[ScanProgress], None] | None = None,
    workers: int = PLAYLIST_WORKERS,
) -> Report:
    """Scan every object of `storage` once and return the stats report.

    `progress` is called every PROGRESS_EVERY objects, then as each playlist check finishes.
    """
    started = time.monotonic()
    notify = progress or (lambda _: None)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats-playlist")
    try:
        scan = _Scan(storage, pool, workers)
        for info in storage.scan(""):
            scan.add(info)
            if scan.objects % PROGRESS_EVERY == 0:
                done = sum(1 for future in scan.checks.values() if future.done())
                notify(ScanProgress(scan.objects, done, len(scan.checks)))
        scan.close_folder()
        durations: dict[str, float | None] = {}
        for done, (key, future) in enumerate(scan.checks.items(), start=1):
            durations[key], problems = future.result()
            scan.problems.extend(problems)
            notify(ScanProgress(scan.objects, done, len(scan.checks)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return _report(scan, durations, time.monotonic() - started)


VIDEO_COLUMNS = [
    "tab",
    "title",
    "kind",
    "name",
    "bytes",
    "objects",
    "created",
    "modified",
    "storage_tier",
    "duration_seconds",
    "average_kbps",
]
TAB_COLUMNS = ["tab", "videos", "mp4", "hls", "other", "bytes", "objects", "hls_hours"]


def _report(scan: _Scan, durations: Mapping[str, float | None], seconds: float) -> Report:
    """Turn a finished scan's tallies into the report's tables."""
    import pandas as pd  # imported here: pandas takes ~0.4 s and only the stats page needs it

    tabs, videos = scan.library()
    for sidecar, owner in _sidecar_owners(videos).items():
        scan.titles[owner].absorb(scan.titles[sidecar])
    problems = scan.problems
    tab_rows = {tab.label: dict.fromkeys(TAB_COLUMNS, 0) | {"tab": tab.label} for tab in tabs}
    video_rows = []
    for video in videos:
        tally = scan.titles[video.name]
        kind = KIND_LABELS[video.kind]
        duration = durations.get(video.name) if video.kind is Kind.HLS else None
        if video.kind is Kind.BROKEN:
            problems.add(ProblemKind.NO_PLAYLIST, video.name)
        elif video.kind is Kind.UNPLAYABLE:
            problems.add(ProblemKind.UNPLAYABLE, video.name, f"{video.extension} needs converting")
        row = tab_rows[video.tab]
        row["videos"] += 1
        row[kind] += 1
        row["hls_hours"] += (duration or 0.0) / 3600
        video_rows.append(
            (
                video.tab,
                video.title,
                kind,
                video.name,
                tally.bytes,
                tally.objects,
                tally.created,
                tally.modified,
                tally.tier,
                duration,
                tally.bytes * 8 / duration / 1000 if duration else None,
            )
        )
    label_of = {tab.prefix: tab.label for tab in tabs}
    for top, (objects, size) in scan.tops.items():
        label = label_of.get(top, NOT_IN_A_TAB)
        row = tab_rows.setdefault(label, dict.fromkeys(TAB_COLUMNS, 0) | {"tab": label})
        row["objects"] += objects
        row["bytes"] += size
    order = {kind: index for index, kind in enumerate(ProblemKind)}
    frame = pd.DataFrame(video_rows, columns=VIDEO_COLUMNS).astype(
        {"bytes": "int64", "objects": "int64", "duration_seconds": "float64"}
    )
    frame["average_kbps"] = frame["average_kbps"].astype("float64")
    return Report(
        videos=frame,
        tabs=pd.DataFrame(list(tab_rows.values()), columns=TAB_COLUMNS),
        tiers=pd.DataFrame(
            [(tier, size, count) for tier, (count, size) in sorted(scan.tiers.items())],
            columns=["tier", "bytes", "objects"],
        ),
        months=_months_frame(scan.months),
        problems=tuple(sorted(problems.listed, key=lambda p: (order[p.kind], p.name))),
        problem_counts=dict(problems.counts),
        objects=sum(objects for objects, _ in scan.tops.values()),
        bytes=sum(size for _, size in scan.tops.values()),
        hls_seconds=float(frame["duration_seconds"].sum()),
        app_state_objects=scan.app_state,
        scanned_at=datetime.now(UTC),
        seconds=seconds,
        tiers_known=scan.tiers_known,
    )


def _sidecar_owners(videos: list[Video]) -> dict[str, str]:
    """Given the titles, return each poster or subtitle file beside a file title -> that title.

    As inside an `.hls` folder, a title's poster and subtitles count as the title's storage. A
    subtitle offered to several titles ('A.b.vtt' to 'A.b' and, tagged b, to 'A') counts once,
    for the longest title.
    """
    owners: dict[str, Video] = {}
    for video in videos:
        if video.kind is not Kind.FILE:
            continue
        for name in (video.poster, *(track.name for track in video.subtitles)):
            if name is not None and (
                name not in owners or len(video.title) > len(owners[name].title)
            ):
                owners[name] = video
    return {name: video.name for name, video in owners.items()}


def _months_frame(months: Mapping[tuple[int, int], int]) -> pd.DataFrame:
    """Bytes created per month, every month from the first to the last, and the running sum."""
    import pandas as pd

    if not months:
        return pd.DataFrame(
            {
                "month": pd.Series(dtype="datetime64[ns]"),
                "bytes": pd.Series(dtype="int64"),
                "cumulative_bytes": pd.Series(dtype="int64"),
            }
        )
    added = pd.Series(
        {pd.Period(year=y, month=m, freq="M"): size for (y, m), size in months.items()}
    ).sort_index()
    every = pd.period_range(added.index.min(), added.index.max(), freq="M")
    added = added.reindex(every, fill_value=0)
    return pd.DataFrame(
        {
            "month": every.to_timestamp(),
            "bytes": added.to_numpy(),
            "cumulative_bytes": added.cumsum().to_numpy(),
        }
    )


# ----- the cache the page uses -----


class LibraryStats:
    """The stats of one storage backend: quick totals, and the full scan cached `ttl` seconds."""

    def __init__(
        self, storage: Storage, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self._clock = clock
        self._report: tuple[float, Report] | None = None
        self._lock = threading.Lock()  # one scan at a time; a second page waits for it

    def totals(self) -> Totals:
        """Objects and bytes without a scan (a bucket's approximate totals), app state left out."""
        objects, size = self.storage.usage()
        try:
            state = list(self.storage.scan(APP_STATE_PREFIX))
        except NotFound:
            state = []
        return Totals(
            objects=max(objects - len(state), 0),
            bytes=max(size - sum(info.size for info in state), 0),
        )

    def cached(self) -> Report | None:
        """The last report if it is younger than the TTL."""
        entry = self._report
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def report(self, progress: Callable[[ScanProgress], None] | None = None) -> Report:
        """Return the cached report, or scan now (calling `progress`) and cache the result."""
        with self._lock:
            cached = self.cached()
            if cached is not None:
                return cached
            started = self._clock()
            report = scan_library(self.storage, progress)
            self._report = (started, report)
            return report

    def forget(self) -> None:
        """Drop the cached report so the next page load scans again."""
        self._report = None
