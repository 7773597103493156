"""Browser tests of what the library index gives the page: a seek preview over the player's
own seek bar (library and share page), cards marked when this browser cannot decode their
title, and a clear message when a title plays without a picture."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from lib.ingest.indexer import Indexer
from lib.library import Kind, Library, Video
from lib.media_index import MediaIndex
from lib.storage.local import LocalStorage
from lib.ui.grid import MAY_NOT_PLAY, convert_command
from scripts.make_demo import encode_mp4
from tests.conftest import (
    ADMIN,
    VIEWER,
    VIEWER_PASSWORD,
    RunningApp,
    app_env,
    new_page,
    start_app,
    stop_app,
)
from tests.ingest_run import run_ingest
from tests.media_fixtures import make_fixture
from tests.ui import open_tab, sign_in, video_js, wait_until_playing
from tests.users import write_users

pytestmark = pytest.mark.browser

TAB = "Clips"
PREVIEWED = "Harbour"  # made by ingest, 14 s: a preview of 14 cells, ten to a row
HEVC = "Upright"  # an iPhone's HEVC .mov: Chromium without hardware decoding has no decoder
H264 = "Beach"  # a phone's H.264 .mp4
PREVIEW_MAP = f"{TAB}/{PREVIEWED}.hls/preview/thumbnails.vtt"
NO_PICTURE = "This browser cannot show this video's picture (its format needs converting)."
CONVERT = convert_command(Video(TAB, HEVC, f"{TAB}/{HEVC}.mov", Kind.FILE))
CUE = re.compile(r"([\d:.]+) --> ([\d:.]+)\n[^\n#]+#xywh=(\d+),(\d+),\d+,\d+")


# ----- the library index -----


def index_library(library_dir: Path) -> None:
    """Index every playable title in `library_dir` with the app's own indexer (one pass)."""
    storage = LocalStorage(library_dir)
    Indexer(storage, Library(storage), MediaIndex(storage)).run_once()


# ----- the app -----


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tab: an ingested title with a seek preview, an HEVC .mov and an H.264 .mp4, indexed."""
    media = tmp_path_factory.mktemp("index-media")
    root = tmp_path_factory.mktemp("index-library")
    source = encode_mp4(media / "harbour.mp4", 14, "testsrc2", 440)
    run_ingest("--library", root, "--folder", TAB, "--title", PREVIEWED, source, check=True)
    shutil.copy(make_fixture("phone_hevc_portrait", media), root / TAB / f"{HEVC}.mov")
    shutil.copy(make_fixture("phone_h264", media), root / TAB / f"{H264}.mp4")
    index_library(root)
    return root


@pytest.fixture(scope="module")
def index_app(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app on that library, with an admin and a viewer account (the index is made)."""
    users = write_users(
        tmp_path_factory.mktemp("index-users") / "users.yaml",
        {VIEWER: (VIEWER_PASSWORD, "viewer")},
    )
    flags = ["--library", str(library), "--users", str(users), "--username", ADMIN, "--no_index"]
    app = start_app(flags, app_env(), "index")
    yield app
    stop_app(app)


# ----- what the tests look at -----


def preview_cues(library: Path) -> list[tuple[float, float, str]]:
    """Return the (start, end, "X,Y") of every cue of the title's seek-preview map."""

    def seconds(text: str) -> float:
        return sum(float(part) * 60**power for power, part in enumerate(reversed(text.split(":"))))

    text = (library / PREVIEW_MAP).read_text()
    return [(seconds(a), seconds(b), f"{x},{y}") for a, b, x, y in CUE.findall(text)]


def cue_at(cues: list[tuple[float, float, str]], time: float) -> tuple[float, float, str]:
    return next(cue for cue in cues if cue[0] <= time < cue[1])


def at_fraction(track: Locator, fraction: float) -> dict[str, float]:
    box = track.bounding_box()
    assert box is not None
    return {"x": box["width"] * fraction, "y": box["height"] / 2}


def hover_shows_its_cell(page: Page, cues: list, fraction: float) -> str:
    """Hover the seek bar at `fraction` of its width; check the preview shows the sprite cell
    of that time (loaded) and the time; return the cell ("X,Y")."""
    duration = video_js(page, "v.duration")
    track = page.locator(".hm-scrub-track")
    track.hover(position=at_fraction(track, fraction))
    time = fraction * duration
    cell = cue_at(cues, time)[2]
    preview = page.locator(".hm-preview")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("data-hm-cell", cell)
    minutes, seconds = divmod(int(time), 60)
    expect(preview.locator(".hm-preview-time")).to_have_text(f"{minutes}:{seconds:02}")
    image = preview.locator("img")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
    x, y = map(int, cell.split(","))
    assert image.evaluate("i => [i.offsetLeft, i.offsetTop]") == [-x, -y]
    return cell


def play_button(page: Page, title: str) -> Locator:
    # Its name may start with the length the index knows (over the poster): "0:14 Harbour".
    return page.get_by_role("button", name=re.compile(rf"(^|\s){re.escape(title)}$"))


def card(page: Page, title: str) -> Locator:
    return page.locator(".hm-card").filter(has=play_button(page, title))


def play_title(page: Page, title: str) -> None:
    """Click `title`'s card and wait for the player to show it."""
    play_button(page, title).click()
    expect(page.locator("video")).to_have_attribute("aria-label", title)


# ----- the tests -----


def test_the_seek_bar_previews_the_time_under_the_pointer_and_seeks_there(page, index_app, library):
    cues = preview_cues(library)
    sign_in(page, index_app.url)
    open_tab(page, TAB)
    play_title(page, PREVIEWED)
    wait_until_playing(page, past=0.2)
    video_js(page, "v.pause()")
    cells = [hover_shows_its_cell(page, cues, fraction) for fraction in (0.25, 0.75)]
    assert cells[0] != cells[1]

    track = page.locator(".hm-scrub-track")
    track.click(position=at_fraction(track, 0.75))
    duration = video_js(page, "v.duration")
    start, end, _ = cue_at(cues, 0.75 * duration)
    page.wait_for_function(
        "([v, target, span]) => !v.seeking && Math.abs(v.currentTime - target) <= span",
        arg=[page.locator("video").element_handle(), 0.75 * duration, end - start],
    )


def test_a_share_page_previews_the_time_under_the_pointer(page, browser, index_app, library):
    sign_in(page, index_app.url)
    open_tab(page, TAB)
    play_title(page, PREVIEWED)
    page.get_by_role("button", name="Share").click()
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_test_id("stCode").filter(has_text="/share/").inner_text().strip()
    with new_page(browser, "index-share-guest") as guest:
        guest.goto(link)
        wait_until_playing(guest, past=0.2)
        video_js(guest, "v.pause()")
        hover_shows_its_cell(guest, preview_cues(library), 0.75)


def test_a_card_this_browser_cannot_decode_says_so_and_offers_admins_the_conversion(
    page, index_app
):
    sign_in(page, index_app.url)
    open_tab(page, TAB)
    hevc = card(page, HEVC)
    expect(hevc).to_have_attribute("data-hm-unsupported", "")
    expect(hevc.get_by_text(MAY_NOT_PLAY)).to_be_visible()
    expect(hevc.locator(".hm-maynot-admin")).to_be_visible()
    expect(hevc.locator(".hm-maynot-admin code")).to_have_text(CONVERT)
    for title in (H264, PREVIEWED):
        playable = card(page, title)
        expect(playable).to_have_attribute("data-hm-checked", "")
        assert not playable.evaluate("c => c.hasAttribute('data-hm-unsupported')"), title
        expect(playable.get_by_text(MAY_NOT_PLAY)).to_be_hidden()
        expect(playable.locator(".hm-maynot-admin")).to_be_hidden()


def test_a_viewer_is_told_a_card_may_not_play_but_offered_no_conversion(page, index_app):
    sign_in(page, index_app.url, VIEWER, VIEWER_PASSWORD)
    open_tab(page, TAB)
    expect(card(page, HEVC).get_by_text(MAY_NOT_PLAY)).to_be_visible()
    expect(card(page, HEVC).locator(".hm-maynot-admin")).to_have_count(0)
    # Search results are cards drawn anew: they are marked too.
    page.get_by_label("Search titles").fill(HEVC)
    expect(page.get_by_text("1 title matches")).to_be_visible()
    expect(card(page, HEVC).get_by_text(MAY_NOT_PLAY)).to_be_visible()
    play_title(page, HEVC)
    expect(page.locator(".hm-error")).to_have_text(NO_PICTURE)


def test_a_title_playing_without_a_picture_is_paused_and_says_why(page, index_app):
    sign_in(page, index_app.url)
    open_tab(page, TAB)
    play_title(page, HEVC)
    player = page.get_by_test_id("hm-player")
    expect(player).to_have_attribute("data-state", "nopicture")
    alert = page.get_by_role("alert").filter(has_text=NO_PICTURE)
    expect(alert).to_contain_text("An admin can convert it:")
    expect(alert.locator("code")).to_have_text(CONVERT)
    assert video_js(page, "[v.paused, v.videoWidth]") == [True, 0]
