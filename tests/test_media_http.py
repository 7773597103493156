"""The media route over HTTP: tokens, Range, HEAD, content types, traversal.

Most tests drive the app's routes, as the factory builds them, with Starlette's (httpx)
client; the traversal and compression tests talk raw HTTP to the real `streamlit run` server,
so nothing normalises the path before the app sees it.
"""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.version import Version

from lib.links import media_url
from lib.services import build_services
from lib.settings import Settings
from lib.tokens import TokenSigner
from lib.web.media import RangeNotSatisfiable, parse_range
from tests.app_client import client_for
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COOKIE_KEY,
    ODD_HLS,
    ODD_MP4,
    REPO,
    SECRET_TEXT,
    FakeClock,
)
from tests.loopback import settings_for
from tests.media_tokens import SIGNER
from tests.raw_http import raw_get


@pytest.fixture(scope="module", params=["local", "oci"])
def client(request, fixture_library):
    """The app's routes over the local folder, and over the same files in the loopback OCI
    bucket (through the real SDK); ADMIN is their one account."""
    account = {"username": ADMIN, "password": ADMIN_PASSWORD, "cookie_key": COOKIE_KEY}
    if request.param == "local":
        settings = Settings(library=fixture_library.root, **account)
    else:
        settings = settings_for(request.getfixturevalue("oci"), **account)
    with client_for(build_services(settings)) as client:
        yield client


def url(scope: str, name: str | None = None, user: str = ADMIN, ttl: int = 600) -> str:
    return media_url(SIGNER.issue(scope, user, ttl), scope if name is None else name)


def test_whole_file_with_length_and_headers(client, fixture_library):
    response = client.get(url("Years/2024.mp4"))
    assert response.status_code == 200
    assert response.content == (fixture_library.root / "Years/2024.mp4").read_bytes()
    assert response.headers["content-length"] == str(fixture_library.sizes["Years/2024.mp4"])
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "content-encoding" not in response.headers


def test_range_request_for_first_two_bytes_returns_206(client, fixture_library):
    size = fixture_library.sizes["Years/2024.mp4"]
    response = client.get(url("Years/2024.mp4"), headers={"Range": "bytes=0-1"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-1/{size}"
    assert response.headers["content-length"] == "2"
    assert response.content == (fixture_library.root / "Years/2024.mp4").read_bytes()[:2]


def test_open_ended_and_suffix_ranges(client, fixture_library):
    data = (fixture_library.root / "Years/2024.mp4").read_bytes()
    size = len(data)
    response = client.get(url("Years/2024.mp4"), headers={"Range": f"bytes={size - 100}-"})
    assert response.status_code == 206
    assert response.content == data[-100:]
    assert response.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    response = client.get(url("Years/2024.mp4"), headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert response.content == data[-10:]
    response = client.get(url("Years/2024.mp4"), headers={"Range": f"bytes=10-{size + 500}"})
    assert response.status_code == 206
    assert response.content == data[10:]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=999999999-",
        "bytes=5-2",
        "bytes=-0",
        "bytes=" + "9" * 5000 + "-",
        "bytes=0-" + "9" * 30,
        "bytes=-" + "9" * 30,
    ],
)
def test_unsatisfiable_range_gets_416(client, fixture_library, header):
    response = client.get(url("Years/2024.mp4"), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{fixture_library.sizes['Years/2024.mp4']}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "items=0-1",
        "bytes=0-1,4-5",
        "bytes=0-1, 2-3, 4-5",
        "bytes",
        "bytes=-",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=0x10-",
        "bytes=\u00b2-",  # a superscript two: a digit to str.isdigit(), not to a Range header
        "bytes=0-\u00b9",
        "bytes=1e3-",
        "bytes=" + "0-1," * 2000,
    ],
)
def test_range_we_do_not_serve_gets_the_whole_file(client, fixture_library, header):
    # As bytes: a server hands Starlette any byte in a header, decoded as Latin-1.
    response = client.get(url("Years/2024.mp4"), headers={"Range": header.encode("latin-1")})
    assert response.status_code == 200
    assert len(response.content) == fixture_library.sizes["Years/2024.mp4"]


def test_head_has_headers_and_no_body(client, fixture_library):
    response = client.head(url("Years/2024.mp4"))
    assert response.status_code == 200
    assert response.headers["content-length"] == str(fixture_library.sizes["Years/2024.mp4"])
    assert response.content == b""
    response = client.head(url("Years/2024.mp4"), headers={"Range": "bytes=0-1"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "2"


def test_hls_playlist_and_segments_share_one_folder_token(client):
    token_url = url("Years/2022.hls/", "Years/2022.hls/output.m3u8")
    playlist = client.get(token_url)
    assert playlist.status_code == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert b"#EXTM3U" in playlist.content
    segment_url = token_url.rsplit("/", 1)[0] + "/output000.ts"
    segment = client.get(segment_url)
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "video/mp2t"


def test_odd_names_are_served(client, fixture_library):
    response = client.get(url("Events/" + ODD_MP4))
    assert response.status_code == 200
    assert response.content == (fixture_library.root / "Events" / ODD_MP4).read_bytes()
    hls = client.get(url(f"Events/{ODD_HLS}/", f"Events/{ODD_HLS}/output.m3u8"))
    assert hls.status_code == 200


def test_download_link_is_an_attachment(client):
    response = client.get(url("Events/Old tape.avi") + "?download=1")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''Old%20tape.avi"
    assert response.headers["content-type"] == "application/octet-stream"


def test_missing_tampered_and_expired_tokens_get_403(client):
    assert client.get("/video/nothing/Years/2024.mp4").status_code == 403
    good = url("Years/2024.mp4")
    token = good.split("/")[2]
    tampered = good.replace(token, token[:-3] + ("xyz" if not token.endswith("xyz") else "abc"))
    assert client.get(tampered).status_code == 403
    expired = media_url(
        TokenSigner(SIGNER._key, clock=lambda: 0).issue("Years/2024.mp4", ADMIN, 1),
        "Years/2024.mp4",
    )
    assert client.get(expired).status_code == 403


def test_token_of_a_removed_user_gets_403(client):
    assert client.get(url("Years/2024.mp4", user="removed")).status_code == 403


def test_outside_scope_gets_404(client):
    assert client.get(url("Years/2024.mp4", "Events/Wedding.mp4")).status_code == 404
    assert client.get(url("Years/2022.hls/", "Years/2024.mp4")).status_code == 404


def test_missing_object_inside_scope_gets_404(client):
    assert client.get(url("Years/2022.hls/", "Years/2022.hls/output999.ts")).status_code == 404


def test_a_name_with_a_newline_after_it_is_not_that_name(client):
    # Starlette's `path` matched "2024.mp4\n" as "2024.mp4" (`$` matches before a final newline).
    assert client.get(url("Years/2024.mp4") + "%0A").status_code == 404
    assert client.get(url("Years/2024.mp4") + "%0A/").status_code == 404


def test_post_is_not_allowed(client):
    assert client.post(url("Years/2024.mp4")).status_code == 405


def assert_safety_headers(headers, token_seconds_left: float | None = None) -> None:
    """nosniff, no referrer, and a cache lifetime no longer than the token's."""
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    cache = headers["cache-control"]
    if cache != "no-store":
        assert cache.startswith("private, max-age=")
        assert token_seconds_left is not None
        assert int(cache.removeprefix("private, max-age=")) <= token_seconds_left


def test_every_media_answer_carries_the_safety_headers(client):
    good = url("Years/2024.mp4", ttl=600)
    answers = {
        "200": client.get(good),
        "206": client.get(good, headers={"Range": "bytes=0-1"}),
        "416": client.get(good, headers={"Range": "bytes=5-2"}),
        "HEAD": client.head(good),
        "403 forged": client.get("/video/forged.token/Years/2024.mp4"),
        "403 removed user": client.get(url("Years/2024.mp4", user="removed")),
        "404 outside scope": client.get(url("Years/2024.mp4", "Events/Wedding.mp4")),
        "404 missing": client.get(url("Years/2022.hls/", "Years/2022.hls/nothing.ts")),
        "404 no name": client.get("/video/just-a-token"),
        "405": client.delete(good),
    }
    statuses = {label: answer.status_code for label, answer in answers.items()}
    assert statuses == {
        "200": 200,
        "206": 206,
        "416": 416,
        "HEAD": 200,
        "403 forged": 403,
        "403 removed user": 403,
        "404 outside scope": 404,
        "404 missing": 404,
        "404 no name": 404,
        "405": 405,
    }
    for answer in answers.values():
        assert_safety_headers(answer.headers, token_seconds_left=600)


@pytest.mark.parametrize(("ttl", "max_age"), [(90, 90), (7200, 3600), (1, 1)])
def test_cache_lifetime_never_outlives_the_token(fixture_library, ttl, max_age):
    clock = FakeClock()
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    services = build_services(settings, clock=clock)
    token_url = media_url(services.signer.issue("Years/2024.mp4", ADMIN, ttl), "Years/2024.mp4")
    with client_for(services) as client:
        response = client.get(token_url, headers={"Range": "bytes=0-1"})
        assert response.headers["cache-control"] == f"private, max-age={max_age}"
        clock.now += ttl // 2
        later = client.get(token_url, headers={"Range": "bytes=0-1"})
        assert later.headers["cache-control"] == f"private, max-age={min(3600, ttl - ttl // 2)}"


def test_starlette_is_not_the_release_with_the_range_header_dos():
    # CVE-2025-62727: FileResponse (our hls.js asset route) took quadratic time merging a
    # crafted Range header; fixed in 0.49.1.
    installed = Version(importlib.metadata.version("starlette"))
    assert installed >= Version("0.49.1")
    pinned = next(
        line.split("==")[1].split()[0]
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.startswith("starlette==")
    )
    assert Version(pinned) == installed


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=9-", 10, (9, 9)),
        ("bytes=-20", 10, (0, 9)),
        (" bytes = 2 - 3 ", 10, (2, 3)),
        ("bytes=0-99999999999999999999999", 10, None),
    ],
)
def test_parse_range(header, size, expected):
    if expected is None:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
    else:
        assert parse_range(header, size) == expected


TRAVERSALS = [
    "../secret.txt",
    "..//secret.txt",
    "....//secret.txt",
    "..;/secret.txt",
    "%c0%ae%c0%ae/secret.txt",  # an over-long UTF-8 encoding of '..'
    "%5c%5cserver%5cshare",
    "..%255csecret.txt",
    "a%01b",
    "a%0a%0db",
    "a%7f",
    "a%0a/",  # no route matched a newline: Starlette's router answered with a redirect
    "a" * 3000,
    "../../secret.txt",
    "%2e%2e/secret.txt",
    "..%2fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%252e%252e/secret.txt",
    "..%5csecret.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "%00secret.txt",
    "Years/..%2f..%2fsecret.txt",
]


@pytest.mark.parametrize("tail", TRAVERSALS)
@pytest.mark.parametrize("scope", ["Years/2022.hls/", "Years/2024.mp4"])
def test_traversal_never_serves_the_secret_beside_the_library(local_app, scope, tail):
    token = SIGNER.issue(scope, ADMIN, 600)
    prefix = scope if scope.endswith("/") else ""
    for path in (f"/video/{token}/{prefix}{tail}", f"/video/{token}/{tail}"):
        status, body, headers = raw_get(local_app.url, path)
        assert SECRET_TEXT not in body
        assert status in (400, 403, 404), (path, status)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


def test_real_server_serves_media_uncompressed_with_range(local_app, fixture_library):
    playlist = url("Years/2022.hls/", "Years/2022.hls/output.m3u8")
    status, body, headers = raw_get(local_app.url, playlist, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert "Content-Encoding" not in headers
    assert body == (fixture_library.root / "Years/2022.hls/output.m3u8").read_bytes()
    status, body, headers = raw_get(
        local_app.url, url("Events/" + ODD_MP4), {"Range": "bytes=0-1", "Accept-Encoding": "gzip"}
    )
    assert status == 206
    assert headers["Content-Range"].startswith("bytes 0-1/")
    assert len(body) == 2
