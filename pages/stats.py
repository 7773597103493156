"""Library stats, for admins: where the storage goes, what it costs, what is broken."""

import time
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from lib.format import format_duration, format_size, size_unit
from lib.jobs import convert_job
from lib.library import Video
from lib.services import current
from lib.stats import (
    DEFAULT_PRICES,
    TIER_LABELS,
    IndexProgress,
    ProblemKind,
    Report,
    ScanProgress,
    index_progress,
    monthly_cost,
    with_index,
)
from lib.storage import StorageError
from lib.ui.markdown import escape

services = current()
user = st.session_state.get("user")
if user is None or not user.is_admin:
    st.stop()  # the navigation offers this page to admins only; a direct run draws nothing
stats = services.stats
is_bucket = services.settings.source == "oci"

SIZE_COLUMN = st.column_config.NumberColumn("size", format="bytes")

st.title("Library stats")
headline = st.empty()


def draw_headline(objects: int, size: int, videos: str, hours: str, note: str) -> None:
    with headline.container():
        storage, count, titles, hls = st.columns(4)
        storage.metric("Storage", format_size(size))
        count.metric("Objects", f"{objects:,}")
        titles.metric("Videos", videos)
        hls.metric("HLS video", hours)
        st.caption(note)


def scan() -> Report:
    """Show the quick totals, then scan the library with a progress bar."""
    try:
        totals = stats.totals()
    except StorageError as error:
        headline.error(f"The library's totals cannot be read right now: {escape(str(error))}")
        totals = None
    if totals is not None:
        source = "OCI's approximate bucket totals" if is_bucket else "the library folder"
        draw_headline(
            totals.objects, totals.bytes, "…", "…", f"From {source}; scanning for the rest."
        )
    bar = st.progress(0.0, text="Scanning the library…")

    def show(progress: ScanProgress) -> None:
        expected = totals.objects if totals is not None and totals.objects else 0
        fraction = min(progress.objects / expected, 1.0) if expected else 0.0
        text = f"Scanned {progress.objects:,} objects"
        if progress.playlists:
            text += f"; read {progress.playlists_read:,} of {progress.playlists:,} playlists"
        bar.progress(fraction, text=text)

    try:
        report = stats.report(progress=show)
    except StorageError as error:
        bar.empty()
        st.error(f"The library cannot be scanned right now: {escape(str(error))}")
        st.stop()
    bar.empty()
    return report


report = stats.cached() or scan()
minutes = int((datetime.now(UTC) - report.scanned_at).total_seconds() // 60)
draw_headline(
    report.objects,
    report.bytes,
    f"{len(report.videos):,}",
    format_duration(report.hls_seconds),
    f"Scanned {minutes} min ago in {report.seconds:.1f} s; kept for "
    f"{format_duration(stats.ttl)}. Objects of the app's own state (under .homemovies/: "
    f"{report.app_state_objects:,}) are not counted.",
)
if st.button("Scan again", icon=":material/refresh:"):
    stats.forget()
    st.rerun()

if not report.objects:
    st.info("The library is empty. Add a folder of videos to the bucket (see README).")
    st.stop()

unit, divisor = size_unit(report.bytes)


def scaled(frame: pd.DataFrame, column: str = "bytes") -> pd.DataFrame:
    """The frame with `column` also in the charts' unit (a column named after the unit)."""
    return frame.assign(**{unit: frame[column] / divisor})


st.header("Where the storage goes")
per_tab, per_kind, per_tier = st.columns(3)
with per_tab:
    st.subheader("Per tab")
    st.bar_chart(scaled(report.tabs), x="tab", y=unit, x_label="", sort=False)
with per_kind:
    st.subheader("Per kind")
    st.bar_chart(scaled(report.by_kind()), x="kind", y=unit, x_label="")
with per_tier:
    st.subheader("Per storage tier")
    tiers = report.tiers.assign(tier=report.tiers["tier"].map(lambda t: TIER_LABELS.get(t, t)))
    st.bar_chart(scaled(tiers), x="tier", y=unit, x_label="")
    if not report.tiers_known:
        st.caption("A local folder has no storage tiers: everything counts as Standard.")

growth, largest = st.columns(2)
with growth:
    st.subheader("Library size by month of upload")
    months = report.months.assign(month=report.months["month"].dt.strftime("%Y-%m"))
    st.bar_chart(scaled(months, "cumulative_bytes"), x="month", y=unit, x_label="", sort=False)
with largest:
    st.subheader("The 10 largest videos")
    top = report.largest(10)
    if top.empty:
        st.caption("No videos yet.")
    else:
        chart = scaled(top)
        st.bar_chart(chart, x="video", y=unit, x_label="", horizontal=True, sort=f"-{unit}")

st.header("Estimated monthly storage cost")
st.caption(
    "An estimate, not a bill: OCI list prices in USD per GB-month (1 GB = 2^30 bytes) for "
    "each storage tier. Your region, currency, contract, free tier, minimum retention periods "
    "and request charges change what you pay; edit the prices to match yours."
)
prices = {}
columns = st.columns(len(DEFAULT_PRICES))
for column, (tier, price) in zip(columns, DEFAULT_PRICES.items(), strict=True):
    prices[tier] = column.number_input(
        f"{TIER_LABELS[tier]}, USD per GB-month",
        min_value=0.0,
        value=price,
        step=0.0001,
        format="%.4f",
        key=f"price:{tier}",
    )
cost = monthly_cost(report.tiers, prices)
st.metric("Estimated monthly cost", f"${cost['usd_per_month'].sum():,.2f}")
st.dataframe(
    cost,
    hide_index=True,
    column_config={
        "tier": "tier",
        "bytes": SIZE_COLUMN,
        "gb": st.column_config.NumberColumn("GB", format="%.3f"),
        "usd_per_gb_month": st.column_config.NumberColumn("USD per GB-month", format="%.4f"),
        "usd_per_month": st.column_config.NumberColumn("USD per month", format="%.2f"),
    },
)

if len(report.originals):
    kept = monthly_cost(report.originals, prices)
    st.caption(
        f"Of this, {int(report.originals['objects'].sum())} kept originals (ingest "
        f"--keep-original) take {format_size(int(report.originals['bytes'].sum()))}: "
        f"${kept['usd_per_month'].sum():,.2f} per month."
    )

st.header("Problems")
if not report.problem_counts:
    st.success("No problems found.")
else:
    for kind in ProblemKind:
        count = report.problem_counts.get(kind, 0)
        if not count:
            continue
        listed = sum(1 for problem in report.problems if problem.kind is kind)
        more = f" (the first {listed:,} are listed)" if listed < count else ""
        st.markdown(f"- **{kind.value}**: {count:,}{more}")
    st.dataframe(
        report.problems_frame(),
        hide_index=True,
        column_config={"name": "full name"},
    )
unplayable = sorted(p.name for p in report.problems if p.kind is ProblemKind.UNPLAYABLE)
if unplayable:
    with st.form("convert", border=True):
        st.markdown("**Needs converting**: queue files for the conversion jobs (Add videos).")
        chosen = st.multiselect("Files to convert", unplayable, default=unplayable)
        if st.form_submit_button("Convert", icon=":material/movie_edit:"):
            try:
                for name in chosen:
                    services.jobs.submit(convert_job(name, user.username, time.time()))
            except StorageError as error:
                st.error(f"Could not queue them: {escape(str(error))}")
            else:
                st.success(f"{len(chosen)} queued: see Add videos for their progress.")


INDEX_REFRESH_SECONDS = 3


def index_state() -> tuple[list[Video], IndexProgress] | None:
    """Return the titles and how far the index has got (None, said, when storage fails)."""
    try:
        videos = services.library.all_videos()
    except StorageError as error:
        st.error(f"The library cannot be listed right now: {escape(str(error))}")
        return None
    return videos, index_progress(videos, services.index)


def draw_index(live: bool) -> None:
    """How far the library index has got (`live`: redrawn while titles wait)."""
    state = index_state()
    if state is None:
        return
    _, progress = state
    text = f"Indexed {progress.indexed:,} of {progress.total:,} playable titles"
    if progress.unreadable:
        text += f" ({progress.unreadable:,} cannot be read: see the index column below)"
    st.progress(progress.fraction, text=text)
    if services.settings.no_index:
        st.caption("The background indexer is off (--no_index).")
    elif progress.to_do:
        st.caption(
            f"{progress.to_do:,} to do: posters, lengths and seek previews are being made, "
            "one title at a time."
        )
    elif live:
        st.rerun()  # done: redraw the page (its video table) once, then stop polling


st.header("Library index")
first = index_state()
waiting = first is not None and first[1].to_do > 0 and not services.settings.no_index
if waiting:
    st.fragment(run_every=INDEX_REFRESH_SECONDS)(lambda: draw_index(live=True))()
else:
    draw_index(live=False)

try:
    indexed = {
        video.name: entry
        for video in services.library.all_videos()
        if (entry := services.index.entry(video)) is not None
    }
except StorageError:
    indexed = {}
st.header("Videos")
st.dataframe(
    with_index(report.videos, indexed),
    hide_index=True,
    column_config={
        "bytes": SIZE_COLUMN,
        "duration_seconds": st.column_config.NumberColumn("duration", format="duration"),
        "average_kbps": st.column_config.NumberColumn("average kbit/s", format="%.0f"),
        "storage_tier": "storage tier",
        "video_codec": "video codec",
        "audio_codec": "audio codec",
        "recorded": st.column_config.DatetimeColumn("recorded", format="YYYY-MM-DD"),
    },
)
st.download_button(
    "Download the video table (CSV)",
    data=lambda: report.videos.to_csv(index=False),
    file_name="homemovies-videos.csv",
    mime="text/csv",
    on_click="ignore",
    icon=":material/download:",
)
st.subheader("Tabs")
st.dataframe(
    report.tabs,
    hide_index=True,
    column_config={
        "bytes": SIZE_COLUMN,
        "hls_hours": st.column_config.NumberColumn("HLS hours", format="%.2f"),
    },
)
