"""Writing big objects: `upload`, `matches` and `abort_uploads` of both backends, the OCI one
through the real `oci` SDK against the loopback OCI server (multipart uploads, retried parts,
content types and tiers), and what an upload costs in memory."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import tracemalloc
from pathlib import Path

import pytest
from oci.object_storage.models import CreateMultipartUploadDetails

from lib.services import build_storage
from lib.storage import Unavailable
from lib.storage.appstate import state_name, write_json
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage
from lib.storage.oci_auth import load_auth, object_storage_client
from tests.loopback import settings_for
from tests.oci_server import Fault

BUCKET = "uploads"
MIB = 1024 * 1024


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """Write `size` reproducible random bytes to `path`, a MiB at a time."""
    generator = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for offset in range(0, size, MIB):
            handle.write(generator.randbytes(min(MIB, size - offset)))
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` zero bytes that takes no disk space to make."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@pytest.fixture
def storage(oci) -> OciStorage:
    """The uploads bucket with 1 MiB parts, so a file of a few MiB goes in several."""
    oci.server.bucket(BUCKET)
    auth = load_auth(settings_for(oci, BUCKET).oci_credentials)
    return OciStorage(
        object_storage_client(auth, oci.url),
        BUCKET,
        part_size=MIB,
        upload_client=object_storage_client(auth, oci.url, retries=False),
    )


@pytest.fixture(autouse=True)
def no_faults_left(oci):
    oci.server.clear_faults()
    yield
    oci.server.clear_faults()


def stored(oci, name: str):
    return oci.server.bucket(BUCKET).objects[name]


def content(storage, name: str) -> bytes:
    info = storage.stat(name)
    return b"".join(storage.read(name, 0, info.size - 1))


def part_puts(seen, name: str) -> list:
    return [s for s in seen if s.method == "PUT" and s.path.endswith(f"/u/{name}")]


def operation(seen) -> str:
    """Which Object Storage operation a logged request was."""
    path = seen.path
    if path.rstrip("/") == "/n":
        return "namespace"
    if path.endswith(f"/b/{BUCKET}/u"):
        return {"POST": "create", "GET": "list uploads"}[seen.method]
    if f"/b/{BUCKET}/u/" in path:
        return {"PUT": "part", "POST": "commit", "DELETE": "abort", "GET": "parts"}[seen.method]
    return f"{seen.method} object" if "/o/" in path else seen.method


def unfinished(oci) -> list[str]:
    return sorted(upload.name for upload in oci.server.bucket(BUCKET).uploads.values())


# ----- OCI -----


def test_a_file_of_several_parts_arrives_whole_with_its_type_and_tier(oci, storage, tmp_path):
    source = random_file(tmp_path / "clip.ts", 3 * MIB + 12_345)
    sent: list[int] = []
    mark = oci.server.mark()
    storage.upload(
        "Parts/clip.ts", source, "video/mp2t", tier="InfrequentAccess", progress=sent.append
    )
    seen = [s for s in oci.server.since(mark) if operation(s) != "namespace"]
    assert [(operation(s), s.status) for s in seen] == [
        ("create", 200),
        *[("part", 200)] * 4,
        ("commit", 200),
    ]
    puts = part_puts(seen, "Parts/clip.ts")
    assert [p.query["uploadPartNum"] for p in puts] == ["1", "2", "3", "4"]
    assert [p.request_bytes for p in puts] == [MIB, MIB, MIB, 12_345]
    assert sent == [MIB, MIB, MIB, 12_345]
    assert content(storage, "Parts/clip.ts") == source.read_bytes()
    assert stored(oci, "Parts/clip.ts").content_type == "video/mp2t"
    assert stored(oci, "Parts/clip.ts").tier == "InfrequentAccess"
    assert storage.stat("Parts/clip.ts").md5.endswith("-4")
    assert storage.matches("Parts/clip.ts", source)
    assert unfinished(oci) == []


def test_a_changed_file_no_longer_matches(oci, storage, tmp_path):
    source = random_file(tmp_path / "clip.ts", 2 * MIB + 1, seed=1)
    storage.upload("Changed/clip.ts", source, "video/mp2t")
    assert storage.matches("Changed/clip.ts", source)
    data = bytearray(source.read_bytes())
    data[MIB + 7] ^= 0xFF  # same size, one byte in the second part
    source.write_bytes(bytes(data))
    assert not storage.matches("Changed/clip.ts", source)
    source.write_bytes(bytes(data[:-1]))
    assert not storage.matches("Changed/clip.ts", source)
    assert not storage.matches("Changed/never-uploaded.ts", source)


def test_a_small_file_goes_as_one_put_with_its_md5(oci, storage, tmp_path):
    source = random_file(tmp_path / "poster.jpg", 300_000, seed=2)
    sent: list[int] = []
    mark = oci.server.mark()
    storage.upload("Small/poster.jpg", source, "image/jpeg", progress=sent.append)
    seen = oci.server.since(mark)
    assert [(s.method, s.status, s.request_bytes) for s in seen if "/Small/" in s.path] == [
        ("PUT", 200, 300_000)
    ]
    assert [operation(s) for s in seen if operation(s) != "namespace"] == ["PUT object"]
    assert sent == [300_000]
    info = storage.stat("Small/poster.jpg")
    assert info.md5 == md5_of(source.read_bytes())
    assert stored(oci, "Small/poster.jpg").content_type == "image/jpeg"
    assert stored(oci, "Small/poster.jpg").tier == "Standard"
    assert storage.matches("Small/poster.jpg", source)
    assert content(storage, "Small/poster.jpg") == source.read_bytes()


def test_a_file_of_exactly_one_part_goes_as_one_put_with_the_tier(oci, storage, tmp_path):
    source = random_file(tmp_path / "one.ts", MIB, seed=3)
    mark = oci.server.mark()
    storage.upload("One/one.ts", source, "video/mp2t", tier="Archive")
    assert [s.method for s in oci.server.since(mark) if "/One/" in s.path] == ["PUT"]
    assert stored(oci, "One/one.ts").tier == "Archive"
    assert storage.matches("One/one.ts", source)


def test_failed_parts_are_sent_again_whole_and_the_object_is_intact(oci, storage, tmp_path):
    name = "Retried/clip.ts"
    source = random_file(tmp_path / "clip.ts", 4 * MIB, seed=4)
    part = {"uploadPartNum": "2"}
    oci.server.inject(Fault("status", "PUT", f"/u/{name}", query=part, status=503))
    oci.server.inject(Fault("reset", "PUT", f"/u/{name}", query={"uploadPartNum": "3"}))
    oci.server.inject(Fault("status", "POST", f"/u/{name}", status=500))  # the commit
    mark = oci.server.mark()
    storage.upload(name, source, "video/mp2t")
    puts = part_puts(oci.server.since(mark), name)
    assert [(p.query["uploadPartNum"], p.status) for p in puts] == [
        ("1", 200),
        ("2", 503),
        ("2", 200),
        ("3", 0),  # the connection was reset without an answer
        ("3", 200),
        ("4", 200),
    ]
    assert all(p.request_bytes == MIB for p in puts), "every try carried its whole part"
    assert sum(p.request_bytes for p in puts if p.status == 200) == 4 * MIB
    commits = [s for s in oci.server.since(mark) if s.method == "POST" and name in s.path]
    assert [c.status for c in commits] == [500, 200]
    assert content(storage, name) == source.read_bytes()
    assert storage.matches(name, source)


def test_a_single_put_is_retried_with_its_whole_body(oci, storage, tmp_path):
    name = "Retried/poster.jpg"
    source = random_file(tmp_path / "poster.jpg", 200_000, seed=5)
    oci.server.inject(Fault("reset", "PUT", f"/o/{name}"))
    oci.server.inject(Fault("status", "PUT", f"/o/{name}", status=429))
    mark = oci.server.mark()
    storage.upload(name, source, "image/jpeg")
    puts = [s for s in oci.server.since(mark) if s.method == "PUT"]
    assert [(s.status, s.request_bytes) for s in puts] == [
        (0, 200_000),
        (429, 200_000),
        (200, 200_000),
    ]
    assert content(storage, name) == source.read_bytes()


def test_an_upload_that_keeps_failing_says_so_and_abort_uploads_clears_it(oci, storage, tmp_path):
    name = "Killed/clip.ts"
    source = random_file(tmp_path / "clip.ts", 3 * MIB, seed=6)
    parts = oci.server.inject(Fault("status", "PUT", f"/u/{name}", status=503, times=100))
    # OCI is down for the abort too, so the unfinished upload stays behind.
    oci.server.inject(Fault("status", "DELETE", f"/u/{name}", status=503))
    with pytest.raises(Unavailable) as caught:
        storage.upload(name, source, "video/mp2t")
    assert str(caught.value) == (
        f"OCI answered 503 ServiceUnavailable for '{name}' in bucket {BUCKET}; try again shortly."
    )
    assert parts.hits == 4  # the first part: one try and three retries
    assert name not in oci.server.bucket(BUCKET).objects
    assert unfinished(oci) == [name]
    oci.server.clear_faults()
    assert storage.abort_uploads("Other/") == 0
    assert storage.abort_uploads("Killed/") == 1
    assert unfinished(oci) == []
    assert storage.abort_uploads("Killed/") == 0


def test_a_refused_upload_is_aborted_at_once(oci, storage, tmp_path):
    name = "Refused/clip.ts"
    source = random_file(tmp_path / "clip.ts", 2 * MIB + 5, seed=7)
    fault = oci.server.inject(
        Fault("status", "PUT", f"/u/{name}", query={"uploadPartNum": "2"}, status=400)
    )
    with pytest.raises(Unavailable, match=r"^OCI answered 400 InvalidParameter for 'Refused/"):
        storage.upload(name, source, "video/mp2t")
    assert fault.hits == 1  # a 400 is not retried
    assert unfinished(oci) == []  # aborted, since OCI still answered


def test_abort_uploads_pages_through_the_unfinished_uploads(oci, storage):
    client, namespace = storage.client, oci.server.namespace
    for name in ["Page/a.ts", "Page/b.ts", "Keep/c.ts", "Page/d.ts", "Pages.txt"]:
        details = CreateMultipartUploadDetails(object=name)
        client.create_multipart_upload(namespace, BUCKET, details)
    oci.server.upload_page_size = 2
    mark = oci.server.mark()
    try:
        assert storage.abort_uploads("Page/") == 3
    finally:
        oci.server.upload_page_size = 1000
    listings = [s for s in oci.server.since(mark) if s.method == "GET" and s.path.endswith("/u")]
    assert [s.query.get("page") for s in listings] == [None, "2", "4"]
    assert unfinished(oci) == ["Keep/c.ts", "Pages.txt"]
    assert storage.abort_uploads("") == 2


def test_uploads_from_several_threads_at_once_all_arrive(oci, storage, tmp_path):
    sources = {
        f"Threads/clip{n}.ts": random_file(tmp_path / f"clip{n}.ts", MIB * n + 99, seed=10 + n)
        for n in range(4)
    }
    errors: list[BaseException] = []

    def send(name: str, path: Path) -> None:
        try:
            storage.upload(name, path, "video/mp2t")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=send, args=item) for item in sources.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for name, path in sources.items():
        assert content(storage, name) == path.read_bytes()


def test_write_stores_the_content_type_given(oci, storage):
    name = state_name("test-upload", "mum")
    write_json(storage, name, {"a": 1})
    assert stored(oci, name).content_type == "application/json"
    storage.write(".homemovies/test-upload/blob", b"\x00\x01")
    assert stored(oci, ".homemovies/test-upload/blob").content_type == "application/octet-stream"
    storage.write(".homemovies/test-upload/note.txt", b"hi", "text/plain")
    assert stored(oci, ".homemovies/test-upload/note.txt").content_type == "text/plain"
    assert storage.stat(".homemovies/test-upload/note.txt").md5 == md5_of(b"hi")


def test_the_storage_the_app_builds_can_upload(oci, tmp_path):
    oci.server.bucket(BUCKET)
    storage = build_storage(settings_for(oci, BUCKET))
    source = random_file(tmp_path / "clip.ts", 100_000, seed=8)
    storage.upload("Built/clip.ts", source, "video/mp2t")
    assert storage.matches("Built/clip.ts", source)


def traced_peak(run) -> int:
    """Return the most memory Python held at once (above what it held before) during `run`."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize("part_size", [64 * MIB, 16 * MIB])
def test_uploading_64_mib_to_oci_holds_no_video_in_memory(oci, tmp_path, part_size):
    oci.server.bucket(BUCKET)
    auth = load_auth(settings_for(oci, BUCKET).oci_credentials)
    storage = OciStorage(
        object_storage_client(auth, oci.url),
        BUCKET,
        part_size=part_size,
        upload_client=object_storage_client(auth, oci.url, retries=False),
    )
    source = sparse_file(tmp_path / "big.ts", 64 * MIB)
    storage.namespace  # noqa: B018 - asked before measuring
    peak = traced_peak(lambda: storage.upload("Memory/big.ts", source, "video/mp2t"))
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB held at once"
    assert stored(oci, "Memory/big.ts").size == 64 * MIB
    assert storage.matches("Memory/big.ts", source)


# ----- the local folder -----


def test_local_upload_copies_the_file_in_chunks_and_matches_it(tmp_path):
    (tmp_path / "library").mkdir()
    storage = LocalStorage(tmp_path / "library")
    source = random_file(tmp_path / "clip.ts", 2 * MIB + 3, seed=9)
    sent: list[int] = []
    storage.upload("Years/2025.hls/clip.ts", source, "video/mp2t", progress=sent.append)
    assert sent == [MIB, MIB, 3]
    target = tmp_path / "library" / "Years" / "2025.hls" / "clip.ts"
    assert target.read_bytes() == source.read_bytes()
    assert storage.matches("Years/2025.hls/clip.ts", source)
    assert storage.stat("Years/2025.hls/clip.ts").md5 is None
    data = bytearray(source.read_bytes())
    data[5] ^= 1
    source.write_bytes(bytes(data))
    assert not storage.matches("Years/2025.hls/clip.ts", source)
    assert not storage.matches("Years/2025.hls/missing.ts", source)
    assert not storage.matches("../clip.ts", source)
    assert [p.name for p in target.parent.iterdir()] == ["clip.ts"]  # no temporary file left


def test_local_abort_uploads_removes_only_orphaned_temporary_files_below_the_prefix(tmp_path):
    root = tmp_path / "library"
    (root / "Years" / "2025.hls").mkdir(parents=True)
    (root / "Other").mkdir()
    orphan = root / "Years" / "2025.hls" / ".clip.ts.4242.tmp"
    orphan.write_bytes(b"half a segment")
    keep = [
        root / "Years" / "2025.hls" / "clip.ts",
        root / "Years" / ".notes.tmp",  # not one of ours: no process id
        root / "Other" / ".clip.ts.4242.tmp",  # outside the prefix
    ]
    for path in keep:
        path.write_bytes(b"kept")
    storage = LocalStorage(root)
    assert storage.abort_uploads("Missing/") == 0
    assert storage.abort_uploads("Years/") == 1
    assert not orphan.exists()
    assert all(path.exists() for path in keep)
    assert storage.abort_uploads("Years/") == 0


def test_a_full_disk_is_a_clear_sentence(tmp_path):
    root = tmp_path / "library"
    (root / "Years").mkdir(parents=True)
    source = random_file(tmp_path / "clip.ts", 100_000, seed=11)
    # The temporary file the upload writes through is /dev/full: every write fails, ENOSPC.
    temporary = root / "Years" / f".clip.ts.{os.getpid()}.tmp"
    temporary.symlink_to("/dev/full")
    with pytest.raises(Unavailable) as caught:
        LocalStorage(root).upload("Years/clip.ts", source, "video/mp2t")
    assert str(caught.value) == (
        "The library folder is full (No space left on device); free some space and try again."
    )
    assert not (root / "Years" / "clip.ts").exists()
    assert not temporary.exists()


def test_uploading_64_mib_to_a_folder_holds_no_video_in_memory(tmp_path):
    (tmp_path / "library").mkdir()
    storage = LocalStorage(tmp_path / "library")
    source = sparse_file(tmp_path / "big.ts", 64 * MIB)
    peak = traced_peak(lambda: storage.upload("big.ts", source, "video/mp2t"))
    assert peak < 4 * MIB, f"{peak / MIB:.1f} MiB held at once"
    assert storage.matches("big.ts", source)
