"""The conversion worker: claims jobs (lib/jobs.py) and runs ingest's pipeline on each.

It runs in the app's process (`--workers N` threads, one by default) or alone as
`python -m lib.ingest --worker` on another machine. Each running job has a heartbeat that
writes its progress at most once a second and renews its lease, and stops the job when
someone cancelled it or another worker took it over.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lib.ingest.command import Ingest, Job, build_parser
from lib.ingest.errors import IngestError
from lib.ingest.progress import Row
from lib.jobs import (
    LEASE_SECONDS,
    Cancelled,
    JobGone,
    JobStore,
    Kind,
    State,
    Versioned,
)
from lib.jobs import (
    Job as JobRecord,
)
from lib.settings import Settings
from lib.storage import NotFound, Storage, StorageError

HEARTBEAT_SECONDS = 1.0
POLL_SECONDS = 5.0

log = logging.getLogger("homemovies.worker")


class Interrupted(Exception):
    """The worker is stopping (the app shuts down): the job goes back to the queue."""


class JobRun:
    """One running job: its latest state in memory, written by a heartbeat thread."""

    def __init__(
        self,
        store: JobStore,
        held: Versioned,
        lease: float,
        clock: Callable[[], float] = time.time,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.held = held
        self.job = held.job
        self.lease = lease
        self.clock = clock
        self.stopped: BaseException | None = None  # Cancelled or JobGone, once seen
        self._lock = threading.Lock()
        self._written = held.job
        self._renewed = clock()
        self._done = threading.Event()
        self._flushing = threading.Lock()  # the heartbeat's writes and check()'s, one at a time
        self._stopping = stopping or threading.Event()
        self._thread = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)

    def __enter__(self) -> JobRun:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(10.0)

    def set(self, **changes: object) -> None:
        """Change the job's progress; raise Cancelled or JobGone once the heartbeat saw one."""
        with self._lock:
            self.job = replace(self.job, **changes)  # type: ignore[arg-type]
            stopped = self.stopped
        if stopped is not None:
            raise stopped
        if self._stopping.is_set():
            raise Interrupted(self.job.id)

    def finish(self, **changes: object) -> None:
        """Write the job's final state, unless another worker holds it now."""
        with self._lock:
            owner = self.job.owner
            self.job = job = replace(self.job, **changes)  # type: ignore[arg-type]

        def edit(current: JobRecord) -> JobRecord | None:
            if current.owner != owner or current.state.final:
                return None
            return replace(job, cancel=False, lease_until=0.0)

        try:
            written = self.store.change(job.id, edit)
        except NotFound:
            log.info("job %s was removed while it ran", job.id)
            return
        if written is not None and written.owner == owner:
            self.job = written

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            self.flush()

    def check(self) -> None:
        """Write the job now, and raise Cancelled or JobGone if that is what it finds."""
        self.flush()
        self.set()

    def flush(self) -> None:
        """Write the job if it changed, or to renew its lease."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            job = self.job
        now = self.clock()
        if job == self._written and now - self._renewed < self.lease / 3:
            return
        job = replace(job, lease_until=now + self.lease)
        try:
            self.held = self.store.write_own(self.held, job)
        except (Cancelled, JobGone) as stop:
            with self._lock:
                self.stopped = stop
            return
        except StorageError as error:
            log.warning("job %s: cannot write its progress: %s", job.id, error)
            return
        self._written, self._renewed = job, now


@dataclass
class JobReporter:
    """Ingest's reporter for a job: its phases and percentages go into the job's record."""

    run: JobRun

    @contextmanager
    def encoding(self, title: str, duration: float) -> Iterator[Callable[[float], None]]:
        started = time.monotonic()
        self.run.set(state=State.CONVERTING, percent=0.0, speed=0.0, eta=None)

        def update(percent: float) -> None:
            elapsed = max(time.monotonic() - started, 1e-3)
            speed = duration * percent / 100.0 / elapsed
            eta = elapsed * (100.0 - percent) / percent if percent > 0 else None
            self.run.set(percent=round(percent, 1), speed=round(speed, 2), eta=eta)

        yield update
        self.run.set(percent=100.0, eta=None)
        self.run.check()  # a cancel that came late still stops it before it is published

    @contextmanager
    def uploading(self, title: str) -> Iterator[Callable[[int, int], None]]:
        started = time.monotonic()
        self.run.set(state=State.UPLOADING, percent=0.0, speed=0.0, eta=None)

        def update(done: int, total: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-3)
            percent = 100.0 * done / total if total else 100.0
            eta = elapsed * (total - done) / done if done else None
            self.run.set(percent=round(percent, 1), eta=eta)

        yield update

    def say(self, text: str) -> None:
        log.info("job %s: %s", self.run.job.id, text)

    def summary(self, rows: list[Row]) -> None:
        return None


class JobWorker:
    """Claim and convert jobs, `workers` at a time, until stopped."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        store: JobStore,
        *,
        workers: int = 1,
        lease: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        work_dir: Path | None = None,
        name: str | None = None,
        on_done: Callable[[JobRecord], None] = lambda job: None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.store = store
        self.workers = workers
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.work_dir = work_dir or settings.staging_dir / "work"
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.on_done = on_done
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Look for a job now (one was just added)."""
        self._wake.set()

    def start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(
                target=self.loop, args=(f"{self.name}/{number}",), name="job-worker", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        """Whether a worker thread still runs."""
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def loop(self, owner: str) -> None:
        """Run jobs until stopped; sleep until woken or `poll_seconds` when there is none."""
        while not self._stop.is_set():
            try:
                ran = self.run_once(owner)
            except StorageError as error:
                log.warning("the job queue cannot be read: %s; trying again shortly", error)
                ran = None
            except Exception:
                log.exception("a job failed unexpectedly")
                ran = None
            if ran is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self, owner: str | None = None) -> JobRecord | None:
        """Claim one job and run it to its end; return it as it ended, or None if none."""
        held = self.store.claim(owner or self.name, self.lease)
        if held is None:
            return None
        log.info("job %s: converting %s", held.job.id, held.job.source)
        with JobRun(self.store, held, self.lease, stopping=self._stop) as run:
            final = self.convert(run)
        if final:
            run.finish(**final)
        if run.job.state is State.DONE:
            if run.job.kind is Kind.UPLOAD:
                self.store.drop_source(run.job)
            self.on_done(run.job)
        return run.job

    def convert(self, run: JobRun) -> dict[str, object]:
        """Run ingest on the job; return the fields of its final state."""
        record = run.job
        ingest = Ingest(self.settings, self.storage, self.options(record), JobReporter(run))
        job = self.ingest_job(record, ingest)
        try:
            ingest.one(job, time.monotonic())
        except IngestError as error:
            return {"state": State.FAILED, "message": str(error), "eta": None}
        except Cancelled:
            ingest.discard()
            self.clean_up(ingest, record)
            return {"state": State.CANCELLED, "eta": None}
        except Interrupted:
            log.info("job %s: stopped with the app; it waits for the next worker", record.id)
            return {"state": State.WAITING, "owner": "", "percent": 0.0, "eta": None}
        except JobGone:
            log.warning("job %s: another worker holds it now; leaving it", record.id)
            return {}
        except StorageError as error:
            return {"state": State.FAILED, "message": f"The library storage failed: {error}"}
        return {"state": State.DONE, "percent": 100.0, "eta": None, "message": ""}

    def options(self, record: JobRecord) -> argparse.Namespace:
        """Ingest's command-line options for this job."""
        options = build_parser().parse_args([])
        options.work = self.work_dir
        # A job taken over from a stopped worker finishes what it had started.
        options.replace = record.takeover
        if record.kind is Kind.CONVERT:  # the original is kept in the title, as offered
            options.keep_original = True
            options.delete_original = True
        return options

    def ingest_job(self, record: JobRecord, ingest: Ingest) -> Job:
        """The ingest input of a job: the inbox file itself in a local library, else the
        object (fetched in chunks by ingest)."""
        if ingest.local_root is not None and record.kind is Kind.UPLOAD:
            return Job(ingest.local_root / record.source, record.folder, record.title)
        return Job(None, record.folder, record.title, existing=record.source)

    def clean_up(self, ingest: Ingest, record: JobRecord) -> None:
        """After a cancel: remove what a bucket holds of a title that was not finished."""
        if ingest.local_root is not None or ingest.exists(record.prefix):
            return
        for info in list(self.storage.scan(record.prefix)):
            try:
                self.storage.delete(info.name)
            except NotFound:
                continue
