"""The library page with the index's posters and lengths against none: sign-in to usable.

    .venv/bin/python -m bench.index_page [--titles 1000] [--tabs 10] [--runs 5]

Fills a bucket of the loopback OCI server as bench.index does (real fixture videos under
`--titles` names) and indexes it once with the real Indexer, so every title has a poster,
a length and a catalog entry. Then, for each of two app processes (the catalog removed, then
put back; the app's own indexer off, so nothing changes meanwhile), signs in `--runs` times
from a new browser context and times the press on "Sign in" to the first frame in which the
first tab's first title takes clicks (bench.library_page's stopwatch), and then to the frame
in which every poster on screen has loaded. The target: with posters, no more than 10 %
slower to usable. Prints a Markdown table; nothing here fails a build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.common import machine, median, table
from bench.index import BUCKET, fill, make_sources
from bench.library_page import WATCHER, settle, timed
from lib.ingest.indexer import Indexer
from lib.library import Library
from lib.media_index import CATALOG, MediaIndex
from lib.services import build_storage
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
from tests.loopback import settings_for

TARGET = 1.10  # with posters / without, sign-in to usable
FIRST_TITLE = "Title 0000"  # bench.index names titles "Title NNNN", spread over the tabs
POSTERS_LOADED = """() => {
  const images = Array.from(document.querySelectorAll('.hm-poster img'));
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
}"""


def sign_in_runs(browser: Browser, oci: LoopbackOci, runs: int, posters: bool) -> dict:
    """Start the app, sign in `runs` times from new browser contexts; return the timings."""
    app = start_app([*oci.flags(BUCKET), "--username", ADMIN, "--no_index"], app_env(), "bench-ip")
    usable, loaded = [], []
    try:
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            context.add_init_script(WATCHER)
            page: Page = context.new_page()
            page.goto(app.url)
            page.get_by_label("Username", exact=True).fill(ADMIN)
            page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
            press = page.get_by_role("button", name="Sign in", exact=True).click
            usable.append(timed(page, press, "play", FIRST_TITLE))
            if posters:
                page.wait_for_function(POSTERS_LOADED, polling="raf", timeout=60_000)
                loaded.append(page.evaluate("window.__hmNow() - window.__hmWatching.start"))
            settle(page)
            context.close()
    finally:
        stop_app(app)
    return {"usable": usable, "loaded": loaded}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.index_page", description=__doc__)
    parser.add_argument("--titles", type=int, default=1000)
    parser.add_argument("--tabs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    fill_options = argparse.Namespace(
        titles=options.titles, tabs=options.tabs, ingested=20, hand_made=10
    )
    with tempfile.TemporaryDirectory(prefix="bench-index-page-") as scratch:
        base = Path(scratch)
        sources = make_sources(base)
        (base / "oci").mkdir()
        oci = start_loopback_oci(base / "oci")
        try:
            fill(oci.server, sources, fill_options)
            storage = build_storage(settings_for(oci, BUCKET))
            index = MediaIndex(storage)
            indexed = Indexer(storage, Library(storage), index, work_dir=base / "work").run_once()
            catalog = b"".join(storage.read(CATALOG, 0, storage.stat(CATALOG).size - 1))
            entries = len(MediaIndex(storage).entries())
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                storage.delete(CATALOG)
                without = sign_in_runs(browser, oci, options.runs, posters=False)
                storage.write(CATALOG, catalog, "application/json")
                with_posters = sign_in_runs(browser, oci, options.runs, posters=True)
                browser.close()
        finally:
            oci.server.stop()
    ratio = median(with_posters["usable"]) / median(without["usable"])
    print(machine())
    print(
        f"\n### Library page, {options.titles:,} titles in {options.tabs} tabs on the loopback "
        f"OCI server ({indexed:,} indexed, {entries:,} catalog entries, catalog "
        f"{len(catalog) / 1024:,.0f} KiB)\n"
    )
    rows = [
        [
            "sign in -> usable, no index",
            len(without["usable"]),
            f"{median(without['usable']):.0f}",
            f"{max(without['usable']):.0f}",
            "",
        ],
        [
            "sign in -> usable, posters and lengths",
            len(with_posters["usable"]),
            f"{median(with_posters['usable']):.0f}",
            f"{max(with_posters['usable']):.0f}",
            f"{ratio:.2f}× ({'met' if ratio <= TARGET else 'MISSED'}: ≤ {TARGET:.2f}×)",
        ],
        [
            "sign in -> every poster on screen loaded",
            len(with_posters["loaded"]),
            f"{median(with_posters['loaded']):.0f}",
            f"{max(with_posters['loaded']):.0f}",
            "",
        ],
    ]
    print(table(["scenario", "n", "median ms", "max ms", "against none"], rows))
    print("\ncommand: python -m bench.index_page " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
