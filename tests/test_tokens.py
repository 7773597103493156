"""Media tokens: signed, scoped, expiring."""

from __future__ import annotations

import pytest

from lib.tokens import Grant, InvalidToken, TokenSigner, derive_key

KEY = derive_key("k" * 40, "test")


def signer_at(now: float) -> TokenSigner:
    return TokenSigner(KEY, clock=lambda: now)


def test_round_trip_carries_scope_user_and_expiry():
    token = signer_at(1000).issue("Years/2022.hls/", "alice", ttl=60)
    grant = signer_at(1030).verify(token)
    assert grant == Grant(scope="Years/2022.hls/", user="alice", expires=1060)


def test_expired_token_is_refused():
    token = signer_at(1000).issue("a.mp4", "alice", ttl=60)
    with pytest.raises(InvalidToken, match="expired"):
        signer_at(1060).verify(token)


def test_tampered_payload_or_signature_is_refused():
    token = signer_at(1000).issue("a.mp4", "alice", ttl=60)
    forged_scope = signer_at(1000).issue("b.mp4", "alice", ttl=60)
    payload, mac = token.split(".")
    with pytest.raises(InvalidToken):
        signer_at(1000).verify(forged_scope.split(".")[0] + "." + mac)
    with pytest.raises(InvalidToken):
        signer_at(1000).verify(payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"))
    with pytest.raises(InvalidToken):
        signer_at(1000).verify(payload)
    with pytest.raises(InvalidToken):
        TokenSigner(derive_key("other" * 10, "test"), clock=lambda: 1000).verify(token)


@pytest.mark.parametrize("junk", ["", ".", "abc.def", "é.é", "a" * 10000 + ".x", "..", "%2e.%2e"])
def test_junk_is_refused(junk):
    with pytest.raises(InvalidToken):
        signer_at(0).verify(junk)


def test_file_scope_covers_only_that_file():
    grant = Grant("Years/2024.mp4", "u", 0)
    assert grant.covers("Years/2024.mp4")
    assert not grant.covers("Years/2024.mp4x")
    assert not grant.covers("Years/2023.mp4")


def test_folder_scope_covers_its_contents_only():
    grant = Grant("Years/2022.hls/", "u", 0)
    assert grant.covers("Years/2022.hls/output.m3u8")
    assert grant.covers("Years/2022.hls/output000.ts")
    assert not grant.covers("Years/2022.hls/")
    assert not grant.covers("Years/2022.hls")
    assert not grant.covers("Years/2022.hlsx/output.m3u8")
    assert not grant.covers("Years/2024.mp4")


def test_short_keys_are_refused():
    with pytest.raises(ValueError):
        TokenSigner(b"short")
