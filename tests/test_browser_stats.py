"""Browser tests of the stats page: an admin opens it from the navigation on the loopback OCI
bucket with planted faults; a viewer who types its URL gets nothing of it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from lib.format import format_duration
from lib.session_cookie import SESSION_COOKIE
from tests.conftest import (
    ADMIN,
    STATS_BUCKET,
    VIEWER,
    VIEWER_PASSWORD,
    LoopbackOci,
    RunningApp,
    app_env,
    start_app,
    stop_app,
)
from tests.stats_library import HLS_SECONDS, TITLES, WEDDING, library_sizes
from tests.ui import open_page, sign_in, wait_for_cookie
from tests.users import write_users

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stats_app(oci: LoopbackOci, stats_bucket: str, tmp_path_factory) -> Iterator[RunningApp]:
    """The app on the stats bucket, with an admin and a viewer account."""
    users = write_users(
        tmp_path_factory.mktemp("stats-users") / "users.yaml", {VIEWER: (VIEWER_PASSWORD, "viewer")}
    )
    flags = [*oci.flags(stats_bucket), "--users", str(users), "--username", ADMIN]
    app = start_app(flags, app_env(), "stats")
    yield app
    stop_app(app)


def open_stats(page: Page, app: RunningApp) -> None:
    sign_in(page, app.url)
    expect(page.get_by_role("tab", name="Events", exact=True)).to_be_visible()
    open_page(page, "Library stats")
    expect(page.get_by_role("heading", name="Library stats")).to_be_visible()
    expect(page.get_by_role("button", name="Scan again")).to_be_visible(timeout=60_000)


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_an_admin_opens_the_stats_from_the_navigation(page, stats_app, stats_library):
    open_stats(page, stats_app)
    assert page.url == stats_app.url + "/stats"
    sizes = library_sizes(stats_library)
    expect(metric(page, "Objects")).to_have_text(f"{len(sizes):,}")
    expect(metric(page, "Videos")).to_have_text(str(len(TITLES)))
    expect(metric(page, "HLS video")).to_have_text(format_duration(sum(HLS_SECONDS.values())))
    expect(page.get_by_text("Playlist pointing outside its folder: 2")).to_be_visible()
    expect(page.get_by_text("Zero-byte object: 1")).to_be_visible()
    # Five Altair charts: per tab, kind and tier, growth by month, the largest videos.
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(5)
    assert not stats_app.unhandled_errors()


def test_the_csv_download_holds_one_row_per_video(page, stats_app, stats_library):
    open_stats(page, stats_app)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download the video table (CSV)").click()
    download = caught.value
    assert download.suggested_filename == "homemovies-videos.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(rows) == len(TITLES)
    wedding = next(row for row in rows if row["name"] == "Events/Wedding.mp4")
    assert wedding["bytes"] == str(sum(stats_library.sizes[name] for name in WEDDING))
    assert (wedding["tab"], wedding["title"], wedding["kind"]) == ("Events", "Wedding", "mp4")
    gap = next(row for row in rows if row["name"] == "Years/Gap.hls/")
    assert float(gap["duration_seconds"]) == pytest.approx(6.0, abs=0.05)


def test_a_viewer_typing_the_stats_url_sees_nothing_of_it(page, oci, stats_app):
    sign_in(page, stats_app.url, VIEWER, VIEWER_PASSWORD)
    expect(page.get_by_role("tab", name="Events", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Library stats")).to_have_count(0)
    wait_for_cookie(page, SESSION_COOKIE)  # set by the page after sign-in; the visit below needs it
    mark = oci.server.mark()
    page.goto(stats_app.url + "/stats")
    # The viewer is still signed in (cookie) and lands on the library instead.
    expect(
        page.get_by_text("The page that you have requested does not seem to exist")
    ).to_be_visible()
    expect(page.get_by_role("tab", name="Events", exact=True)).to_be_visible()
    expect(page.get_by_text("Library stats")).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    stats_requests = [
        s
        for s in oci.server.since(mark)
        if s.path.endswith(f"/b/{STATS_BUCKET}")  # the bucket's totals
        or (s.path.endswith("/o") and "delimiter" not in s.query)  # a scan
    ]
    assert stats_requests == [], "nothing of the stats page ran for the viewer"
