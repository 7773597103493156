"""A name from the bucket or the users file is shown exactly as it is, in every place a name
appears: the card, the player's heading, the share form, the share links page, the share
page, the continue-watching row, the stats tables; never as italics, math or a live link."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

from lib.positions import FORMAT_VERSION, Positions
from lib.services import build_services, install
from lib.settings import Settings
from tests.apptest import sign_in as apptest_sign_in
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COOKIE_KEY,
    REPO,
    RunningApp,
    app_env,
    start_app,
    stop_app,
)
from tests.ui import open_page, open_tab, play, sign_in, wait_until_playing

# Markdown would make italics, two amounts of math and a link of this; a directive, an
# emoji code and HTML are in it too.
TITLE = "*Stars* cost $5 and $10 [click](http:evil.example) :red[x] :smile: <b>bold"
FOLDER = "Odd"
NAME = f"{FOLDER}/{TITLE}.mp4"


@pytest.fixture(scope="module")
def odd_library(fixture_library, tmp_path_factory) -> Path:
    """A library of one title with a hostile name, which the admin has half watched."""
    root = tmp_path_factory.mktemp("odd") / "library"
    (root / FOLDER).mkdir(parents=True)
    shutil.copy(fixture_library.root / "Events" / "Long walk.mp4", root / NAME)
    saved = {
        "version": FORMAT_VERSION,
        "positions": {NAME: {"position": 20.0, "duration": 60.0, "updated": time.time()}},
    }
    state = root / Positions.object_name(ADMIN)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps(saved))
    return root


@pytest.fixture(scope="module")
def odd_app(odd_library) -> Iterator[RunningApp]:
    app = start_app(["--library", str(odd_library), "--username", ADMIN], app_env(), "odd-names")
    yield app
    stop_app(app)


def assert_plain(page: Page, scope: str = "body") -> None:
    """Nothing in `scope` was made of the name's markup: no italics, math, link or colour."""
    area = page.locator(scope)
    for made in ("em", ".katex", "a[href*='evil.example']", "b", "[class*='colored']"):
        expect(area.locator(made)).to_have_count(0)


@pytest.mark.browser
def test_a_hostile_name_reads_as_itself_on_every_page(page, odd_app):
    sign_in(page, odd_app.url)
    main = page.get_by_test_id("stMain")

    # The continue-watching row and the card.
    expect(main.get_by_role("button", name=f"{TITLE} · 0:20", exact=True)).to_be_visible()
    open_tab(page, FOLDER)
    expect(main.get_by_role("button", name=TITLE, exact=True)).to_be_visible()

    # The player's heading.
    play(page, TITLE)
    wait_until_playing(page)
    expect(main.get_by_role("heading", name=TITLE, exact=True)).to_be_visible()
    assert_plain(page, "[data-testid='stMain']")

    # The share form, and the link it makes.
    page.get_by_role("button", name="Share").click()
    popover = page.get_by_test_id("stPopoverBody")
    expect(
        popover.get_by_text(f"A link to {TITLE} only, for someone without an account.")
    ).to_be_visible()
    popover.get_by_role("button", name="Create link").click()
    link = popover.get_by_test_id("stCode").inner_text().strip()
    assert_plain(page, "[data-testid='stPopoverBody']")

    # The share links page.
    open_page(page, "Share links")
    expect(main.get_by_text(TITLE, exact=True)).to_be_visible()
    assert_plain(page, "[data-testid='stMain']")

    # The share page itself.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    assert_plain(page, "main")


def test_the_stats_tables_hold_the_name_as_it_is(odd_library):
    settings = Settings(
        library=odd_library, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(build_services(settings))
    at = AppTest.from_file(str(REPO / "pages" / "main.py"), default_timeout=60).run()
    apptest_sign_in(at, ADMIN, ADMIN_PASSWORD)
    at.switch_page("stats.py").run()
    assert not at.exception
    videos = next(frame.value for frame in at.dataframe if "title" in frame.value.columns)
    assert videos["title"].tolist() == [TITLE]
    assert videos["name"].tolist() == [NAME]
