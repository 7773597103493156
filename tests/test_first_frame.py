"""What makes the first frame come sooner, as a viewer's browser sees it: the player's code
and hls.js are loaded before any title is clicked, and one click plays at once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui import open_tab, play, sign_in, wait_until_playing

pytestmark = pytest.mark.browser


def test_library_loads_hls_js_before_any_click_and_shows_no_player(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('/assets/hls-'))"
    )
    expect(page.locator("video")).to_have_count(0)
    expect(page.locator(".hm-player")).to_be_hidden()


def test_one_click_plays_and_names_the_title_below_the_player(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    play(page, "2022")
    wait_until_playing(page)
    expect(page.locator(".hm-player")).to_be_visible()
    expect(page.get_by_role("heading", name="2022")).to_be_visible()
    player_box = page.locator(".hm-player").bounding_box()
    heading_box = page.get_by_role("heading", name="2022").bounding_box()
    assert heading_box["y"] > player_box["y"] + player_box["height"] - 1
