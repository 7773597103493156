"""`python -m lib.ingest` into the loopback OCI bucket through the real SDK: parallel and
multipart uploads, the master last, a marker meanwhile, faults survived, resumed after a kill."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import m3u8
import pytest

from lib.library import INGEST_MARKER, Kind, Library
from lib.services import build_storage
from lib.storage import Storage
from lib.storage.oci import OciStorage
from tests.camera_media import make_fixtures, session_media
from tests.conftest import LoopbackOci
from tests.ingest_run import ROOT, ingest_command, ingest_env, run_ingest
from tests.loopback import settings_for
from tests.media_fixtures import make_fixture
from tests.oci_server import Fault
from tests.ui import wait_until

BUCKET = "ingest-tests"
PART_MB = 1


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's camera files, with the ones these tests ingest made (at once)."""
    folder = session_media(tmp_path_factory)
    make_fixtures(["full_hd", "phone_h264", "dv_avi", "no_audio", "wmv"], folder)
    return folder


def bucket_flags(oci: LoopbackOci, work: Path) -> list[str]:
    return [*oci.flags(BUCKET), "--work", str(work), "--part_mb", str(PART_MB)]


@pytest.fixture
def storage(oci: LoopbackOci) -> Iterator[Storage]:
    bucket = oci.server.bucket(BUCKET)
    for name in list(bucket.objects):
        bucket.remove(name)
    oci.server.clear_faults()
    storage = build_storage(settings_for(oci, BUCKET))
    assert isinstance(storage, OciStorage)
    storage.part_size = PART_MB * 1024 * 1024  # as the command's --part_mb, for matches()
    yield storage
    oci.server.clear_faults()


def names_below(storage: Storage, prefix: str) -> set[str]:
    return {info.name for info in storage.scan(prefix)}


def successful_puts(oci: LoopbackOci, mark: int = 0) -> Counter[str]:
    """How many times each object was sent whole (PutObject) or committed (multipart)."""
    counts: Counter[str] = Counter()
    for seen in oci.server.since(mark):
        if seen.status != 200:
            continue
        if seen.method == "PUT" and f"/b/{BUCKET}/o/" in seen.path:
            counts[seen.path.split("/o/", 1)[1]] += 1
        elif seen.method == "POST" and f"/b/{BUCKET}/u/" in seen.path:
            counts[seen.path.split("/u/", 1)[1]] += 1
    return counts


def referenced(storage: Storage, prefix: str) -> set[str]:
    """Every object a complete title needs: master, variants, segments and the extras."""
    body = b"".join(
        storage.read(prefix + "output.m3u8", 0, storage.stat(prefix + "output.m3u8").size - 1)
    )
    names = {prefix + "output.m3u8"}
    for playlist in m3u8.loads(body.decode()).playlists:
        assert playlist.uri is not None
        variant_name = prefix + playlist.uri
        names.add(variant_name)
        size = storage.stat(variant_name).size
        variant = m3u8.loads(b"".join(storage.read(variant_name, 0, size - 1)).decode())
        folder = variant_name.rsplit("/", 1)[0] + "/"
        names |= {folder + (s.uri or "") for s in variant.segments}
    extras = ("poster.jpg", "info.json", "preview/sprite.jpg", "preview/thumbnails.vtt")
    return names | {prefix + extra for extra in extras}


def test_a_title_is_uploaded_whole_with_types_and_the_master_last(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("phone_h264", media)
    mark = oci.server.mark()
    run_ingest(*bucket_flags(oci, tmp_path), "--folder", "Phone", clip, check=True)
    prefix = "Phone/phone_h264.hls/"
    assert names_below(storage, prefix) == referenced(storage, prefix)  # no marker, no orphan
    bucket = oci.server.bucket(BUCKET)
    types = {name.rsplit(".", 1)[-1]: bucket.objects[name].content_type for name in bucket.objects}
    assert types == {
        "m3u8": "application/vnd.apple.mpegurl",
        "ts": "video/mp2t",
        "jpg": "image/jpeg",
        "vtt": "text/vtt; charset=utf-8",
        "json": "application/json",
    }
    puts = [
        s.path.split("/o/", 1)[1]
        for s in oci.server.since(mark)
        if s.method == "PUT" and s.status == 200 and "/o/" in s.path
    ]
    assert puts[-1] == prefix + "output.m3u8"
    assert puts[0] == prefix + INGEST_MARKER
    assert max(successful_puts(oci, mark).values()) == 1  # nothing sent twice
    (video,) = [v for v in Library(storage).all_videos() if v.tab == "Phone"]
    assert video.kind is Kind.HLS and video.poster == prefix + "poster.jpg"
    assert not list(tmp_path.iterdir())  # the work folder is gone once published


def test_a_kept_original_goes_in_parts_to_the_cheaper_tier(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("dv_avi", media)  # 7.6 MB: several 1 MiB parts
    result = run_ingest(
        *bucket_flags(oci, tmp_path / "work"), "--folder", "Tapes", "--keep-original", clip
    )
    assert result.returncode == 0, result.stderr
    stored = oci.server.bucket(BUCKET).objects["Tapes/dv_avi.hls/original.avi"]
    assert stored.tier == "InfrequentAccess"
    assert stored.size == clip.stat().st_size
    assert storage.matches("Tapes/dv_avi.hls/original.avi", clip)
    assert "per month in InfrequentAccess" in result.stderr
    assert len(oci.server.requests("PUT", "/u/Tapes/dv_avi.hls/original.avi")) >= 7


def test_faults_on_part_uploads_are_survived(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("dv_avi", media)
    oci.server.inject(Fault("status", method="PUT", path_contains="/u/", status=503, times=2))
    oci.server.inject(Fault("reset", method="PUT", path_contains="/u/", times=1))
    oci.server.inject(Fault("status", method="PUT", path_contains=".ts", status=429, times=2))
    result = run_ingest(
        *bucket_flags(oci, tmp_path / "work"), "--folder", "Tapes", "--keep-original", clip
    )
    assert result.returncode == 0, result.stderr
    assert storage.matches("Tapes/dv_avi.hls/original.avi", clip)
    assert all(
        fault.hits == fault_times
        for fault, fault_times in zip(oci.server.faults, (2, 1, 2), strict=True)
    )
    prefix = "Tapes/dv_avi.hls/"
    assert names_below(storage, prefix) == referenced(storage, prefix) | {prefix + "original.avi"}


def interruptible() -> None:
    """In the child: take Ctrl-C as a terminal's foreground command does. A suite started in
    the background by a shell without job control inherits SIGINT ignored, and Python then
    never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_ingest(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ingest_command(*args),
        cwd=ROOT,
        env=ingest_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def test_killed_during_upload_it_resumes_without_sending_anything_twice(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("full_hd", media)
    work = tmp_path / "work"
    args = [*bucket_flags(oci, work), "--folder", "HD", "--jobs", "2", clip]
    prefix = "HD/full_hd.hls/"
    # Every object PUT waits, so the upload is still going when the command is killed.
    oci.server.inject(Fault("slow", method="PUT", path_contains="/o/HD/", delay=0.4, times=1000))
    mark = oci.server.mark()
    process = start_ingest([str(a) for a in args])
    try:
        wait_until(lambda: len(successful_puts(oci, mark)) >= 6, "the upload never started", 120)
        # Meanwhile the library shows the title as being added, not as broken.
        (video,) = [v for v in Library(storage, ttl=0).all_videos() if v.tab == "HD"]
        assert video.kind is Kind.ADDING
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    first = successful_puts(oci, mark)
    assert prefix + "output.m3u8" not in first
    oci.server.clear_faults()
    second_mark = oci.server.mark()
    result = run_ingest(*args)
    assert result.returncode == 0, result.stderr
    assert "encoded by an earlier run" in result.stderr
    second = successful_puts(oci, second_mark)
    assert not set(first) - {prefix + INGEST_MARKER} & set(second), "an object was sent twice"
    assert names_below(storage, prefix) == referenced(storage, prefix)
    assert not list(work.iterdir())


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("full_hd", media)
    work = tmp_path / "work"
    oci.server.inject(Fault("slow", method="PUT", path_contains="/o/HD/", delay=0.4, times=1000))
    mark = oci.server.mark()
    process = start_ingest([*map(str, bucket_flags(oci, work)), "--folder", "HD", str(clip)])
    try:
        wait_until(lambda: len(successful_puts(oci, mark)) >= 3, "the upload never started", 120)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    # What was encoded is kept for the resumed run; nothing else is left in the work folder.
    (kept,) = list(work.iterdir())
    assert (kept / "encoded.json").is_file()


def test_a_storage_outage_is_one_sentence_and_nothing_half_visible(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("no_audio", media)
    oci.server.inject(Fault("status", method="PUT", path_contains=".ts", status=500, times=1000))
    result = run_ingest(*bucket_flags(oci, tmp_path / "work"), "--folder", "Down", clip)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert "Run the same command again to resume" in line
    assert "Traceback" not in result.stderr
    assert "Down/no_audio.hls/output.m3u8" not in names_below(storage, "Down/")
    oci.server.clear_faults()
    run_ingest(*bucket_flags(oci, tmp_path / "work"), "--folder", "Down", clip, check=True)
    (video,) = [v for v in Library(storage, ttl=0).all_videos() if v.tab == "Down"]
    assert video.kind is Kind.HLS


def test_existing_bucket_objects_are_converted_and_replace_leaves_no_orphans(
    oci: LoopbackOci, storage: Storage, media: Path, tmp_path: Path
) -> None:
    clip = make_fixture("wmv", media)
    storage.upload("Events/Old tape.wmv", clip, "video/x-ms-wmv")
    run_ingest(*bucket_flags(oci, tmp_path / "w"), "--all-unplayable", check=True)
    prefix = "Events/Old tape.hls/"
    assert names_below(storage, prefix) == referenced(storage, prefix)
    refused = run_ingest(*bucket_flags(oci, tmp_path / "w"), "--existing", "Events/Old tape.wmv")
    assert refused.returncode == 1 and "--replace" in refused.stderr
    storage.write(prefix + "stale/old.ts", b"left from an older layout", "video/mp2t")
    run_ingest(
        *bucket_flags(oci, tmp_path / "w"), "--existing", "Events/Old tape.wmv", "--replace",
        "--delete-original", check=True,
    )  # fmt: skip
    assert names_below(storage, prefix) == referenced(storage, prefix)
    assert "Events/Old tape.wmv" not in names_below(storage, "Events/")
