"""The library: search and sort, continue watching, the player, then one tab per folder."""

import streamlit as st

from lib import grid
from lib.library import Kind, Tab, Video
from lib.media import LinkBook
from lib.player import Progress, hls_script_path, idle_source, player, source_for
from lib.search import SortOrder, sort_videos
from lib.services import current
from lib.sharing import share_form
from lib.storage import StorageError

CONTINUE_LIMIT = grid.COLUMNS

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


def poster_url(video: Video) -> str | None:
    return links.url(video.sidecar_scope(video.poster), video.poster) if video.poster else None


def download_url(video: Video) -> str:
    return links.url(video.scope, video.name, download=True)


def open_title(video: Video) -> None:
    """Select `video` for the player, starting where this user left it."""
    saved = services.positions.get(user.username, video.name)
    st.session_state["selected"] = {"name": video.name, "start": saved.position if saved else 0.0}


def record_progress(progress: Progress) -> None:
    """Keep a position the player reported, for a title this library really lists."""
    try:
        listed = services.library.find(progress.name) is not None
    except StorageError:
        return  # storage is down: this report is lost, the next one may land
    if listed:
        services.positions.report(
            user.username, progress.name, progress.position, progress.duration
        )


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@st.fragment
def draw_player(video: Video | None, start: float) -> None:
    """Draw the player for `video`, or an idle (hidden) one that loads the player's code and
    hls.js before the first click. A fragment: position reports rerun only this."""
    if video is None:
        player(idle_source(hls_script_path(base_path)))
        return
    try:
        subtitles = services.library.subtitles(video)
    except StorageError:
        subtitles = ()  # the title still plays; its folder listing can be retried later
    source = source_for(
        video, subtitles, links.url, hls_script_path(base_path), start=start, report=True
    )
    player(source, on_progress=record_progress)


def draw_selected() -> None:
    """Draw the player (idle until a title is chosen), then the title's name and share form:
    below the player, so the player keeps its place on the page."""
    selected = st.session_state.get("selected")
    try:
        video = services.library.find(selected["name"]) if selected else None
    except StorageError as error:
        video = None
        st.error(f"This title cannot be opened right now: {error}")
    if video is None or video.kind not in (Kind.FILE, Kind.HLS):
        draw_player(None, 0.0)
        return
    draw_player(video, selected["start"])
    heading, actions = st.columns([4, 1], vertical_alignment="center")
    heading.subheader(video.title)
    with actions:
        share_form(services.shares, video, user)


def draw_continue_watching() -> None:
    resumes = []
    for resume in services.positions.resume_list(user.username):
        try:
            video = services.library.find(resume.name)
        except StorageError:
            continue  # its folder cannot be listed right now; the tab says so
        if video is not None and video.kind in (Kind.FILE, Kind.HLS):
            resumes.append((resume, video))
        if len(resumes) == CONTINUE_LIMIT:
            break
    if not resumes:
        return
    st.subheader("Continue watching")
    st.html(grid.GRID_STYLE)
    for (resume, video), column in zip(resumes, st.columns(CONTINUE_LIMIT), strict=False):
        with column.container(border=True):
            grid.poster(poster_url(video), video.title)
            st.button(
                f"{video.title} · {clock(resume.position)}",
                key=f"resume:{video.name}",
                icon=":material/resume:",
                width="stretch",
                on_click=open_title,
                args=(video,),
            )
            st.progress(resume.fraction)


def draw_results(query: str, order: SortOrder) -> None:
    matches = sort_videos(services.library.search_index().search(query), order)
    if not matches:
        st.info(f"No titles match “{query.strip()}”.")
        return
    count = len(matches)
    st.caption("1 title matches" if count == 1 else f"{count} titles match")
    grid.grid(matches, poster_url, open_title, download_url, "results", caption=lambda v: v.tab)


def draw_tab(tab: Tab, order: SortOrder) -> None:
    try:
        videos = services.library.videos(tab)
    except StorageError as error:
        st.error(f"Could not list {tab.label}: {error}")
        return
    if not videos:
        st.info("This folder has no videos yet.")
        return
    grid.grid(sort_videos(videos, order), poster_url, open_title, download_url, f"tab:{tab.prefix}")


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

search, sort = st.columns([3, 1], vertical_alignment="bottom")
query = search.text_input(
    "Search titles",
    key="query",
    type="search",
    live=True,
    icon=":material/search:",
    placeholder="Search every folder",
)
order = SortOrder(sort.selectbox("Sort by", [o.value for o in SortOrder], key="sort"))

try:
    draw_selected()
    if query.strip():
        draw_results(query, order)
        st.stop()
    draw_continue_watching()
except StorageError as error:
    st.error(f"The library cannot be listed right now: {error}")
    st.stop()

containers = st.tabs([tab.label for tab in tabs], key="tab", on_change="rerun")
for tab, container in zip(tabs, containers, strict=True):
    if container.open:
        with container:
            draw_tab(tab, order)
