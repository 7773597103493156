"""The sign-in throttle shared through storage: two throttles on one backend (two replicas of
the app) count as one, on the local folder and on OCI through the real SDK and the loopback
server alike, with a movable fake wall clock."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.accounts import Accounts
from lib.storage import NotFound, ObjectInfo, Storage
from lib.storage.local import LocalStorage
from lib.throttle import (
    FREE_FAILURES,
    OUTAGE_PAUSE,
    RECORD_TYPE,
    THROTTLE_PREFIX,
    WINDOW_SECONDS,
    WRONG_LOGIN,
    SignInThrottle,
    check_sign_in,
    decode_record,
    record_name,
    throttle_keys,
)
from tests.conftest import FakeClock, LoopbackOci
from tests.loopback import empty_storage, open_test_bucket
from tests.oci_server import Fault
from tests.threads import at_once

OWNER_PASSWORD = "owner password"
ATTACKER = "198.51.100.7"
KEYS = throttle_keys("owner", ATTACKER)


class CountingStorage:
    """A real backend, counting the requests the throttle makes through it."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        self.calls["read_versioned"] += 1
        return self.inner.read_versioned(name)

    def write_if(self, name: str, data: bytes, content_type: str, *, version: str | None) -> str:
        self.calls["write_if"] += 1
        return self.inner.write_if(name, data, content_type, version=version)

    def delete_if(self, name: str, *, version: str) -> None:
        self.calls["delete_if"] += 1
        self.inner.delete_if(name, version=version)

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.calls["scan"] += 1
        return self.inner.scan(prefix)

    def __getattr__(self, name: str) -> object:
        self.calls[name] += 1
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def accounts() -> Accounts:
    return Accounts.single_admin("owner", OWNER_PASSWORD)


@pytest.fixture(params=["local", "oci"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """An empty backend: a local folder, or a bucket of its own on the loopback server."""
    return empty_storage(request, tmp_path, "throttle")


@pytest.fixture
def clock() -> FakeClock:
    """The wall clock every replica shares, moved by hand (records carry its times)."""
    return FakeClock(time.time())


def replicas(storage: Storage, clock: FakeClock, count: int = 2) -> list[SignInThrottle]:
    return [SignInThrottle(clock=clock, storage=storage) for _ in range(count)]


def wait_for(condition, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (a sweep runs in a thread of its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def settled(*throttles: SignInThrottle) -> None:
    wait_for(lambda: not any(throttle.sweeping for throttle in throttles))


def stored_failures(storage: Storage, key) -> tuple[float, ...] | None:
    """The failure times of `key`'s shared record, or None when there is none."""
    try:
        data, _ = storage.read_versioned(record_name(key))
    except NotFound:
        return None
    return decode_record(data)


def record_names(storage: Storage) -> list[str]:
    return [info.name for info in storage.scan(THROTTLE_PREFIX)]


# ----- two replicas count as one -----


def test_failures_spread_over_two_replicas_throttle_as_on_one(storage, clock):
    a, b = replicas(storage, clock)
    one = SignInThrottle(clock=clock)  # a single replica, in memory, for comparison
    for attempt in range(FREE_FAILURES):
        (a, b)[attempt % 2].failed(KEYS)
        one.failed(KEYS)
    assert a.wait(KEYS) == b.wait(KEYS) == one.wait(KEYS) == 1
    clock.now += 1  # the attacker waits as asked, then tries on the other replica
    b.failed(KEYS)
    one.failed(KEYS)
    assert a.wait(KEYS) == b.wait(KEYS) == one.wait(KEYS) == 2, "the delay doubled on both"
    assert len(stored_failures(storage, KEYS[0])) == FREE_FAILURES + 1


def test_an_address_guessing_on_both_replicas_is_refused_on_both(storage, clock, accounts):
    a, b = replicas(storage, clock)
    for attempt in range(FREE_FAILURES):
        username = f"guess{attempt}"  # a new username each time: the address is what counts
        result = check_sign_in(accounts, (a, b)[attempt % 2], username, "guess", ATTACKER)
        assert (result.user, result.message) == (None, WRONG_LOGIN)
    refusals = [
        check_sign_in(accounts, throttle, "owner", OWNER_PASSWORD, ATTACKER).message
        for throttle in (a, b)
    ]
    assert refusals == ["Too many failed sign-ins. Wait 1 s, then try again."] * 2
    assert check_sign_in(accounts, b, "owner", OWNER_PASSWORD, "203.0.113.9").user is not None


def test_a_success_on_one_replica_clears_the_other(storage, clock):
    a, b = replicas(storage, clock)
    for _ in range(FREE_FAILURES + 1):
        a.failed(KEYS)
    assert b.wait(KEYS) == 2
    b.succeeded(KEYS)
    assert a.wait(KEYS) == 0
    assert stored_failures(storage, KEYS[0]) is None
    assert stored_failures(storage, KEYS[1]) is None


def test_failures_racing_on_two_replicas_are_all_counted(storage, clock):
    a, b = replicas(storage, clock)
    rounds = 4
    for _ in range(rounds):
        assert at_once(2, lambda index: (a, b)[index].failed(KEYS)) == [None, None]
    assert len(stored_failures(storage, KEYS[0])) == 2 * rounds
    assert a.wait(KEYS) == b.wait(KEYS) == 8  # 8 failures: 1 s doubled three times


# ----- what is stored -----


def test_records_are_named_by_a_hash_and_hold_only_failure_times(storage, clock):
    (a,) = replicas(storage, clock, 1)
    a.failed(KEYS)
    settled(a)
    names = record_names(storage)
    assert sorted(names) == sorted(record_name(key) for key in KEYS)
    assert all(re.fullmatch(r"\.homemovies/throttle/[0-9a-f]{64}\.json", name) for name in names)
    for name in names:
        data, _ = storage.read_versioned(name)
        assert json.loads(data) == {"failures": [clock.now]}
        assert b"owner" not in data and ATTACKER.encode() not in data


def test_oci_records_are_stored_as_json(oci: LoopbackOci, clock):
    bucket = f"throttle-{uuid.uuid4().hex[:12]}"
    (a,) = replicas(open_test_bucket(oci, bucket), clock, 1)
    a.failed(KEYS)
    settled(a)
    stored = oci.server.buckets[bucket].objects[record_name(KEYS[0])]
    assert stored.content_type == RECORD_TYPE == "application/json"


def test_with_storage_and_no_clock_the_wall_clock_is_used(storage):
    throttle = SignInThrottle(storage=storage)
    before = time.time()
    throttle.failed(KEYS)
    settled(throttle)
    (at,) = stored_failures(storage, KEYS[0])
    assert before <= at <= time.time()


# ----- expiry -----


def test_a_record_older_than_the_window_counts_as_absent_and_is_replaced_when_touched(
    storage, clock
):
    a, b = replicas(storage, clock)
    for _ in range(FREE_FAILURES + 3):
        a.failed(KEYS)
    assert b.wait(KEYS) == 8
    clock.now += WINDOW_SECONDS
    assert a.wait(KEYS) == b.wait(KEYS) == 0
    settled(a)
    b.failed(KEYS)
    settled(b)  # b's first failure swept the expired records: replaced or recreated, alike
    assert stored_failures(storage, KEYS[0]) == (clock.now,)
    assert a.wait(KEYS) == 0


def test_a_sweep_removes_expired_records_and_keeps_the_others(storage, clock):
    (a,) = replicas(storage, clock, 1)
    old = throttle_keys("someone", "203.0.113.1")
    a.failed(old)
    settled(a)
    clock.now += WINDOW_SECONDS - 60
    a.failed(KEYS)  # within the window of a's first sweep: no second one
    assert not a.sweeping
    clock.now += 61  # old's failure has left the window, KEYS' has not
    assert a.sweep() == 2
    assert sorted(record_names(storage)) == sorted(record_name(key) for key in KEYS)


def test_the_first_failure_in_a_process_sweeps_in_the_background_then_once_a_window(storage, clock):
    (a,) = replicas(storage, clock, 1)
    stale = throttle_keys("someone", "203.0.113.1")
    a.failed(stale)
    settled(a)
    clock.now += WINDOW_SECONDS + 1
    counted = CountingStorage(storage)
    restarted = SignInThrottle(clock=clock, storage=counted)  # a new process, say
    restarted.failed(KEYS)
    wait_for(lambda: record_names(storage) == sorted(record_name(key) for key in KEYS))
    settled(restarted)
    clock.now += WINDOW_SECONDS - 1
    restarted.failed(KEYS)
    settled(restarted)
    assert counted.calls["scan"] == 1
    clock.now += 1
    restarted.failed(KEYS)
    settled(restarted)
    assert counted.calls["scan"] == 2


# ----- the cost of an attempt -----


def test_each_attempt_costs_at_most_one_read_and_one_conditional_write_per_key(
    storage, clock, accounts
):
    counted = CountingStorage(storage)
    throttle = SignInThrottle(clock=clock, storage=counted)
    throttle.failed(throttle_keys("warm-up", None))  # starts this process's first sweep
    settled(throttle)
    costs = []
    for password in ["guess"] * FREE_FAILURES + [OWNER_PASSWORD, OWNER_PASSWORD, OWNER_PASSWORD]:
        counted.calls.clear()
        check_sign_in(accounts, throttle, "owner", password, ATTACKER)
        costs.append(dict(counted.calls))
        if password == OWNER_PASSWORD:
            clock.now += 1
    failing = {"read_versioned": 2, "write_if": 2}
    assert costs == [failing] * FREE_FAILURES + [
        {"read_versioned": 2},  # refused: wait 1 s
        {"read_versioned": 2, "delete_if": 2},  # signed in: both records removed
        {"read_versioned": 2},  # signed in again: nothing to remove
    ]


def test_an_oci_attempt_sends_two_gets_and_two_conditional_puts(oci: LoopbackOci, clock, accounts):
    bucket = f"throttle-{uuid.uuid4().hex[:12]}"
    throttle = SignInThrottle(clock=clock, storage=open_test_bucket(oci, bucket))
    throttle.failed(throttle_keys("warm-up", None))
    settled(throttle)
    mark = oci.server.mark()
    check_sign_in(accounts, throttle, "owner", "guess", ATTACKER)
    sent = [(seen.method, seen.path.rsplit("/", 1)[-1]) for seen in oci.server.since(mark)]
    names = [record_name(key).rsplit("/", 1)[-1] for key in KEYS]
    assert sent == [("GET", names[0]), ("GET", names[1]), ("PUT", names[0]), ("PUT", names[1])]
    puts = [seen for seen in oci.server.since(mark) if seen.method == "PUT"]
    assert all(seen.status == 200 for seen in puts)


class RacedStorage(CountingStorage):
    """A real backend where another replica changes each record right after we read it."""

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        try:
            data, version = super().read_versioned(name)
        except NotFound:
            self.inner.write_if(name, b'{"failures":[]}', RECORD_TYPE, version=None)
            raise
        self.inner.write_if(name, data + b" ", RECORD_TYPE, version=version)
        return data, version


def test_a_lost_race_is_read_and_written_again(storage, clock):
    counted = CountingStorage(storage)
    a = SignInThrottle(clock=clock, storage=counted)
    (b,) = replicas(storage, clock, 1)
    a.failed(throttle_keys("warm-up", None))  # starts a's first sweep
    settled(a)
    assert a.wait(KEYS) == 0  # a read both records: absent
    b.failed(KEYS)  # b created them meanwhile
    counted.calls.clear()
    a.failed(KEYS)
    assert dict(counted.calls) == {"write_if": 4, "read_versioned": 2}
    assert len(stored_failures(storage, KEYS[0])) == 2


def test_lost_races_are_tried_three_times_then_counted_in_this_process(storage, clock, caplog):
    raced = RacedStorage(storage)
    throttle = SignInThrottle(clock=clock, storage=raced)
    throttle.failed(throttle_keys("warm-up", None))
    settled(throttle)
    raced.calls.clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="homemovies.sign_in"):
        for _ in range(FREE_FAILURES):
            throttle.failed(KEYS)
    assert dict(raced.calls) == {
        "read_versioned": 3 * 2 * FREE_FAILURES,
        "write_if": 3 * 2 * FREE_FAILURES,
    }
    lost = "a sign-in failure is not in storage: its record lost 3 races"
    assert [r.getMessage() for r in caplog.records] == [lost] * 2 * FREE_FAILURES
    assert len(throttle) == 3  # the warm-up's key and both keys, counted in this process


# ----- outages -----


class BrokenFolder(LocalStorage):
    """A local folder whose app-state folder became a file: nothing can be written there."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        (root / ".homemovies").write_bytes(b"in the way")


def test_a_folder_that_cannot_be_written_falls_back_to_local_counts(tmp_path, clock, caplog):
    throttle = SignInThrottle(clock=clock, storage=BrokenFolder(tmp_path))
    with caplog.at_level(logging.WARNING, logger="homemovies.sign_in"):
        for _ in range(FREE_FAILURES):
            throttle.failed(KEYS)
        assert throttle.wait(KEYS) == 1
        throttle.succeeded(KEYS)
        assert throttle.wait(KEYS) == 0
    fallbacks = [r.getMessage() for r in caplog.records if "this process only" in r.getMessage()]
    assert len(fallbacks) == 1, "one line per outage, not one per attempt"
    assert fallbacks[0].startswith(
        f"sign-in throttle counts in this process only for {OUTAGE_PAUSE:.0f} s:"
    )


def test_an_oci_outage_falls_back_to_local_counts_then_storage_decides_again(
    oci: LoopbackOci, clock, accounts, caplog
):
    bucket = f"throttle-{uuid.uuid4().hex[:12]}"
    storage = open_test_bucket(oci, bucket)
    a, b = replicas(storage, clock)
    b.failed(KEYS)  # recorded before the outage
    settled(b)
    # OCI refusing the credentials (an IAM policy changed, say): answered at once. A 5xx is
    # the same outage after the SDK's retries, which only the first read would wait for.
    faults = [
        oci.server.inject(Fault("status", method, f"/o/{THROTTLE_PREFIX}", times=1000, status=403))
        for method in ("GET", "PUT", "DELETE")
    ]
    try:
        with caplog.at_level(logging.INFO, logger="homemovies.sign_in"):
            for _ in range(FREE_FAILURES):
                result = check_sign_in(accounts, a, "owner", "Secret-Guess-42", ATTACKER)
                assert result.message == WRONG_LOGIN
            refused = check_sign_in(accounts, a, "owner", OWNER_PASSWORD, ATTACKER)
            assert refused.message == "Too many failed sign-ins. Wait 1 s, then try again."
        hits = [fault.hits for fault in faults]
        assert hits == [1, 0, 0], "only the first read met the outage: then `a` counted alone"
    finally:
        for fault in faults:
            fault.times = 0
    assert "Secret-Guess-42" not in caplog.text
    fallbacks = [r.getMessage() for r in caplog.records if "this process only" in r.getMessage()]
    assert len(fallbacks) == 1
    assert "owner" not in fallbacks[0] and ATTACKER not in fallbacks[0]
    clock.now += OUTAGE_PAUSE
    assert a.wait(KEYS) == 0, "storage answers again: its one failure decides"
    assert stored_failures(storage, KEYS[0]) == (clock.now - OUTAGE_PAUSE,)


def test_a_record_the_app_did_not_write_counts_as_empty_and_is_replaced(storage, clock, caplog):
    (a,) = replicas(storage, clock, 1)
    name = record_name(KEYS[0])
    storage.write_if(name, b"not ours", RECORD_TYPE, version=None)
    with caplog.at_level(logging.WARNING, logger="homemovies.sign_in"):
        assert a.wait(KEYS) == 0
    assert caplog.messages == [f"ignoring throttle record {name}: not one this app wrote"]
    a.failed(KEYS)
    settled(a)
    assert stored_failures(storage, KEYS[0]) == (clock.now,)
