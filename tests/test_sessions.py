"""Server-side sign-outs: a cookie issued before its user signed out is refused."""

from __future__ import annotations

from lib.sessions import SEEN_SECONDS, STATE_NAME, SignOuts
from lib.storage import Unavailable
from lib.storage.local import LocalStorage
from tests.threads import at_once


def test_a_session_from_before_sign_out_is_revoked_and_a_later_one_is_not():
    now = [1000.0]
    sign_outs = SignOuts(clock=lambda: now[0])
    assert not sign_outs.revokes("alice", 900)
    sign_outs.record("Alice")
    assert sign_outs.revokes("alice", 900)
    assert sign_outs.revokes("ALICE", 1000)  # the same instant: signed out
    assert not sign_outs.revokes("alice", 1000.001)  # a sign-in a millisecond later
    assert not sign_outs.revokes("bob", 900)


def test_sign_outs_are_forgotten_once_their_cookies_expired():
    now = [1000.0]
    sign_outs = SignOuts(keep_seconds=100, clock=lambda: now[0])
    sign_outs.record("alice")
    now[0] = 1101
    sign_outs.record("bob")
    assert not sign_outs.revokes("alice", 900)
    assert sign_outs.revokes("bob", 1100)


def test_sign_outs_survive_a_restart_through_storage(tmp_path):
    storage = LocalStorage(tmp_path)
    now = [1000.0]
    SignOuts(clock=lambda: now[0], storage=storage).record("Alice")
    assert (tmp_path / STATE_NAME).is_file()
    after_restart = SignOuts(clock=lambda: now[0], storage=storage)
    assert after_restart.revokes("alice", 900)
    assert not after_restart.revokes("alice", 1001)


def test_damaged_sign_outs_are_ignored_and_replaced(tmp_path, caplog):
    storage = LocalStorage(tmp_path)
    storage.write(STATE_NAME, b"\x00 not json")
    sign_outs = SignOuts(storage=storage)
    assert not sign_outs.revokes("alice", 0)
    assert "sign-outs could not be read" in caplog.text
    sign_outs.record("alice")
    assert SignOuts(storage=storage).revokes("alice", 0)


def test_a_sign_out_on_one_replica_is_honoured_on_another_within_seconds(tmp_path):
    storage = LocalStorage(tmp_path)
    now = [1000.0]
    replica_a = SignOuts(clock=lambda: now[0], storage=storage)
    replica_b = SignOuts(clock=lambda: now[0], storage=storage)
    assert not replica_b.revokes("alice", 900)  # B has read the list: nobody signed out
    replica_a.record("alice")
    now[0] += SEEN_SECONDS
    assert replica_b.revokes("alice", 900)
    assert not replica_b.revokes("alice", 1001)


def test_sign_outs_made_at_once_on_many_replicas_are_all_kept(tmp_path):
    storage = LocalStorage(tmp_path)
    users = [f"user{n}" for n in range(8)]
    at_once(len(users), lambda n: SignOuts(storage=storage).record(users[n]))
    after = SignOuts(storage=storage)
    assert all(after.revokes(user, 0) for user in users)


def test_a_sign_out_the_backend_refuses_still_holds_in_this_process(tmp_path, caplog):
    sign_outs = SignOuts(storage=Refusing(tmp_path))
    sign_outs.record("alice")
    assert sign_outs.revokes("alice", 0)
    assert "sign-out of 'alice' kept in this process only" in caplog.text


class Refusing(LocalStorage):
    def write_if(self, name, data, content_type, *, version):
        raise Unavailable("The storage refuses writes.")
