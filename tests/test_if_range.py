"""If-Range (RFC 9110 13.1.5): a resumed download of an object replaced since gets the whole,
current object, never a range of the new one spliced onto the old; on both backends."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from lib.links import media_url
from lib.services import build_services
from lib.settings import Settings
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY

NAME = "Clips/Resume.mp4"
FIRST = b"first version " * 100
SECOND = b"SECOND VERSION " * 100  # another content of another length
HOUR_AGO = time.time() - 3600


@dataclass
class Backend:
    """The app's routes over one backend, and how to replace the object in it."""

    client: object
    signer: object
    replace: Callable[[bytes], None]

    def get(self, **headers: str):
        token = self.signer.issue(NAME, ADMIN, 600)
        return self.client.get(media_url(token, NAME), headers=headers)


def local_backend(root: Path) -> Iterator[Backend]:
    path = root / NAME
    path.parent.mkdir(parents=True)

    def replace(data: bytes) -> None:
        path.write_bytes(data)
        # Older than a second, so the date is a strong validator; each version its own time.
        stamp = HOUR_AGO + len(data)
        os.utime(path, (stamp, stamp))

    replace(FIRST)
    settings = Settings(
        library=root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    services = build_services(settings)
    with client_for(services) as client:
        yield Backend(client, services.signer, replace)


def oci_backend(oci) -> Iterator[Backend]:
    bucket = "if-range"

    def replace(data: bytes) -> None:
        oci.server.put_bytes(bucket, NAME, data)

    replace(FIRST)
    settings = Settings(
        bucket=bucket,
        os_endpoint=oci.url,
        oci_config=str(oci.config_path),
        username=ADMIN,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
    )
    services = build_services(settings)
    with client_for(services) as client:
        yield Backend(client, services.signer, replace)


@pytest.fixture(params=["local", "oci"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "local":
        yield from local_backend(tmp_path)
    else:
        yield from oci_backend(request.getfixturevalue("oci"))


def test_a_range_whose_etag_still_matches_gets_206(backend):
    etag = backend.get().headers["etag"]
    response = backend.get(Range="bytes=0-4", **{"If-Range": etag})
    assert response.status_code == 206
    assert response.content == FIRST[:5]


def test_a_range_of_a_replaced_object_gets_the_whole_current_object(backend):
    etag = backend.get().headers["etag"]
    backend.replace(SECOND)
    response = backend.get(Range="bytes=5-", **{"If-Range": etag})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == SECOND
    assert response.headers["etag"] != etag


def test_a_weak_etag_never_matches(backend):
    etag = backend.get().headers["etag"]
    response = backend.get(Range="bytes=0-4", **{"If-Range": f"W/{etag}"})
    assert response.status_code == 200
    assert response.content == FIRST


def test_a_range_whose_date_still_matches_gets_206(tmp_path):
    backend = next(local_backend(tmp_path))
    modified = backend.get().headers["last-modified"]
    response = backend.get(Range="bytes=0-4", **{"If-Range": modified})
    assert response.status_code == 206
    assert response.content == FIRST[:5]


def test_a_range_of_an_object_modified_since_the_date_gets_the_whole_object(tmp_path):
    backend = next(local_backend(tmp_path))
    modified = backend.get().headers["last-modified"]
    backend.replace(SECOND)
    response = backend.get(Range="bytes=0-4", **{"If-Range": modified})
    assert response.status_code == 200
    assert response.content == SECOND


def test_a_date_within_the_last_second_is_too_weak_to_resume_from(tmp_path):
    backend = next(local_backend(tmp_path))
    path = tmp_path / NAME
    os.utime(path)  # modified now: another change within this second would keep the date
    now = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    response = backend.get(Range="bytes=0-4", **{"If-Range": format_datetime(now, usegmt=True)})
    assert response.status_code == 200
    assert response.content == FIRST


def test_without_if_range_a_range_is_served_as_always(backend):
    backend.replace(SECOND)
    response = backend.get(Range="bytes=0-4")
    assert response.status_code == 206
    assert response.content == SECOND[:5]
