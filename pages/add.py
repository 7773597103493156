"""Add videos (admins only): upload from this device into a folder, then watch the jobs."""

import time

import streamlit as st

from lib.jobs import Job
from lib.services import current
from lib.ui.add_videos import (
    JobList,
    choose_folder,
    upload_endpoint,
    upload_token,
    uploader,
    wait_for_job,
)
from lib.ui.library_view import SELECTED
from lib.ui.site import base_path

services = current()
user = st.session_state["user"]
if not user.is_admin:
    st.error("Only admins can add videos.")
    st.stop()


def open_title(job: Job) -> None:
    """Open the title a job made on the library page."""
    services.library.refresh()
    st.session_state[SELECTED] = {"name": job.prefix, "start": 0.0}
    st.switch_page("library.py")


st.header("Add videos")
st.caption(
    "Videos from a phone or camera become titles that play everywhere: converted to a "
    "ladder of sizes, with a poster and a seek preview."
)
folder = choose_folder(services.library)
if folder is None:
    st.info("Name the new folder, then choose the videos.")
else:
    uploader(
        upload_endpoint(base_path()),
        upload_token(services.upload_signer, user, st.session_state, time.time()),
        folder,
        services.settings.max_upload_bytes,
        base_path(),
        on_finished=lambda: wait_for_job(
            services.jobs, st.session_state["uploader"].get("finished")
        ),
    )
if services.settings.workers == 0:
    st.caption("This app converts nothing itself: `python -m lib.ingest --worker` does.")
JobList(services.jobs, open_title).draw()
