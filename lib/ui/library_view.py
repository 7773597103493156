"""The library page of one signed-in viewer: search and sort, continue watching, the player,
then one tab per folder.

`LibraryView` keeps what a run needs (the viewer, their session's signed links) on the
object, so the page script is one line and tests can drive the view's choices directly:
which titles the player is offered, what a click on one opens, where it starts.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

import streamlit as st

from lib.accounts import User
from lib.assets import hls_script_path
from lib.format import format_position
from lib.jobs import convert_job
from lib.library import Kind, Tab, Video
from lib.links import LinkBook, report_url
from lib.media_index import IndexEntry, scope_of
from lib.playback import PlayerSource, idle_source, source_for
from lib.search import SortOrder, sort_videos
from lib.services import Services
from lib.storage import StorageError
from lib.ui import grid
from lib.ui.markdown import escape
from lib.ui.player import player
from lib.ui.share_form import share_form

CONTINUE_LIMIT = grid.COLUMNS
SELECTED = "selected"  # session key: {"name": object name, "start": seconds} of the open title


class LibraryView:
    """What one viewer's library page shows, and what their clicks on it do."""

    def __init__(
        self, services: Services, user: User, session: MutableMapping[Any, Any], base: str = ""
    ) -> None:
        self.services = services
        self.user = user
        self.session = session
        self.base = base
        ttl = services.settings.token_seconds
        self.links = LinkBook(
            services.signer,
            user.username,
            ttl,
            session.setdefault("media_links", LinkBook.new_store(ttl, services.clock)),
            base,
        )
        # Position reports go to their own route with their own tokens (lib/web/positions.py).
        self.report_tokens = LinkBook(
            services.report_signer,
            user.username,
            ttl,
            session.setdefault("report_links", LinkBook.new_store(ttl, services.clock)),
        )
        self.hls_script = hls_script_path(base)

    # ----- what the page hands the browser -----

    def entry(self, video: Video) -> IndexEntry | None:
        """Return what the library index knows of `video`'s current version, if anything."""
        return self.services.index.entry(video)

    def poster_url(self, video: Video) -> str | None:
        """Return the signed URL of `video`'s poster: its own, else the one the indexer made."""
        entry = self.entry(video) if video.poster is None else None
        poster = video.poster or (entry.poster if entry else None)
        if poster is None:
            return None
        return self.links.url(scope_of(video, poster), poster)

    def recorded(self, video: Video) -> datetime | None:
        """Return when `video` was recorded, if the index knows."""
        entry = self.entry(video)
        return entry.recorded if entry else None

    def convert_hint(self, video: Video) -> str:
        """Return what an admin is told to run when their browser shows no picture ("" else)."""
        return grid.convert_command(video) if self.user.is_admin else ""

    def download_url(self, video: Video) -> str:
        """Return the signed URL downloading `video`'s original file."""
        return self.links.url(video.scope, video.name, download=True)

    def position_url(self, video: Video) -> str:
        """Return where the player posts this viewer's position in `video`."""
        return report_url(self.report_tokens.token(video.name), self.base)

    def saved_start(self, video: Video) -> float:
        """Return where this viewer left `video` (seconds), or 0."""
        saved = self.services.positions.get(self.user.username, video.name)
        return saved.position if saved else 0.0

    def offers_for(self, offered: grid.Offered) -> dict[str, PlayerSource]:
        """Return, by object name, what the player needs to start each title on screen."""
        # An HLS title's subtitles need its folder listed: they come with the run the click starts.
        return {
            name: source_for(
                video,
                video.subtitles,
                self.links.url,
                self.hls_script,
                start=self.saved_start(video),
                report=self.position_url(video),
                entry=self.entry(video),
                convert=self.convert_hint(video),
            )
            for name, video in offered.items()
        }

    # ----- what a click does -----

    def open_title(self, video: Video) -> None:
        """Select `video` for the player, starting where this viewer left it."""
        self.session[SELECTED] = {"name": video.name, "start": self.saved_start(video)}

    def open_named(self, name: str) -> None:
        """Select the title a play button named (the player reports the click), if it is listed."""
        try:
            video = self.services.library.find(name)
        except StorageError:
            video = None  # the player says why it cannot start; storage may be back next time
        if video is not None and video.playable:
            self.open_title(video)

    def convert_named(self, name: str) -> None:
        """Queue a conversion of the file a Convert button named (admins), if it is listed."""
        try:
            video = self.services.library.find(name)
            if video is None or video.kind not in (Kind.FILE, Kind.UNPLAYABLE):
                return
            self.services.jobs.submit(convert_job(video.name, self.user.username, time.time()))
        except StorageError as error:
            st.toast(f"It cannot be queued right now: {error}")
            return
        st.toast(f"{video.title} is queued for converting: see Add videos.")

    # ----- drawing -----

    def draw(self) -> None:
        """Draw the whole page for this run."""
        library = self.services.library
        with st.sidebar:
            if st.button("Refresh library", icon=":material/refresh:"):
                library.refresh()
        try:
            tabs = library.tabs()
        except StorageError as error:
            st.error(f"The library cannot be listed right now: {escape(str(error))}")
            return
        if not tabs:
            st.info("The library is empty. Add a folder of videos to the bucket (see README).")
            return
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
                offered = self.draw_results(query, order)
            else:
                offered = self.draw_continue_watching() | self.draw_tabs(tabs, order)
        except StorageError as error:
            st.error(f"The library cannot be listed right now: {escape(str(error))}")
        with player_slot:
            self.draw_selected(offered)

    @st.fragment
    def draw_selected(self, offered: grid.Offered) -> None:
        """Draw the player (hidden until a title is chosen), then the chosen title's name and
        share form below it, so the player never moves.

        A fragment: a click on a title goes to the player, which starts it at once and reports
        it (`open_named`); that reruns only this, not the page with its grid. Position reports
        do not come through here (lib/web/positions.py).
        """
        library = self.services.library
        selected = self.session.get(SELECTED)
        problem = None
        try:
            video = library.find(selected["name"]) if selected else None
        except StorageError as error:
            video, problem = None, f"This title cannot be opened right now: {error}"
        offers = self.offers_for(offered)
        if video is None or not video.playable:
            player(
                idle_source(self.hls_script),
                offers=offers,
                on_open=self.open_named,
                on_convert=self.convert_named if self.user.is_admin else None,
            )
            if problem:
                st.error(escape(problem))
            return
        try:
            subtitles = library.subtitles(video)
        except StorageError:
            subtitles = ()  # the title still plays; its folder listing can be retried later
        source = source_for(
            video,
            subtitles,
            self.links.url,
            self.hls_script,
            start=selected["start"] if selected else 0.0,
            report=self.position_url(video),
            entry=self.entry(video),
            convert=self.convert_hint(video),
        )
        player(
            source,
            offers=offers,
            on_open=self.open_named,
            on_convert=self.convert_named if self.user.is_admin else None,
        )
        heading, actions = st.columns([4, 1], vertical_alignment="center")
        heading.subheader(escape(video.title))
        with actions:
            share_form(self.services.shares, video, self.user)
        try:
            original = library.original(video)
        except StorageError:
            original = None
        if original is not None:
            url = self.links.url(video.scope, original, download=True)
            st.link_button("Download the original", url, icon=":material/download:")

    def draw_continue_watching(self) -> grid.Offered:
        """Draw the row of titles this viewer left part-way, most recent first."""
        resumes = []
        for resume in self.services.positions.resume_list(self.user.username):
            try:
                video = self.services.library.find(resume.name)
            except StorageError:
                continue  # its folder cannot be listed right now; the tab says so
            if video is not None and video.playable:
                resumes.append((resume, video))
            if len(resumes) == CONTINUE_LIMIT:
                break
        if not resumes:
            return {}
        st.subheader("Continue watching")
        st.html(grid.GRID_STYLE)
        for (resume, video), column in zip(resumes, st.columns(CONTINUE_LIMIT), strict=False):
            with column.container(border=True):
                label = f"{video.title} · {format_position(resume.position)}"
                entry = self.entry(video)
                duration = entry.duration if entry else None
                grid.play_button(video, self.poster_url(video), label, "resume", duration)
                st.progress(resume.fraction)
        return {video.name: video for _, video in resumes}

    def draw_results(self, query: str, order: SortOrder) -> grid.Offered:
        """Draw the titles of every folder matching `query`."""
        found = self.services.library.search_index().search(query)
        matches = sort_videos(found, order, self.recorded)
        if not matches:
            st.info(f"No titles match “{escape(query.strip())}”.")
            return {}
        count = len(matches)
        st.caption("1 title matches" if count == 1 else f"{count} titles match")
        return grid.grid(
            matches,
            self.poster_url,
            self.download_url,
            "results",
            caption=lambda v: v.tab,
            admin=self.user.is_admin,
            entry_of=self.entry,
        )

    def draw_tab(self, tab: Tab, order: SortOrder) -> grid.Offered:
        """Draw one folder's titles."""
        try:
            videos = self.services.library.videos(tab)
        except StorageError as error:
            st.error(f"Could not list {escape(tab.label)}: {escape(str(error))}")
            return {}
        if not videos:
            st.info("This folder has no videos yet.")
            return {}
        return grid.grid(
            sort_videos(videos, order, self.recorded),
            self.poster_url,
            self.download_url,
            f"tab:{tab.prefix}",
            admin=self.user.is_admin,
            entry_of=self.entry,
        )

    def draw_tabs(self, tabs: list[Tab], order: SortOrder) -> grid.Offered:
        """Draw the tabs; only the open one is listed and drawn."""
        containers = st.tabs([escape(tab.label) for tab in tabs], key="tab", on_change="rerun")
        for tab, container in zip(tabs, containers, strict=True):
            if container.open:
                with container:
                    return self.draw_tab(tab, order)
        return {}
