"""Security against the real app (`streamlit run`) with a users file: roles, the sign-in
throttle, revocation across a restart, the page policy against hostile playlists, and files
that change while they are served.

The app here serves a library of its own (a copy of part of the fixture library, plus
hostile playlists), so these tests may change files and restart it.
"""

from __future__ import annotations

import http.client
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from lib.links import media_url
from lib.session_cookie import SESSION_COOKIE
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    RunningApp,
    app_env,
    new_page,
    start_app,
    stop_app,
)
from tests.media_tokens import SIGNER
from tests.ui import (
    open_page,
    open_tab,
    play,
    sign_in,
    wait_for_cookie,
    wait_until,
    wait_until_playing,
)
from tests.users import write_users

MUM, MUM_PASSWORD = "mum", "mum's own passphrase"
GRANDPA, GRANDPA_PASSWORD = "grandpa", "grandpa's passphrase"
MiB = 1024 * 1024


class ForeignHost:
    """Another web server on loopback (another origin), counting every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.paths.append(self.path)
                body = b"\x47" * 188  # looks enough like a TS packet to tempt a player
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def foreign_playlist(host: str) -> str:
    """A VOD playlist whose key and segments all live on `host`."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f'#EXT-X-KEY:METHOD=AES-128,URI="{host}/key.bin"',
    ]
    for number in range(3):
        lines += ["#EXTINF:2.0,", f"{host}/evil{number:03d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


@dataclass
class SecureLibrary:
    root: Path
    users: Path
    foreign: ForeignHost
    flags: list[str] = field(default_factory=list)


def write_family(path: Path, *, grandpa: bool = True) -> None:
    """The users file: mum (admin) and, unless removed, grandpa (viewer)."""
    entries = {MUM: (MUM_PASSWORD, "admin"), GRANDPA: (GRANDPA_PASSWORD, "viewer")}
    if not grandpa:
        del entries[GRANDPA]
    write_users(path, entries)


@pytest.fixture(scope="module")
def secure_library(fixture_library, tmp_path_factory) -> Iterator[SecureLibrary]:
    base = tmp_path_factory.mktemp("secure")
    root = base / "library"
    for name in ("Events/Wedding.mp4", "Years/2024.mp4"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture_library.root / name, root / name)
    shutil.copytree(fixture_library.root / "Years/2022.hls", root / "Years/2022.hls")
    foreign = ForeignHost()
    hostile = root / "Hostile"
    (hostile / "Foreign.hls").mkdir(parents=True)
    (hostile / "Foreign.hls" / "output.m3u8").write_text(foreign_playlist(foreign.url))
    (hostile / "Binary.hls").mkdir()
    (hostile / "Binary.hls" / "output.m3u8").write_bytes(bytes(range(256)) * 64)
    (hostile / "Huge.hls").mkdir()
    with (hostile / "Huge.hls" / "output.m3u8").open("wb") as handle:
        handle.write(b"#EXTM3U\n")
        handle.truncate(64 * MiB)  # sparse: a 64 MiB playlist without 64 MiB on disk
    (base / "secret.txt").write_text("beside the library")
    users = base / "users.yaml"
    write_family(users)
    flags = ["--library", str(root), "--users", str(users), "--username", ADMIN]
    yield SecureLibrary(root, users, foreign, flags)
    foreign.stop()


@pytest.fixture(scope="module")
def secure_app(secure_library) -> Iterator[RunningApp]:
    app = start_app(secure_library.flags, app_env(), "secure")
    yield app
    stop_app(app)


def collect_policy_violations(page: Page) -> None:
    """Record every Content-Security-Policy violation of the page in `window.__violations`."""
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.__violations.push("
        "{uri: e.blockedURI, directive: e.effectiveDirective}));"
    )


def violations(page: Page) -> list[dict]:
    return page.evaluate("window.__violations")


def raw_get(app_url: str, path: str, headers: dict[str, str] | None = None):
    parts = urlsplit(app_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    return connection, connection.getresponse()


# --- Roles ----------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_viewer_sees_no_admin_page_and_no_share_button(browser, secure_app):
    with new_page(browser, "roles-viewer") as page:
        sign_in(page, secure_app.url, GRANDPA, GRANDPA_PASSWORD)
        expect(page.get_by_text("Signed in as Grandpa")).to_be_visible()
        open_tab(page, "Events")
        play(page, "Wedding")
        expect(page.get_by_role("button", name="Share")).to_have_count(0)
        expect(page.get_by_role("link", name="Share links")).to_have_count(0)
        page.goto(secure_app.url + "/shares")  # typed by hand: not a page for viewers
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
        expect(page.get_by_role("heading", name="Share links")).to_have_count(0)
    with new_page(browser, "roles-admin") as page:
        sign_in(page, secure_app.url, MUM, MUM_PASSWORD)
        open_tab(page, "Events")
        play(page, "Wedding")
        expect(page.get_by_role("button", name="Share")).to_have_count(1)
        open_page(page, "Share links")
        expect(page.get_by_role("heading", name="Share links")).to_be_visible()


@pytest.mark.browser
def test_the_single_admin_signs_in_beside_the_users_file(page, secure_app):
    sign_in(page, secure_app.url, ADMIN, ADMIN_PASSWORD)
    expect(page.get_by_role("link", name="Share links")).to_be_visible()


# --- Brute force ----------------------------------------------------------------------------


@pytest.mark.browser
def test_sixth_failure_from_one_address_is_refused_and_others_still_get_in(browser, secure_app):
    attacker = {"X-Forwarded-For": "203.0.113.66"}  # uvicorn trusts it from 127.0.0.1
    with new_page(browser, "throttle-attacker", extra_http_headers=attacker) as page:
        page.goto(secure_app.url)
        for number in range(5):
            # A different (unknown) username each time: the address is what is throttled.
            page.get_by_label("Username", exact=True).fill(f"guess{number}")
            page.get_by_label("Password", exact=True).fill("Guessed-Password-1")
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.get_by_text("Incorrect username or password.")).to_be_visible()
            expect(page.get_by_label("Password", exact=True)).to_have_value("")
        page.get_by_label("Username", exact=True).fill(MUM)
        page.get_by_label("Password", exact=True).fill(MUM_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_text("Too many failed sign-ins. Wait")).to_be_visible()
        expect(page.get_by_role("tab")).to_have_count(0)
    # The owner, from elsewhere, is not locked out by someone else's guessing.
    with new_page(
        browser, "throttle-owner", extra_http_headers={"X-Forwarded-For": "198.51.100.5"}
    ) as page:
        sign_in(page, secure_app.url, MUM, MUM_PASSWORD)
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
    log = secure_app.log()
    assert "failed sign-in for 'guess0' from 203.0.113.66" in log
    assert "sign-in refused for 'mum' from 203.0.113.66: throttled" in log
    assert "Guessed-Password-1" not in log and MUM_PASSWORD not in log


# --- Revocation across a restart ------------------------------------------------------------


def cookie_of(page: Page) -> dict:
    wait_for_cookie(page, SESSION_COOKIE)
    return next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)


@pytest.mark.browser
def test_a_removed_user_and_a_signed_out_cookie_stay_out_after_a_restart(
    browser, secure_library, tmp_path
):
    users = tmp_path / "users.yaml"
    write_family(users)
    flags = [*secure_library.flags[:2], "--users", str(users), "--username", ADMIN]
    app = start_app(flags, app_env(), "revocation-before")
    try:
        with new_page(browser, "revocation-grandpa") as page:
            sign_in(page, app.url, GRANDPA, GRANDPA_PASSWORD)
            open_tab(page, "Events")
            play(page, "Wedding")
            src = wait_until_playing(page)["src"]
            grandpa_cookie = cookie_of(page)
        with new_page(browser, "revocation-mum") as page:
            sign_in(page, app.url, MUM, MUM_PASSWORD)
            expect(page.get_by_role("tab", name="Events")).to_be_visible()
            mum_cookie = cookie_of(page)
        with new_page(browser, "revocation-owner") as page:
            sign_in(page, app.url)
            expect(page.get_by_role("tab", name="Events")).to_be_visible()
            owner_cookie = cookie_of(page)
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_label("Username", exact=True)).to_be_visible()
        path = urlsplit(src).path
        connection, response = raw_get(app.url, path, {"Range": "bytes=0-1"})
        assert response.status == 206
        connection.close()
    finally:
        stop_app(app)

    write_family(users, grandpa=False)
    app = start_app(flags, app_env(), "revocation-after")
    try:
        connection, response = raw_get(app.url, path, {"Range": "bytes=0-1"})
        assert (
            response.status == 403
            and response.read() == b"This video link is invalid or has expired."
        )
        connection.close()
        # Mum's cookie still works after the restart: what follows is revocation, not restart.
        with new_page(browser, "revocation-mum-after") as page:
            page.context.add_cookies([mum_cookie])
            page.goto(app.url)
            expect(page.get_by_role("tab", name="Events")).to_be_visible()
        for name, cookie in (("grandpa", grandpa_cookie), ("owner", owner_cookie)):
            with new_page(browser, f"revocation-{name}-after") as page:
                page.context.add_cookies([cookie])
                page.goto(app.url)
                expect(page.get_by_label("Username", exact=True)).to_be_visible()
                expect(page.get_by_role("tab")).to_have_count(0)
    finally:
        stop_app(app)


# --- Hostile playlists and the page policy --------------------------------------------------


@pytest.mark.browser
def test_the_page_policy_leaves_streamlit_and_the_player_working(page, secure_app):
    collect_policy_violations(page)
    response = page.goto(secure_app.url)
    assert response.headers["content-security-policy"].startswith("connect-src 'self'; ")
    sign_in(page, secure_app.url)
    open_tab(page, "Years")
    play(page, "2024")
    wait_until_playing(page)
    play(page, "2022")
    wait_until_playing(page, past=2.5)  # hls.js: playlist, segments, worker
    assert violations(page) == []


@pytest.mark.browser
def test_a_playlist_pointing_at_another_host_gets_nothing_from_the_browser(
    page, secure_app, secure_library
):
    collect_policy_violations(page)
    foreign = secure_library.foreign
    sign_in(page, secure_app.url)
    open_tab(page, "Hostile")
    play(page, "Foreign")

    def blocked() -> list[dict]:
        return [v for v in violations(page) if v["uri"].startswith(foreign.url)]

    # hls.js tries the key, then retries it: each try is stopped by the page's policy.
    wait_until(
        lambda: foreign.paths or len(blocked()) >= 2,
        "the player never tried to reach the foreign host",
        timeout=60,
    )
    assert foreign.paths == []
    assert {v["directive"] for v in violations(page)} == {"connect-src"}


@pytest.mark.browser
def test_binary_and_huge_playlists_say_the_playlist_is_broken(page, secure_app):
    sign_in(page, secure_app.url)
    open_tab(page, "Hostile")
    for title in ("Binary", "Huge"):
        play(page, title)
        expect(page.locator(".hm-error")).to_have_text(
            "This video's playlist is missing or broken.", timeout=30_000
        )
    assert not secure_app.unhandled_errors()


@pytest.mark.browser
def test_the_stats_page_reports_the_hostile_playlists(page, secure_app):
    sign_in(page, secure_app.url, MUM, MUM_PASSWORD)
    open_page(page, "Library stats")
    expect(page.get_by_role("button", name="Scan again")).to_be_visible(timeout=60_000)
    # Binary and Huge cannot be used; Foreign's key and three segments live on another host.
    expect(page.get_by_text("Playlist that cannot be used: 2")).to_be_visible()
    expect(page.get_by_text("Playlist pointing outside its folder: 4")).to_be_visible()
    assert not secure_app.unhandled_errors()


def test_a_huge_playlist_is_refused_before_a_byte_is_sent(secure_app):
    token = SIGNER.issue("Hostile/Huge.hls/", ADMIN, 600)
    connection, response = raw_get(secure_app.url, media_url(token, "Hostile/Huge.hls/output.m3u8"))
    assert response.status == 422
    assert response.read() == b"This playlist is too large to be a video's."
    connection.close()


# --- Files that change while they are served ------------------------------------------------


def big_file(root: Path, name: str, size: int) -> Path:
    path = root / ".changing" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def test_a_file_truncated_while_served_ends_the_stream_and_the_next_request_sees_it(
    secure_app, secure_library
):
    path = big_file(secure_library.root, "truncated.bin", 24 * MiB)
    url = media_url(SIGNER.issue(".changing/truncated.bin", ADMIN, 600), ".changing/truncated.bin")
    connection, response = raw_get(secure_app.url, url)
    assert response.status == 200 and response.headers["Content-Length"] == str(24 * MiB)
    first = response.read(MiB)
    with path.open("r+b") as handle:
        handle.truncate(2 * MiB)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    connection.close()
    assert len(first) + len(caught.value.partial) < 24 * MiB
    connection, again = raw_get(secure_app.url, url)
    assert again.status == 200 and len(again.read()) == 2 * MiB
    connection.close()
    wait_until(lambda: "changed while served" in secure_app.log(), "the cut was not logged")
    assert not secure_app.unhandled_errors()


def test_a_file_deleted_while_served_finishes_and_the_next_request_gets_404(
    secure_app, secure_library
):
    path = big_file(secure_library.root, "deleted.bin", 8 * MiB)
    expected = path.read_bytes()
    url = media_url(SIGNER.issue(".changing/deleted.bin", ADMIN, 600), ".changing/deleted.bin")
    connection, response = raw_get(secure_app.url, url)
    first = response.read(MiB)
    path.unlink()
    assert first + response.read() == expected  # the open file is read to its end
    connection.close()
    connection, again = raw_get(secure_app.url, url)
    assert again.status == 404 and again.read() == b"Not found."
    connection.close()
    assert not secure_app.unhandled_errors()
