"""Library stats: one full scan of the storage, aggregated per title and per tab, as pandas tables.

The scan (`scan.py`) pages through every object once and keeps a running tally per title and
per top-level folder, reads each HLS playlist (`playlists.py`, bounded, in a few threads) for
its duration and the segments it needs, and lists what is wrong (`problems.py`) so an admin
can fix it; `report.py` turns the tallies into tables. Titles and tabs are decided by
`lib.library` exactly as the library page decides them. `LibraryStats` keeps the last report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lib.cache import TTLCache
from lib.stats.index import IndexProgress, index_progress, with_index
from lib.stats.labels import DEFAULT_PRICES, KIND_LABELS, NOT_A_VIDEO, NOT_IN_A_TAB, TIER_LABELS
from lib.stats.playlists import check_playlist, resolve
from lib.stats.problems import MAX_LISTED, Problem, ProblemKind, Problems
from lib.stats.report import GIB, Report, Totals, build_report, monthly_cost
from lib.stats.scan import PLAYLIST_WORKERS, PROGRESS_EVERY, Scan, ScanProgress, locate
from lib.storage import Storage
from lib.storage.appstate import APP_PREFIX

__all__ = [
    "DEFAULT_PRICES",
    "GIB",
    "KIND_LABELS",
    "MAX_LISTED",
    "NOT_A_VIDEO",
    "NOT_IN_A_TAB",
    "TIER_LABELS",
    "IndexProgress",
    "LibraryStats",
    "Problem",
    "ProblemKind",
    "Problems",
    "Report",
    "ScanProgress",
    "Totals",
    "check_playlist",
    "index_progress",
    "locate",
    "monthly_cost",
    "resolve",
    "scan_library",
    "with_index",
]


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
        scan = Scan(storage, pool, workers)
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
    return build_report(scan, durations, time.monotonic() - started)


class LibraryStats:
    """The stats of one storage backend: quick totals, and the full scan cached `ttl` seconds."""

    def __init__(
        self, storage: Storage, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        # One scan at a time: a second page asking meanwhile waits for the first one's report.
        self._reports: TTLCache[Report] = TTLCache(ttl, clock=clock)

    def totals(self) -> Totals:
        """Objects and bytes without a scan (a bucket's approximate totals), app state left out."""
        objects, size = self.storage.usage()
        state = list(self.storage.scan(APP_PREFIX))
        return Totals(
            objects=max(objects - len(state), 0),
            bytes=max(size - sum(info.size for info in state), 0),
        )

    def cached(self) -> Report | None:
        """The last report if it is younger than the TTL."""
        return self._reports.peek("report")

    def report(self, progress: Callable[[ScanProgress], None] | None = None) -> Report:
        """Return the cached report, or scan now (calling `progress`) and cache the result."""
        return self._reports.get("report", lambda: scan_library(self.storage, progress))

    def forget(self) -> None:
        """Drop the cached report so the next page load scans again."""
        self._reports.clear()
