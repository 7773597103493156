"""The job queue in the library's storage: claims, leases, cancels, on both backends alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lib.jobs import (
    INBOX_PREFIX,
    JOBS_PREFIX,
    Cancelled,
    Job,
    JobGone,
    JobStore,
    Kind,
    State,
    convert_job,
    new_job_id,
    record_name,
)
from lib.storage import NotFound, Storage
from lib.storage.local import LocalStorage
from tests.loopback import open_test_bucket
from tests.threads import at_once


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def upload_job(created: float, title: str = "Party") -> Job:
    job_id = new_job_id()
    source = f"{INBOX_PREFIX}{job_id}/{title}.mov"
    return Job(job_id, Kind.UPLOAD, source, "Events", title, "admin", created, size=10)


@pytest.fixture(params=["local", "oci"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path)
    return open_test_bucket(request.getfixturevalue("oci"), f"jobs-{new_job_id().lower()}")


def test_two_workers_claiming_at_once_get_one_job_once(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    submitted = store.submit(upload_job(clock()))
    claims = at_once(6, lambda index: store.claim(f"worker-{index}", lease=60.0))
    won = [claim for claim in claims if claim is not None]
    assert len(won) == 1
    job = won[0].job
    assert (job.id, job.state, job.attempts, job.takeover) == (
        submitted.id,
        State.CONVERTING,
        1,
        False,
    )
    assert store.get(job.id) == job  # what the winner holds is what is stored
    assert store.claim("late", lease=60.0) is None


def test_the_oldest_waiting_job_is_claimed_first(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    first = store.submit(upload_job(clock(), "First"))
    clock.now += 1
    store.submit(upload_job(clock(), "Second"))
    held = store.claim("worker", lease=60.0)
    assert held is not None and held.job.id == first.id


def test_a_crashed_workers_job_is_taken_over_once_its_lease_expires(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    store.submit(upload_job(clock()))
    crashed = store.claim("crashed", lease=60.0)
    assert crashed is not None
    clock.now += 30
    assert store.claim("other", lease=60.0) is None  # the lease still holds
    clock.now += 31
    taken = store.claim("other", lease=60.0)
    assert taken is not None
    assert (taken.job.owner, taken.job.attempts, taken.job.takeover) == ("other", 2, True)
    with pytest.raises(JobGone):  # the first worker, back, finds it is no longer its job
        store.write_own(crashed, replace(crashed.job, percent=50.0))


def test_a_holder_renewing_its_lease_keeps_the_job(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    store.submit(upload_job(clock()))
    held = store.claim("worker", lease=60.0)
    assert held is not None
    for _ in range(3):
        clock.now += 40
        held = store.write_own(held, replace(held.job, lease_until=clock() + 60.0))
    assert store.claim("other", lease=60.0) is None


def test_a_new_store_on_the_same_storage_sees_the_queue(storage: Storage) -> None:
    clock = Clock()
    before = JobStore(storage, clock)
    jobs = [before.submit(upload_job(clock() + n, f"Title {n}")) for n in range(3)]
    after = JobStore(storage, clock)  # the app restarted
    assert [job.id for job in after.all()] == [job.id for job in reversed(jobs)]
    held = after.claim("worker", lease=60.0)
    assert held is not None and held.job.id == jobs[0].id


def test_cancelling_a_waiting_job_ends_it_and_no_worker_takes_it(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    job = store.submit(upload_job(clock()))
    cancelled = store.cancel(job.id)
    assert cancelled is not None and cancelled.state is State.CANCELLED
    assert store.claim("worker", lease=60.0) is None


def test_cancelling_a_running_job_stops_its_worker_at_its_next_write(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    store.submit(upload_job(clock()))
    held = store.claim("worker", lease=60.0)
    assert held is not None
    asked = store.cancel(held.job.id)
    assert asked is not None and (asked.state, asked.cancel) == (State.CONVERTING, True)
    with pytest.raises(Cancelled):
        store.write_own(held, replace(held.job, percent=10.0))


def test_retry_queues_a_failed_job_and_remove_takes_only_finished_ones(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    job = store.submit(upload_job(clock()))
    storage.write(job.source, b"the uploaded video", "video/quicktime")
    assert store.remove(job.id) is False  # waiting: not removed
    held = store.claim("worker", lease=60.0)
    assert held is not None
    store.write_own(held, replace(held.job, state=State.FAILED, message="It broke."))
    retried = store.retry(job.id)
    assert retried is not None and (retried.state, retried.message) == (State.WAITING, "")
    store.cancel(job.id)
    assert store.remove(job.id) is True
    assert store.get(job.id) is None
    with pytest.raises(NotFound):  # a removed upload's video goes with it
        storage.stat(job.source)


def test_a_damaged_record_is_left_out_of_the_list(storage: Storage) -> None:
    clock = Clock()
    store = JobStore(storage, clock)
    job = store.submit(upload_job(clock()))
    storage.write(record_name("damaged"), b"{not json", "application/json")
    storage.write(JOBS_PREFIX + "notes.txt", b"hello", "text/plain")
    assert [listed.id for listed in store.all()] == [job.id]


def test_a_convert_job_names_its_title_after_the_file() -> None:
    job = convert_job("Events/Old tape.wmv", "admin", 5.0)
    assert (job.kind, job.source, job.folder, job.title) == (
        Kind.CONVERT,
        "Events/Old tape.wmv",
        "Events",
        "Old tape",
    )
    assert job.prefix == "Events/Old tape.hls/" and job.result == "Events/Old tape.hls"


def test_a_record_round_trips_and_refuses_what_is_not_one() -> None:
    job = upload_job(3.0)
    assert Job.from_json(job.to_json()) == job
    for body in (b"[]", b'{"id": "x"}', b'{"kind": "nope"}'):
        with pytest.raises(ValueError):
            Job.from_json(body)
