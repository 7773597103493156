"""The Add videos page (admins): the folder, the uploader component and the job list.

Files go to the tus route (lib/web/uploads.py) from the browser; each upload that arrives
becomes a job (lib/jobs.py) that a worker converts. The job list redraws itself every
couple of seconds while a job waits or runs, and not at all when nothing moves.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import streamlit as st

from lib.accounts import User
from lib.assets import UPLOADER_HTML, frontend_text, tus_script_path
from lib.format import format_duration, format_size
from lib.jobs import Job, JobStore, State
from lib.library import Library
from lib.links import UPLOAD_PREFIX, UPLOAD_TOKEN_HEADER
from lib.staging import UPLOAD_SCOPE
from lib.storage import StorageError
from lib.tokens import TokenSigner
from lib.ui.markdown import escape

TOKEN_SECONDS = 12 * 3600  # a phone on a slow link may take hours over a big file
REFRESH_SECONDS = 1.5
HAND_OFF_SECONDS = 10.0  # at most this long for a bucket's inbox upload of the file
NEW_FOLDER = "A new folder…"
TOKEN_KEY = "upload_token"  # noqa: S105 (a session key, not a secret)

STATE_LABELS = {
    State.WAITING: "Waiting",
    State.CONVERTING: "Converting",
    State.UPLOADING: "Putting into the library",
    State.DONE: "Done",
    State.FAILED: "Failed",
    State.CANCELLED: "Cancelled",
}


@functools.cache
def _component() -> Any:
    return st.components.v2.component(
        "homemovies_uploader",
        html=UPLOADER_HTML,
        css=frontend_text("upload.css"),
        js=frontend_text("upload.js"),
    )


def upload_token(
    signer: TokenSigner, user: User, session: MutableMapping[Any, Any], now: float
) -> str:
    """The session's upload token, issued again once half its lifetime has passed (the
    uploader is not redrawn on every run)."""
    held = session.get(TOKEN_KEY)
    if isinstance(held, tuple) and held[1] - now > TOKEN_SECONDS / 2:
        return str(held[0])
    token = signer.issue(UPLOAD_SCOPE, user.username, TOKEN_SECONDS)
    session[TOKEN_KEY] = (token, now + TOKEN_SECONDS)
    return token


def choose_folder(library: Library) -> str | None:
    """The folder (tab) the videos go into: an existing one or a new one; None until named."""
    try:
        folders = [tab.prefix.rstrip("/") for tab in library.tabs() if tab.prefix]
    except StorageError as error:
        st.warning(f"The library's folders cannot be listed right now ({escape(str(error))}).")
        folders = []
    options = [*folders, NEW_FOLDER]
    chosen = st.selectbox("Folder", options, key="add_folder", help="The tab the videos go into")
    if chosen != NEW_FOLDER:
        return str(chosen)
    name = st.text_input("New folder name", key="add_new_folder", placeholder="e.g. Holidays")
    return name.strip() or None


def uploader(
    endpoint: str,
    token: str,
    folder: str,
    max_bytes: int,
    base: str,
    on_finished: Callable[[], None],
) -> None:
    """Draw the uploader for `folder`; `on_finished` runs when a file has arrived whole."""
    data = {
        "endpoint": endpoint,
        "token": token,
        "header": UPLOAD_TOKEN_HEADER,
        "folder": folder,
        "tusScript": tus_script_path(base),
        "maxBytes": max_bytes,
    }
    _component()(data=data, key="uploader", on_finished_change=on_finished)


def wait_for_job(store: JobStore, upload_id: object, seconds: float = HAND_OFF_SECONDS) -> None:
    """Wait until the upload that just arrived has its job (the app hands it off in the
    background: a check with ffprobe and a move into the inbox), so this run lists it."""
    if not isinstance(upload_id, str) or not upload_id or len(upload_id) > 64:
        return  # client input
    deadline = time.monotonic() + seconds
    while store.get(upload_id) is None and time.monotonic() < deadline:
        time.sleep(0.1)


def upload_endpoint(base: str) -> str:
    return f"{base.rstrip('/')}{UPLOAD_PREFIX}/"


def job_line(job: Job, now: float) -> str:
    """One line saying where a job is: its state, and while it runs how far and how fast."""
    label = STATE_LABELS[job.state]
    if job.state is State.CONVERTING:
        parts = [f"{label}: {job.percent:.0f} %"]
        if job.speed:
            parts.append(f"{job.speed:.1f}× real time")
        if job.eta is not None:
            parts.append(f"about {format_duration(job.eta)} left")
        if job.cancel:
            parts.append("stopping…")
        return " · ".join(parts)
    if job.state is State.UPLOADING:
        left = f" · about {format_duration(job.eta)} left" if job.eta is not None else ""
        return f"{label}: {job.percent:.0f} %{left}"
    if job.state is State.WAITING:
        return f"{label} (since {format_duration(max(0.0, now - job.created))})"
    return label


class JobList:
    """The jobs of the library, newest first, with what can be done to each."""

    def __init__(self, store: JobStore, open_title: Callable[[Job], None]) -> None:
        self.store = store
        self.open_title = open_title

    def jobs(self) -> list[Job] | None:
        try:
            return self.store.all()
        except StorageError as error:
            st.error(f"The jobs cannot be listed right now: {escape(str(error))}")
            return None

    def draw(self) -> None:
        """Draw the list; live (a fragment rerunning itself) while a job waits or runs."""
        jobs = self.jobs()
        if jobs is None:
            return
        if any(not job.state.final for job in jobs):
            st.fragment(run_every=REFRESH_SECONDS)(self.draw_live)()
        else:
            self.draw_jobs(jobs)

    def draw_live(self) -> None:
        jobs = self.jobs()
        if jobs is None:
            return
        self.draw_jobs(jobs)
        if all(job.state.final for job in jobs):
            st.rerun()  # nothing moves any more: draw the page once more, without the timer

    def draw_jobs(self, jobs: list[Job]) -> None:
        st.subheader("Jobs")
        if not jobs:
            st.caption("Videos you add are converted here, one at a time.")
            return
        now = time.time()
        for job in jobs:
            with st.container(border=True, key=f"job-{job.id}"):
                self.draw_job(job, now)

    def draw_job(self, job: Job, now: float) -> None:
        name = f"{job.folder}/{job.title}" if job.folder else job.title
        size = f" · {format_size(job.size)}" if job.size else ""
        st.markdown(f"**{escape(name)}**{escape(size)}")
        st.caption(escape(job_line(job, now)))
        if job.state.running or job.state is State.WAITING:
            st.progress(min(job.percent, 100.0) / 100.0)
        if job.state is State.FAILED and job.message:
            st.error(escape(job.message))
        buttons = st.columns([1, 1, 1, 3], gap="small")
        watch, change, remove = buttons[0], buttons[1], buttons[2]
        key = job.id
        if job.state is State.DONE and watch.button(
            "Watch", key=f"watch:{key}", icon=":material/play_arrow:"
        ):
            self.open_title(job)
        if (
            not job.state.final
            and not job.cancel
            and change.button("Cancel", key=f"cancel:{key}", icon=":material/close:")
        ):
            self.act(self.store.cancel, job)
        if job.state in (State.FAILED, State.CANCELLED) and change.button(
            "Retry", key=f"retry:{key}", icon=":material/replay:"
        ):
            self.act(self.store.retry, job)
        if job.state.final and remove.button(
            "Remove", key=f"remove:{key}", icon=":material/delete:"
        ):
            self.act(self.store.remove, job)

    def act(self, action: Callable[[str], object], job: Job) -> None:
        try:
            action(job.id)
        except StorageError as error:
            st.error(f"That did not work: {escape(str(error))}")
            return
        st.rerun()
