"""The app's own background indexer, end to end: started with the app, it gives every title of
a fixture tab a poster that loads and a length, and the stats page says it is done."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lib.media_index import INDEX_PREFIX
from tests.conftest import ADMIN, RunningApp, app_env, start_app, stop_app
from tests.media_fixtures import make_fixture
from tests.ui import open_page, sign_in, wait_until

pytestmark = pytest.mark.browser
TAB = "Trips"
TITLES = ("Beach", "Quiet", "Phone", "Walk", "Posed")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app, indexer on, over one tab: an H.264 MP4, one without sound, a phone's HEVC .mov,
    a hand-made HLS title and an MP4 with its own poster."""
    media = tmp_path_factory.mktemp("index-media")
    root = tmp_path_factory.mktemp("indexed") / "library"
    tab = root / TAB
    tab.mkdir(parents=True)
    shutil.copy(make_fixture("phone_h264", media), tab / "Beach.mp4")
    shutil.copy(make_fixture("no_audio", media), tab / "Quiet.mp4")
    shutil.copy(make_fixture("phone_hevc_portrait", media), tab / "Phone.mov")
    shutil.copy(make_fixture("phone_h264", media), tab / "Posed.mp4")
    poster = tab / "Posed.jpg"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=320x180",
            "-frames:v",
            "1",
            str(poster),
        ],
        check=True,
    )
    walk = tab / "Walk.hls"
    walk.mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(make_fixture("phone_h264", media)),
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_playlist_type",
            "vod",
            str(walk / "output.m3u8"),
        ],
        check=True,
    )
    return root


@pytest.fixture(scope="module")
def indexed_app(library: Path) -> Iterator[RunningApp]:
    env = app_env(HOMEMOVIES_NO_INDEX="false")
    app = start_app(["--library", str(library), "--username", ADMIN], env, "indexed")
    yield app
    stop_app(app)


def cards_ready(page: Page) -> bool:
    """Whether every card of the tab shows a poster that loaded and a length."""
    return page.evaluate(
        """(count) => {
          const cards = Array.from(document.querySelectorAll('.hm-card'));
          return cards.length === count && cards.every((card) => {
            const img = card.querySelector('.hm-poster img');
            const length = card.querySelector('.hm-duration');
            return img && img.complete && img.naturalWidth > 0 && length
              && /^\\d+:\\d\\d$/.test(length.textContent);
          });
        }""",
        len(TITLES),
    )


def test_every_card_gets_a_poster_and_a_length_from_the_apps_own_indexer(
    page, indexed_app, library
):
    sign_in(page, indexed_app.url)
    expect(page.locator(".hm-card")).to_have_count(len(TITLES))

    def ready() -> bool:
        if cards_ready(page):
            return True
        page.reload()  # the grid is drawn from the index as it stands at each page load
        page.locator(".hm-card").first.wait_for()
        return False

    wait_until(ready, "every card to show a loaded poster and a length", timeout=120)
    lengths = page.locator(".hm-duration").all_inner_texts()
    assert lengths == ["0:03"] * len(TITLES)
    posed = page.locator(f'[data-hm-play="{TAB}/Posed.mp4"] img')
    assert "Posed.jpg" in posed.get_attribute("src")  # its own poster is kept
    made = list((library / INDEX_PREFIX).rglob("poster.jpg"))
    assert len(made) == len(TITLES) - 1  # a poster for each title without one, none for Posed
    assert not [p for p in (library / TAB).rglob("*") if p.name.startswith(".")]
    assert not indexed_app.unhandled_errors()


def test_the_stats_page_says_the_index_is_done(page, indexed_app):
    sign_in(page, indexed_app.url)
    open_page(page, "Library stats")
    expect(
        page.get_by_text(f"Indexed {len(TITLES)} of {len(TITLES)} playable titles")
    ).to_be_visible(timeout=120_000)
