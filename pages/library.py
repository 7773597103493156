"""The library: search and sort, continue watching, the player, then one tab per folder."""

import streamlit as st

from lib import grid
from lib.library import Kind, Tab, Video
from lib.media import LinkBook
from lib.player import PlayerSource, hls_script_path, idle_source, player, source_for
from lib.progress import report_url
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
# Position reports go to their own route with their own tokens (lib/progress.py).
report_tokens = LinkBook(
    services.report_signer,
    user.username,
    services.settings.token_seconds,
    st.session_state.setdefault("report_links", {}),
)


def poster_url(video: Video) -> str | None:
    return links.url(video.sidecar_scope(video.poster), video.poster) if video.poster else None


def download_url(video: Video) -> str:
    return links.url(video.scope, video.name, download=True)


def position_url(video: Video) -> str:
    """Return where the player posts this user's position in `video`."""
    return report_url(report_tokens.token(video.name), base_path)


def saved_start(video: Video) -> float:
    """Return where this user left `video` (seconds), or 0."""
    saved = services.positions.get(user.username, video.name)
    return saved.position if saved else 0.0


def open_title(video: Video) -> None:
    """Select `video` for the player, starting where this user left it."""
    st.session_state["selected"] = {"name": video.name, "start": saved_start(video)}


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def open_named(name: str) -> None:
    """Select the title a play button named (the player reports the click), if it is listed."""
    try:
        video = services.library.find(name)
    except StorageError:
        video = None  # the player says why it cannot start; storage may be back next time
    if video is not None and video.kind in (Kind.FILE, Kind.HLS):
        open_title(video)


def offers_for(offered: grid.Offered) -> dict[str, PlayerSource]:
    """Return, by object name, what the player needs to start each title on screen."""
    hls_script = hls_script_path(base_path)
    # An HLS title's subtitles need its folder listed: they come with the run the click starts.
    return {
        name: source_for(
            video,
            video.subtitles,
            links.url,
            hls_script,
            start=saved_start(video),
            report=position_url(video),
        )
        for name, video in offered.items()
    }


@st.fragment
def draw_selected(offered: grid.Offered) -> None:
    """Draw the player (hidden until a title is chosen), then the chosen title's name and
    share form below it, so the player never moves.

    A fragment: a click on a title goes to the player, which starts it at once and reports it
    (`open_named`); that reruns only this, not the page with its grid. Position reports do not
    come through here (lib/progress.py).
    """
    selected = st.session_state.get("selected")
    problem = None
    try:
        video = services.library.find(selected["name"]) if selected else None
    except StorageError as error:
        video, problem = None, f"This title cannot be opened right now: {error}"
    hls_script = hls_script_path(base_path)
    offers = offers_for(offered)
    if video is None or video.kind not in (Kind.FILE, Kind.HLS):
        player(idle_source(hls_script), offers=offers, on_open=open_named)
        if problem:
            st.error(problem)
        return
    try:
        subtitles = services.library.subtitles(video)
    except StorageError:
        subtitles = ()  # the title still plays; its folder listing can be retried later
    source = source_for(
        video, subtitles, links.url, hls_script, start=selected["start"], report=position_url(video)
    )
    player(source, offers=offers, on_open=open_named)
    heading, actions = st.columns([4, 1], vertical_alignment="center")
    heading.subheader(video.title)
    with actions:
        share_form(services.shares, video, user)


def draw_continue_watching() -> grid.Offered:
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
        return {}
    st.subheader("Continue watching")
    st.html(grid.GRID_STYLE)
    for (resume, video), column in zip(resumes, st.columns(CONTINUE_LIMIT), strict=False):
        with column.container(border=True):
            label = f"{video.title} · {clock(resume.position)}"
            grid.play_button(video, poster_url(video), label, "resume")
            st.progress(resume.fraction)
    return {video.name: video for _, video in resumes}


def draw_results(query: str, order: SortOrder) -> grid.Offered:
    matches = sort_videos(services.library.search_index().search(query), order)
    if not matches:
        st.info(f"No titles match “{query.strip()}”.")
        return {}
    count = len(matches)
    st.caption("1 title matches" if count == 1 else f"{count} titles match")
    return grid.grid(matches, poster_url, download_url, "results", caption=lambda v: v.tab)


def draw_tab(tab: Tab, order: SortOrder) -> grid.Offered:
    try:
        videos = services.library.videos(tab)
    except StorageError as error:
        st.error(f"Could not list {tab.label}: {error}")
        return {}
    if not videos:
        st.info("This folder has no videos yet.")
        return {}
    return grid.grid(sort_videos(videos, order), poster_url, download_url, f"tab:{tab.prefix}")


def draw_tabs(tabs: list[Tab], order: SortOrder) -> grid.Offered:
    """Draw the tabs; only the open one is listed and drawn."""
    containers = st.tabs([tab.label for tab in tabs], key="tab", on_change="rerun")
    for tab, container in zip(tabs, containers, strict=True):
        if container.open:
            with container:
                return draw_tab(tab, order)
    return {}


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

# The player goes above the titles but is drawn last: it needs to know which are on screen.
player_slot = st.container()
offered: grid.Offered = {}
try:
    if query.strip():
        offered = draw_results(query, order)
    else:
        offered = draw_continue_watching() | draw_tabs(tabs, order)
except StorageError as error:
    st.error(f"The library cannot be listed right now: {error}")
with player_slot:
    draw_selected(offered)
