"""The tus upload route over HTTP: discovery, creation, chunks, resume, limits, expiry,
termination, who may upload, and memory that does not grow with the file.

Most tests serve the route with Starlette's client over a staging folder of their own; the
ones about real connections (one dropped mid-body, one that stalls, two at once, a 1 GiB
body) talk to the route served by uvicorn in a child process (tests/upload_server.py).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from lib.staging import UPLOAD_SCOPE, StagedUpload, Staging
from lib.web.uploads import NOT_ADMIN, UploadEndpoint, parse_metadata, upload_routes
from tests.conftest import FakeClock
from tests.upload_server import (
    ADMINS,
    MEDIA_SIGNER,
    MIB,
    SIGNER,
    VIEWER,
    RssSampler,
    TusClient,
    UploadServer,
    encode,
    pattern,
    tus,
    upload_server,
    upload_token,
)

LIMIT = 20 * 10**9
DAY = 86400
OFFSET_STREAM = "application/offset+octet-stream"
LOCATION = re.compile(r"/upload/([A-Za-z0-9_-]{22})")
TOKEN = upload_token("admin")


def staged_files(staging: Staging) -> list[str]:
    """The names in the staging folder (made by the first upload), sorted."""
    return sorted(p.name for p in staging.root.iterdir()) if staging.root.is_dir() else []


class Completions:
    """The `on_complete` of the tests: records each upload handed off."""

    def __init__(self) -> None:
        self.uploads: list[StagedUpload] = []
        self.called = threading.Event()

    def __call__(self, upload: StagedUpload) -> None:
        self.uploads.append(upload)
        self.called.set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def staging(tmp_path: Path, clock: FakeClock) -> Staging:
    return Staging(tmp_path / "staging", max_bytes=LIMIT, clock=clock)


@pytest.fixture
def completions() -> Completions:
    return Completions()


def serve(staging: Staging, completions: Completions, base: str = "") -> TestClient:
    endpoint = UploadEndpoint(
        staging, SIGNER, is_admin=ADMINS.__contains__, on_complete=completions, base=base
    )
    return TestClient(Starlette(routes=upload_routes(endpoint)))


@pytest.fixture
def client(staging: Staging, completions: Completions) -> Iterator[TestClient]:
    with serve(staging, completions) as client:
        yield client


def create(client: TestClient, length: int, token: str = TOKEN, **metadata: str) -> tuple[str, str]:
    """Make an upload; return its path and id."""
    pairs = {"filename": "Holiday.MOV", **metadata}
    response = client.post(
        "/upload/",
        headers=tus(token, Upload_Length=str(length), Upload_Metadata=encode(pairs)),
    )
    assert response.status_code == 201, response.text
    found = LOCATION.fullmatch(response.headers["location"])
    assert found is not None
    return found.group(0), found.group(1)


def patch(client: TestClient, path: str, offset: int, body: bytes, token: str = TOKEN):
    headers = tus(token, Upload_Offset=str(offset), Content_Type=OFFSET_STREAM)
    return client.patch(path, content=body, headers=headers)


def wait_for_hand_offs() -> None:
    """Wait for the endpoint's hand-off threads (named upload-<id>) to end."""
    for thread in threading.enumerate():
        if thread.name.startswith("upload-"):
            thread.join(10)


# ----- discovery and creation -----


def test_options_says_what_the_server_supports_without_a_token(client):
    response = client.options("/upload/")
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-extension"] == "creation,termination,expiration"
    assert response.headers["tus-max-size"] == str(LIMIT)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.options("/upload/" + "A" * 22).status_code == 204


def test_creation_answers_201_with_the_location_and_when_it_expires(client, staging, clock):
    response = client.post(
        "/upload/",
        headers=tus(TOKEN, Upload_Length="1000", Upload_Metadata=encode({"filename": "a.mp4"})),
    )
    assert response.status_code == 201
    found = LOCATION.fullmatch(response.headers["location"])
    assert found is not None
    assert response.headers["upload-expires"] == formatdate(clock.now + DAY, usegmt=True)
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.headers["cache-control"] == "no-store"
    upload = staging.get(found.group(1), "admin")
    assert (upload.length, upload.filename, upload.metadata) == (
        1000,
        "a.mp4",
        {"filename": "a.mp4"},
    )
    assert upload.path.stat().st_size == 0
    assert upload.path.with_suffix(".json").exists()


def test_the_location_starts_with_the_apps_base_path(staging, completions):
    with serve(staging, completions, base="/family") as client:
        response = client.post(
            "/upload/",
            headers=tus(TOKEN, Upload_Length="10", Upload_Metadata=encode({"filename": "a"})),
        )
    assert response.status_code == 201
    assert re.fullmatch(r"/family/upload/[A-Za-z0-9_-]{22}", response.headers["location"])


def test_creation_without_a_file_name_or_length_is_400(client):
    no_name = client.post("/upload/", headers=tus(TOKEN, Upload_Length="10"))
    assert no_name.status_code == 400
    assert no_name.text == "Upload-Metadata must name the file (filename)."
    no_length = client.post(
        "/upload/", headers=tus(TOKEN, Upload_Metadata=encode({"filename": "a"}))
    )
    assert no_length.status_code == 400
    deferred = client.post(
        "/upload/",
        headers=tus(TOKEN, Upload_Defer_Length="1", Upload_Metadata=encode({"filename": "a"})),
    )
    assert deferred.status_code == 400
    assert "Upload-Defer-Length is not supported" in deferred.text
    negative = client.post(
        "/upload/",
        headers=tus(TOKEN, Upload_Length="-1", Upload_Metadata=encode({"filename": "a"})),
    )
    assert negative.status_code == 400


def test_metadata_is_read_leniently_but_refused_when_it_is_not_base64():
    assert parse_metadata("filename YS5tcDQ=, folder SG9saWRheXM,empty,, filetype ") == {
        "filename": "a.mp4",
        "folder": "Holidays",
        "empty": "",
        "filetype": "",
    }
    assert parse_metadata("filename not*base64") is None
    assert parse_metadata("caf\u00e9 YQ==") is None
    assert parse_metadata("k YQ==," * 5000) is None


# ----- chunks, completion and resume -----


def test_two_chunks_then_head_shows_the_offset(client, clock):
    path, _ = create(client, 10)
    first = patch(client, path, 0, b"01234")
    assert first.status_code == 204
    assert first.headers["upload-offset"] == "5"
    assert first.headers["tus-resumable"] == "1.0.0"
    clock.now += 60
    second = patch(client, path, 5, b"567")
    assert second.status_code == 204
    assert second.headers["upload-offset"] == "8"
    assert second.headers["upload-expires"] == formatdate(clock.now + DAY, usegmt=True)
    head = client.head(path, headers=tus(TOKEN))
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "8"
    assert head.headers["upload-length"] == "10"
    assert head.headers["upload-expires"] == formatdate(clock.now + DAY, usegmt=True)
    assert head.headers["cache-control"] == "no-store"
    assert head.headers["tus-resumable"] == "1.0.0"


def test_the_last_chunk_hands_the_upload_to_on_complete_once(client, completions, caplog):
    caplog.set_level("INFO", logger="homemovies")
    data = bytes(range(256)) * 40
    path, upload_id = create(client, len(data), filename="Beach.mov", folder="Holidays")
    assert patch(client, path, 0, data[:4000]).status_code == 204
    assert not completions.called.is_set()
    last = patch(client, path, 4000, data[4000:])
    assert last.status_code == 204
    assert last.headers["upload-offset"] == str(len(data))
    assert completions.called.wait(10)
    assert patch(client, path, len(data), b"").status_code == 204  # a client asking again
    wait_for_hand_offs()
    [upload] = completions.uploads
    assert upload.id == upload_id
    assert upload.user == "admin"
    assert upload.complete
    assert upload.metadata == {"filename": "Beach.mov", "folder": "Holidays"}
    assert upload.filename == "Beach.mov"
    assert upload.path.read_bytes() == data
    assert TOKEN not in caplog.text
    assert TOKEN.split(".")[1] not in caplog.text


def test_an_empty_file_is_handed_off_at_creation(client, completions):
    _, upload_id = create(client, 0)
    assert completions.called.wait(10)
    assert [upload.id for upload in completions.uploads] == [upload_id]


def test_a_patch_at_the_wrong_offset_is_409(client):
    path, _ = create(client, 10)
    assert patch(client, path, 0, b"abc").status_code == 204
    response = patch(client, path, 1, b"bcd")
    assert response.status_code == 409
    assert response.headers["upload-offset"] == "3"
    assert response.headers["tus-resumable"] == "1.0.0"
    assert response.text == "This upload stands at byte 3, not 1; ask where to resume."


def test_a_body_longer_than_what_is_left_is_413_and_writes_nothing(client):
    path, _ = create(client, 4)
    response = patch(client, path, 0, b"too long")
    assert response.status_code == 413
    assert client.head(path, headers=tus(TOKEN)).headers["upload-offset"] == "0"


def test_a_body_without_a_length_that_goes_past_the_end_is_413(client):
    path, _ = create(client, 4)
    headers = tus(TOKEN, Upload_Offset="0", Content_Type=OFFSET_STREAM)
    response = client.patch(path, content=iter([b"ab", b"cdef"]), headers=headers)  # chunked
    assert response.status_code == 413
    assert int(client.head(path, headers=tus(TOKEN)).headers["upload-offset"]) <= 4


def test_a_patch_that_is_not_an_offset_stream_is_415(client):
    path, _ = create(client, 10)
    response = client.patch(
        path,
        content=b"abc",
        headers=tus(TOKEN, Upload_Offset="0", Content_Type="application/octet-stream"),
    )
    assert response.status_code == 415
    assert response.headers["tus-resumable"] == "1.0.0"


def test_a_request_without_tus_resumable_is_412(client):
    response = client.post(
        "/upload/",
        headers={"X-Homemovies-Upload": TOKEN, "Upload-Length": "10"},
    )
    assert response.status_code == 412
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"
    path, _ = create(client, 10)
    old = client.head(path, headers={"X-Homemovies-Upload": TOKEN, "Tus-Resumable": "0.2.2"})
    assert old.status_code == 412


# ----- limits -----


def test_a_file_over_the_limit_is_413_with_the_sentence(client, staging):
    response = client.post(
        "/upload/",
        headers=tus(
            TOKEN, Upload_Length=str(25 * 10**9), Upload_Metadata=encode({"filename": "a"})
        ),
    )
    assert response.status_code == 413
    assert response.text == "This file is 25.0 GB; uploads are limited to 20 GB (--max_upload_gb)."
    assert response.headers["tus-resumable"] == "1.0.0"
    assert staged_files(staging) == []


def test_a_file_bigger_than_the_free_disk_is_507(tmp_path, completions):
    staging = Staging(tmp_path / "big", max_bytes=10**18)
    length = shutil.disk_usage(tmp_path).free + 10**12
    with serve(staging, completions) as client:
        response = client.post(
            "/upload/",
            headers=tus(
                TOKEN, Upload_Length=str(length), Upload_Metadata=encode({"filename": "a"})
            ),
        )
    assert response.status_code == 507
    assert response.text.startswith("The server has ")
    assert response.text.endswith(
        "free for uploads and this file needs "
        f"{length / 1e9:.1f} GB; free some space there and try again."
    )
    assert staged_files(staging) == []


# ----- expiry and termination -----


def test_an_expired_upload_is_swept_by_the_next_creation(client, staging, clock):
    path, upload_id = create(client, 10)
    assert patch(client, path, 0, b"abc").status_code == 204
    upload = staging.get(upload_id, "admin")
    clock.now += DAY + 1
    assert client.head(path, headers=tus(TOKEN)).status_code == 404
    _, kept = create(client, 10)
    assert not upload.path.exists()
    assert not upload.path.with_suffix(".json").exists()
    assert staged_files(staging) == [f"{kept}.json", f"{kept}.part"]


def test_delete_removes_the_upload(client, staging):
    path, _ = create(client, 10)
    assert patch(client, path, 0, b"abc").status_code == 204
    response = client.delete(path, headers=tus(TOKEN))
    assert response.status_code == 204
    assert response.headers["tus-resumable"] == "1.0.0"
    assert staged_files(staging) == []
    assert client.head(path, headers=tus(TOKEN)).status_code == 404
    assert patch(client, path, 3, b"d").status_code == 404


# ----- who may upload -----


def test_a_viewers_valid_token_is_403(client, staging):
    response = client.post(
        "/upload/",
        headers=tus(
            upload_token(VIEWER), Upload_Length="10", Upload_Metadata=encode({"filename": "a"})
        ),
    )
    assert response.status_code == 403
    assert response.text == NOT_ADMIN
    assert response.headers["tus-resumable"] == "1.0.0"
    assert staged_files(staging) == []


def test_a_token_signed_with_another_key_is_403(client):
    forged = [
        MEDIA_SIGNER.issue(UPLOAD_SCOPE, "admin", 600),  # the media key, as a share holder has
        MEDIA_SIGNER.issue("Years/2024.mp4", "admin", 600),
        SIGNER.issue("Years/2024.mp4", "admin", 600),  # the right key, another scope
        SIGNER.issue(UPLOAD_SCOPE, "admin", -1),  # expired
    ]
    for token in forged:
        response = client.post(
            "/upload/",
            headers=tus(token, Upload_Length="10", Upload_Metadata=encode({"filename": "a"})),
        )
        assert response.status_code == 403, token
        assert "invalid or has expired" in response.text


def test_no_token_is_403(client):
    path, _ = create(client, 10)
    for method in ("POST", "HEAD", "PATCH", "DELETE"):
        url = "/upload/" if method == "POST" else path
        response = client.request(method, url, headers=tus(None, Upload_Length="10"))
        assert response.status_code == 403, method


def test_another_admins_upload_is_404(client, staging):
    path, upload_id = create(client, 10)
    ann = upload_token("ann")
    assert client.head(path, headers=tus(ann)).status_code == 404
    assert patch(client, path, 0, b"abc", token=ann).status_code == 404
    assert client.delete(path, headers=tus(ann)).status_code == 404
    assert staging.offset(staging.get(upload_id, "admin")) == 0


def test_an_id_that_is_not_one_is_404(client):
    for path in ("/upload/..%2F..%2Fetc%2Fpasswd", "/upload/short", "/upload/" + "A" * 22):
        assert client.head(path, headers=tus(TOKEN)).status_code == 404, path


# ----- real connections, served by uvicorn in a child process -----


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[UploadServer]:
    staging = tmp_path_factory.mktemp("served") / "staging"
    with upload_server(staging, idle_seconds=2.0) as server:
        yield server


def ready_at(server: UploadServer, path: str, timeout: float = 10) -> int:
    """Poll as tus-js-client does after an error: HEAD, then an empty PATCH from there,
    until the upload is free (no 423) and at the offset HEAD said; return that offset."""
    client = server.client()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            offset = client.offset(path)
            if client.patch(path, offset, 0, []).status == 204:
                return offset
            time.sleep(0.01)
    finally:
        client.close()
    raise AssertionError(f"{path} stayed busy for {timeout} s")


def wait_for_offset(client: TusClient, path: str, offset: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while client.offset(path) != offset:
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not reach byte {offset} within {timeout} s")
        time.sleep(0.01)


def test_a_dropped_patch_keeps_what_arrived_and_resumes(server):
    size = 6 * MIB
    source = b"".join(pattern(size, seed=1))
    client = server.client()
    path = client.create(size, "Dropped.mov")
    client.send_patch(path, 0, size, [source[: size // 2]])  # then the signal goes
    client.drop()
    offset = ready_at(server, path)
    staged = server.staging / (path.rsplit("/", 1)[1] + ".part")
    # What uvicorn had read but not yet handed over when the connection went may be lost.
    assert size // 2 - MIB <= offset <= size // 2
    assert staged.read_bytes() == source[:offset]
    resumed = server.client()
    answer = resumed.patch(path, offset, size - offset, [source[offset:]])
    assert answer.status == 204
    assert answer.headers["upload-offset"] == str(size)
    assert server.completion(path.rsplit("/", 1)[1])["length"] == size
    assert staged.read_bytes() == source


def test_a_second_patch_while_one_is_running_is_423(server):
    client = server.client()
    path = client.create(2 * MIB, "Twice.mov")
    client.send_patch(path, 0, 2 * MIB, [b"x" * MIB])
    other = server.client()
    wait_for_offset(other, path, MIB)  # the first PATCH holds the upload
    answer = other.patch(path, MIB, 1024, [b"y" * 1024])
    assert answer.status == 423
    assert answer.headers["tus-resumable"] == "1.0.0"
    client.connection.send(b"x" * MIB)
    assert client.answer().status == 204
    assert server.client().offset(path) == 2 * MIB


def test_a_stalled_patch_lets_its_upload_go_after_the_idle_time(server):
    client = server.client()
    path = client.create(2 * MIB, "Stalled.mov")
    client.send_patch(path, 0, 2 * MIB, [b"x" * MIB])  # then nothing, the socket open
    assert ready_at(server, path) == MIB
    stalled = client.answer()
    assert stalled.status == 408
    assert stalled.headers["upload-offset"] == str(MIB)


def test_memory_stays_flat_over_a_1_gib_upload(server):
    size = 1024 * MIB
    warm = server.client()
    warm_path = warm.create(8 * MIB)
    assert warm.patch(warm_path, 0, 8 * MIB, pattern(8 * MIB)).status == 204
    client = server.client()
    path = client.create(size, "Big.mov")
    sent = hashlib.sha256()

    def pieces() -> Iterator[bytes]:
        for piece in pattern(size, seed=2):
            sent.update(piece)
            yield piece

    with RssSampler(server.pid) as rss:
        answer = client.patch(path, 0, size, pieces())
    assert answer.status == 204
    assert rss.samples > 10
    assert rss.growth < 50e6, f"the server grew by {rss.growth / 1e6:.0f} MB"
    staged = server.staging / (path.rsplit("/", 1)[1] + ".part")
    assert staged.stat().st_size == size
    with staged.open("rb") as handle:
        assert hashlib.file_digest(handle, "sha256").hexdigest() == sent.hexdigest()
    staged.unlink()
