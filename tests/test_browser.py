"""Browser tests: a real Chromium signs in and plays MP4 and HLS from the running app.

The scenarios taking `app` run against both backends: the fixture library served from a
local folder (`[local]`) and from the loopback OCI bucket (`[oci]`).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ODD_HLS, ODD_MP4, RunningApp
from tests.ui import (
    open_tab,
    play,
    private_session_cookie,
    sign_in,
    sign_out_ends_it,
    wait_until_playing,
    wait_until_settled,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["local", "oci"])
def app(request) -> RunningApp:
    """The app serving the fixture library from a local folder, then from the OCI bucket."""
    return request.getfixturevalue(f"{request.param}_app")


def test_sign_in_shows_tabs_in_name_order(page, app):
    sign_in(page, app.url)
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["Events", "Years", "Unsorted"])


def test_wrong_password_shows_an_error_and_no_library(page, local_app):
    sign_in(page, local_app.url, password="not the password")
    expect(page.get_by_text("Incorrect username or password.")).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)


def test_mp4_plays(page, app):
    sign_in(page, app.url)
    open_tab(page, "Years")
    play(page, "2024")
    state = wait_until_playing(page)
    assert "/video/" in state["src"] and state["src"].endswith("/Years/2024.mp4")


def test_hls_plays_through_hls_js(page, app):
    sign_in(page, app.url)
    open_tab(page, "Years")
    play(page, "2022")
    state = wait_until_playing(page, past=2.5)  # beyond the first 2 s segment
    assert state["src"].startswith("blob:"), "hls.js feeds the video through Media Source"


def test_odd_names_play(page, app):
    sign_in(page, app.url)
    open_tab(page, "Events")
    play(page, ODD_MP4.removesuffix(".mp4"))
    wait_until_playing(page)
    play(page, ODD_HLS.removesuffix(".hls"))
    state = wait_until_playing(page)
    assert state["src"].startswith("blob:")


def test_switching_titles_keeps_one_player(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2022")
    wait_until_playing(page)
    play(page, "2024")
    wait_until_playing(page)
    # The server's answer names the new title; the last position report of the one left
    # (sent as it stopped) does not bring that one back.
    expect(page.get_by_role("heading", name="2024")).to_be_visible()
    wait_until_settled(page)
    expect(page.locator("video")).to_have_count(1)
    expect(page.locator("video")).to_have_attribute("aria-label", "2024")


def test_root_titles_are_in_unsorted(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Unsorted")
    play(page, "Root clip")
    wait_until_playing(page)


def test_broken_and_unplayable_titles_are_explained(page, app):
    sign_in(page, app.url)
    open_tab(page, "Years")
    expect(page.get_by_text("has no output.m3u8")).to_be_visible()
    open_tab(page, "Events")
    expect(page.get_by_text("needs converting")).to_be_visible()
    command = page.get_by_text("python -m lib.ingest --existing 'Events/Old tape.avi'")
    expect(command).to_be_hidden()
    page.get_by_text("Convert or download", exact=True).click()  # a disclosure in the card
    expect(command).to_be_visible()
    download = page.get_by_role("link", name="Download the original")
    expect(download).to_be_visible()
    href = download.get_attribute("href")
    assert href and href.endswith("/Events/Old%20tape.avi?download=1")


def test_signed_in_cookie_survives_reload_and_sign_out_ends_it(page, local_app):
    sign_in(page, local_app.url)
    expect(page.get_by_role("tab", name="Years")).to_be_visible()
    stale_cookie = private_session_cookie(page)
    page.reload()
    expect(page.get_by_role("tab", name="Years")).to_be_visible()
    sign_out_ends_it(page, stale_cookie)
