"""Property-based tests of the media route: thousands of random and mutated tokens, paths and
Range headers, and not one byte is served outside a valid token's scope.

The app's routes and middleware, as the factory builds them, serve the fixture library from
the local backend; a secret file lies beside the library. Requests go straight into the ASGI
app with the path already decoded, as a server hands it over, so NUL, control characters and
backslashes reach the route unaltered.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from lib.services import build_services
from lib.settings import Settings
from lib.tokens import InvalidToken, TokenSigner, derive_key
from tests.app_client import http_app
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, ODD_HLS, ODD_MP4, SECRET_TEXT
from tests.media_tokens import SIGNER

OTHER_SIGNER = TokenSigner(derive_key("another key entirely, 32+ characters", "x"))
SCOPES = [
    "Years/2024.mp4",
    "Years/2022.hls/",
    "Events/Wedding.mp4",
    f"Events/{ODD_HLS}/",
    f"Events/{ODD_MP4}",
    "Years/",  # a folder the app never grants, but a token may still name it
]
NAMES = [
    "Years/2024.mp4",
    "Years/2022.hls/output.m3u8",
    "Years/2022.hls/output000.ts",
    "Events/Wedding.mp4",
    f"Events/{ODD_HLS}/output.m3u8",
    f"Events/{ODD_MP4}",
    "Root clip.mp4",
    ".hidden/private.mp4",
]
HOSTILE = [
    "..",
    ".",
    "%2e%2e",
    "%252e%252e",
    "..%2f",
    "..\\",
    "\\",
    "\x00",
    "\x01",
    "\n",
    "\x7f",
    "/",
    "//",
    "secret.txt",
    "../secret.txt",
    "/etc/passwd",
    "C:\\secret.txt",
    "\u202e",
    "a" * 300,
]
EXPECTED_STATUSES = {200, 206, 400, 403, 404, 405, 416, 422}
RANGES = st.one_of(
    st.none(),
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 10**7), st.integers(0, 10**7)),
    st.builds(lambda n: f"bytes=-{n}", st.integers(0, 10**25)),
    st.text(alphabet="bytes=0123456789-, \t²١x", max_size=40),
)


# Thousands of examples per property; the fixtures are module-wide, so sharing them is safe.
THOUSANDS = settings(
    max_examples=2500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    """One event loop for every request of the module (the route runs on it)."""
    with start_blocking_portal() as portal:
        yield portal


@pytest.fixture(scope="module")
def app(fixture_library) -> Starlette:
    """The app's routes and middleware on the fixture library; ADMIN is its one account."""
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    return http_app(build_services(settings))


def request(portal: BlockingPortal, app, path: str, method: str = "GET", range_=None) -> Answer:
    """Send one request with an already-decoded `path` into the ASGI app; return the answer."""
    headers = [(b"host", b"testserver")]
    if range_ is not None:
        headers.append((b"range", range_.encode("latin-1", "replace")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": quote(path, safe="/").encode("ascii"),  # as it came, percent-encoded
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    messages: list[dict] = []
    requested = False

    async def receive() -> dict:
        # The request once, then (as a connection that stays open) nothing until cancelled.
        nonlocal requested
        if requested:
            await anyio.sleep_forever()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    portal.call(app, scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    decoded = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return Answer(start["status"], decoded, body)


def served_in_scope(root: Path, path: str, answer: Answer, range_: str | None) -> None:
    """Check the invariants of one answer to `path` (as the route splits it)."""
    assert answer.status in EXPECTED_STATUSES, answer
    assert SECRET_TEXT not in answer.body
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if answer.status not in (200, 206):
        return
    token, _, name = path.removeprefix("/video/").partition("/")
    try:
        grant = SIGNER.verify(token)
    except InvalidToken:
        pytest.fail(f"served {path!r} under a token that does not verify")
    assert grant.user == ADMIN and grant.covers(name), (grant, name)
    file = (root / name).resolve()
    assert file.is_relative_to(root.resolve()) and file.is_file()
    data = file.read_bytes()
    if answer.status == 200:
        assert answer.body == data
    else:
        start, end = map(int, answer.headers["content-range"][6:].split("/")[0].split("-"))
        assert answer.body == data[start : end + 1]
        assert range_ is not None


def mutate(token: str, how: int, position: int, char: str, other: str) -> str:
    """One small change to a token: what an attacker tries with a token they hold."""
    payload, _, mac = token.partition(".")
    other_payload, _, other_mac = other.partition(".")
    position %= max(len(token), 1)
    return [
        token[:position] + char + token[position + 1 :],  # replace one character
        token[:position] + token[position + 1 :],  # drop one
        token[:position] + char + token[position:],  # insert one
        token[:position],  # truncate
        token + char,  # extend
        f"{other_payload}.{mac}",  # another grant's payload under this signature
        f"{payload}.{other_mac}",  # this payload under another signature
        f"{payload}=.{mac}",  # padding the signed text
        f"{payload}.{mac}=",
        token.upper(),
        token.replace("-", "+").replace("_", "/"),  # standard base64 alphabet
        f"{payload}..{mac}",
        f"{payload}.{mac}.{mac}",
        token,  # unchanged: expired, foreign-keyed or another user's tokens as they are
    ][how % 14]


token_text = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.=+/%\\\x00~é", max_size=200
)


@THOUSANDS
@given(
    scope=st.sampled_from(SCOPES),
    user=st.sampled_from([ADMIN, "removed", "share:gone"]),
    ttl=st.sampled_from([600, -1]),
    other_scope=st.sampled_from(SCOPES),
    how=st.integers(0, 13),
    position=st.integers(0, 400),
    char=st.sampled_from(list("A0-_.=/%\x00é")),
    name=st.sampled_from(NAMES),
    random_token=st.one_of(st.none(), token_text),
    forged=st.booleans(),
    range_=RANGES,
)
def test_no_random_or_mutated_token_reaches_outside_its_scope(
    portal, app, fixture_library, scope, user, ttl, other_scope, how, position, char, name,
    random_token, forged, range_,
):  # fmt: skip
    signer = OTHER_SIGNER if forged else SIGNER
    token = signer.issue(scope, user, ttl)
    if random_token is not None:
        token = random_token
    else:
        token = mutate(token, how, position, char, SIGNER.issue(other_scope, ADMIN, 600))
    path = f"/video/{token}/{name}"
    answer = request(portal, app, path, range_=range_)
    served_in_scope(fixture_library.root, path, answer, range_)


hostile_segment = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)


@THOUSANDS
@given(
    scope=st.sampled_from(SCOPES),
    base=st.sampled_from(NAMES),
    segments=st.lists(hostile_segment, max_size=6),
    where=st.integers(0, 6),
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS"]),
    range_=RANGES,
)
def test_no_hostile_path_under_a_valid_token_reaches_outside_its_scope(
    portal, app, fixture_library, scope, base, segments, where, method, range_
):
    token = SIGNER.issue(scope, ADMIN, 600)
    parts = base.split("/")
    where %= len(parts) + 1
    name = "/".join([*parts[:where], *segments, *parts[where:]])
    path = f"/video/{token}/{name}"
    answer = request(portal, app, path, method=method, range_=range_)
    if method != "GET":
        assert SECRET_TEXT not in answer.body
        if method == "HEAD":
            assert answer.status in EXPECTED_STATUSES - {405}
            assert answer.status >= 400 or answer.body == b""
        else:
            assert answer.status == 405
        return
    served_in_scope(fixture_library.root, path, answer, range_)


def test_a_valid_token_is_served_through_the_same_harness(portal, app, fixture_library):
    """The harness can see a success: a property that never sees one would prove nothing."""
    path = f"/video/{SIGNER.issue('Years/2022.hls/', ADMIN, 600)}/Years/2022.hls/output.m3u8"
    answer = request(portal, app, path, range_="bytes=0-9")
    assert answer.status == 206
    served_in_scope(fixture_library.root, path, answer, "bytes=0-9")
    assert answer.body == (fixture_library.root / "Years/2022.hls/output.m3u8").read_bytes()[:10]
