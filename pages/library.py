"""The library: one tab per top-level folder, a grid of titles, the player above it."""

import shlex

import streamlit as st

from lib.library import Kind, Tab, Video
from lib.media import LinkBook
from lib.player import PlayerSource, hls_script_path, player
from lib.services import current
from lib.storage import StorageError

PAGE_SIZE = 48
COLUMNS = 4

services = current()
user = st.session_state["user"]
base_path = "/" + st.get_option("server.baseUrlPath").strip("/")
links = LinkBook(
    services.signer,
    user.username,
    services.settings.token_seconds,
    st.session_state.setdefault("media_links", {}),
    base_path,
)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def convert_command(video: Video) -> str:
    source = video.name.rsplit("/", 1)[-1]
    target = video.title + ".mp4"
    return (
        f"ffmpeg -i {shlex.quote(source)} -c:v libx264 -crf 20 -preset slow "
        f"-c:a aac -b:a 160k -movflags +faststart {shlex.quote(target)}"
    )


def draw_player(video: Video | None, videos: list[Video]) -> None:
    """Draw the player for `video`, or an idle (hidden) one that loads the player's code and
    hls.js before the first click; the title goes below, so the player keeps its place."""
    if video is None:
        wants_hls = any(v.kind is Kind.HLS for v in videos)
        player(PlayerSource("idle", "", "", hls_script_path(base_path) if wants_hls else ""))
        return
    source = PlayerSource(
        kind="hls" if video.kind is Kind.HLS else "file",
        src=links.url(video.scope, video.playlist),
        title=video.title,
        hlsScript=hls_script_path(base_path),
    )
    player(source)
    st.subheader(video.title)


def select(name: str) -> None:
    st.session_state["selected"] = name


def draw_title(video: Video, column) -> None:
    with column.container(border=True):
        if video.kind in (Kind.FILE, Kind.HLS):
            # A callback selects before the rerun it triggers, so one script run draws the
            # player (setting state after the click would need a second run: ~100 ms more).
            st.button(
                video.title,
                key=f"open:{video.name}",
                icon=":material/play_circle:",
                width="stretch",
                on_click=select,
                args=(video.name,),
            )
            st.caption("HLS" if video.kind is Kind.HLS else human_size(video.size))
        elif video.kind is Kind.UNPLAYABLE:
            st.markdown(f"**{video.title}**")
            st.caption(f"{video.extension} · needs converting to play in a browser")
            with st.popover("Convert or download", width="stretch"):
                st.write("Convert it once with ffmpeg, then upload the .mp4 beside it:")
                st.code(convert_command(video), language="bash")
                st.link_button(
                    "Download the original", links.url(video.scope, video.name, download=True)
                )
        else:
            st.markdown(f"**{video.title}**")
            st.caption(f":warning: Broken: `{video.name}` has no output.m3u8")


def draw_tab(tab: Tab) -> None:
    try:
        videos = services.library.videos(tab)
    except StorageError as error:
        st.error(f"Could not list {tab.label}: {error}")
        return
    if not videos:
        st.info("This folder has no videos yet.")
        return
    selected = st.session_state.get("selected")
    chosen = next((v for v in videos if v.name == selected), None)
    draw_player(chosen, videos)
    pages = (len(videos) + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"page:{tab.prefix}")
    shown = videos[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    for row in range(0, len(shown), COLUMNS):
        columns = st.columns(COLUMNS)
        for video, column in zip(shown[row : row + COLUMNS], columns, strict=False):
            draw_title(video, column)


with st.sidebar:
    if st.button("Refresh library", icon=":material/refresh:"):
        services.library.refresh()

try:
    tabs = services.library.tabs()
except StorageError as error:
    st.error(f"The library cannot be listed right now: {error}")
    st.stop()

if not tabs:
    st.info("The library is empty. Add a folder of videos to the bucket (see README).")
    st.stop()

containers = st.tabs([tab.label for tab in tabs], key="tab", on_change="rerun")
for tab, container in zip(tabs, containers, strict=True):
    if container.open:
        with container:
            draw_tab(tab)
