"""Conditional writes of small objects (the compare-and-swap job records are claimed with), on
the local folder and on OCI through the real SDK against the loopback server, alike."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import oci as oci_sdk
import pytest

from lib.storage import Conflict, NotFound, Storage, Unavailable
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage
from lib.storage.oci_auth import translate
from tests.conftest import REPO, LoopbackOci
from tests.loopback import open_test_bucket
from tests.oci_server import Fault
from tests.threads import at_once

BUCKET = "conditional-writes"  # its own bucket: the fixture library's stays as other tests expect
JSON = "application/json"
THREADS = 8
INCREMENTS = 5  # per thread
PROCESSES = 3


@pytest.fixture(params=["local", "oci"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path)
    return open_test_bucket(request.getfixturevalue("oci"), BUCKET)


@pytest.fixture
def name() -> str:
    return f"jobs/{uuid.uuid4().hex}.json"


def increment(storage: Storage, name: str, times: int) -> int:
    """Add one to the counter in `name` `times` times, re-reading after each lost race;
    return how many conditional writes that took."""
    attempts = 0
    for _ in range(times):
        while True:
            data, version = storage.read_versioned(name)
            attempts += 1
            try:
                storage.write_if(name, b"%d" % (int(data) + 1), JSON, version=version)
            except Conflict:
                continue
            break
    return attempts


def increment_in_process(root: str, name: str, times: int) -> None:
    """`increment` from a process of its own (it imports this module)."""
    increment(LocalStorage(Path(root)), name, times)


def puts_of(oci: LoopbackOci, name: str, mark: int) -> int:
    """How many PUTs of object `name` the loopback server received since `mark`."""
    return sum(1 for seen in oci.server.since(mark) if seen.method == "PUT" and name in seen.path)


# ----- one writer -----


def test_create_if_absent_succeeds_once(storage, name):
    version = storage.write_if(name, b"first", JSON, version=None)
    with pytest.raises(Conflict):
        storage.write_if(name, b"again", JSON, version=None)
    assert storage.read_versioned(name) == (b"first", version)


def test_writing_at_the_current_version_returns_a_new_version(storage, name):
    first = storage.write_if(name, b"one", JSON, version=None)
    # Same size, written at once: a version from mtime and size could not tell them apart.
    second = storage.write_if(name, b"two", JSON, version=first)
    assert second != first
    assert storage.read_versioned(name) == (b"two", second)
    assert storage.write_if(name, b"six", JSON, version=second) not in (first, second)


def test_a_stale_version_is_a_conflict_and_leaves_the_content(storage, name):
    first = storage.write_if(name, b"one", JSON, version=None)
    second = storage.write_if(name, b"two", JSON, version=first)
    with pytest.raises(Conflict):
        storage.write_if(name, b"old", JSON, version=first)
    assert storage.read_versioned(name) == (b"two", second)


def test_delete_if_needs_the_current_version(storage, name):
    first = storage.write_if(name, b"one", JSON, version=None)
    second = storage.write_if(name, b"two", JSON, version=first)
    with pytest.raises(Conflict):
        storage.delete_if(name, version=first)
    assert storage.read_versioned(name) == (b"two", second)
    storage.delete_if(name, version=second)
    with pytest.raises(NotFound):
        storage.read_versioned(name)
    with pytest.raises(NotFound):
        storage.delete_if(name, version=second)


def test_a_missing_object_is_not_found_and_writing_it_at_a_version_conflicts(storage, name):
    with pytest.raises(NotFound):
        storage.read_versioned(name)
    with pytest.raises(Conflict):  # it was removed since that version was read
        storage.write_if(name, b"{}", JSON, version="0123456789abcdef")
    with pytest.raises(NotFound):
        storage.delete_if(name, version="0123456789abcdef")
    version = storage.write_if(name, b"{}", JSON, version=None)
    assert storage.read_versioned(name) == (b"{}", version)


# ----- racing writers -----


def test_of_8_threads_creating_one_object_exactly_one_wins(storage, name):
    results = at_once(
        THREADS, lambda index: storage.write_if(name, b"%d" % index, JSON, version=None)
    )
    winners = [index for index, result in enumerate(results) if isinstance(result, str)]
    assert len(winners) == 1, results
    assert all(isinstance(result, Conflict) for result in results if not isinstance(result, str))
    assert storage.read_versioned(name) == (b"%d" % winners[0], results[winners[0]])


def test_8_threads_incrementing_a_counter_lose_no_update(storage, name):
    storage.write_if(name, b"0", JSON, version=None)
    results = at_once(THREADS, lambda _: increment(storage, name, INCREMENTS))
    assert all(isinstance(result, int) for result in results), results
    assert storage.read_versioned(name)[0] == b"%d" % (THREADS * INCREMENTS)


def test_processes_incrementing_a_counter_in_a_folder_lose_no_update(tmp_path, name):
    storage = LocalStorage(tmp_path)
    storage.write_if(name, b"0", JSON, version=None)
    # Processes of their own, started afresh (a spawned multiprocessing child would re-run
    # whatever module the test session has as __main__).
    child = (
        "import sys; from tests.test_storage_conditional import increment_in_process; "
        "increment_in_process(sys.argv[1], sys.argv[2], int(sys.argv[3]))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", child, str(tmp_path), name, str(2 * INCREMENTS)], cwd=REPO
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.wait(60)
    assert [process.returncode for process in processes] == [0] * PROCESSES
    assert storage.read_versioned(name)[0] == b"%d" % (PROCESSES * 2 * INCREMENTS)
    assert sorted(path.name for path in tmp_path.rglob(".*")) == []  # no hidden file left


# ----- the local folder -----


def test_a_conditional_write_keeps_to_the_folder(tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "outside.json").write_bytes(b"{}")
    storage = LocalStorage(tmp_path / "library")
    for name in ("../outside.json", "/etc/passwd", "a/../../outside.json"):
        with pytest.raises(NotFound):
            storage.read_versioned(name)
        with pytest.raises(NotFound):
            storage.write_if(name, b"x", JSON, version=None)
        with pytest.raises(NotFound):
            storage.delete_if(name, version="x")
    assert (tmp_path / "outside.json").read_bytes() == b"{}"


def test_a_writer_whose_file_was_replaced_while_it_waited_locks_the_new_one(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    version = storage.write_if("job.json", b"a", JSON, version=None)
    real_flock = fcntl.flock
    locked: list[int] = []
    replaced: list[int] = []

    def flock(descriptor: int, operation: int) -> None:
        if not replaced:
            # While this writer waits for the lock, others write "b" and then "a" again: the
            # content is back at its version, but the file it opened is no longer at the path.
            replaced.append(0)
            middle = storage.write_if("job.json", b"b", JSON, version=version)
            storage.write_if("job.json", b"a", JSON, version=middle)
            replaced.append(os.stat(tmp_path / "job.json").st_ino)
        real_flock(descriptor, operation)
        locked.append(os.fstat(descriptor).st_ino)

    monkeypatch.setattr(fcntl, "flock", flock)
    storage.write_if("job.json", b"c", JSON, version=version)
    assert locked[-1] == replaced[-1]  # it started over on the file at the path
    assert storage.read_versioned("job.json")[0] == b"c"


def test_a_folder_where_an_object_would_be_is_no_object(tmp_path):
    (tmp_path / "jobs" / "a.json").mkdir(parents=True)
    storage = LocalStorage(tmp_path)
    with pytest.raises(Conflict):
        storage.write_if("jobs/a.json", b"{}", JSON, version=None)
    with pytest.raises(NotFound):
        storage.delete_if("jobs/a.json", version="x")
    assert (tmp_path / "jobs" / "a.json").is_dir()


# ----- OCI: what the SDK sends -----


@pytest.fixture
def bucket(oci: LoopbackOci) -> Iterator[OciStorage]:
    oci.server.clear_faults()
    yield open_test_bucket(oci, BUCKET)
    oci.server.clear_faults()


def test_oci_sends_one_put_per_attempt_when_threads_race(oci, bucket, name, caplog):
    bucket.write_if(name, b"0", JSON, version=None)
    mark = oci.server.mark()
    results = at_once(THREADS, lambda _: increment(bucket, name, INCREMENTS))
    assert bucket.read_versioned(name)[0] == b"%d" % (THREADS * INCREMENTS)
    attempts = sum(result for result in results if isinstance(result, int))
    assert attempts > THREADS * INCREMENTS  # they did race (about 5 tries an increment)
    assert puts_of(oci, name, mark) == attempts
    lost = [
        s
        for s in oci.server.since(mark)
        if s.method == "PUT" and s.status == 412 and name in s.path
    ]
    assert len(lost) == attempts - THREADS * INCREMENTS
    assert not [record for record in caplog.records if record.levelname == "WARNING"]


def test_oci_conditional_requests_carry_the_etag(oci, bucket, name):
    version = bucket.write_if(name, b"one", JSON, version=None)
    assert version == oci.server.buckets[BUCKET].objects[name].etag
    assert bucket.stat(name).etag == version
    assert bucket.read_versioned(name) == (b"one", version)


def test_an_oci_conditional_write_is_not_retried_after_a_5xx(oci, bucket, name):
    # The 500 may have come after the write: a retry would meet it and report a lost race.
    first = bucket.write_if(name, b"one", JSON, version=None)
    mark = oci.server.mark()
    oci.server.inject(Fault("status", method="PUT", path_contains=name, status=500))
    with pytest.raises(Unavailable):
        bucket.write_if(name, b"two", JSON, version=first)
    assert puts_of(oci, name, mark) == 1
    oci.server.inject(Fault("status", method="DELETE", path_contains=name, status=503))
    with pytest.raises(Unavailable):
        bucket.delete_if(name, version=first)
    assert bucket.read_versioned(name) == (b"one", first)


@pytest.mark.parametrize(
    ("status", "code"),
    [(412, "IfMatchFailed"), (412, "IfNoneMatchFailed"), (409, "IfNoneMatchFailed")],
)
def test_a_failed_oci_precondition_is_a_conflict(status, code):
    error = oci_sdk.exceptions.ServiceError(status, code, {}, "The If-Match header is ...")
    translated = translate(error, "'jobs/a.json' in bucket b", "https://os.example")
    assert isinstance(translated, Conflict)
    assert str(translated) == "'jobs/a.json' in bucket b changed since it was read; read it again."


def test_the_loopback_server_answers_lost_races_as_oci_does(oci, bucket, name):
    client = bucket.client
    namespace = bucket.namespace
    put = client.put_object(namespace, BUCKET, name, b"one", if_none_match="*")
    etag = put.headers["etag"]
    for kwargs, expected in [
        ({"if_none_match": "*"}, "IfNoneMatchFailed"),
        ({"if_match": "stale"}, "IfMatchFailed"),
    ]:
        with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
            client.put_object(namespace, BUCKET, name, b"two", **kwargs)
        assert (caught.value.status, caught.value.code) == (412, expected)
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        client.delete_object(namespace, BUCKET, name, if_match="stale")
    assert (caught.value.status, caught.value.code) == (412, "IfMatchFailed")
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        client.head_object(namespace, BUCKET, name, if_match="stale")
    assert caught.value.status == 412
    assert client.head_object(namespace, BUCKET, name, if_match=etag).status == 200
    client.delete_object(namespace, BUCKET, name, if_match=etag)
