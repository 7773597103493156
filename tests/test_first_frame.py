"""What makes the first frame come sooner, as a viewer's browser sees it: the player's code and
hls.js are loaded before any title is clicked, and a click starts the title in the browser
without waiting for the server, which then only names it below the player."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from lib.session_cookie import SESSION_COOKIE
from tests.ui import (
    open_tab,
    play,
    sign_in,
    video_state,
    wait_for_cookie,
    wait_until_playing,
    wait_until_settled,
)

pytestmark = pytest.mark.browser


class HeldAnswers:
    """Streamlit's websocket, routed through the test: the server's messages can be held back
    (as on a slow server) and let through later, in order."""

    def __init__(self, page: Page) -> None:
        self.holding = False
        self.held: list[str | bytes] = []
        self.passed = 0  # server messages let through to the page
        self.page_side: WebSocketRoute | None = None
        self.page = page
        page.route_web_socket("**/_stcore/stream", self.connect)

    def connect(self, page_side: WebSocketRoute) -> None:
        self.page_side = page_side
        server = page_side.connect_to_server()
        page_side.on_message(server.send)
        server.on_message(self.from_server)

    def from_server(self, message: str | bytes) -> None:
        if self.holding:
            self.held.append(message)
        else:
            self.passed += 1
            self.page_side.send(message)

    def wait_for_held(self, timeout: float = 15) -> None:
        """Wait until the server has sent a message that is being held."""
        deadline = time.monotonic() + timeout
        while not self.held and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        assert self.held, "the server sent nothing"

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.passed += 1
            self.page_side.send(message)
        self.held.clear()


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


@pytest.mark.parametrize("title", ["2022", "2024"])  # HLS, MP4
def test_a_click_plays_before_the_server_answers_and_its_answer_keeps_it_playing(
    page, local_app, title
):
    answers = HeldAnswers(page)
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    button = page.get_by_role("button", name=title, exact=True)
    button.wait_for()
    wait_until_settled(page)

    answers.holding = True
    button.click()
    started = wait_until_playing(page, past=0.2)
    answers.wait_for_held()  # the server did answer the click...
    expect(page.get_by_role("heading", name=title)).to_have_count(0)  # ...and is still held
    page.locator("video").evaluate("v => { v.dataset.first = 'yes'; }")

    answers.release()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    wait_until_settled(page)
    expect(page.locator("video")).to_have_attribute("data-first", "yes")  # the same element
    assert video_state(page)["time"] >= started["time"]  # carried on, not started over


# When the page clicked a play button, when a <video> started playing, and when the page sent
# the server anything (Streamlit's websocket), in the page's own clock. The player lives in a
# component's shadow root, which media events do not leave.
TELL_AFTER_MS = 2000  # player.js: Python hears of a click by then even if nothing plays yet
RECORD_CLICK_PLAYING_AND_SENDS = """
window.__hmSeen = { clicks: [], playing: [], sends: [] };
const playing = () => window.__hmSeen.playing.push(performance.now());
document.addEventListener('click', () => window.__hmSeen.clicks.push(performance.now()), true);
document.addEventListener('playing', playing, true);
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (...args) {
  const shadow = attachShadow.apply(this, args);
  shadow.addEventListener('playing', playing, true);
  return shadow;
};
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (...args) {
  window.__hmSeen.sends.push(performance.now());
  return send.apply(this, args);
};
"""


@pytest.mark.parametrize("title", ["2022", "2024"])  # HLS, MP4
def test_the_server_hears_of_a_click_only_once_the_title_plays(page, local_app, title):
    """Its run and the redraw would otherwise share the machine with the title's start."""
    page.add_init_script(RECORD_CLICK_PLAYING_AND_SENDS)
    sign_in(page, local_app.url)
    wait_for_cookie(page, SESSION_COOKIE)
    open_tab(page, "Years")
    button = page.get_by_role("button", name=title, exact=True)
    button.wait_for()
    wait_until_settled(page)

    button.click()
    wait_until_playing(page)
    expect(page.get_by_role("heading", name=title)).to_be_visible()  # the server was told
    seen = page.evaluate("() => window.__hmSeen")
    click = seen["clicks"][-1]
    first_frame = min(t for t in seen["playing"] if t > click)
    told = [t for t in seen["sends"] if t > click]
    assert told, "the page never told the server"
    # ...or, on a machine too busy to start the title within 2 s, by then (player.js).
    assert min(told) >= first_frame or min(told) - click >= TELL_AFTER_MS, (
        f"told the server {min(told) - click:.0f} ms after the click,"
        f" the title played after {first_frame - click:.0f} ms"
    )


def test_a_play_button_naming_no_listed_title_opens_nothing(page, local_app):
    answers = HeldAnswers(page)
    sign_in(page, local_app.url)
    wait_for_cookie(page, SESSION_COOKIE)  # the cookie writer's rerun is over before we count
    open_tab(page, "Years")
    page.get_by_role("button", name="2022", exact=True).wait_for()
    wait_until_settled(page)
    before = answers.passed
    # What a tampered page could send: the name of something the library does not list.
    page.evaluate(
        """() => {
          const button = document.createElement('button');
          button.dataset.hmPlay = '../secret/2022.mp4';
          document.body.append(button);
          button.click();
        }"""
    )
    # The server heard of it and answered (a short run may never show as running on the
    # page: React can draw its start and end in one go)...
    deadline = time.monotonic() + 30
    while answers.passed == before and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert answers.passed > before, "the server never answered the click"
    wait_until_settled(page)
    expect(page.locator("video")).to_have_count(0)  # ...and opened nothing, without an error
    expect(page.get_by_test_id("stException")).to_have_count(0)
    play(page, "2022")  # the page still plays what it lists
    wait_until_playing(page)


def test_titles_still_play_after_the_sign_in_cookie_reruns_the_page(page, local_app):
    sign_in(page, local_app.url)
    open_tab(page, "Years")
    wait_for_cookie(page, SESSION_COOKIE)  # its writer reports back: the page runs again
    wait_until_settled(page)
    # The player may be drawn anew on the same element; the old drawing's cleanup must not
    # take its click listener along (the buttons would then ignore the pointer).
    expect(page.locator("html")).to_have_attribute("data-hm-player", "ready")
    play(page, "2024")
    wait_until_playing(page)
