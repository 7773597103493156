"""The app factory: what production serves beside Streamlit's pages is what the tests serve.

Every route and middleware `lib.app` builds has a probe here, run against the real
`streamlit run streamlit_app.py` (and the routes against the in-process test app): a route or
middleware missing from either, or one added without a probe, fails.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from lib.app import middleware, routes
from lib.assets import hls_script_path, player_asset_path, tus_script_path
from lib.links import media_url
from lib.services import Services, build_services
from lib.settings import Settings
from lib.web.headers import SecurityHeaders
from lib.web.media import IdentityEncoding
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY


@dataclass(frozen=True)
class Probe:
    """A request only this route answers as it does, and what it answers."""

    method: str
    path: str
    status: int
    content_type: str


ROUTE_PROBES = {
    "/video/{token}/{path:wholepath}": Probe(
        "GET", "/video/forged/Years/2024.mp4", 403, "text/plain"
    ),
    "/video/{rest:wholepath}": Probe("GET", "/video/nothing-here", 404, "text/plain"),
    "/position/{token}": Probe("POST", "/position/forged", 403, "text/plain"),
    "/share/{token}": Probe("GET", "/share/forged", 410, "text/html"),
    "/upload/": Probe("POST", "/upload/", 412, "text/plain"),  # no Tus-Resumable
    "/upload/{id}": Probe("GET", "/upload/some-id", 405, "text/plain"),
    "/session/{ticket}": Probe("GET", "/session/unknown-ticket", 303, ""),  # no cookie
    "/assets/hls-{version}.min.mjs": Probe("GET", hls_script_path(), 200, "text/javascript"),
    "/assets/tus-{version}.min.js": Probe("GET", tus_script_path(), 200, "text/javascript"),
    "/assets/player-{digest}.{extension:str}": Probe(
        "GET", player_asset_path("mjs"), 200, "text/javascript"
    ),
}


@pytest.fixture(scope="module")
def services(fixture_library) -> Services:
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    return build_services(settings)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect itself is the answer probed


def request(base: str, method: str, path: str, headers: dict[str, str] | None = None):
    """Return (status, headers, body) of one request to the running app (not followed)."""
    call = urllib.request.Request(
        base + path, method=method, headers=headers or {}, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.build_opener(NoRedirects).open(call, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_every_route_of_the_factory_has_a_probe(services):
    assert [route.path for route in routes(services)] == list(ROUTE_PROBES)


@pytest.mark.parametrize("path", list(ROUTE_PROBES))
def test_production_answers_on_every_route(local_app, path):
    probe = ROUTE_PROBES[path]
    status, headers, _ = request(local_app.url, probe.method, probe.path)
    content_type = headers.get("Content-Type", "").split(";")[0]
    assert (status, content_type) == (probe.status, probe.content_type)


@pytest.mark.parametrize("path", list(ROUTE_PROBES))
def test_the_tests_answer_on_every_route_as_production(services, path):
    probe = ROUTE_PROBES[path]
    with client_for(services) as client:
        response = client.request(probe.method, probe.path, follow_redirects=False)
    assert response.status_code == probe.status
    assert response.headers.get("content-type", "").split(";")[0] == probe.content_type


def test_every_middleware_of_the_factory_has_a_probe(services):
    assert [entry.cls for entry in middleware(services)] == [SecurityHeaders, IdentityEncoding]


def test_production_pages_carry_the_security_headers(local_app):
    status, headers, _ = request(local_app.url, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "media-src 'self' blob:" in headers["Content-Security-Policy"]
    # Streamlit's own refusals under the media prefix get the route headers too.
    status, headers, _ = request(local_app.url, "GET", "/video/..%2f..%2fsecret")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_production_never_compresses_media(local_app, fixture_library, services):
    name = "Years/2022.hls/output.m3u8"
    path = media_url(services.signer.issue("Years/2022.hls/", ADMIN, 600), name)
    status, headers, body = request(local_app.url, "GET", path, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("Content-Encoding") is None
    assert body == (fixture_library.root / name).read_bytes()
    # The same playlist through Streamlit's own gzip layer would have been compressed:
    assert len(gzip.compress(body)) < len(body)
