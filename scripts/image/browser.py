"""Check a running homemovies as a user does: its health and sign-in pages answer, and Chromium
signs in and plays an MP4 and an HLS title of the demo library (the video's time advances).

`HOMEMOVIES_PASSWORD=... python scripts/image/browser.py URL USERNAME`; scripts/image/smoke.sh
runs it against the container. On a failure it says why, keeps a screenshot in test-artifacts/
and exits 1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Error, Locator, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.chromium
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "image-smoke.png"
TAB = "Years"  # demo/Years: 2024.mp4, a file; 2022.hls, a folder hls.js plays
MP4_TITLE = "2024"
HLS_TITLE = "2022"
# Resolves once `video` is past `past` seconds; throws on a media or player error. The player
# draws in its component's shadow root, out of reach of document.querySelector.
PLAYED_PAST = """([video, past]) => {
    const alert = video.getRootNode().querySelector(".hm-error");
    if (alert && !alert.hidden) throw new Error(`player error: ${alert.innerText}`);
    if (video.error) throw new Error(`media error ${video.error.code}`);
    return video.currentTime > past;
}"""


class SmokeFailure(Exception):
    """Something a user would see go wrong."""


def get(url: str, path: str) -> tuple[int, str]:
    """Return the status and body of GET `path` on the app at `url`."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def check_pages(url: str) -> None:
    """Check that the health path says ok and the sign-in page is Streamlit's."""
    status, body = get(url, "/_stcore/health")
    if (status, body.strip()) != (200, "ok"):
        raise SmokeFailure(f"/_stcore/health answered {status} {body[:80]!r}")
    status, body = get(url, "/")
    if status != 200 or "<noscript>" not in body:
        raise SmokeFailure(f"/ answered {status}, not the app's page")


def until_done(action: Callable[[], None], done: Callable[[], None], timeout: float = 20) -> None:
    """Do `action` until `done()` stops raising, as a user clicks again a click that was lost.

    Streamlit ignores a click landing while a script run is going, and signing in starts one
    more run (the sign-in cookie's) that a settled page gives no sign of.
    """
    deadline = time.monotonic() + timeout
    while True:
        action()
        try:
            done()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def settled(page: Page) -> None:
    """Wait until the app's script run has finished."""
    app = page.locator('[data-testid="stApp"]')
    expect(app).to_have_attribute("data-test-script-state", "notRunning")


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    """Sign in through the form and wait for the library's tabs."""
    page.goto(url)
    settled(page)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("tab", name=TAB, exact=True)).to_be_visible(timeout=20_000)


def click(page: Page, target: Locator) -> Callable[[], None]:
    """Return the action: wait for the page to settle, then click `target`."""

    def action() -> None:
        settled(page)
        target.click()

    return action


def play(page: Page, title: str, past: float) -> str:
    """Play `title` until its video is `past` seconds in; return the video's source."""
    video = page.locator("video")
    until_done(
        click(page, page.get_by_role("button", name=title, exact=True)),
        lambda: expect(video).to_have_attribute("aria-label", title, timeout=3_000),
    )
    page.wait_for_function(PLAYED_PAST, arg=[video.element_handle(), past], timeout=30_000)
    source: str = video.evaluate("v => v.currentSrc || v.src")
    return source


def check_playback(url: str, username: str, password: str) -> None:
    """Sign in with Chromium and play the demo library's MP4 title, then its HLS title."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            sign_in(page, url, username, password)
            tab = page.get_by_role("tab", name=TAB, exact=True)
            until_done(
                click(page, tab),
                lambda: expect(tab).to_have_attribute("aria-selected", "true", timeout=2_000),
            )
            source = play(page, MP4_TITLE, past=0.5)
            if not source.endswith(f"/{TAB}/{MP4_TITLE}.mp4"):
                raise SmokeFailure(f"the MP4 title played from {source}")
            print(f"browser.py: {TAB}/{MP4_TITLE}.mp4 plays")
            source = play(page, HLS_TITLE, past=2.5)  # beyond the first 2 s segment
            if not source.startswith("blob:"):
                raise SmokeFailure(f"the HLS title played from {source}, not through hls.js")
            print(f"browser.py: {TAB}/{HLS_TITLE}.hls plays through hls.js")
        except (AssertionError, Error, SmokeFailure):
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOT, full_page=True)
            print(f"browser.py: the page as it was: {SCREENSHOT}", file=sys.stderr)
            raise
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the app, e.g. http://127.0.0.1:8501")
    parser.add_argument("username")
    arguments = parser.parse_args()
    password = os.environ.get("HOMEMOVIES_PASSWORD")
    if not password:
        print("browser.py: set HOMEMOVIES_PASSWORD to the user's password")
        return 1
    if not Path(CHROMIUM).exists():
        print(f"browser.py: Chromium is required at {CHROMIUM}: apt-get install -y chromium")
        return 1
    try:
        check_pages(arguments.url)
        print("browser.py: /_stcore/health says ok; the sign-in page answers")
        check_playback(arguments.url, arguments.username, password)
    except (AssertionError, Error, SmokeFailure, OSError) as failure:
        print(f"browser.py: {type(failure).__name__}: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
