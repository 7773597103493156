"""Conversion jobs: one record per video to turn into a title, kept in the library's storage.

A record is a small JSON object, `.homemovies/jobs/<id>.json`, so the queue survives a restart
and every replica (and `python -m lib.ingest --worker` on another machine) sees the same one.
Every change is a conditional write on the version last read (`Storage.write_if`): a worker
claims a waiting job by writing itself in as its owner with a lease, and only one of two
racing workers can win. A worker keeps its lease by writing the record every few seconds; a
job whose lease has run out (its worker crashed) is claimed again by the next worker.

Cancelling a running job sets `cancel` on its record: its worker sees it at its next write,
stops ffmpeg or the upload, and marks the job cancelled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from lib.storage import Conflict, NotFound, Storage
from lib.storage.appstate import APP_PREFIX

JOBS_PREFIX = APP_PREFIX + "jobs/"
INBOX_PREFIX = APP_PREFIX + "inbox/"  # uploads, kept until their job has made the title
JSON_TYPE = "application/json"
LEASE_SECONDS = 60.0
RACE_RETRIES = 20

log = logging.getLogger("homemovies.jobs")


class State(StrEnum):
    """Where a job is; the last three are final."""

    WAITING = "waiting"
    CONVERTING = "converting"
    UPLOADING = "uploading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def running(self) -> bool:
        return self in (State.CONVERTING, State.UPLOADING)

    @property
    def final(self) -> bool:
        return self in (State.DONE, State.FAILED, State.CANCELLED)


class Kind(StrEnum):
    """What a job converts: a browser upload (in the inbox) or an object of the library."""

    UPLOAD = "upload"
    CONVERT = "convert"


class JobGone(Exception):
    """The job's record was removed, or its worker lost the lease to another one."""


class Cancelled(Exception):
    """Someone cancelled the job while it ran."""


def new_job_id() -> str:
    """Return a fresh job id (also a safe object name)."""
    return secrets.token_urlsafe(12)


def is_job_id(text: str) -> bool:
    """Whether `text` can be a job id (ids reach us from browsers)."""
    return 0 < len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


@dataclass(frozen=True)
class Job:
    """One conversion: where the video is, which title it becomes, and how far it got."""

    id: str
    kind: Kind
    source: str  # the object converted: an inbox object or a library file
    folder: str
    title: str
    user: str  # who asked for it
    created: float
    state: State = State.WAITING
    percent: float = 0.0
    speed: float = 0.0  # times real time, while converting
    eta: float | None = None  # seconds left in the current step
    message: str = ""  # why it failed, in one sentence
    owner: str = ""  # the worker holding the lease
    lease_until: float = 0.0
    cancel: bool = False
    attempts: int = 0
    takeover: bool = False  # claimed from a worker that stopped: finish what it started
    updated: float = 0.0
    size: int = 0  # bytes of the source

    @property
    def prefix(self) -> str:
        """The title's folder in the library: `Folder/Title.hls/`."""
        return f"{self.folder}/{self.title}.hls/" if self.folder else f"{self.title}.hls/"

    @property
    def result(self) -> str:
        """The name the new title is listed under."""
        return self.prefix.rstrip("/")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> Job:
        """Parse a record; raise ValueError if it is not one."""
        value: Any = json.loads(body)
        if not isinstance(value, dict):
            raise ValueError("a job record is a JSON object")
        try:
            value["kind"] = Kind(value["kind"])
            value["state"] = State(value["state"])
            return cls(**value)
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a job record: {error}") from None


def convert_job(name: str, user: str, now: float) -> Job:
    """A job converting the library file `name` in place: its title goes beside it, named
    after it, and the original is kept in the title (offered as a download)."""
    folder, _, base = name.rpartition("/")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return Job(new_job_id(), Kind.CONVERT, name, folder, stem or base, user, now)


def record_name(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}.json"


@dataclass(frozen=True)
class Versioned:
    """A job as read, with the version a conditional write must name."""

    job: Job
    version: str


class JobStore:
    """The queue of jobs in one library's storage."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock

    def submit(self, job: Job) -> Job:
        """Add `job` (waiting, or failed when its input was refused); raise Conflict if a job
        of that id exists already."""
        job = replace(job, updated=self.clock())
        self.storage.write_if(record_name(job.id), job.to_json(), JSON_TYPE, version=None)
        return job

    def read(self, job_id: str) -> Versioned:
        """Return the job of that id; raise NotFound (or ValueError for a damaged record)."""
        body, version = self.storage.read_versioned(record_name(job_id))
        return Versioned(Job.from_json(body), version)

    def get(self, job_id: str) -> Job | None:
        try:
            return self.read(job_id).job
        except (NotFound, ValueError):
            return None

    def all(self) -> list[Job]:
        """Every job, newest first; damaged records are logged and left out."""
        jobs = []
        for info in self.storage.scan(JOBS_PREFIX):
            job_id = info.name.removeprefix(JOBS_PREFIX).removesuffix(".json")
            if not info.name.endswith(".json") or not is_job_id(job_id):
                continue
            try:
                jobs.append(self.read(job_id).job)
            except NotFound:
                continue  # removed meanwhile
            except ValueError as error:
                log.warning("skipping the damaged job record %s: %s", info.name, error)
        return sorted(jobs, key=lambda job: job.created, reverse=True)

    def change(self, job_id: str, edit: Callable[[Job], Job | None]) -> Job | None:
        """Apply `edit` to the current record until the write wins; `edit` returns None to
        leave it as it is. Return the job as written (or as found). Raise NotFound."""
        for _ in range(RACE_RETRIES):
            current = self.read(job_id)
            changed = edit(current.job)
            if changed is None:
                return current.job
            changed = replace(changed, updated=self.clock())
            try:
                self.storage.write_if(
                    record_name(job_id), changed.to_json(), JSON_TYPE, version=current.version
                )
            except Conflict:
                continue
            return changed
        raise Conflict(f"the job {job_id} keeps changing; try again")

    def claim(self, owner: str, lease: float = LEASE_SECONDS) -> Versioned | None:
        """Take the oldest waiting job, or a running one whose worker's lease ran out; return
        it as written, or None when there is nothing to do. Two workers never get the same."""
        now = self.clock()
        candidates = [
            job
            for job in self.all()
            if job.state is State.WAITING
            or (job.state.running and job.lease_until < now and not job.cancel)
        ]
        for job in sorted(candidates, key=lambda job: job.created):
            try:
                current = self.read(job.id)
            except (NotFound, ValueError):
                continue
            fresh = current.job
            if not (
                fresh.state is State.WAITING
                or (fresh.state.running and fresh.lease_until < now and not fresh.cancel)
            ):
                continue
            taken = replace(
                fresh,
                state=State.CONVERTING,
                percent=0.0,
                speed=0.0,
                eta=None,
                owner=owner,
                lease_until=now + lease,
                attempts=fresh.attempts + 1,
                takeover=fresh.state.running,
                updated=now,
            )
            try:
                version = self.storage.write_if(
                    record_name(job.id), taken.to_json(), JSON_TYPE, version=current.version
                )
            except Conflict:
                continue  # another worker took it first
            if fresh.owner:
                log.warning("job %s: its worker %s stopped; taken over", job.id, fresh.owner)
            return Versioned(taken, version)
        return None

    def write_own(self, held: Versioned, job: Job) -> Versioned:
        """Write the running job's new state; raise Cancelled when someone cancelled it,
        JobGone when it was removed or another worker holds it now."""
        try:
            version = self.storage.write_if(
                record_name(job.id), job.to_json(), JSON_TYPE, version=held.version
            )
        except NotFound:
            raise JobGone(job.id) from None
        except Conflict:
            try:
                now = self.read(job.id)
            except (NotFound, ValueError):
                raise JobGone(job.id) from None
            if now.job.owner != job.owner or now.job.state.final:
                raise JobGone(job.id) from None
            if now.job.cancel:
                raise Cancelled(job.id) from None
            # Changed by someone else in a way that leaves it ours (none today): go on.
            return self.write_own(now, replace(job, cancel=now.job.cancel))
        return Versioned(job, version)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a waiting job at once, or ask a running one's worker to stop."""

        def edit(job: Job) -> Job | None:
            if job.state is State.WAITING:
                return replace(job, state=State.CANCELLED, eta=None)
            if job.state.running and not job.cancel:
                if job.lease_until < self.clock():  # nobody is running it: stop it here
                    return replace(job, state=State.CANCELLED, eta=None, owner="")
                return replace(job, cancel=True)
            return None

        return self.change(job_id, edit)

    def retry(self, job_id: str) -> Job | None:
        """Queue a failed or cancelled job again."""

        def edit(job: Job) -> Job | None:
            if job.state not in (State.FAILED, State.CANCELLED):
                return None
            return replace(
                job, state=State.WAITING, message="", cancel=False, owner="", percent=0.0, eta=None
            )

        return self.change(job_id, edit)

    def remove(self, job_id: str) -> bool:
        """Remove a finished job's record; return False if it is not finished."""
        for _ in range(RACE_RETRIES):
            try:
                current = self.read(job_id)
            except NotFound:
                return True
            if not current.job.state.final:
                return False
            try:
                self.storage.delete_if(record_name(job_id), version=current.version)
            except NotFound:
                return True
            except Conflict:
                continue
            if current.job.kind is Kind.UPLOAD:
                self.drop_source(current.job)
            return True
        return False

    def drop_source(self, job: Job) -> None:
        """Delete an upload's inbox object (its title is made, or the job was removed)."""
        if not job.source.startswith(INBOX_PREFIX):
            return
        with contextlib.suppress(NotFound):
            self.storage.delete(job.source)
