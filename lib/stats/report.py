"""The stats report: a finished scan's tallies as the pandas tables the stats page draws."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lib.library import IngestMarker, Kind, Video
from lib.stats.labels import KIND_LABELS, NOT_A_VIDEO, NOT_IN_A_TAB, TIER_LABELS
from lib.stats.problems import Problem, ProblemKind
from lib.stats.scan import Scan

if TYPE_CHECKING:
    import pandas as pd

GIB = 1024**3  # OCI prices storage per GB-month of 2^30 bytes


@dataclass(frozen=True)
class Totals:
    """How many objects the library holds and their size (app state left out)."""

    objects: int
    bytes: int


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
    originals: pd.DataFrame = field(  # bytes and objects per tier of the kept originals
        default_factory=lambda: pd.DataFrame(columns=["tier", "bytes", "objects"])
    )

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


def build_report(scan: Scan, durations: Mapping[str, float | None], seconds: float) -> Report:
    """Turn a finished scan's tallies into the report's tables."""
    import pandas as pd  # imported here: pandas takes ~0.4 s and only the stats page needs it

    scanned_at = datetime.now(UTC)
    tabs, videos = scan.library()
    for sidecar, owner in _sidecar_owners(videos).items():
        scan.titles[owner].absorb(scan.titles[sidecar])
    problems = scan.problems
    tab_rows: dict[str, dict[str, Any]] = {
        tab.label: dict.fromkeys(TAB_COLUMNS, 0) | {"tab": tab.label} for tab in tabs
    }
    video_rows = []
    for video in videos:
        tally = scan.titles[video.name]
        kind = KIND_LABELS[video.kind]
        duration = durations.get(video.name) if video.kind is Kind.HLS else None
        if video.kind is Kind.BROKEN:
            problems.add(ProblemKind.NO_PLAYLIST, video.name)
        elif video.kind is Kind.ADDING:
            # A title on its way is no problem, unless its upload stopped long ago.
            marker = IngestMarker(updated=scan.adding[video.name].modified)
            if marker.is_stale(scanned_at.timestamp()):
                problems.add(ProblemKind.INTERRUPTED, video.name, "run ingest again")
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
        scanned_at=scanned_at,
        seconds=seconds,
        tiers_known=scan.tiers_known,
        originals=pd.DataFrame(
            [(tier, size, count) for tier, (count, size) in sorted(scan.originals.items())],
            columns=["tier", "bytes", "objects"],
        ),
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
