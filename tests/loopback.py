"""The settings that serve a bucket of the loopback OCI server (conftest's `oci`), and that
bucket opened as the app opens one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lib.settings import Settings
from lib.storage import Storage
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage, open_bucket
from lib.storage.oci_auth import load_auth
from tests.conftest import OCI_BUCKET, LoopbackOci


def settings_for(oci: LoopbackOci, bucket: str = OCI_BUCKET, **extra) -> Settings:
    """Return settings serving `bucket` of `oci` with its test API key, plus `extra` ones."""
    return Settings(bucket=bucket, os_endpoint=oci.url, oci_config=str(oci.config_path), **extra)


def open_test_bucket(oci: LoopbackOci, bucket: str) -> OciStorage:
    """The loopback server's `bucket` (made if need be), opened as the app opens a bucket."""
    oci.server.bucket(bucket)
    return open_bucket(bucket, load_auth(settings_for(oci, bucket).oci_credentials), oci.url)


def empty_storage(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> Storage:
    """An empty backend of the kind `request.param` names: "local" (a folder in `tmp_path`)
    or "oci" (a bucket of its own, named `prefix`-..., on the session's loopback server)."""
    if request.param == "local":
        return LocalStorage(tmp_path)
    return open_test_bucket(request.getfixturevalue("oci"), f"{prefix}-{uuid.uuid4().hex[:12]}")
