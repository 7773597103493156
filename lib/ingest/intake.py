"""From a finished browser upload to a waiting job.

The staged file is checked with ffprobe (a file that is not a video becomes a failed job
with one sentence, and is not kept), moved into the library's inbox (`.homemovies/inbox/`:
a rename for a local folder, a multipart upload for a bucket, so any worker can convert it
and nothing is lost if the app restarts), and then its job is written. The staged copy is
removed last, so a restart in between hands it off again (`Staging.completed()`): the inbox
upload is redone and the job, named after the upload, is not added twice.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from lib.ingest.command import check_folder, check_title
from lib.ingest.errors import IngestError
from lib.ingest.playlists import MASTER
from lib.ingest.probe import probe
from lib.ingest.publish import content_type
from lib.jobs import INBOX_PREFIX, Job, JobStore, Kind, State
from lib.staging import StagedUpload, Staging
from lib.storage import Conflict, NotFound, Storage, StorageError, is_safe_name

MAX_SAME_TITLES = 50

log = logging.getLogger("homemovies.intake")


def safe_filename(name: str) -> str:
    """The upload's file name as an object name: its last part, without control characters."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    cleaned = "".join(c for c in base if c.isprintable()) or "video"
    return cleaned if is_safe_name(cleaned) and not cleaned.startswith(".") else "video"


@dataclass
class Intake:
    """Turn finished uploads into jobs for one library."""

    storage: Storage
    store: JobStore
    staging: Staging
    local_root: Path | None  # a local library's folder (its inbox is a rename away)
    wake: Callable[[], None] = lambda: None

    def accept(self, upload: StagedUpload) -> Job | None:
        """Hand off one finished upload; return its job (None if storage failed: the staged
        file stays and is handed off again at the next start)."""
        filename = safe_filename(upload.filename)
        job = Job(
            id=upload.id,
            kind=Kind.UPLOAD,
            source=f"{INBOX_PREFIX}{upload.id}/{filename}",
            folder=upload.metadata.get("folder", ""),
            title=PurePosixPath(filename).stem or "video",
            user=upload.user,
            created=upload.created,
            size=upload.length,
        )
        try:
            if self.in_inbox(upload, job.source):  # moved there before a restart
                job = replace(job, folder=check_folder(job.folder))
            else:
                job = self.checked(job, upload.path)
                if job.state is State.WAITING:
                    self.to_inbox(upload.path, job.source)
            self.submit(job)
        except StorageError as error:
            log.warning("cannot hand off the upload %s yet: %s", upload.id, error)
            return None
        self.staging.remove(upload.id)
        if job.state is State.WAITING:
            self.wake()
        return job

    def in_inbox(self, upload: StagedUpload, name: str) -> bool:
        """Whether a local library's inbox has the upload already (the staged file is gone)."""
        if self.local_root is None or upload.path.exists():
            return False
        return (self.local_root / name).is_file()

    def checked(self, job: Job, path: Path) -> Job:
        """The job, or the job failed with the sentence saying why it cannot be converted."""
        try:
            folder = check_folder(job.folder)
            check_title(job.title, PurePosixPath(job.source).name)
            probe(path)
        except IngestError as error:
            message = str(error).replace(str(path.name), PurePosixPath(job.source).name)
            return replace(job, state=State.FAILED, message=message)
        return replace(job, folder=folder, title=self.free_title(folder, job))

    def free_title(self, folder: str, job: Job) -> str:
        """The job's title, numbered ("Party (2)") when the folder has one of that name or
        another job is making one."""
        taken = {other.prefix for other in self.store.all() if not other.state.final}
        for number in range(1, MAX_SAME_TITLES + 1):
            title = job.title if number == 1 else f"{job.title} ({number})"
            candidate = replace(job, folder=folder, title=title)
            if candidate.prefix in taken:
                continue
            try:
                self.storage.stat(candidate.prefix + MASTER)
            except NotFound:
                return title
        return job.title  # ingest will say it exists

    def to_inbox(self, path: Path, name: str) -> None:
        """Move the staged file into the library's inbox, never holding it in memory."""
        if self.local_root is not None:
            target = self.local_root / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)  # a rename on one file system, else a copy
            except OSError as error:
                raise StorageError(f"cannot move the upload into the library ({error})") from None
            return
        self.storage.upload(name, path, content_type(name))

    def submit(self, job: Job) -> None:
        try:
            self.store.submit(job)
        except Conflict:
            log.info("the upload %s has its job already", job.id)
