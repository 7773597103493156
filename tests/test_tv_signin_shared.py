"""TV sign-in codes shared through the storage backend: replicas behind a load balancer (here,
two DeviceSignIns on one folder or one loopback OCI bucket) behave as one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.storage import Storage, StorageError
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage
from lib.tv_signin import (
    CLAIM_GRACE_SECONDS,
    CODE_SECONDS,
    MAX_PENDING,
    SWEEP_SECONDS,
    TV_PREFIX,
    DeviceSignIns,
    record_name,
)
from tests.conftest import REPO, FakeClock, LoopbackOci
from tests.loopback import empty_storage, open_test_bucket
from tests.oci_server import Fault
from tests.threads import at_once

THREADS = 8
PROCESSES = 2
ROUNDS = 20  # codes the processes race for

# A replica of its own: claims each "code secret" line it is sent, printing what it got.
CLAIMER = """
import json, sys
from pathlib import Path
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage
from lib.tv_signin import DeviceSignIns
sign_ins = DeviceSignIns(storage=LocalStorage(Path(sys.argv[1])))
print("ready", flush=True)
for line in sys.stdin:
    code, secret = line.split()
    print(json.dumps(sign_ins.claim(code, secret)), flush=True)
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["local", "oci"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return empty_storage(request, tmp_path, "tv-shared")


@pytest.fixture
def tv(backend, clock) -> DeviceSignIns:
    """The replica serving the TV's page."""
    return DeviceSignIns(clock=clock, storage=backend)


@pytest.fixture
def phone(backend, clock) -> DeviceSignIns:
    """Another replica, serving the phone that approves."""
    return DeviceSignIns(clock=clock, storage=backend)


def stored(storage: Storage) -> set[str]:
    """The names of the sign-in records in `storage`."""
    return {info.name for info in storage.scan(TV_PREFIX)}


def used_up(replica: DeviceSignIns, code: str, claim: str) -> bool:
    """Whether `code` is refused for everything on `replica`."""
    return (
        replica.pending(code) is None
        and not replica.approve(code, "mum")
        and replica.claim(code, claim) is None
        and not replica.waiting(code)
    )


# ----- one code across replicas -----


def test_started_on_one_replica_approved_on_another_claimed_on_the_first(tv, phone):
    request, claim = tv.start("Chrome 120 on Android")
    assert phone.pending(request.code) == request
    assert tv.claim(request.code, claim) is None  # not approved yet
    assert phone.approve(request.code, "mum")
    assert phone.pending(request.code) is None
    assert tv.pending(request.code) is None
    assert tv.waiting(request.code)
    assert tv.claim(request.code, claim) == "mum"


def test_a_claimed_code_is_refused_on_every_replica(tv, phone):
    request, claim = tv.start("TV")
    phone.approve(request.code, "mum")
    assert phone.claim(request.code, claim) == "mum"  # whichever replica the TV's poll reaches
    assert used_up(tv, request.code, claim)
    assert used_up(phone, request.code, claim)


def test_a_replayed_claim_gets_nothing(tv, phone):
    request, claim = tv.start("TV")
    phone.approve(request.code, "mum")
    assert tv.claim(request.code, claim) == "mum"
    assert tv.claim(request.code, claim) is None
    assert phone.claim(request.code, claim) is None
    assert not phone.approve(request.code, "dad")  # nor can it be approved afresh
    assert tv.claim(request.code, claim) is None


def test_only_the_claim_secret_of_the_showing_session_signs_in(tv, phone):
    request, claim = tv.start("TV")
    phone.approve(request.code, "mum")
    _, other_claim = phone.start("another TV")
    assert phone.claim(request.code, other_claim) is None
    assert tv.claim(request.code, "") is None
    assert phone.claim(request.code, claim) == "mum"


def test_codes_expire_on_every_replica(tv, phone, clock):
    request, claim = tv.start("TV")
    clock.now += CODE_SECONDS
    assert used_up(phone, request.code, claim)
    assert used_up(tv, request.code, claim)


def test_an_approval_in_the_last_seconds_still_lands_on_the_other_replica(tv, phone, clock):
    request, claim = tv.start("TV")
    clock.now += CODE_SECONDS - 1
    assert phone.approve(request.code, "mum")
    clock.now += CLAIM_GRACE_SECONDS - 1
    assert tv.claim(request.code, claim) == "mum"


def test_a_denial_on_one_replica_stops_the_code_on_the_other(tv, phone):
    request, claim = tv.start("TV")
    phone.deny(request.code)
    assert used_up(tv, request.code, claim)


def test_an_approved_code_denied_before_its_claim_signs_nobody_in(tv, phone):
    request, claim = tv.start("TV")
    phone.approve(request.code, "mum")
    phone.deny(request.code)
    assert tv.claim(request.code, claim) is None
    assert not tv.waiting(request.code)


# ----- races -----


def test_racing_claims_on_two_replicas_sign_in_once(tv, phone):
    for _ in range(5):
        request, claim = tv.start("TV")
        phone.approve(request.code, "mum")
        code = request.code
        results = at_once(
            THREADS, lambda i, code=code, claim=claim: (tv, phone)[i % 2].claim(code, claim)
        )
        assert (results.count("mum"), results.count(None)) == (1, THREADS - 1), results


def test_racing_approvals_on_two_replicas_let_one_user_in(tv, phone):
    request, claim = tv.start("TV")
    results = at_once(THREADS, lambda i: (tv, phone)[i % 2].approve(request.code, f"user{i}"))
    assert results.count(True) == 1, results
    assert tv.claim(request.code, claim) == f"user{results.index(True)}"


def test_racing_claims_from_processes_sign_in_once(tmp_path):
    storage = LocalStorage(tmp_path)
    sign_ins = DeviceSignIns(storage=storage)  # the real clock: the processes use theirs
    lines = []
    for _ in range(ROUNDS):
        request, claim = sign_ins.start("TV")
        sign_ins.approve(request.code, "mum")
        lines.append(f"{request.code} {claim}\n")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(tmp_path)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:  # all started and waiting: then the codes go to all at once
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("".join(lines))
        process.stdin.flush()
    results = [process.communicate(timeout=60)[0].splitlines() for process in processes]
    assert [process.returncode for process in processes] == [0] * PROCESSES
    for round_ in range(ROUNDS):
        got = [json.loads(result[round_]) for result in results]
        assert (got.count("mum"), got.count(None)) == (1, PROCESSES - 1), (round_, got)
    assert stored(storage) == set()


# ----- what is stored, and for how long -----


def test_a_record_is_named_by_the_hash_of_its_code_and_keeps_neither_code_nor_secret(tv, backend):
    request, claim = tv.start("TV")
    name = record_name(request.code)
    assert name == f"{TV_PREFIX}{hashlib.sha256(request.code.encode()).hexdigest()}.json"
    assert stored(backend) == {name}
    data, _ = backend.read_versioned(name)
    assert claim.encode() not in data
    assert request.code.encode() not in data  # a reader of the bucket cannot approve it
    assert hashlib.sha256(claim.encode()).hexdigest().encode() in data
    assert json.loads(data)["match"] == request.match


def test_records_are_json_objects_in_the_bucket(oci: LoopbackOci, clock):
    bucket = f"tv-shared-{uuid.uuid4().hex[:12]}"
    sign_ins = DeviceSignIns(clock=clock, storage=open_test_bucket(oci, bucket))
    request, _ = sign_ins.start("TV")
    sign_ins.approve(request.code, "mum")
    stored_object = oci.server.buckets[bucket].objects[record_name(request.code)]
    assert stored_object.content_type == "application/json"


def test_the_sweep_removes_expired_records(tv, phone, backend, clock):
    tv.start("TV")
    approved, _ = tv.start("TV")
    tv.approve(approved.code, "mum")
    backend.write(record_name("not ours"), b"not a record", "application/json")
    clock.now += CODE_SECONDS + CLAIM_GRACE_SECONDS
    fresh, claim = phone.start("TV")  # a replica's first start sweeps
    assert stored(backend) == {record_name(fresh.code)}
    phone.approve(fresh.code, "dad")
    assert tv.claim(fresh.code, claim) == "dad"


def test_the_sweep_runs_at_most_every_few_minutes(backend, clock):
    sign_ins = DeviceSignIns(ttl=10, clock=clock, storage=backend)
    first, _ = sign_ins.start("TV")
    clock.now += 11
    second, _ = sign_ins.start("TV")
    assert stored(backend) == {record_name(first.code), record_name(second.code)}
    clock.now += SWEEP_SECONDS
    third, _ = sign_ins.start("TV")
    assert stored(backend) == {record_name(third.code)}


def test_pending_records_in_a_folder_are_bounded(tmp_path, clock):
    storage = LocalStorage(tmp_path)
    tv = DeviceSignIns(clock=clock, storage=storage)
    oldest, _ = tv.start("TV")
    data, _ = storage.read_versioned(record_name(oldest.code))
    for index in range(MAX_PENDING - 1):  # the folder fills up with live records
        (tmp_path / record_name(f"code {index}")).write_bytes(data)
    os.utime(tmp_path / record_name(oldest.code), (0, 0))
    newest, _ = DeviceSignIns(clock=clock, storage=storage).start("TV")
    assert len(stored(storage)) == MAX_PENDING
    assert record_name(oldest.code) not in stored(storage)  # the oldest made room
    assert tv.pending(newest.code) == newest


# ----- a backend that does not answer -----


@pytest.fixture
def bucket(oci: LoopbackOci) -> Iterator[OciStorage]:
    oci.server.clear_faults()
    yield open_test_bucket(oci, f"tv-shared-{uuid.uuid4().hex[:12]}")
    oci.server.clear_faults()


def hashed(code: str) -> str:
    """The part of the request paths naming `code`'s record."""
    return record_name(code).removeprefix(TV_PREFIX).removesuffix(".json")


def test_each_poll_of_a_code_not_yet_approved_is_one_get(oci, bucket, clock):
    tv = DeviceSignIns(clock=clock, storage=bucket)
    request, claim = tv.start("TV")
    mark = oci.server.mark()
    assert tv.claim(request.code, claim) is None
    assert tv.waiting(request.code)
    assert [seen.method for seen in oci.server.since(mark)] == ["GET", "GET"]


def test_polls_that_storage_does_not_answer_wait_and_say_no_secret(oci, bucket, clock, caplog):
    tv = DeviceSignIns(clock=clock, storage=bucket)
    phone = DeviceSignIns(clock=clock, storage=bucket)
    request, claim = tv.start("TV")
    refusal = oci.server.inject(Fault("status", "GET", hashed(request.code), status=403, times=4))
    with caplog.at_level(logging.WARNING, logger="homemovies.tv_signin"):
        assert phone.pending(request.code) is None
        assert not phone.approve(request.code, "mum")
        assert tv.claim(request.code, claim) is None
        assert tv.waiting(request.code)  # one failed poll does not drop the TV's code
    assert refusal.hits == 4
    messages = [
        record.getMessage() for record in caplog.records if record.name.endswith("tv_signin")
    ]
    assert len(messages) == 4
    assert all("\n" not in m and request.code not in m and claim not in m for m in messages)
    assert phone.approve(request.code, "mum")  # storage answers again: the code still works
    assert tv.claim(request.code, claim) == "mum"


def test_an_approval_storage_refused_is_not_reported_as_made(oci, bucket, clock):
    tv = DeviceSignIns(clock=clock, storage=bucket)
    request, claim = tv.start("TV")
    oci.server.inject(Fault("status", "PUT", hashed(request.code), status=500))
    assert not tv.approve(request.code, "mum")
    assert tv.pending(request.code) == request
    assert tv.claim(request.code, claim) is None


def test_a_claim_storage_refused_leaves_the_sign_in_for_the_next_poll(oci, bucket, clock):
    tv = DeviceSignIns(clock=clock, storage=bucket)
    request, claim = tv.start("TV")
    tv.approve(request.code, "mum")
    oci.server.inject(Fault("status", "GET", hashed(request.code), status=403))
    assert tv.claim(request.code, claim) is None
    assert tv.claim(request.code, claim) == "mum"


def test_a_start_storage_refuses_raises(oci, bucket, clock):
    oci.server.inject(Fault("status", "PUT", f"/b/{bucket.bucket}/", status=403))
    with pytest.raises(StorageError):
        DeviceSignIns(clock=clock, storage=bucket).start("TV")
