"""Target 5: the library page on a big OCI bucket, timed in Chromium from sign-in to usable.

    .venv/bin/python -m bench.library_oci [--titles 5000] [--tabs 10] [--hls-per-tab 10]
                                          [--segments 1800] [--runs 3]

Fills a bucket of the loopback OCI server (tests/big_library.py; by default 5,000 titles in
10 tabs, 100 of them HLS folders of 1,800 segments: about 186,000 objects) and for each run
starts the real app against it. Cold: a new app process (nothing listed yet) and a new
browser profile. Warm: the same app (listings cached) signed in again by the same browser
(its files cached). The clock starts at the press on "Sign in" and stops in the first frame
in which the first tab's first title is on screen and its play button takes clicks (the
sign-in cookie's writer may rerun the page after that; a click plays at once all the same).
The server's request log gives the listing requests (GET .../o), which the issue caps at one per
tab plus one. Prints two tables; nothing here fails a build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.common import machine, median, table
from bench.library_page import WATCHER, settle, timed
from lib.session_cookie import SESSION_COOKIE
from scripts.make_demo import encode_poster
from tests.big_library import Layout, fill
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    CHROMIUM,
    CHROMIUM_ARGS,
    LoopbackOci,
    app_env,
    start_app,
    start_loopback_oci,
    stop_app,
)
from tests.oci_server import OciApiServer
from tests.ui import wait_for_cookie

BUCKET = "bench-library"
COLD_TARGET_MS = 3000
WARM_TARGET_MS = 1500


@dataclass
class Run:
    """One app process's figures: milliseconds by scenario, listing requests by moment."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    listings: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    relisted: set[str] = field(default_factory=set)  # prefixes listed more than once
    prefixes: dict[str, list[str]] = field(default_factory=dict)  # what each moment listed


def listed(server: OciApiServer, mark: int) -> list[str]:
    """Return the prefix of each listing request the server received since `mark`."""
    return [
        s.query.get("prefix", "")
        for s in server.since(mark)
        if s.method == "GET" and s.path.endswith("/o")
    ]


def sign_in_timed(page: Page, url: str, layout: Layout) -> float:
    """Open the sign-in form, fill it, and time the press on "Sign in" to a usable library."""
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    submit = page.get_by_role("button", name="Sign in", exact=True).click
    return timed(page, submit, "play", layout.title(0, 0))


def one_run(browser: Browser, oci: LoopbackOci, layout: Layout) -> Run:
    """Start the app, sign in cold, open every tab, sign in again warm; stop the app."""
    run = Run()

    def count(moment: str, mark: int) -> None:
        prefixes = listed(oci.server, mark)
        run.listings[moment], run.requests[moment] = len(prefixes), len(oci.server.since(mark))
        run.relisted |= {prefix for prefix in prefixes if prefixes.count(prefix) > 1}
        run.prefixes[moment] = prefixes

    started = oci.server.mark()
    app = start_app([*oci.flags(BUCKET), "--username", ADMIN], app_env(), "bench-library-oci")
    try:
        count("start-up", started)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        context.add_init_script(WATCHER)
        page = context.new_page()
        mark = oci.server.mark()
        run.ms["cold"] = [sign_in_timed(page, app.url, layout)]
        count("cold sign-in", mark)
        for tab in range(1, layout.tabs):
            click = page.get_by_role("tab", name=layout.tab_label(tab), exact=True).click
            run.ms.setdefault("tab", []).append(timed(page, click, "button", layout.title(tab, 0)))
        count("every tab opened", started)
        wait_for_cookie(page, SESSION_COOKIE)
        context.clear_cookies()  # signed out; the browser keeps its cache
        mark = oci.server.mark()
        run.ms["warm"] = [sign_in_timed(page, app.url, layout)]
        count("warm sign-in", mark)
        settle(page)
        context.close()
    finally:
        stop_app(app)
    return run


def print_tables(runs: list[Run], layout: Layout, objects: int) -> None:
    print(
        f"\nLibrary page on the loopback OCI server: {layout.titles} titles in {layout.tabs} "
        f"tabs, {layout.tabs * layout.hls_per_tab} HLS titles of {layout.segments} segments, "
        f"{objects} objects"
    )
    print(machine(), "\n")
    rows = []
    for key, label, target in (
        ("cold", "sign in -> library usable, cold (new app, new browser)", COLD_TARGET_MS),
        ("warm", "sign in -> library usable, warm (listings and files cached)", WARM_TARGET_MS),
        ("tab", "open another tab (its first listing)", None),
    ):
        values = [value for run in runs for value in run.ms[key]]
        verdict = "" if target is None else ("yes" if max(values) < target else "NO")
        rows.append(
            (
                label,
                len(values),
                f"{median(values):.0f}",
                f"{max(values):.0f}",
                f"< {target}" if target else "",
                verdict,
            )
        )
    print(table(["scenario", "n", "median ms", "max ms", "target", "met"], rows), "\n")
    limit = layout.tabs + 1
    rows = []
    for moment in ("start-up", "cold sign-in", "every tab opened", "warm sign-in"):
        most = max(run.listings[moment] for run in runs)
        requests = max(run.requests[moment] for run in runs)
        rows.append((moment, most, requests, f"<= {limit}", "yes" if most <= limit else "NO"))
    print(table(["listing requests during", "listings", "all requests", "limit", "met"], rows))
    relisted = sorted(set().union(*(run.relisted for run in runs)))
    if relisted:
        print("listed more than once in a run:", ", ".join(repr(p) for p in relisted))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=5000)
    parser.add_argument("--tabs", type=int, default=10)
    parser.add_argument("--hls-per-tab", type=int, default=10)
    parser.add_argument("--segments", type=int, default=1800)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    layout = Layout(args.titles, args.tabs, args.hls_per_tab, args.segments)
    with tempfile.TemporaryDirectory(prefix="homemovies-bench-") as scratch:
        oci = start_loopback_oci(Path(scratch))
        try:
            fill(
                oci.server, BUCKET, layout, encode_poster(Path(scratch) / "poster.jpg").read_bytes()
            )
            objects = len(oci.server.bucket(BUCKET).names)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                runs = [one_run(browser, oci, layout) for _ in range(args.runs)]
                browser.close()
        finally:
            oci.server.stop()
    print_tables(runs, layout, objects)


if __name__ == "__main__":
    main(sys.argv[1:])
