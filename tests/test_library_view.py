"""The library view's choices, driven without a browser: what a click opens, where it starts,
and the signed links the player is handed for the titles on screen."""

from __future__ import annotations

import pytest

from lib.library import Tab
from lib.links import MEDIA_PREFIX, POSITION_PREFIX
from lib.services import Services, build_services
from lib.settings import Settings
from lib.ui.library_view import SELECTED, LibraryView
from tests.conftest import ADMIN_PASSWORD, COOKIE_KEY, LONG_SECONDS, FakeClock

# Not the admin of the other tests: their browsers save positions in the shared fixture library.
WATCHER = "watcher"


@pytest.fixture
def services(fixture_library, tmp_path) -> Services:
    settings = Settings(
        library=fixture_library.root,
        username=WATCHER,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
    )
    return build_services(settings)


@pytest.fixture
def view(services) -> LibraryView:
    return LibraryView(services, services.accounts.get(WATCHER), {}, base="/family")


def titles(services: Services, folder: str) -> dict:
    return {video.name: video for video in services.library.videos(Tab(folder, f"{folder}/"))}


def test_a_click_on_a_listed_title_opens_it_from_the_start(view):
    view.open_named("Years/2024.mp4")
    assert view.session[SELECTED] == {"name": "Years/2024.mp4", "start": 0.0}


def test_a_click_opens_a_title_where_this_viewer_left_it(view, services):
    services.positions.report(WATCHER, "Events/Long walk.mp4", 20.0, LONG_SECONDS)
    view.open_named("Events/Long walk.mp4")
    assert view.session[SELECTED] == {"name": "Events/Long walk.mp4", "start": 20.0}


@pytest.mark.parametrize(
    "name", ["Events/Old tape.avi", "Years/Broken.hls/", "Years/Nowhere.mp4", "../secret.txt"]
)
def test_a_click_naming_no_playable_listed_title_opens_nothing(view, name):
    view.open_named(name)
    assert SELECTED not in view.session


def test_the_player_is_offered_signed_links_under_the_base_path(view, services):
    offered = {name: v for name, v in titles(services, "Years").items() if v.playable}
    offers = view.offers_for(offered)
    assert set(offers) == {"Years/2024.mp4", "Years/2022.hls/", "Years/Variants.hls/"}
    hls = offers["Years/2022.hls/"]
    assert hls.kind == "hls" and hls.src.startswith(f"/family{MEDIA_PREFIX}/")
    assert hls.src.endswith("/Years/2022.hls/output.m3u8")
    assert hls.report.startswith(f"/family{POSITION_PREFIX}/")
    assert hls.hlsScript.startswith("/family/assets/hls-")


def test_links_are_reused_until_half_their_life_is_spent(fixture_library):
    clock = FakeClock()
    settings = Settings(
        library=fixture_library.root,
        username=WATCHER,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
    )
    services = build_services(settings, clock=clock)
    session: dict = {}
    user = services.accounts.get(WATCHER)
    video = titles(services, "Years")["Years/2024.mp4"]

    def run() -> str:
        return LibraryView(services, user, session).offers_for({video.name: video})[video.name].src

    first = run()
    clock.now += 60
    assert run() == first  # a rerun a minute later: the same URL, the player is not reloaded
    clock.now += services.settings.token_seconds / 2
    assert run() != first  # half its life spent: a fresh link
