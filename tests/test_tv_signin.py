"""Signing in on a TV: one-time codes, claimed only by the session that showed them; kept in
memory, in a local folder and in an OCI bucket (the loopback server) alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.storage import Storage
from lib.tv_signin import (
    CLAIM_GRACE_SECONDS,
    CODE_SECONDS,
    MAX_PENDING,
    DeviceSignIns,
    device_label,
    qr_png,
)
from tests.conftest import FakeClock
from tests.loopback import empty_storage
from tests.threads import at_once

TV = (
    "Mozilla/5.0 (Linux; Android 12; SHIELD Android TV) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "local", "oci"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Storage | None:
    """Where the codes are kept: this process's memory (None), a folder or a bucket."""
    if request.param == "memory":
        return None
    return empty_storage(request, tmp_path, "tv")


@pytest.fixture
def store(clock, backend) -> DeviceSignIns:
    return DeviceSignIns(clock=clock, storage=backend)


def test_approved_code_signs_in_its_session_once(store):
    request, claim = store.start("Chrome 120 on Android")
    assert store.pending(request.code) == request
    assert store.claim(request.code, claim) is None  # not approved yet
    assert store.approve(request.code, "mum")
    assert store.pending(request.code) is None  # the phone cannot approve it again
    assert not store.approve(request.code, "dad")
    assert store.claim(request.code, claim) == "mum"
    assert store.claim(request.code, claim) is None  # handed over once
    assert not store.approve(request.code, "mum")


def test_only_the_session_holding_the_claim_secret_gets_the_sign_in(store):
    request, claim = store.start("TV")
    store.approve(request.code, "mum")
    _, other_claim = store.start("another TV")
    assert store.claim(request.code, other_claim) is None
    assert store.claim(request.code, "") is None
    assert store.claim(request.code, claim) == "mum"  # a wrong guess did not use it up


def test_codes_expire(store, clock):
    request, claim = store.start("TV")
    clock.now += CODE_SECONDS
    assert store.pending(request.code) is None
    assert not store.approve(request.code, "mum")
    assert store.claim(request.code, claim) is None
    assert not store.waiting(request.code)


def test_an_approval_in_the_last_seconds_still_lands(store, clock):
    request, claim = store.start("TV")
    clock.now += CODE_SECONDS - 1
    assert store.approve(request.code, "mum")
    clock.now += CLAIM_GRACE_SECONDS - 1
    assert store.claim(request.code, claim) == "mum"


def test_denied_code_stops_working(store):
    request, claim = store.start("TV")
    store.deny(request.code)
    assert store.pending(request.code) is None
    assert not store.approve(request.code, "mum")
    assert store.claim(request.code, claim) is None


def test_unknown_codes(store):
    assert store.pending("nope") is None
    assert not store.approve("nope", "mum")
    assert store.claim("nope", "secret") is None


def test_codes_and_matching_codes_look_random(store):
    requests = [store.start("TV")[0] for _ in range(20)]
    assert len({r.code for r in requests}) == 20
    assert all(len(r.code) >= 32 for r in requests)
    assert all(len(r.match) == 4 and r.match.isalnum() for r in requests)


def test_racing_claims_sign_in_once(store):
    request, claim = store.start("TV")
    store.approve(request.code, "mum")
    results = at_once(8, lambda _: store.claim(request.code, claim))
    assert (results.count("mum"), results.count(None)) == (1, 7), results


def test_racing_approvals_let_one_user_in(store):
    request, claim = store.start("TV")
    results = at_once(8, lambda index: store.approve(request.code, f"user{index}"))
    assert results.count(True) == 1, results
    assert store.claim(request.code, claim) == f"user{results.index(True)}"


def test_pending_requests_are_bounded(clock):
    store = DeviceSignIns(clock=clock)  # in storage: tests/test_tv_signin_shared.py
    first, _ = store.start("TV")
    for _ in range(MAX_PENDING):
        store.start("TV")
    assert store.pending(first.code) is None  # the oldest made room


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (TV, "Chrome 120 on Android (SHIELD Android TV)"),
        (IPHONE, "Mobile Safari 17 on iOS (iPhone)"),
        ("", "An unknown device"),
        (None, "An unknown device"),
        ("curl/8.5.0", "curl 8"),
    ],
)
def test_device_labels(user_agent, label):
    assert device_label(user_agent) == label


def test_qr_code_is_a_png():
    image = qr_png("http://127.0.0.1:8501/?device=abc")
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(image) > 200
