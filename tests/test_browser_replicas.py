"""Two app processes on one backend behave as one app: what a load balancer sending a
person's requests to either replica must not break.

Both replicas start without a cookie key (they keep one in the backend), on one bucket of
the loopback OCI server (and, for the HTTP cases, on one local folder). A browser talks to
both: cookies do not depend on the port, so one browser context is signed in on both, as
behind a load balancer.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from lib.positions import Positions
from lib.session_cookie import SESSION_COOKIE
from lib.sessions import SEEN_SECONDS
from lib.shares import LIVE_CACHE_SECONDS, Shares
from lib.storage import NotFound, Storage
from lib.storage.appstate import shared_key
from lib.storage.local import LocalStorage
from lib.throttle import FREE_FAILURES
from lib.tokens import TokenSigner, derive_key
from tests.conftest import (
    ADMIN,
    FixtureLibrary,
    LoopbackOci,
    RunningApp,
    new_page,
    replica_env,
    start_app,
    stop_app,
)
from tests.loopback import open_test_bucket
from tests.proxy import load_balancer
from tests.ui import (
    open_tab,
    play,
    press_until_shown,
    sign_in,
    video_js,
    wait_for_cookie,
    wait_until,
    wait_until_playing,
)

pytestmark = pytest.mark.browser

BUCKET = "replicas"
TV_AGENT = (
    "Mozilla/5.0 (Linux; Android 12; SHIELD Android TV) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SLACK_SECONDS = 3.0  # a page run or a request on a loaded machine, beyond the stated bound


@dataclass
class Pair:
    """Two replicas of the app on one backend, and that backend opened by the test."""

    a: RunningApp
    b: RunningApp
    storage: Storage


def start_pair(flags: list[str], storage: Storage, name: str) -> Iterator[Pair]:
    a = start_app([*flags, "--username", ADMIN], replica_env(), f"{name}-a")
    try:
        b = start_app([*flags, "--username", ADMIN], replica_env(), f"{name}-b")
        try:
            yield Pair(a, b, storage)
        finally:
            stop_app(b)
    finally:
        stop_app(a)


@pytest.fixture(scope="module")
def on_bucket(oci: LoopbackOci, fixture_library: FixtureLibrary) -> Iterator[Pair]:
    """Two replicas serving one bucket holding the fixture library's Events."""
    oci.server.put_folder(BUCKET, fixture_library.root / "Events", "Events/")
    yield from start_pair(oci.flags(BUCKET), open_test_bucket(oci, BUCKET), "replica-oci")


@pytest.fixture(scope="module")
def on_folder(fixture_library: FixtureLibrary, tmp_path_factory) -> Iterator[Pair]:
    """Two replicas serving one local folder holding the fixture library's Events."""
    root = tmp_path_factory.mktemp("replicas")
    shutil.copytree(fixture_library.root / "Events", root / "Events")
    yield from start_pair(["--library", str(root)], LocalStorage(root), "replica-local")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# --- TV sign-in ---------------------------------------------------------------------------


def test_a_tv_on_one_replica_is_signed_in_by_a_phone_on_the_other_once(browser, on_bucket):
    with (
        new_page(browser, "replicas-tv", viewport={"width": 1920, "height": 1080},
                 user_agent=TV_AGENT) as tv,
        new_page(browser, "replicas-phone", viewport={"width": 390, "height": 844}) as phone,
    ):  # fmt: skip
        tv.goto(on_bucket.a.url)
        press_until_shown(
            tv, tv.get_by_role("button", name="Sign in with your phone"), tv.get_by_role("img")
        )
        link = tv.get_by_role("link", name="this link").get_attribute("href")
        assert link is not None and link.startswith(on_bucket.a.url)
        on_b = on_bucket.b.url + link.removeprefix(on_bucket.a.url)

        sign_in(phone, on_b)  # the approval reaches the other replica
        expect(phone.get_by_text("Chrome 120 on Android (SHIELD Android TV)")).to_be_visible()
        phone.get_by_role("button", name="Approve").click()
        expect(phone.get_by_text("Approved.")).to_be_visible()
        expect(tv.get_by_role("tab", name="Events")).to_be_visible(timeout=20_000)

        for replica in (on_bucket.a.url, on_bucket.b.url):  # the same code, again, on either
            phone.goto(replica + link.removeprefix(on_bucket.a.url))
            expect(
                phone.get_by_text("This sign-in code has expired or was already used.")
            ).to_be_visible()
            expect(phone.get_by_role("button", name="Approve")).to_have_count(0)


# --- One session on both ------------------------------------------------------------------


def saved_position(storage: Storage, name: str) -> float:
    try:
        data, _ = storage.read_versioned(Positions.object_name(ADMIN))
        return float(json.loads(data)["positions"][name]["position"])
    except (NotFound, ValueError, KeyError):
        return 0.0


def test_a_session_holds_on_both_replicas_and_a_sign_out_on_one_ends_it_on_the_other(
    browser, on_bucket
):
    with new_page(browser, "replicas-session") as page:
        sign_in(page, on_bucket.a.url)
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
        wait_for_cookie(page, SESSION_COOKIE)

        # A position saved through A is offered on B.
        open_tab(page, "Events")
        play(page, "Long walk")
        wait_until_playing(page)
        video_js(page, "v.currentTime = 16")
        wait_until(
            lambda: saved_position(on_bucket.storage, "Events/Long walk.mp4") >= 16,
            "the position never reached the bucket",
            35,
        )
        video_js(page, "v.pause()")
        page.goto(on_bucket.b.url)  # the same browser on the other replica: still signed in
        expect(page.get_by_role("heading", name="Continue watching")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile(r"^Long walk · "))).to_be_visible()

        kept = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
        page.goto(on_bucket.a.url)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("Username", exact=True)).to_be_visible()
        signed_out = time.monotonic()

        # A copy of the cookie from before the sign-out, shown to B.
        page.context.add_cookies([kept])
        deadline = signed_out + SEEN_SECONDS + SLACK_SECONDS
        while True:
            page.goto(on_bucket.b.url)
            form = page.get_by_label("Username", exact=True)
            library = page.get_by_role("tab", name="Events")
            expect(form.or_(library)).to_be_visible()
            if form.is_visible():
                break
            assert time.monotonic() < deadline, "B still honours a cookie signed out on A"
        expect(page.get_by_role("tab")).to_have_count(0)


# --- Keys and share links over HTTP -------------------------------------------------------


@pytest.mark.parametrize("backend", ["on_folder", "on_bucket"])
def test_a_share_link_works_on_both_and_its_revocation_reaches_the_other(request, backend):
    pair: Pair = request.getfixturevalue(backend)
    key = shared_key(pair.storage, "cookie", lambda: pytest.fail("the replicas kept no key"))
    shares = Shares(pair.storage, TokenSigner(derive_key(key, "homemovies share link v1")))
    share = shares.create("Events/Long walk.mp4", "Long walk", 1, ADMIN)
    path = f"/share/{shares.token(share)}"
    assert status(pair.a.url + path) == 200
    assert status(pair.b.url + path) == 200  # signed with the key both replicas keep

    shares.revoke(share.id)  # as A's share links page does: B has it cached as live
    revoked = time.monotonic()
    wait_until(
        lambda: status(pair.b.url + path) == 410,
        "B still serves a revoked share",
        LIVE_CACHE_SECONDS + SLACK_SECONDS,
    )
    assert time.monotonic() - revoked <= LIVE_CACHE_SECONDS + SLACK_SECONDS
    assert status(pair.a.url + path) == 410


# --- The sign-in throttle (last: it slows this module's address down) ----------------------

ANSWER = r"Incorrect username or password\.|Too many failed sign-ins\. Wait (\d+) s"
FIND_ANSWER = """(source) => {
    const found = document.body.innerText.match(new RegExp(source));
    return found ? found[0] : null;
}"""


def failed_attempt(page, url: str, guess: str) -> int:
    """Try a wrong password on the replica at `url`; return the wait it asks for (0: it
    checked the password and refused it). The answer is read in one step as it is shown."""
    sign_in(page, url, "intruder", guess)
    shown = page.wait_for_function(FIND_ANSWER, arg=ANSWER, timeout=15_000).json_value()
    found = re.fullmatch(ANSWER, shown)
    assert found is not None, shown
    return int(found.group(1) or 0)


def test_failed_sign_ins_spread_over_both_replicas_are_throttled_as_on_one(browser, on_bucket):
    """The free guesses alternate between A and B; the next ones go to A until it asks for a
    long wait; B, which saw only two of the failures, then refuses too. Counting apart, B
    would check the password (it is within its own free guesses)."""
    a, b = on_bucket.a.url, on_bucket.b.url
    with new_page(browser, "replicas-throttle") as page:
        for attempt in range(FREE_FAILURES):
            assert failed_attempt(page, (a, b)[attempt % 2], f"guess {attempt}") == 0
        for attempt in range(FREE_FAILURES, 6 * FREE_FAILURES):
            if failed_attempt(page, a, f"guess {attempt}") >= 6:  # 8 s after the 9th failure
                break
        else:
            pytest.fail("A never throttled the guesses")
        assert failed_attempt(page, b, "one more guess") > 0


# --- A replica going away (last: it stops one) ---------------------------------------------


def test_a_replica_going_away_moves_its_pages_to_the_other_still_signed_in(
    browser, on_bucket, tmp_path
):
    """Behind nginx with ip_hash (the load balancer's session persistence), the page's
    websocket and requests stay on one replica; when it stops, Streamlit's page reconnects
    through the balancer to the other, and the login cookie still holds there."""
    replicas = {app.url.removeprefix("http://"): app for app in (on_bucket.a, on_bucket.b)}
    with (
        load_balancer([on_bucket.a.url, on_bucket.b.url], tmp_path) as front,
        new_page(browser, "replicas-balanced") as page,
    ):
        sign_in(page, front.url)
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
        wait_for_cookie(page, SESSION_COOKIE)
        serving = front.replica()
        stop_app(replicas[serving])

        wait_until(lambda: front.replica() != serving, "the balancer kept the stopped replica")
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
        # The page reconnected: a search needs a run of its script, on the other replica.
        page.get_by_label("Search titles").fill("long wal")
        expect(page.get_by_text("1 title matches")).to_be_visible()
        page.reload()
        expect(page.get_by_role("tab", name="Events")).to_be_visible()
        expect(page.get_by_label("Username", exact=True)).to_have_count(0)
