"""Browser tests of the viewer features: search, continue watching, playback controls,
posters and subtitles, share links, signing in on a TV, phone and TV layouts."""

from __future__ import annotations

import functools
import json
import re

import pytest
from playwright.sync_api import expect

from lib.positions import Positions
from tests.conftest import ADMIN, ARTIFACTS, LONG_SECONDS, ODD_MP4, new_page
from tests.ui import (
    open_page,
    open_tab,
    play,
    press_until_shown,
    private_session_cookie,
    sign_in,
    sign_out_ends_it,
    video_js,
    video_state,
    wait_until,
    wait_until_playing,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TV = {"width": 1920, "height": 1080}
TV_AGENT = (
    "Mozilla/5.0 (Linux; Android 12; SHIELD Android TV) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


# --- Find -----------------------------------------------------------------------------------


def test_search_narrows_the_list_across_tabs(page, local_app):
    sign_in(page, local_app.url)
    search = page.get_by_label("Search titles")
    expect(search).to_have_count(1)  # the page has settled after signing in
    search.press_sequentially("wedd")  # as typed, no Enter
    expect(page.get_by_text("1 title matches")).to_be_visible()
    expect(page.get_by_role("button", name="Wedding", exact=True)).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)
    search.fill("SPACES e u")  # case and accents do not matter
    expect(
        page.get_by_role("button", name=ODD_MP4.removesuffix(".mp4"), exact=True)
    ).to_be_visible()
    expect(page.get_by_role("button", name="Wedding", exact=True)).to_have_count(0)
    search.fill("20")
    expect(page.get_by_text("2 titles match")).to_be_visible()
    expect(page.get_by_role("button", name="2022", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="2024", exact=True)).to_be_visible()
    search.fill("clip")  # a title of another tab (Unsorted)
    expect(page.get_by_role("button", name="Root clip", exact=True)).to_be_visible()
    search.fill("no such title")
    expect(page.get_by_text("No titles match “no such title”.")).to_be_visible()
    search.fill("")
    expect(page.get_by_role("tab")).to_have_text(["Events", "Years", "Unsorted"])


def test_sort_by_size_puts_the_largest_first(page, local_app, fixture_library):
    sign_in(page, local_app.url)
    open_tab(page, "Events")
    page.get_by_label("Sort by").click()
    page.get_by_role("option", name="Size").click()
    titles = re.compile(r"^(Wedding|Long walk|Spaces)")
    cards = page.get_by_role("tabpanel").get_by_role("button", name=titles)
    # Long walk (40 s) is the largest file; the HLS title has no size and goes last.
    expect(cards.first).to_have_accessible_name("Long walk")


# --- Continue watching ----------------------------------------------------------------------


def saved_position(library, name: str) -> float:
    """Return the admin's position in title `name` as saved in storage, or 0."""
    try:
        state = json.loads((library.root / Positions.object_name(ADMIN)).read_text())
        return state["positions"][name]["position"]
    except (OSError, ValueError, KeyError):
        return 0.0


def test_position_saved_in_one_session_resumes_in_the_next(browser, local_app, fixture_library):
    saved = functools.partial(saved_position, fixture_library, "Events/Long walk.mp4")
    with new_page(browser, "resume-first-session") as first:
        sign_in(first, local_app.url)
        open_tab(first, "Events")
        play(first, "Long walk")
        wait_until_playing(first)
        video_js(first, "v.currentTime = 16")
        # The player reports every few seconds; the position reaches storage debounced (at
        # most 10 s later), long before playback could pass the 90% mark at 54 s.
        wait_until(lambda: saved() >= 16, "the position never reached the state file", 35)
        first.locator("video").focus()
        first.keyboard.press(" ")  # pause before the 90% mark would clear it
    resume_at = saved()
    assert 16 <= resume_at < 0.9 * LONG_SECONDS

    with new_page(browser, "resume-second-session") as second:
        sign_in(second, local_app.url)
        expect(second.get_by_role("heading", name="Continue watching")).to_be_visible()
        second.get_by_role("button", name=re.compile(r"^Long walk · ")).click()
        expect(second.locator("video")).to_have_attribute("aria-label", "Long walk")
        wait_until(lambda: video_state(second)["time"] > 0, "the resumed title never started")
        assert video_state(second)["time"] >= resume_at - 1  # started there, not from 0


def test_leaving_the_library_while_a_title_plays_keeps_its_position_and_draws_the_next_page(
    browser, local_app, fixture_library
):
    """The player's last report is sent as the library page goes. Through component state
    it reran the library's player fragment while the share links page was drawn, which
    blanked that page (Streamlit: "'setIn' cannot be called on an ElementNode")."""
    saved = functools.partial(saved_position, fixture_library, "Events/Long walk.mp4")
    with new_page(browser, "leave-while-playing") as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, local_app.url)
        open_tab(page, "Events")
        play(page, "Long walk")
        wait_until_playing(page)
        # Paused, then moved: no periodic report carries 37 s, only the one sent on leaving.
        video_js(page, "v.pause()")
        video_js(page, "v.currentTime = 37")
        open_page(page, "Share links")
        expect(page.get_by_role("heading", name="Share links")).to_be_visible()
        wait_until(lambda: saved() == 37, f"the position on leaving was not kept: {saved()}")
        expect(page.get_by_role("heading", name="Share links")).to_be_visible()  # still drawn
        assert errors == []


# --- Playback controls ----------------------------------------------------------------------


def test_speed_change_takes_effect(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2024")
    wait_until_playing(page)
    assert video_js(page, "v.playbackRate") == 1
    page.get_by_label("Speed").select_option("1.5")
    assert video_js(page, "v.playbackRate") == 1.5
    assert page.get_by_label("Speed").evaluate("s => Array.from(s.options, o => o.text)") == [
        "0.5×",
        "0.75×",
        "1×",
        "1.25×",
        "1.5×",
        "2×",
    ]


def test_keyboard_shortcuts_when_the_player_has_focus(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Events")
    play(page, "Long walk")
    wait_until_playing(page)
    page.locator("video").focus()
    page.keyboard.press(" ")
    expect(page.locator("video")).to_have_js_property("paused", True)
    before = video_js(page, "v.currentTime")
    page.keyboard.press("ArrowRight")
    assert video_js(page, "v.currentTime") == pytest.approx(before + 10, abs=0.5)
    page.keyboard.press("ArrowLeft")
    assert video_js(page, "v.currentTime") == pytest.approx(before, abs=0.5)
    page.keyboard.press("m")
    assert video_js(page, "v.muted") is True
    page.keyboard.press("f")
    wait_until(lambda: page.evaluate("!!document.fullscreenElement"), "f did not go fullscreen")
    page.keyboard.press("f")
    wait_until(lambda: not page.evaluate("!!document.fullscreenElement"), "f did not leave it")
    page.keyboard.press(" ")
    expect(page.locator("video")).to_have_js_property("paused", False)


def test_quality_menu_offers_auto_and_each_variant(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "Variants")
    wait_until_playing(page)
    quality = page.get_by_label("Quality")
    expect(quality.locator("option")).to_have_text(["Auto", "360p", "180p"])
    quality.select_option(label="180p")
    wait_until(lambda: video_js(page, "v.videoHeight") == 180, "180p was never shown")
    quality.select_option(label="360p")
    wait_until(lambda: video_js(page, "v.videoHeight") == 360, "360p was never shown")


def test_single_variant_hls_has_no_quality_menu(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2022")
    wait_until_playing(page)
    expect(page.get_by_label("Speed")).to_be_visible()
    expect(page.get_by_label("Quality")).to_have_count(0)


# --- Posters and subtitles ------------------------------------------------------------------


def test_subtitle_track_is_present_and_loads(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Events")
    play(page, "Wedding")
    wait_until_playing(page)
    tracks = video_js(
        page, "Array.from(v.textTracks, t => ({label: t.label, lang: t.language, kind: t.kind}))"
    )
    assert tracks == [{"label": "English", "lang": "en", "kind": "subtitles"}]
    page.get_by_label("Subtitles").select_option(label="English")
    # readyState 2 (LOADED): the .vtt came through the media route under its own token.
    wait_until(
        lambda: video_js(page, "v.querySelector('track').readyState") == 2,
        "the subtitle file never loaded",
    )
    assert video_js(page, "v.textTracks[0].mode") == "showing"


def test_hls_subtitles_come_from_the_folder(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2022")
    wait_until_playing(page)
    assert video_js(page, "Array.from(v.textTracks, t => t.label)") == ["German"]


def test_posters_in_the_grid_and_the_player_and_placeholders_otherwise(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Events")
    poster = page.locator('.hm-poster img[src$="/Events/Wedding.jpg"]')
    expect(poster).to_have_count(1)
    wait_until(lambda: poster.evaluate("i => i.complete && i.naturalWidth") == 320, "no poster")
    grid = page.get_by_role("tabpanel")
    expect(grid.locator(".hm-poster span", has_text="Long walk")).to_have_count(1)
    play(page, "Wedding")
    assert video_js(page, "v.poster").endswith("/Events/Wedding.jpg")


# --- Share links ----------------------------------------------------------------------------


def test_share_link_plays_without_login_and_stops_after_revocation(page, local_app, browser):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2024")
    page.get_by_role("button", name="Share").click()
    page.get_by_label("Note (optional)").fill("For Grandma")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_test_id("stCode").filter(has_text="/share/").inner_text().strip()
    assert link.startswith(local_app.url + "/share/")

    with new_page(browser, "share-link-guest", viewport=PHONE) as guest:
        response = guest.goto(link)
        assert response.status == 200
        expect(guest.get_by_role("heading", name="2024")).to_be_visible()
        expect(guest.get_by_text("For Grandma")).to_be_visible()
        state = wait_until_playing(guest)
        assert "/Years/2024.mp4" in state["src"]
        expect(guest.locator("video")).to_have_count(1)
        assert guest.get_by_role("link").count() == 0  # nothing else of the library to follow
        assert guest.get_by_role("tab").count() == 0

        open_page(page, "Share links")
        card = page.locator("[class*='st-key-share-']").filter(has_text="For Grandma")
        expect(card.get_by_text(re.compile(r"^Expires in 24 hours"))).to_be_visible()
        card.get_by_role("button", name="Revoke").click()
        expect(card).to_have_count(0)

        assert guest.request.get(state["src"]).status == 403  # its media stopped too
        response = guest.reload()
        assert response.status == 410
        expect(guest.get_by_role("heading", name="This link has expired")).to_be_visible()
        expect(guest.locator("video")).to_have_count(0)


# --- Signing in on a TV ---------------------------------------------------------------------


def test_qr_sign_in_approved_on_a_phone_signs_in_the_tv_once(browser, local_app):
    with (
        new_page(browser, "tv-sign-in-tv", viewport=TV, user_agent=TV_AGENT) as tv,
        new_page(browser, "tv-sign-in-phone", viewport=PHONE) as phone,
    ):
        tv.goto(local_app.url)
        press_until_shown(
            tv, tv.get_by_role("button", name="Sign in with your phone"), tv.get_by_role("img")
        )
        expect(tv.get_by_role("img")).to_have_count(1)  # the QR code
        approve_link = tv.get_by_role("link", name="this link").get_attribute("href")
        match = tv.get_by_text(re.compile(r"The phone will show the code")).inner_text()[-5:-1]

        phone.goto(approve_link)  # not signed in yet: the link survives the sign-in form
        phone.get_by_label("Username", exact=True).fill(ADMIN)
        phone.get_by_label("Password", exact=True).fill("correct horse battery")
        phone.get_by_role("button", name="Sign in", exact=True).click()
        expect(phone.get_by_text("Chrome 120 on Android (SHIELD Android TV)")).to_be_visible()
        expect(phone.get_by_text(f"shows the code {match}")).to_be_visible()
        expect(tv.get_by_role("tab")).to_have_count(0)
        phone.get_by_role("button", name="Approve").click()
        expect(phone.get_by_text("Approved.")).to_be_visible()

        # The waiting TV polls (every 2 s) and signs in with the password form's cookie.
        expect(tv.get_by_role("tab", name="Years")).to_be_visible(timeout=20_000)
        kept = private_session_cookie(tv)
        tv.reload()
        expect(tv.get_by_role("tab", name="Years")).to_be_visible()

        phone.goto(approve_link)  # the same code a second time
        expect(
            phone.get_by_text("This sign-in code has expired or was already used.")
        ).to_be_visible()
        expect(phone.get_by_role("button", name="Approve")).to_have_count(0)
        sign_out_ends_it(tv, kept)


# --- Phones and TVs -------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [PHONE, TV], ids=["phone-390x844", "tv-1920x1080"])
def test_library_and_player_fit_phones_and_tvs(browser, local_app, viewport):
    name = f"layout-{viewport['width']}x{viewport['height']}"
    with new_page(browser, name, viewport=viewport) as page:
        sign_in(page, local_app.url)
        open_tab(page, "Years")
        play(page, "2024")
        wait_until_playing(page)
        video = page.locator("video").bounding_box()
        column = page.get_by_test_id("stMainBlockContainer").bounding_box()
        padding = page.get_by_test_id("stMainBlockContainer").evaluate(
            "e => parseFloat(getComputedStyle(e).paddingLeft) + "
            "parseFloat(getComputedStyle(e).paddingRight)"
        )
        # The player fills the content column: its width minus the column's own padding.
        assert video["width"] == pytest.approx(column["width"] - padding, abs=2)
        assert video["width"] >= 0.9 * viewport["width"] - (0 if viewport is PHONE else 400)
        assert video["x"] >= 0 and video["x"] + video["width"] <= viewport["width"]
        for label in ("Events", "Unsorted", "Years"):
            open_tab(page, label)  # every tab can be reached (scrolled to) and opened
        page.screenshot(path=str(ARTIFACTS / f"{name}-player.png"))
