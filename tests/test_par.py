"""--delivery par: the media route redirects to short-lived pre-authenticated requests (PARs),
one object each for files and one `.hls/` folder (listing denied) for HLS titles."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime

import oci as oci_sdk
import pytest

from lib.links import media_url
from lib.services import build_services, build_storage
from lib.storage.oci import OciStorage
from lib.storage.par import NAME_PREFIX, ParLinks
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, OCI_BUCKET, FakeClock
from tests.loopback import settings_for
from tests.media_tokens import SIGNER

HOUR = 3600


@pytest.fixture
def storage(oci) -> OciStorage:
    return build_storage(settings_for(oci))


@pytest.fixture
def client(oci):
    """The app's routes with --delivery par; PARs last as long as tokens: an hour here."""
    settings = settings_for(
        oci,
        delivery="par",
        token_hours=1,
        username=ADMIN,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
    )
    with client_for(build_services(settings)) as client:
        yield client


def pars(oci):
    return list(oci.server.bucket(OCI_BUCKET).pars.values())


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_file_redirects_to_an_object_read_par(oci, client, fixture_library):
    url = media_url(SIGNER.issue("Years/2024.mp4", ADMIN, 600), "Years/2024.mp4")
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith(oci.url + "/p/")
    par = next(p for p in pars(oci) if p.object_name == "Years/2024.mp4")
    assert par.access_type == "ObjectRead" and par.name.startswith(NAME_PREFIX)
    status, body, headers = fetch(location, {"Range": "bytes=0-99"})
    assert status == 206 and headers["content-range"].endswith(
        f"/{fixture_library.sizes['Years/2024.mp4']}"
    )
    assert body == (fixture_library.root / "Years/2024.mp4").read_bytes()[:100]
    # The PAR reads that one object only.
    other = location.replace("Years%2F2024.mp4", "Events%2FWedding.mp4")
    assert fetch(other)[0] == 404


def test_hls_redirects_into_a_folder_par_that_cannot_list(oci, client):
    scope = "Events/Fun #2 & 50% + more?.hls/"
    token = SIGNER.issue(scope, ADMIN, 600)
    playlist = client.get(media_url(token, scope + "output.m3u8"), follow_redirects=False)
    segment = client.get(media_url(token, scope + "output000.ts"), follow_redirects=False)
    assert playlist.status_code == segment.status_code == 302
    base = playlist.headers["location"].rsplit("/", 1)[0]
    assert segment.headers["location"] == base + "/output000.ts"
    par = next(p for p in pars(oci) if p.object_name == scope)
    assert par.access_type == "AnyObjectRead" and par.bucket_listing_action == "Deny"
    # One PAR served both: it is reused, not created per request.
    assert sum(1 for p in pars(oci) if p.object_name == scope) == 1
    status, body, _ = fetch(playlist.headers["location"])
    assert status == 200 and body.startswith(b"#EXTM3U")
    par_root = base.split("/o/", 1)[0] + "/o/"
    assert fetch(par_root)[0] == 404  # no listing through it
    assert fetch(par_root + "Years/2024.mp4")[0] == 404  # nothing outside the folder


def test_downloads_and_bad_tokens_are_not_redirected(client):
    good = media_url(SIGNER.issue("Events/Old tape.avi", ADMIN, 600), "Events/Old tape.avi")
    download = client.get(good + "?download=1", follow_redirects=False)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert client.get("/video/forged/Years/2024.mp4", follow_redirects=False).status_code == 403
    outside = media_url(SIGNER.issue("Years/2024.mp4", ADMIN, 600), "Events/Wedding.mp4")
    assert client.get(outside, follow_redirects=False).status_code == 404


def test_a_par_is_reused_until_half_spent_then_replaced(oci, storage):
    clock = FakeClock(1_900_000_000.0)
    links = ParLinks(storage, lifetime=HOUR, clock=clock)
    first = links.par("Years/2024.mp4")
    clock.now += HOUR / 2 - 60
    assert links.par("Years/2024.mp4") == first
    clock.now += 120
    second = links.par("Years/2024.mp4")
    assert second != first and second.expires == clock.now + HOUR


def test_expired_pars_of_this_app_are_deleted(oci, storage):
    clock = FakeClock(1_900_000_000.0)
    links = ParLinks(storage, lifetime=HOUR, clock=clock)
    mine = links.create("Root clip.mp4")
    theirs = storage.client.create_preauthenticated_request(
        storage.namespace,
        OCI_BUCKET,
        oci_sdk.object_storage.models.CreatePreauthenticatedRequestDetails(
            name="made-by-someone-else",
            access_type="ObjectRead",
            object_name="Root clip.mp4",
            time_expires=datetime.fromtimestamp(clock.now + 60, UTC),
        ),
    ).data
    clock.now += HOUR + 1
    mark = oci.server.mark()
    assert links.delete_expired() >= 1
    left = {p.id for p in pars(oci)}
    assert mine.id not in left
    assert theirs.id in left  # expired too, but not ours to delete
    deletes = [s for s in oci.server.since(mark) if s.method == "DELETE"]
    assert deletes and all(s.status == 204 for s in deletes)
