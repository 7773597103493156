"""Adding videos from the browser, end to end: Chromium uploads two phone videos over tus (one
cut off by going offline and resumed), the app's worker converts them, and they play."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, expect

from lib.jobs import INBOX_PREFIX, JOBS_PREFIX
from lib.session_cookie import SESSION_COOKIE
from tests.conftest import (
    ADMIN,
    VIEWER,
    VIEWER_PASSWORD,
    RunningApp,
    app_env,
    start_app,
    stop_app,
)
from tests.media_fixtures import make_clip, make_fixture
from tests.ui import (
    open_page,
    open_tab,
    sign_in,
    video_js,
    wait_for_cookie,
    wait_until,
    wait_until_playing,
)
from tests.users import write_users

pytestmark = pytest.mark.browser
FOLDER = "Holidays"
CHUNK = 32 * 1024 * 1024  # what the uploader sends per request (lib/frontend/upload.js)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("upload-media")


@pytest.fixture(scope="module")
def camera_file(media: Path) -> Path:
    """A noisy camera-like file of about 50 MB (two of the uploader's requests), made fast."""
    path = make_clip(
        media / "Camera 0007.mp4", "1280x720", 3,
        "-vf", "noise=alls=40:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "24",
        "-c:a", "aac", tone=True,
    )  # fmt: skip
    assert path.stat().st_size > CHUNK
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Path:
    root = tmp_path_factory.mktemp("uploads") / "library"
    (root / FOLDER).mkdir(parents=True)
    shutil.copy(make_fixture("phone_h264", media), root / FOLDER / "Already here.mp4")
    return root


@pytest.fixture(scope="module")
def upload_app(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    users = write_users(
        tmp_path_factory.mktemp("upload-users") / "users.yaml",
        {VIEWER: (VIEWER_PASSWORD, "viewer")},
    )
    env = app_env(HOMEMOVIES_WORKERS="1")
    flags = ["--library", str(library), "--users", str(users), "--username", ADMIN]
    app = start_app(flags, env, "upload")
    yield app
    stop_app(app)


def upload_row(page: Page, name: str):
    return page.locator(f'[data-testid="hm-upload"][data-file="{name}"]')


def test_an_admin_uploads_two_videos_one_cut_off_and_resumed_and_both_play(
    page: Page, upload_app: RunningApp, library: Path, media: Path, camera_file: Path
) -> None:
    hevc = make_fixture("phone_hevc_portrait", media)  # Chromium cannot decode this one as is
    patches: list[str] = []
    creations: list[str] = []
    cut: list[str] = []

    def seen(request: Request) -> None:
        if "/upload/" in request.url and request.method == "PATCH":
            patches.append(request.headers.get("upload-offset", ""))
        elif request.url.endswith("/upload/") and request.method == "POST":
            creations.append(request.url)

    def cut_off_once(route: Route) -> None:
        """The connection drops as the second piece of the camera file starts."""
        request = route.request
        offset = request.headers.get("upload-offset")
        if request.method == "PATCH" and offset == str(CHUNK) and not cut:
            cut.append(request.url)
            route.abort("connectionreset")
            return
        route.continue_()

    page.on("request", seen)
    sign_in(page, upload_app.url)
    open_page(page, "Add videos")
    expect(page.get_by_role("combobox", name="Folder")).to_have_value(FOLDER)  # the first tab
    page.route("**/upload/*", cut_off_once)
    page.get_by_label("Choose videos").set_input_files([str(camera_file), str(hevc)])
    for file in (camera_file, hevc):
        expect(upload_row(page, file.name)).to_have_attribute("data-state", "sent", timeout=60_000)
    assert cut, "the camera file's second piece was cut off"
    assert len(creations) == 2, "the cut-off upload resumed; it was not started again"
    assert patches.count(str(CHUNK)) == 2 and patches.count("0") == 2, patches

    jobs = page.locator('[class*="st-key-job-"]')
    expect(jobs).to_have_count(2)
    expect(jobs.get_by_text("Done", exact=True)).to_have_count(2, timeout=180_000)
    # A job is marked done once its title is whole; its inbox file is deleted just after.
    wait_until(lambda: not list((library / INBOX_PREFIX).rglob("*.*")), "the inbox is emptied")

    jobs.filter(has_text="phone_hevc_portrait").get_by_role("button", name="Watch").click()
    wait_until_playing(page)
    assert video_js(page, "v.videoWidth") > 0  # converted: it has a picture in Chromium now
    open_tab(page, FOLDER)
    for title in ("Camera 0007", "phone_hevc_portrait"):
        poster = page.locator(f'[data-hm-play="{FOLDER}/{title}.hls/"] img')
        wait_until(
            lambda poster=poster: poster.evaluate("(img) => img.complete && img.naturalWidth > 0"),
            f"the poster of {title} to load",
        )
    assert len(list((library / JOBS_PREFIX).glob("*.json"))) == 2
    assert not upload_app.unhandled_errors()


def test_a_viewer_has_no_add_videos_page_and_a_typed_url_shows_nothing_of_it(
    page: Page, upload_app: RunningApp
) -> None:
    sign_in(page, upload_app.url, VIEWER, VIEWER_PASSWORD)
    expect(page.get_by_role("tab", name=FOLDER, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Add videos")).to_have_count(0)
    wait_for_cookie(page, SESSION_COOKIE)
    page.goto(upload_app.url + "/add")
    expect(
        page.get_by_text("The page that you have requested does not seem to exist")
    ).to_be_visible()
    expect(page.get_by_role("tab", name=FOLDER, exact=True)).to_be_visible()
    expect(page.get_by_test_id("hm-uploader")).to_have_count(0)
    expect(page.get_by_label("Choose videos")).to_have_count(0)
