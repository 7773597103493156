"""The cookie key: given in the settings, or made once and kept in the backend for every
replica and every restart."""

from __future__ import annotations

import logging

import pytest

from lib.services import build_services
from lib.settings import Settings
from lib.storage import Storage
from lib.storage.appstate import KEYS_PREFIX
from lib.storage.local import LocalStorage
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY
from tests.loopback import empty_storage, open_test_bucket
from tests.oci_server import Fault
from tests.threads import at_once


def settings_for(storage: Storage, **extra) -> Settings:
    root = storage.root if isinstance(storage, LocalStorage) else None
    return Settings(library=root, username=ADMIN, password=ADMIN_PASSWORD, **extra)


@pytest.fixture(params=["local", "oci"])
def storage(request, tmp_path) -> Storage:
    return empty_storage(request, tmp_path, "cookie-key")


def test_processes_on_one_backend_sign_with_the_same_kept_key(storage):
    first = build_services(settings_for(storage), storage=storage)
    second = build_services(settings_for(storage), storage=storage)

    assert first.cookie_key == second.cookie_key
    assert len(first.cookie_key) >= 32
    assert [info.name for info in storage.scan(KEYS_PREFIX)] == [KEYS_PREFIX + "cookie.json"]
    # A media token made on one is good on the other: a viewer balanced over is still in.
    token = first.signer.issue("Years/2024.mp4", ADMIN, 60)
    assert second.signer.verify(token).user == ADMIN


def test_replicas_starting_at_once_agree_on_one_key(tmp_path):
    storage = LocalStorage(tmp_path)
    keys = at_once(8, lambda _: build_services(settings_for(storage), storage=storage).cookie_key)
    assert len(set(keys)) == 1


def test_a_key_from_the_settings_is_used_and_nothing_is_kept(storage):
    services = build_services(settings_for(storage, cookie_key=COOKIE_KEY), storage=storage)
    assert services.cookie_key == COOKIE_KEY
    assert list(storage.scan(KEYS_PREFIX)) == []


def test_a_backend_that_cannot_keep_a_key_leaves_the_process_its_own(oci, caplog):
    storage = open_test_bucket(oci, "cookie-key-outage")
    refusal = oci.server.inject(Fault("status", "GET", "keys", status=403))
    with caplog.at_level(logging.WARNING, logger="homemovies.services"):
        services = build_services(settings_for(storage), storage=storage)
    assert refusal.hits == 1
    assert len(services.cookie_key) >= 32
    assert "this process uses its own" in caplog.text
    assert "set --cookie_key" in caplog.text
    assert services.cookie_key not in caplog.text
