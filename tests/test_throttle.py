"""The sign-in throttle on an injected clock: free failures, doubling delays, cap, forgetting."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from lib.accounts import Accounts
from lib.throttle import (
    KEPT_FAILURES,
    THROTTLE_PREFIX,
    WRONG_LOGIN,
    SignInThrottle,
    ThrottlePolicy,
    check_sign_in,
    decode_record,
    encode_record,
    record_name,
    throttle_keys,
)
from tests.conftest import FakeClock

OWNER_PASSWORD = "owner password"


@pytest.fixture(scope="module")
def accounts() -> Accounts:
    return Accounts.single_admin("owner", OWNER_PASSWORD)


def fail(throttle: SignInThrottle, keys: tuple, times: int) -> None:
    for _ in range(times):
        throttle.failed(keys)


def test_five_failures_are_free_then_delays_double_up_to_the_cap():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    keys = throttle_keys("owner", "198.51.100.7")
    fail(throttle, keys, 4)
    assert throttle.wait(keys) == 0
    waits = []
    for _ in range(8):
        throttle.failed(keys)
        waits.append(throttle.wait(keys))
        clock.now += waits[-1]  # the attacker waits exactly as long as asked
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]


def test_the_window_forgets_and_the_owner_is_never_locked_out_for_good():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    keys = throttle_keys("owner", None)
    fail(throttle, keys, 60)
    assert throttle.wait(keys) == 30  # however many failures: at most the cap
    clock.now += 30
    assert throttle.wait(keys) == 0
    clock.now += 15 * 60
    throttle.failed(keys)
    assert throttle.wait(keys) == 0, "failures older than 15 minutes no longer count"


def test_a_username_is_throttled_from_every_address_and_an_address_for_every_username():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    fail(throttle, throttle_keys("owner", "198.51.100.7"), 5)
    assert throttle.wait(throttle_keys("owner", "203.0.113.9")) == 1
    assert throttle.wait(throttle_keys("someone", "198.51.100.7")) == 1
    assert throttle.wait(throttle_keys("someone", "203.0.113.9")) == 0


def test_usernames_are_keyed_without_case_or_spaces():
    throttle = SignInThrottle(clock=FakeClock())
    fail(throttle, throttle_keys(" Owner", None), 5)
    assert throttle.wait(throttle_keys("owner", None)) == 1


def test_a_success_forgets_the_failures():
    throttle = SignInThrottle(clock=FakeClock())
    keys = throttle_keys("owner", "198.51.100.7")
    fail(throttle, keys, 5)
    throttle.succeeded(keys)
    assert throttle.wait(keys) == 0


def test_policy_delays():
    policy = ThrottlePolicy(free_failures=2, first_delay=0.5, max_delay=3)
    assert [policy.delay(n) for n in range(7)] == [0, 0, 0.5, 1, 2, 3, 3]


def test_sixth_attempt_is_refused_unchecked_with_the_same_message_for_any_username(accounts):
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    address = "198.51.100.7"
    for username in ("owner", "nobody"):
        for _ in range(5):
            result = check_sign_in(accounts, throttle, username, "guess", None)
            assert (result.user, result.message) == (None, WRONG_LOGIN)
    refusals = {
        username: check_sign_in(accounts, throttle, username, OWNER_PASSWORD, address).message
        for username in ("owner", "nobody")
    }
    assert refusals == {
        "owner": "Too many failed sign-ins. Wait 1 s, then try again.",
        "nobody": "Too many failed sign-ins. Wait 1 s, then try again.",
    }
    clock.now += 1
    assert check_sign_in(accounts, throttle, "owner", OWNER_PASSWORD, address).user is not None


def test_failed_attempts_are_logged_with_username_and_address_never_the_password(accounts, caplog):
    throttle = SignInThrottle(clock=FakeClock())
    with caplog.at_level(logging.INFO, logger="homemovies.sign_in"):
        for _ in range(6):
            check_sign_in(accounts, throttle, "owner", "Secret-Guess-42", "203.0.113.9")
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "failed sign-in for 'owner' from 203.0.113.9"
    assert messages[-1] == "sign-in refused for 'owner' from 203.0.113.9: throttled for 1 s more"
    assert "Secret-Guess-42" not in caplog.text


def test_the_key_table_stays_bounded():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock, max_keys=100)
    for number in range(1000):
        clock.now += 1
        throttle.failed(throttle_keys(f"user{number}", None))
    assert len(throttle) <= 100
    assert throttle.wait(throttle_keys("user999", None)) == 0  # one failure: still free


def test_a_wait_never_exceeds_the_cap_even_for_failures_from_a_clock_running_ahead():
    policy = ThrottlePolicy()
    now = 1_000_000.0
    assert policy.left([now + 3600] * 20, now) == 30
    assert policy.left([now - 15 * 60] * 20, now) == 0, "all of them left the window"
    assert policy.left([], now) == 0


def test_a_record_is_named_by_the_hash_of_its_key_never_by_the_username_or_address():
    keys = throttle_keys("Owner", "198.51.100.7")
    names = [record_name(key) for key in keys]
    digest = hashlib.sha256(b'["user","owner"]').hexdigest()
    assert names[0] == f"{THROTTLE_PREFIX}{digest}.json" == f".homemovies/throttle/{digest}.json"
    assert names[1] != names[0] != record_name(("user", "0wner"))
    assert not any("owner" in name or "198.51" in name for name in names)


def test_records_keep_the_newest_failures_and_refuse_what_is_not_a_record():
    times = tuple(float(n) for n in range(KEPT_FAILURES + 10))
    assert decode_record(encode_record(times)) == times[-KEPT_FAILURES:]
    mixed = json.dumps({"failures": [3, "x", True, None, 1.5, 2]}).encode()
    assert decode_record(mixed) == (1.5, 2.0, 3.0)
    for foreign in (b"not json", b"[]", b'{"failures": 3}', b"\xff"):
        with pytest.raises(ValueError):
            decode_record(foreign)
