"""Browser tests against the OCI backend: `streamlit run -- --bucket ... --os_endpoint` on the
loopback OCI server, signed with an API key from a config file the tests wrote.

What plays on both backends (sign in, MP4, HLS, odd names, broken and unplayable titles) is
in test_browser.py, parametrized over them; here is what only a bucket does: failing
listings, --delivery par and a big bucket's listing requests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from scripts.make_demo import encode_poster
from tests.big_library import Layout, fill
from tests.conftest import ADMIN, OCI_BUCKET, RunningApp, app_env, start_app, stop_app
from tests.oci_server import Fault
from tests.ui import open_tab, play, sign_in, wait_until_playing

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def par_app(oci) -> Iterator[RunningApp]:
    """The app redirecting viewers to pre-authenticated requests (--delivery par)."""
    app = start_app([*oci.flags(), "--username", ADMIN, "--delivery", "par"], app_env(), "oci-par")
    yield app
    stop_app(app)


BIG_BUCKET = "many-titles"  # its own: test_storage_oci has a "big-library"
BIG = Layout(titles=90, tabs=3, hls_per_tab=3, segments=300)  # 2,700 segments


@pytest.fixture(scope="module")
def big_app(oci, tmp_path_factory) -> Iterator[RunningApp]:
    """The app serving a bucket of its own: many titles, HLS folders of many segments.

    Listings stay cached for an hour, so what is counted does not depend on the machine's speed.
    """
    poster = encode_poster(tmp_path_factory.mktemp("big") / "poster.jpg").read_bytes()
    fill(oci.server, BIG_BUCKET, BIG, poster)
    flags = [*oci.flags(BIG_BUCKET), "--username", ADMIN, "--cache_ttl", "3600"]
    app = start_app(flags, app_env(), "oci-big")
    yield app
    stop_app(app)


def test_a_failing_folder_shows_a_message_other_tabs_keep_working_and_it_recovers(
    page, oci, oci_app
):
    listing_years = {"prefix": "Years/", "delimiter": "/"}
    oci.server.inject(Fault("status", path_contains="/o", query=listing_years, times=1000))
    try:
        sign_in(page, oci_app.url)
        page.get_by_role("button", name="Refresh library").click()
        open_tab(page, "Years")
        expect(
            page.get_by_text(
                "Could not list Years: OCI answered 500 InternalServerError for 'Years/' in "
                f"bucket {OCI_BUCKET}; try again shortly."
            )
        ).to_be_visible(timeout=60_000)
        open_tab(page, "Events")
        play(page, "Wedding")
        wait_until_playing(page)
    finally:
        oci.server.clear_faults()
    # The storage is back: a refresh lists the folder again.
    page.get_by_role("button", name="Refresh library").click()
    open_tab(page, "Years")
    expect(page.get_by_role("button", name="2024", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Could not list Years")).to_have_count(0)
    assert not oci_app.unhandled_errors()


def test_par_mode_plays_mp4_from_a_par(page, oci, par_app):
    mark = oci.server.mark()
    sign_in(page, par_app.url)
    open_tab(page, "Years")
    play(page, "2024")
    wait_until_playing(page)
    # Posters come through PARs too; the video bytes are what this test follows.
    reads = [
        s for s in oci.server.since(mark) if s.path.startswith("/p/") and s.path.endswith(".mp4")
    ]
    assert reads and all(s.path.endswith("/o/Years/2024.mp4") for s in reads)
    assert {s.status for s in reads} <= {200, 206}
    # The bytes did not pass through the app: the bucket served no signed read of them.
    assert not [
        s
        for s in oci.server.since(mark)
        if s.path.endswith("/o/Years/2024.mp4") and not s.path.startswith("/p/")
    ]


def test_par_mode_loads_hls_segments_through_the_folder_par(page, oci, par_app):
    mark = oci.server.mark()
    sign_in(page, par_app.url)
    open_tab(page, "Years")
    play(page, "2022")
    wait_until_playing(page, past=2.5)  # beyond the first 2 s segment
    seen = oci.server.since(mark)
    segments = [s.path for s in seen if s.path.startswith("/p/") and s.path.endswith(".ts")]
    assert any(path.endswith("/o/Years/2022.hls/output000.ts") for path in segments)
    assert any(path.endswith("/o/Years/2022.hls/output001.ts") for path in segments)
    tokens = {path.split("/")[2] for path in segments}
    assert len(tokens) == 1, "every segment came through one folder PAR"
    folder_pars = [
        par
        for par in oci.server.bucket(OCI_BUCKET).pars.values()
        if par.object_name == "Years/2022.hls/"
    ]
    assert folder_pars and all(
        par.access_type == "AnyObjectRead" and par.bucket_listing_action == "Deny"
        for par in folder_pars
    )


def test_the_library_lists_the_root_and_each_tab_once_never_an_hls_folder(page, oci, big_app):
    sign_in(page, big_app.url)
    for tab in range(BIG.tabs):
        open_tab(page, BIG.tab_label(tab))
        expect(page.get_by_role("button", name=BIG.title(tab, 0), exact=True)).to_be_visible()
    page.get_by_label("Search titles").fill("Clip")
    expect(page.get_by_text(f"{BIG.titles} titles match", exact=True)).to_be_visible()
    page.reload()  # a new session: the listings are shared, not listed again
    expect(page.get_by_role("tab", name=BIG.tab_label(0), exact=True)).to_be_visible()

    listings = oci.server.requests("GET", f"/b/{BIG_BUCKET}/o")
    listings = [s for s in listings if s.path.endswith("/o")]
    # One delimiter listing of the root and one of each tab, whatever a tab holds.
    assert sorted((s.query.get("prefix", ""), s.query.get("delimiter")) for s in listings) == [
        ("", "/"),
        *((f"{BIG.tab_label(tab)}/", "/") for tab in range(BIG.tabs)),
    ]
