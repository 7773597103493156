"""The conversion worker and the intake of finished uploads, with ffmpeg really encoding.

A staged upload is handed to the intake as the tus route hands it, becomes a job in the
library's storage, and a worker makes the title; on a local folder and on the loopback bucket.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lib.ingest.intake import Intake
from lib.ingest.worker import JobWorker
from lib.jobs import INBOX_PREFIX, JOBS_PREFIX, Job, JobStore, Kind, State, convert_job
from lib.library import Kind as TitleKind
from lib.library import Library
from lib.settings import Settings
from lib.staging import StagedUpload, Staging
from lib.storage import NotFound, Storage
from lib.storage.local import LocalStorage
from tests.conftest import LoopbackOci
from tests.loopback import open_test_bucket, settings_for
from tests.media_fixtures import make_clip, make_fixture

USER = "admin"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-media")


class Setup:
    """A library (its settings and storage), its staging folder, queue, intake and worker."""

    def __init__(self, settings: Settings, storage: Storage, staging_root: Path) -> None:
        self.settings = settings
        self.storage = storage
        self.staging = Staging(staging_root, max_bytes=2**31)
        self.store = JobStore(storage)
        self.worker = JobWorker(settings, storage, self.store, poll_seconds=0.2)
        local = settings.library.resolve() if settings.library is not None else None
        self.intake = Intake(storage, self.store, self.staging, local, wake=self.worker.wake)

    def stage(
        self, source: Path, folder: str = "Holidays", name: str | None = None
    ) -> StagedUpload:
        """Send `source` into the staging folder as the tus route does, in chunks."""
        upload = self.staging.create(
            USER, source.stat().st_size, {"filename": name or source.name, "folder": folder}
        )
        with source.open("rb") as handle:
            chunks = iter(lambda: handle.read(256 * 1024), b"")
            return self.staging.append(upload, 0, chunks)

    def library(self) -> Library:
        return Library(self.storage, ttl=0.0)


@pytest.fixture(params=["local", "oci"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    if request.param == "local":
        root = tmp_path / "library"
        root.mkdir()
        settings = Settings(library=root, staging=tmp_path / "staging")
        return Setup(settings, LocalStorage(root), tmp_path / "staging")
    oci: LoopbackOci = request.getfixturevalue("oci")
    bucket = f"worker-{tmp_path.name[-20:].lower().replace('_', '-')}-{time.monotonic_ns()}"
    storage = open_test_bucket(oci, bucket)
    settings = settings_for(oci, bucket, staging=tmp_path / "staging")
    return Setup(settings, storage, tmp_path / "staging")


def names(storage: Storage, prefix: str) -> set[str]:
    return {info.name for info in storage.scan(prefix)}


def wait_for(condition: Callable[[], object], seconds: float = 60.0) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the condition was not met in time")


def test_an_upload_becomes_a_playable_title_and_leaves_nothing_behind(
    setup: Setup, media: Path
) -> None:
    clip = make_fixture("phone_h264", media)
    job = setup.intake.accept(setup.stage(clip, name="IMG 0042.mp4"))
    assert job is not None and job.state is State.WAITING
    assert job.source == f"{INBOX_PREFIX}{job.id}/IMG 0042.mp4"
    assert setup.staging.completed() == []  # handed off: the staged copy is gone
    done = setup.worker.run_once()
    assert done is not None and (done.state, done.percent, done.message) == (State.DONE, 100.0, "")
    title = setup.library().find("Holidays/IMG 0042.hls/")
    assert title is not None and title.kind is TitleKind.HLS
    assert "Holidays/IMG 0042.hls/poster.jpg" in names(setup.storage, "Holidays/")
    assert names(setup.storage, INBOX_PREFIX) == set()  # its source went with the job done
    assert setup.store.get(job.id) == done


def test_a_second_upload_of_the_same_name_gets_a_numbered_title(setup: Setup, media: Path) -> None:
    clip = make_fixture("phone_h264", media)
    setup.intake.accept(setup.stage(clip))
    second = setup.intake.accept(setup.stage(clip))
    assert second is not None and second.title == "phone_h264 (2)"


def test_a_file_that_is_not_a_video_fails_with_one_sentence_before_converting(
    setup: Setup, media: Path
) -> None:
    notes = media / "notes.txt"
    notes.write_text("shopping list: milk, eggs\n")
    job = setup.intake.accept(setup.stage(notes, name="notes.mp4"))
    assert job is not None and job.state is State.FAILED
    assert job.message == "notes.mp4 is not a video ffmpeg can read (damaged or not a video)."
    assert names(setup.storage, INBOX_PREFIX) == set()  # not kept
    assert setup.worker.run_once() is None


def test_an_upload_left_staged_by_a_restart_is_handed_off_once(setup: Setup, media: Path) -> None:
    clip = make_fixture("phone_h264", media)
    upload = setup.stage(clip)
    first = setup.intake.accept(upload)
    # The app stopped before the staged copy was removed: it is handed off again at start.
    shutil.copyfile(clip, upload.path)  # its record says complete still
    again = setup.intake.accept(upload)
    assert first is not None and again is not None and again.id == first.id
    assert [job.id for job in setup.store.all()] == [first.id]


def test_a_crashed_workers_job_is_converted_by_the_next_one(setup: Setup, media: Path) -> None:
    clip = make_fixture("phone_h264", media)
    job = setup.intake.accept(setup.stage(clip))
    assert job is not None
    crashed = setup.store.claim("crashed-host:1/0", lease=0.3)  # then it died
    assert crashed is not None
    assert setup.worker.run_once() is None  # its lease still holds
    time.sleep(0.4)  # the crashed worker's lease runs out (a lease is wall-clock time)
    done = setup.worker.run_once()
    assert done is not None and done.state is State.DONE and done.attempts == 2
    assert setup.library().find(job.prefix) is not None


@pytest.fixture(scope="module")
def slow_clip(media: Path) -> Path:
    """Three seconds of 4K: its ladder takes seconds to encode, long enough to cancel it."""
    return make_clip(media / "uhd.mp4", "3840x2160", 3, "-c:v", "libx264", "-preset", "ultrafast")


def test_cancelling_a_conversion_stops_ffmpeg_and_makes_no_title(
    setup: Setup, slow_clip: Path
) -> None:
    clip = slow_clip
    job = setup.intake.accept(setup.stage(clip))
    assert job is not None
    result: list[Job | None] = []
    thread = threading.Thread(target=lambda: result.append(setup.worker.run_once()))
    thread.start()
    wait_for(lambda: (now := setup.store.get(job.id)) and now.state is State.CONVERTING)
    setup.store.cancel(job.id)
    thread.join(60)
    assert result and result[0] is not None and result[0].state is State.CANCELLED
    assert setup.store.get(job.id).state is State.CANCELLED  # type: ignore[union-attr]
    assert names(setup.storage, job.prefix) == set()
    assert setup.library().find(job.prefix) is None
    library = setup.settings.library
    work = setup.worker.work_dir if library is None else library / ".homemovies" / "ingest"
    assert not work.exists() or list(work.iterdir()) == []  # no fetched copy, no encode


def test_a_convert_job_replaces_a_library_file_with_its_title(setup: Setup, media: Path) -> None:
    clip = make_fixture("wmv", media)
    setup.storage.upload("Events/Old tape.wmv", clip, "video/x-ms-wmv")
    job = setup.store.submit(convert_job("Events/Old tape.wmv", USER, time.time()))
    done = setup.worker.run_once()
    assert done is not None and done.state is State.DONE, done
    assert "Events/Old tape.hls/original.wmv" in names(setup.storage, job.prefix)
    with pytest.raises(NotFound):
        setup.storage.stat("Events/Old tape.wmv")
    assert job.kind is Kind.CONVERT


def test_the_worker_started_in_the_background_takes_a_job_when_woken(
    setup: Setup, media: Path
) -> None:
    setup.worker.poll_seconds = 60.0  # only a wake gets it going soon
    setup.worker.start()
    try:
        job = setup.intake.accept(setup.stage(make_fixture("phone_h264", media)))
        assert job is not None
        wait_for(lambda: (now := setup.store.get(job.id)) and now.state is State.DONE)
    finally:
        setup.worker.stop(30.0)
    assert names(setup.storage, JOBS_PREFIX) == {f"{JOBS_PREFIX}{job.id}.json"}
