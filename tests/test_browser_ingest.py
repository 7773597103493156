"""Browser: titles made by `python -m lib.ingest` play in Chromium as adaptive HLS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.conftest import ADMIN, RunningApp, app_env, start_app, stop_app
from tests.ingest_run import run_ingest
from tests.media_fixtures import make_fixture
from tests.ui import open_tab, play, sign_in, video_js, wait_until, wait_until_playing

pytestmark = pytest.mark.browser
TAB = "Added"


@pytest.fixture(scope="module")
def ingested_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app on a library of ingested titles: landscape and portrait phone clips, and one
    whose original was kept."""
    media = tmp_path_factory.mktemp("media")
    library = tmp_path_factory.mktemp("ingested")
    landscape = make_fixture("phone_h264", media)
    portrait = make_fixture("phone_hevc_portrait", media)
    run_ingest("--library", library, "--folder", TAB, "--title", "Beach", landscape, check=True)
    run_ingest("--library", library, "--folder", TAB, "--title", "Upright", portrait, check=True)
    kept = make_fixture("no_audio", media)
    run_ingest(
        "--library",
        library,
        "--folder",
        TAB,
        "--title",
        "Kept",
        "--keep-original",
        kept,
        check=True,
    )
    app = start_app(["--library", str(library), "--username", ADMIN], app_env(), "ingested")
    yield app
    stop_app(app)


def test_an_ingested_title_plays_with_every_rung_offered(page, ingested_app) -> None:
    sign_in(page, ingested_app.url)
    open_tab(page, TAB)
    play(page, "Beach")
    state = wait_until_playing(page, past=1.0)
    assert state["src"].startswith("blob:"), "hls.js plays it through Media Source"
    quality = page.get_by_label("Quality")
    # The menu lists the levels hls.js parsed from the master playlist, best first.
    expect(quality.locator("option")).to_have_text(["Auto", "720p", "540p", "360p"])
    quality.select_option(label="360p")
    wait_until(lambda: video_js(page, "v.videoHeight") == 360, "360p was never shown")


def test_ingested_posters_show_in_the_grid(page, ingested_app) -> None:
    sign_in(page, ingested_app.url)
    open_tab(page, TAB)
    posters = page.locator(".hm-poster img")
    expect(posters).to_have_count(3)
    for index in range(3):
        image = posters.nth(index)
        image.scroll_into_view_if_needed()
        wait_until(
            lambda image=image: image.evaluate("i => i.complete && i.naturalWidth > 0"),
            "a poster did not load",
        )


def test_a_portrait_phone_video_plays_taller_than_wide(page, ingested_app) -> None:
    sign_in(page, ingested_app.url)
    open_tab(page, TAB)
    play(page, "Upright")
    wait_until_playing(page, past=0.5)
    wait_until(lambda: video_js(page, "v.videoWidth") > 0, "no picture decoded")
    width, height = video_js(page, "[v.videoWidth, v.videoHeight]")
    assert height > width, (width, height)


def test_a_kept_original_is_offered_as_a_download(page, ingested_app) -> None:
    sign_in(page, ingested_app.url)
    open_tab(page, TAB)
    play(page, "Kept")
    download = page.get_by_role("link", name="Download the original")
    expect(download).to_be_visible()
    href = download.get_attribute("href") or ""
    assert href.endswith("/Added/Kept.hls/original.mp4?download=1"), href
    play(page, "Beach")
    expect(page.get_by_role("link", name="Download the original")).to_have_count(0)
