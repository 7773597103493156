"""Browser tests of a title being added: its card says so (admins also see how far the upload
is), it has nothing to play, and once the upload finishes a refresh makes it playable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lib.library import INGEST_MARKER, IngestMarker
from tests.conftest import (
    ADMIN,
    VIEWER,
    VIEWER_PASSWORD,
    RunningApp,
    app_env,
    start_app,
    stop_app,
)
from tests.ui import sign_in, wait_until_settled
from tests.users import write_users

pytestmark = pytest.mark.browser

MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """One tab: Alps on its way (42 %), Coast whose upload stopped two days ago, and Lakes
    (90 %), which a test finishes."""
    root = tmp_path_factory.mktemp("being-added") / "library"
    now = datetime.now(UTC)
    uploads = (("Alps", 42.0, now), ("Coast", 10.0, now - timedelta(2)), ("Lakes", 90.0, now))
    for title, percent, updated in uploads:
        folder = root / "Trips" / f"{title}.hls"
        (folder / "360p").mkdir(parents=True)
        (folder / "360p" / "seg0.ts").write_bytes(b"\x47" * 188)
        marker = IngestMarker(title, updated - timedelta(minutes=5), updated, percent)
        (folder / INGEST_MARKER).write_bytes(marker.to_json())
    return root


@pytest.fixture(scope="module")
def adding_app(library: Path, tmp_path_factory) -> Iterator[RunningApp]:
    """The app on that library, with an admin and a viewer account."""
    users = write_users(
        tmp_path_factory.mktemp("being-added-users") / "users.yaml",
        {VIEWER: (VIEWER_PASSWORD, "viewer")},
    )
    flags = ["--library", str(library), "--users", str(users), "--username", ADMIN]
    app = start_app(flags, app_env(), "being-added")
    yield app
    stop_app(app)


def card(page: Page, title: str):
    return page.locator(".hm-card").filter(has=page.get_by_text(title, exact=True))


def test_an_admin_sees_how_far_an_upload_is_and_that_one_stopped(page, adding_app):
    sign_in(page, adding_app.url)
    expect(card(page, "Alps")).to_contain_text("Being added — 42 %")
    expect(card(page, "Coast")).to_contain_text("Upload interrupted: run ingest again")
    expect(page.get_by_role("button", name="Alps")).to_have_count(0)
    expect(page.get_by_text("has no output.m3u8")).to_have_count(0)
    assert not adding_app.unhandled_errors()


def test_a_viewer_sees_only_being_added(page, adding_app):
    sign_in(page, adding_app.url, VIEWER, VIEWER_PASSWORD)
    for title in ("Alps", "Coast"):
        expect(card(page, title)).to_contain_text("Being added")
        expect(card(page, title)).not_to_contain_text("%")
        expect(card(page, title)).not_to_contain_text("interrupted")
    expect(page.get_by_role("button", name="Alps")).to_have_count(0)


def test_a_finished_upload_plays_after_a_refresh(page, adding_app, library):
    sign_in(page, adding_app.url)
    expect(card(page, "Lakes")).to_contain_text("Being added — 90 %")
    folder = library / "Trips" / "Lakes.hls"
    (folder / "360p" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n")
    (folder / "output.m3u8").write_text(MASTER)  # as ingest does: the master last,
    (folder / INGEST_MARKER).unlink()  # then the marker goes
    wait_until_settled(page)
    page.get_by_role("button", name="Refresh library").click()
    expect(page.get_by_role("button", name="Lakes", exact=True)).to_be_visible()
    expect(card(page, "Lakes")).not_to_contain_text("Being added")
