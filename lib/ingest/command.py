"""`python -m lib.ingest`: camera and phone files in, streaming-ready titles out."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lib.ingest.encode import DEFAULT_PRESET, PRESETS, EncodePlan, run_encode
from lib.ingest.errors import IngestError
from lib.ingest.ladder import segment_count
from lib.ingest.playlists import write_master, write_sidecar
from lib.ingest.probe import probe
from lib.ingest.progress import Reporter, Row, reporter_for
from lib.ingest.publish import BucketPublisher, FolderPublisher, Item, folder_items
from lib.library import HLS_SUFFIX, VIDEO_FILE_EXTENSIONS, Kind, Library
from lib.settings import (
    Settings,
    SettingsError,
    add_options,
    settings_from_flags,
    source_options,
)
from lib.stats import DEFAULT_PRICES
from lib.storage import Storage, StorageError, is_safe_name
from lib.storage.appstate import APP_PREFIX

VIDEO_EXTENSIONS = VIDEO_FILE_EXTENSIONS | {".dv", ".mxf"}  # camera formats a library never lists
TIERS = ("InfrequentAccess", "Archive", "Standard")
WORK_VERSION = "1"  # part of the work folder's key: bump when the output changes
STAMP = "encoded.json"
MAX_TITLE_BYTES = 200
EXIT_SETTINGS = 2
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Turn camera and phone files into titles the app streams well: an adaptive HLS ladder
(360p/540p/720p/1080p/2160p, never upscaled, H.264 + AAC), a poster, a seek-preview sprite
and a sidecar (duration, size, recording date, codec), put into FOLDER of the library.

The library is named as for the app: --library PATH, or --bucket NAME (or --secret) with the
OCI flags, also as HOMEMOVIES_* variables or keys of .streamlit/secrets.toml. A local library
gets each title by a rename, so a viewer never sees half of one; a bucket gets its objects
uploaded in parallel, the master playlist last (the library shows "Being added" meanwhile).
Interrupted? Run the same command again: what is already uploaded is not sent again.

Exit status: 0 when every file became a title, else the number of files that failed
(2 for a mistake in the settings, 130 when stopped with Ctrl-C)."""

EPILOG = """\
examples:
  python -m lib.ingest --library ~/Videos --folder Holidays phone/IMG_0042.MOV
  python -m lib.ingest --bucket family-videos --folder Events --title "Wedding" wedding.mts
  python -m lib.ingest --library demo --existing "Events/Old camcorder tape.avi"
  python -m lib.ingest --bucket family-videos --all-unplayable --dry-run"""


def build_parser() -> argparse.ArgumentParser:
    """The command line: the app's source settings, then ingest's own."""
    parser = argparse.ArgumentParser(
        prog="python -m lib.ingest",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("the library (as for the app)")
    add_options(source, source_options())  # type: ignore[arg-type]
    parser.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="videos or folders")
    parser.add_argument("--folder", help="the library folder (tab) the titles go into")
    parser.add_argument("--title", help="the title (one input only; default: the file name)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be made and uploaded, do nothing"
    )
    parser.add_argument("--replace", action="store_true", help="make a title that exists again")
    parser.add_argument(
        "--keep-original",
        action="store_true",
        help="also store the source file in the title's folder (offered as a download)",
    )
    parser.add_argument(
        "--original_tier",
        choices=TIERS,
        default="InfrequentAccess",
        help="OCI storage tier of a kept original (default: InfrequentAccess)",
    )
    parser.add_argument(
        "--existing",
        action="append",
        default=[],
        metavar="NAME",
        help="convert this object already in the library (e.g. 'Events/Old tape.avi')",
    )
    parser.add_argument(
        "--all-unplayable",
        action="store_true",
        help="convert every file the library lists as needing conversion",
    )
    parser.add_argument(
        "--delete-original",
        action="store_true",
        help="with --existing/--all-unplayable: delete the object once its title is made",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=DEFAULT_PRESET,
        help=f"x264 speed preset (default: {DEFAULT_PRESET}, see bench/README.md)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        metavar="DIR",
        help="where titles are built before upload (default: the system's temp folder; "
        "a local library uses a hidden folder inside it)",
    )
    parser.add_argument(
        "--jobs", type=int, default=4, metavar="N", help="objects uploaded at once (default: 4)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also log each storage failure with its cause and OCI request id (for support)",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="convert the jobs queued from the app's Add videos page (and Convert buttons) "
        "until stopped with Ctrl-C, instead of files named here",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --worker: jobs converted at once (default: 1)",
    )
    parser.add_argument(
        "--part_mb",
        type=int,
        default=64,
        metavar="MIB",
        help="objects larger than this go to a bucket in parts of this size (default: 64)",
    )
    return parser


@dataclass(frozen=True)
class Job:
    """One input: a local file, or an object of the library (then `existing` names it)."""

    path: Path | None
    folder: str
    title: str
    existing: str | None = None

    @property
    def prefix(self) -> str:
        base = f"{self.title}{HLS_SUFFIX}/"
        return f"{self.folder}/{base}" if self.folder else base

    @property
    def label(self) -> str:
        return self.existing or (self.path.name if self.path else self.title)


def check_title(title: str, label: str) -> None:
    """Raise IngestError unless `title` can name a title."""
    problem = None
    if not title.strip() or title != title.strip():
        problem = "is empty or starts or ends with a space"
    elif title.startswith("."):
        problem = "starts with a dot (such names are hidden)"
    elif "/" in title or "\\" in title:
        problem = "contains a slash"
    elif len(title.encode("utf-8", "surrogatepass")) > MAX_TITLE_BYTES:
        problem = f"is longer than {MAX_TITLE_BYTES} bytes"
    elif not is_safe_name(title):
        problem = "contains control characters"
    if problem:
        raise IngestError(f"{label}: the title {title!r} {problem}; pass --title NAME.")


def check_folder(folder: str) -> str:
    """Return the folder name cleaned of outer slashes; raise IngestError if unusable."""
    cleaned = folder.strip().strip("/")
    parts = cleaned.split("/") if cleaned else []
    if not parts or any(not p or p.startswith(".") for p in parts) or not is_safe_name(cleaned):
        raise IngestError(
            f"--folder {folder!r} cannot be a library folder; pass a name like Events."
        )
    return cleaned


def find_inputs(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Return the video files named or found below folders, and a sentence per missing path."""
    found: list[Path] = []
    missing: list[str] = []
    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in VIDEO_EXTENSIONS
                and not p.name.startswith(".")
            )
        elif path.is_file():
            found.append(path)
        else:
            missing.append(f"{text}: no such file or folder.")
    return found, missing


def work_key(job: Job, path: Path, preset: str) -> str:
    """A name for the job's work folder, the same on a second run with the same arguments."""
    info = path.stat()
    text = "|".join(
        (str(path.resolve()), str(info.st_size), str(info.st_mtime_ns), job.prefix, preset)
    )
    return hashlib.sha256(f"{WORK_VERSION}|{text}".encode()).hexdigest()[:20]


def describe_plan(plan: EncodePlan) -> list[str]:
    """Lines saying what a dry run would make."""
    source = plan.source
    notes = [f"{source.width}x{source.height} {source.codec}", f"{source.fps:.3g} fps"]
    if source.interlaced:
        notes.append("interlaced: deinterlaced")
    if source.hdr:
        notes.append(f"HDR ({source.transfer}): tone-mapped to SDR BT.709")
    if source.rotation:
        notes.append(f"rotated {source.rotation}°")
    notes.append(f"{source.audio_tracks} audio track(s)" if source.audio_tracks else "no audio")
    lines = ["  source: " + ", ".join(notes)]
    segments = segment_count(source.duration, plan.segment_seconds)
    for rendition in plan.renditions:
        lines.append(
            f"  {rendition.name}: {rendition.width}x{rendition.height} {rendition.fps:g} fps "
            f"{rendition.bitrate / 1e6:.2f} Mbit/s, {segments} segments"
        )
    objects = len(plan.renditions) * (segments + 1) + 5
    lines.append(f"  objects: about {objects} (playlists, segments, poster, sprite, sidecar)")
    return lines


def original_cost(size: int, tier: str) -> str:
    """What keeping `size` bytes in `tier` costs per month, at OCI's list price."""
    return f"${size / 2**30 * DEFAULT_PRICES[tier]:.4f} per month in {tier} (OCI list price)"


class Ingest:
    """Run jobs against one library."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        options: argparse.Namespace,
        reporter: Reporter,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.options = options
        self.reporter = reporter
        self.resumable: list[Path] = []  # what the last title keeps for a run resuming it
        self.local_root = settings.library.resolve() if settings.library is not None else None
        if self.local_root is not None:
            self.work_root = self.local_root / APP_PREFIX / "ingest"
        else:
            self.work_root = options.work or Path(tempfile.gettempdir()) / "homemovies-ingest"

    def exists(self, prefix: str) -> bool:
        if self.local_root is not None:
            return FolderPublisher(self.local_root).exists(prefix)
        return BucketPublisher(self.storage).exists(prefix)

    def run(self, jobs: list[Job]) -> list[Row]:
        """Run every job; a failed one is reported and the others go on."""
        rows = []
        for job in jobs:
            started = time.monotonic()
            try:
                rows.append(self.one(job, started))
            except IngestError as error:
                self.reporter.say(f"failed: {error}")
                rows.append(Row(job.title, 0, "", 0, time.monotonic() - started, "failed"))
        return rows

    def one(self, job: Job, started: float) -> Row:
        """Make one title; raise IngestError with the sentence to show if it cannot be."""
        check_title(job.title, job.label)
        if self.exists(job.prefix) and not self.options.replace:
            raise IngestError(
                f"{job.label}: {job.prefix.rstrip('/')} is already in the library; pass "
                "--replace to make it again."
            )
        self.work_root.mkdir(parents=True, exist_ok=True)
        path = job.path if job.path is not None else self.fetch_existing(job)
        work = self.work_root / work_key(job, path, self.options.preset)
        self.resumable = [work] if job.path is not None else [work, path]
        plan_folder = work / f"{job.title}{HLS_SUFFIX}"
        source = probe(path)
        plan = EncodePlan.for_source(source, plan_folder, self.options.preset)
        rungs = " ".join(r.name for r in plan.renditions)
        if self.options.dry_run:
            self.reporter.say(f"{job.label} -> {job.prefix}")
            for line in describe_plan(plan):
                self.reporter.say(line)
            return Row(job.title, source.duration, rungs, 0, 0.0, "would add")
        try:
            self.encode(plan, work, job)
        except BaseException:
            if not (work / STAMP).is_file():
                shutil.rmtree(work, ignore_errors=True)
            raise
        items = folder_items(plan.folder)
        if self.options.keep_original:
            items.append(Item(f"original{path.suffix.lower()}", path, self.options.original_tier))
        size = sum(item.size for item in items)
        original_size = path.stat().st_size
        replaced = self.exists(job.prefix)
        try:
            self.publish(job, plan, items)
        except StorageError as error:
            raise IngestError(
                f"{job.label}: the upload stopped ({error}) Run the same command again to "
                "resume; what is uploaded already is not sent again."
            ) from None
        except OSError as error:
            raise IngestError(
                f"{job.label}: cannot put it into the library ({error.strerror})."
            ) from None
        shutil.rmtree(work, ignore_errors=True)
        if job.path is None:
            path.unlink(missing_ok=True)  # the copy fetched from the library
        if job.existing and self.options.delete_original:
            self.storage.delete(job.existing)
        if self.options.keep_original:
            cost = original_cost(original_size, self.original_tier())
            self.reporter.say(f"{job.title}: original kept, {cost}")
        return Row(
            job.title,
            source.duration,
            rungs,
            size,
            time.monotonic() - started,
            "replaced" if replaced else "added",
        )

    def discard(self) -> None:
        """Remove what the last title kept so that a later run resumes it: its work folder
        and a copy fetched from the library (after a cancel, nothing is to resume)."""
        for path in self.resumable:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self.resumable = []

    def original_tier(self) -> str:
        return "Standard" if self.local_root is not None else self.options.original_tier

    def encode(self, plan: EncodePlan, work: Path, job: Job) -> None:
        """Encode into the work folder unless a previous run finished it (its stamp)."""
        stamp = work / STAMP
        if stamp.is_file() and plan.folder.is_dir():
            self.reporter.say(f"{job.title}: encoded by an earlier run; resuming the upload.")
            return
        shutil.rmtree(work, ignore_errors=True)
        plan.folder.mkdir(parents=True)
        try:
            with self.reporter.encoding(job.title, plan.source.duration) as update:
                run_encode(plan, update)
            variants = write_master(plan)
            write_sidecar(plan, variants)
        except OSError as error:
            raise IngestError(f"{job.label}: cannot write the title ({error.strerror}).") from None
        stamp.write_text(json.dumps({"title": job.title, "prefix": job.prefix}), encoding="utf-8")

    def publish(self, job: Job, plan: EncodePlan, items: list[Item]) -> None:
        if self.local_root is not None:
            FolderPublisher(self.local_root).publish(job.prefix, plan.folder, items)
            return
        publisher = BucketPublisher(self.storage, workers=max(1, self.options.jobs))
        with self.reporter.uploading(job.title) as update:
            sent = publisher.publish(job.prefix, job.title, items, update)
        if sent.skipped:
            self.reporter.say(f"{job.title}: {sent.skipped} objects were already uploaded.")

    def fetch_existing(self, job: Job) -> Path:
        """Copy a library object to the work folder in chunks; return the local file."""
        assert job.existing is not None
        try:
            info = self.storage.stat(job.existing)
        except StorageError as error:
            raise IngestError(f"{job.existing}: not in the library ({error}).") from None
        suffix = PurePosixPath(job.existing).suffix.lower()
        key = hashlib.sha256(f"{job.existing}|{info.size}|{info.etag}".encode()).hexdigest()[:20]
        target = self.work_root / f"source-{key}{suffix}"
        if target.is_file() and target.stat().st_size == info.size:
            return target
        partial = target.with_suffix(suffix + ".part")
        try:
            with partial.open("wb") as handle:
                if info.size:
                    for chunk in self.storage.read(job.existing, 0, info.size - 1):
                        handle.write(chunk)
            partial.replace(target)
        except StorageError as error:
            partial.unlink(missing_ok=True)
            raise IngestError(
                f"{job.existing}: cannot read it from the library ({error})."
            ) from None
        return target


def jobs_from(options: argparse.Namespace, storage: Storage) -> tuple[list[Job], list[str]]:
    """Turn the command line into jobs; return them and a sentence per input refused."""
    problems: list[str] = []
    jobs: list[Job] = []
    existing = list(options.existing)
    if options.all_unplayable:
        existing += [
            video.name
            for video in Library(storage, ttl=0.0).all_videos()
            if video.kind is Kind.UNPLAYABLE
        ]
    for name in existing:
        parent, _, base = name.rpartition("/")
        stem = PurePosixPath(base).stem if "." in base else base
        jobs.append(Job(None, parent, options.title or stem, existing=name))
    if options.inputs:
        if options.folder is None:
            raise IngestError("Pass --folder NAME: the library folder the titles go into.")
        folder = check_folder(options.folder)
        paths, problems = find_inputs(options.inputs)
        for path in paths:
            jobs.append(Job(path, folder, options.title or path.stem))
    if options.title and len(jobs) > 1:
        raise IngestError("--title names one title: pass a single file with it.")
    return jobs, problems


def open_library(options: argparse.Namespace) -> tuple[Settings, Storage]:
    """The settings and storage the source flags name; raise SettingsError/StorageError."""
    from lib.services import build_storage, oci_auth, settings_from_vault

    names = {option.name for option in source_options()}
    flags = {key: value for key, value in vars(options).items() if key in names}
    settings = settings_from_flags(flags, login=False)
    if settings.secret:
        settings = settings_from_vault(settings, oci_auth(settings), login=False)
    storage = build_storage(settings)
    if settings.source == "oci":
        from lib.storage.oci import OciStorage

        if isinstance(storage, OciStorage):
            storage.part_size = max(1, options.part_mb) * 1024 * 1024
    return settings, storage


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    parser = build_parser()
    options = parser.parse_args(argv)
    # Failures reach the user as one sentence each; their causes only when asked for.
    logging.basicConfig(
        format="homemovies ingest: %(message)s",
        level=logging.WARNING if options.verbose else logging.CRITICAL,
    )
    reporter = reporter_for()
    if options.worker:
        return run_worker(options)
    try:
        settings, storage = open_library(options)
        jobs, problems = jobs_from(options, storage)
    except (SettingsError, StorageError, IngestError) as error:
        print(f"homemovies ingest: {error}", file=sys.stderr)
        return EXIT_SETTINGS
    for problem in problems:
        reporter.say(f"failed: {problem}")
    if not jobs and not problems:
        parser.print_usage(sys.stderr)
        print(
            "homemovies ingest: name files or folders, or --existing/--all-unplayable.",
            file=sys.stderr,
        )
        return EXIT_SETTINGS
    ingest = Ingest(settings, storage, options, reporter)
    try:
        rows = ingest.run(jobs)
    except KeyboardInterrupt:
        reporter.say(
            "Stopped. Run the same command again to resume: encoded titles and uploaded "
            "objects are kept and not made or sent again."
        )
        return EXIT_INTERRUPTED
    if rows:
        reporter.summary(rows)
    failed = len(problems) + sum(row.result == "failed" for row in rows)
    return min(failed, 100)


def run_worker(options: argparse.Namespace) -> int:
    """`--worker`: convert queued jobs until Ctrl-C; a job under way goes back to the queue."""
    from lib.ingest.worker import JobWorker
    from lib.jobs import JobStore

    logging.getLogger("homemovies").setLevel(logging.INFO)
    logging.getLogger("homemovies").addHandler(logging.StreamHandler(sys.stderr))
    try:
        settings, storage = open_library(options)
    except (SettingsError, StorageError) as error:
        print(f"homemovies ingest: {error}", file=sys.stderr)
        return EXIT_SETTINGS
    worker = JobWorker(
        settings,
        storage,
        JobStore(storage),
        workers=max(1, options.workers),
        work_dir=options.work,
    )
    print(
        f"homemovies ingest: converting the jobs of {storage.describe()}; Ctrl-C stops.",
        file=sys.stderr,
    )
    worker.start()
    try:
        while worker.alive():
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("homemovies ingest: stopping; a job under way is queued again.", file=sys.stderr)
    finally:
        worker.stop(30.0)
    return 0 if not worker.alive() else EXIT_INTERRUPTED


def console() -> None:
    """The `homemovies-ingest` console script."""
    raise SystemExit(main())
