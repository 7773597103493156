"""Errors told to a user as a sentence keep their cause in the log: the exception, and for
OCI its request id (what OCI support asks for); never a secret."""

from __future__ import annotations

import logging

import oci as oci_sdk
import pytest

from lib.services import build_storage
from lib.settings import Settings
from lib.storage import NotFound, Unavailable
from lib.storage.local import LocalStorage
from tests.conftest import OCI_BUCKET
from tests.oci_server import Fault


@pytest.fixture(autouse=True)
def no_faults_left(oci):
    oci.server.clear_faults()
    yield
    oci.server.clear_faults()


def bucket(oci):
    return build_storage(
        Settings(bucket=OCI_BUCKET, os_endpoint=oci.url, oci_config=str(oci.config_path))
    )


def test_an_oci_failure_is_logged_with_its_cause_and_request_id(oci, caplog):
    storage = bucket(oci)
    oci.server.inject(Fault("status", path_contains="/o", status=500, times=10))
    with caplog.at_level(logging.WARNING, logger="homemovies.oci"), pytest.raises(Unavailable):
        storage.list("Years/")
    [record] = [r for r in caplog.records if r.name == "homemovies.oci"]
    assert "opc-request-id " in record.getMessage()
    assert "opc-request-id none" not in record.getMessage()
    assert record.exc_info is not None
    cause = record.exc_info[1]
    assert isinstance(cause, oci_sdk.exceptions.ServiceError) and cause.status == 500
    assert cause.request_id in record.getMessage()
    key = oci.key_path.read_text()
    logged = caplog.text
    assert "BEGIN" not in logged and key.splitlines()[1] not in logged
    assert "authorization" not in logged.lower() and "signature=" not in logged.lower()


def test_a_plain_not_found_is_not_logged_as_a_failure(oci, caplog):
    storage = bucket(oci)
    with caplog.at_level(logging.WARNING, logger="homemovies.oci"), pytest.raises(NotFound):
        storage.stat("Years/no such title.mp4")
    assert not [r for r in caplog.records if r.name == "homemovies.oci"]


def test_a_folder_that_cannot_be_written_logs_why(tmp_path, caplog):
    storage = LocalStorage(tmp_path)
    (tmp_path / ".homemovies").write_text("a file where the state folder would go")
    with (
        caplog.at_level(logging.WARNING, logger="homemovies.storage"),
        pytest.raises(Unavailable, match="cannot be written to"),
    ):
        storage.write(".homemovies/state/x.json", b"{}")
    [record] = caplog.records
    assert isinstance(record.exc_info[1], OSError)
