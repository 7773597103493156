"""Browser helpers: what a user does (sign in, open a tab, play a title) and what they see."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from lib.session_cookie import SESSION_COOKIE
from tests.conftest import ADMIN, ADMIN_PASSWORD


def sign_in(page: Page, url: str, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    """Open the app and sign in through the form."""
    page.goto(url)
    wait_until_settled(page)  # a press before the first run has finished can be lost
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def wait_until_settled(page: Page) -> None:
    """Wait until the app's script run has finished (a user waits for the page to settle).

    Streamlit redraws the tab bar from the finishing run's state, so a tab clicked while an
    earlier run is still drawing can be switched back to the tab that run was drawing.
    """
    expect(page.locator('[data-testid="stApp"]')).to_have_attribute(
        "data-test-script-state", "notRunning"
    )


def open_tab(page: Page, label: str, timeout: float = 15) -> None:
    """Click tab `label` until it is selected.

    Streamlit disables the tabs while a run is going, and right after signing in the sign-in
    cookie's writer starts one more run that a settled page gives no sign of: a click landing
    then does nothing, and a user clicks again.
    """
    tab = page.get_by_role("tab", name=label, exact=True)
    deadline = time.monotonic() + timeout
    while True:
        wait_until_settled(page)
        tab.click()
        try:
            expect(tab).to_have_attribute("aria-selected", "true", timeout=2_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def press_until_shown(page: Page, button: Locator, shown: Locator, timeout: float = 20) -> None:
    """Press `button` until `shown` appears, as a user presses again a button that did nothing.

    A press landing while a run is going (on the sign-in page, the cookie component's report
    starts one right after the first) can be lost.
    """
    deadline = time.monotonic() + timeout
    while True:
        wait_until_settled(page)
        if button.count():
            button.click()
        try:
            expect(shown.first).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def open_page(page: Page, link: str, timeout: float = 20) -> None:
    """Follow the sidebar link to page `link` until that page is the current one.

    The sign-in cookie's writer reruns the page once more after signing in; a run of the
    library page still going, or arriving just after the click, takes the browser back
    there, and a user clicks again (as `open_tab` does for tabs).
    """
    wait_for_cookie(page, SESSION_COOKIE)
    anchor = page.get_by_role("link", name=link)
    deadline = time.monotonic() + timeout
    while True:
        wait_until_settled(page)
        anchor.click()
        try:
            expect(anchor).to_have_attribute("aria-current", "page", timeout=3_000)
            wait_until_settled(page)
            expect(anchor).to_have_attribute("aria-current", "page", timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def play(page: Page, title: str) -> None:
    """Click a title's play button and wait for the player to show that title."""
    page.get_by_role("button", name=title, exact=True).click()
    expect(page.locator("video")).to_have_attribute("aria-label", title)


def video_js(page: Page, expression: str):
    """Evaluate `expression` on the player's <video> (as `v`)."""
    return page.locator("video").evaluate(f"v => {expression}")


def video_state(page: Page) -> dict:
    return page.locator("video").evaluate(
        """v => ({time: v.currentTime, src: v.currentSrc || v.src, error: v.error && v.error.code,
                  paused: v.paused, readyState: v.readyState})"""
    )


def wait_until_playing(page: Page, past: float = 0.5, timeout: float = 20) -> dict:
    """Wait until the video's currentTime passes `past` seconds; fail on a media error."""
    deadline = time.monotonic() + timeout
    state = video_state(page)
    while time.monotonic() < deadline:
        state = video_state(page)
        assert state["error"] is None, f"media error {state}"
        alert = page.locator(".hm-error")
        if alert.count() and alert.is_visible():
            raise AssertionError(f"player error: {alert.inner_text()}")
        if state["time"] > past:
            return state
        page.wait_for_timeout(100)
    raise AssertionError(f"video did not advance past {past}s: {state}")


def wait_for_cookie(page: Page, name: str, present: bool = True, timeout: float = 10) -> None:
    """Wait until the browser holds (or no longer holds) cookie `name`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(cookie["name"] == name for cookie in page.context.cookies()) == present:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"cookie {name} {'never set' if present else 'still set'}")


def private_session_cookie(page: Page) -> dict:
    """Wait for the session cookie; check no script can read it; return it as the browser
    holds it (HttpOnly, SameSite=Lax, for the whole app, absent from `document.cookie`)."""
    wait_for_cookie(page, SESSION_COOKIE)
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/")
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    return cookie


def sign_out_ends_it(page: Page, cookie: dict) -> None:
    """Sign out; then neither the page nor a copy of its session `cookie` signs anyone in."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username", exact=True)).to_be_visible()
    wait_for_cookie(page, SESSION_COOKIE, present=False)
    page.context.add_cookies([cookie])  # a copy kept from before the sign-out
    page.reload()
    expect(page.get_by_label("Username", exact=True)).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)


def wait_until(condition: Callable[[], object], message: str, timeout: float = 20) -> None:
    """Wait until `condition()` is true (a state outside the page: a file, a log line)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)
