"""Adaptive start on a slow link: the original single-rendition HLS recipe vs `lib.ingest`'s ladder.

python -m bench.slow_link [--reps 3] [--seconds 30] [--keep DIR] [--what-if] [--only TITLE]
    [--verbose]

One 1080p30 source clip (testsrc2 under temporal noise, so that bitrates are those of real,
detailed footage; 36 s with a tone) becomes two titles of one library: "Original", made by
the original app's ffmpeg command (one 8 Mbit/s rendition, 4 s segments, `output.m3u8`), and
"Ladder", made by `python -m lib.ingest` (360p/540p/720p/1080p behind a master
`output.m3u8`). Chromium (the test suite's binary and flags) signs in to the real app once;
each play opens a fresh tab with the HTTP cache off (every play starts cold), opens the tab
and waits until the page has settled and its network is idle; only then is the link
throttled through CDP (`Network.emulateNetworkConditions`: 4 Mbit/s / 40 ms or 1.5 Mbit/s /
80 ms, both ways), so what is measured is the video's start, not the app's page load. The
title's play button is clicked and, for `--seconds` of wall time from the click, a script in
the page records: the first frame (currentTime > 0 with a decoded frame, readyState >= 2),
the `waiting` events after it (stalls) and their length, the seconds of video played
(currentTime at the end) and the levels hls.js plays (`hls.currentLevel`). The bytes the
media requests carried (Resource Timing) over the time they were in flight check that the
throttle applies to the media route. Targets for the ladder: first frame <= 1.5 s at
4 Mbit/s and <= 2.5 s at 1.5 Mbit/s, no stall, >= 28 of 30 s played.

`--keep DIR` builds the library in DIR once and reuses it (the encodes take minutes);
`--what-if` adds a third title, the ladder's files behind a master playlist listing 360p
first (hls.js starts from the first variant's bitrate); `--verbose` prints every play and
hls.js's fragment loads (level, bytes, bandwidth estimate).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.common import machine, median, running_app, scratch_dir
from bench.common import table as markdown_table
from lib.session_cookie import SESSION_COOKIE
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.ui import open_tab, sign_in, wait_for_cookie

TAB = "Clips"
SOURCE_SECONDS = 36
TITLES = {"Original": "single 8 Mbit/s rendition", "Ladder": "lib.ingest ladder"}
WHAT_IF = {"Lowest first": "the ladder, its master listing 360p first"}
LINKS = {  # name -> (bits per second, latency ms)
    "4 Mbit/s, 40 ms": (4_000_000, 40),
    "1.5 Mbit/s, 80 ms": (1_500_000, 80),
}
TARGET_FRAME_S = {"4 Mbit/s, 40 ms": 1.5, "1.5 Mbit/s, 80 ms": 2.5}
TARGET_STALLS = 0
TARGET_UNPLAYED_S = 2.0  # >= 28 of 30 s played

# Stamps the click on a play button; watches the page's <video> (inside shadow roots too):
# the first frame, stalls after it, and the hls.js level (the player keeps its hls.js
# instance on the video's parent, `root.__hm.hls`, lib/frontend/player.js).
PROBE = """
window.__slow = null;
// No position reports: a saved position would start the next play of a title in its middle.
const realFetch = window.fetch;
window.fetch = (resource, init) => {
  const url = new URL(resource instanceof Request ? resource.url : resource, document.baseURI);
  if (url.pathname.startsWith('/position/')) return Promise.resolve(new Response(null));
  return realFetch(resource, init);
};
document.addEventListener('click', (event) => {
  if (event.target.closest && event.target.closest('button[data-hm-play]')) {
    window.__slow = {t0: performance.now(), frame: null, waits: [], levels: [], heights: []};
  }
}, true);
function findVideo(root) {
  const video = root.querySelector('video');
  if (video) return video;
  for (const element of root.querySelectorAll('*')) {
    if (element.shadowRoot) {
      const inner = findVideo(element.shadowRoot);
      if (inner) return inner;
    }
  }
  return null;
}
let lastSample = 0;
setInterval(() => {
  const m = window.__slow;
  if (!m) return;
  const now = performance.now() - m.t0;
  if (m.frame !== null && now - lastSample < 50) return;
  lastSample = now;
  const video = m.video || findVideo(document);
  if (!video) return;
  if (!m.video) {
    m.video = video;
    video.addEventListener('waiting', () => {
      const at = performance.now() - m.t0;
      if (m.frame !== null) m.waits.push({at, until: null, time: video.currentTime});
    });
    video.addEventListener('playing', () => {
      const open = m.waits[m.waits.length - 1];
      if (open && open.until === null) open.until = performance.now() - m.t0;
    });
  }
  if (m.frame === null && video.currentTime > 0 && video.readyState >= 2) m.frame = now;
  const state = video.parentElement && video.parentElement.__hm;
  const hls = state && state.hls;
  if (hls && !m.hls) {
    m.hls = hls;
    m.frags = [];
    const log = (kind) => (_event, data) => {
      const frag = data.frag || {};
      const stats = frag.stats || {};
      m.frags.push({kind, at: performance.now() - m.t0, level: frag.level, sn: frag.sn,
        test: Boolean(frag.bitrateTest), bytes: stats.loaded || 0,
        estimate: Math.round(hls.bandwidthEstimate || 0)});
    };
    hls.on('hlsFragLoading', log('loading'));
    hls.on('hlsFragLoaded', log('loaded'));
    hls.on('hlsFragLoadEmergencyAborted', log('aborted'));
    hls.on('hlsFragBuffered', log('buffered'));
  }
  if (hls && hls.levels && hls.levels.length) {
    m.heights = hls.levels.map((level) => level.height);
    const level = hls.currentLevel;
    const last = m.levels[m.levels.length - 1];
    if (level >= 0 && (!last || last.level !== level)) {
      m.levels.push({at: now, level, height: hls.levels[level].height});
    }
  }
  m.currentTime = video.currentTime;
}, 1);
"""

# The media requests after the click: bytes, and the time at least one was in flight.
TRANSFERS = """
(t0) => {
  const entries = performance.getEntriesByType('resource')
    .filter((e) => e.startTime >= t0 && /\\.(ts|m3u8)(\\?|$)/.test(new URL(e.name).pathname));
  const spans = entries.map((e) => [e.startTime, e.responseEnd]).sort((a, b) => a[0] - b[0]);
  let busy = 0, end = -Infinity;
  for (const [start, stop] of spans) {
    if (stop <= end) continue;
    busy += stop - Math.max(start, end);
    end = stop;
  }
  return {
    requests: entries.length,
    bytes: entries.reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0),
    busy_ms: busy,
    paths: entries.map((e) => new URL(e.name).pathname.split('/').slice(-2).join('/')),
  };
}
"""


def ffmpeg(*arguments: str) -> None:
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *arguments]
    subprocess.run(command, check=True)


def build_library(root: Path) -> None:
    """Encode the source, then the two titles: the original README's recipe and the ladder."""
    folder = root / TAB
    original = folder / "Original.hls"
    ladder = folder / "Ladder.hls"
    if (original / "output.m3u8").exists() and (ladder / "output.m3u8").exists():
        return
    source = root.parent / f"{root.name}-source.mp4"
    started = time.monotonic()
    if not source.exists():
        ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={SOURCE_SECONDS}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SOURCE_SECONDS}",
            "-vf", "noise=alls=12:allf=t",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "192k", str(source),
        )  # fmt: skip
    print(f"source encoded in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    original.mkdir(parents=True, exist_ok=True)
    # The original app's README command (at 1080p, not 2160p); veryfast rather than x264's
    # default preset only to save time here: the bitrate the link carries is the same.
    ffmpeg(
        "-i", str(source), "-vf", "scale=-2:1080",
        "-c:v", "libx264", "-preset", "veryfast",
        "-x264opts", "keyint=24:min-keyint=24:no-scenecut",
        "-b:v", "8000k", "-maxrate", "10000k", "-bufsize", "20000k",
        "-c:a", "aac", "-ac", "2", "-b:a", "128k",
        "-hls_time", "4", "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(original / "output%03d.ts"), str(original / "output.m3u8"),
    )  # fmt: skip
    print(f"original recipe encoded in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    command = [sys.executable, "-m", "lib.ingest", "--library", str(root), "--folder", TAB]
    subprocess.run(
        [*command, "--title", "Ladder", str(source)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"lib.ingest made its ladder in {time.monotonic() - started:.0f} s", flush=True)


def lowest_first(ladder: Path, folder: Path) -> None:
    """Link `ladder`'s files into `folder`, its master playlist's variants smallest first
    (hls.js takes its first bandwidth estimate from the first variant listed)."""
    if not folder.exists():
        shutil.copytree(ladder, folder, copy_function=os.link)
    master = folder / "output.m3u8"
    lines = master.read_text().splitlines()
    head = [line for line in lines if not line.startswith("#EXT-X-STREAM-INF")]
    head = head[: next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF"))]
    variants = [
        (line, lines[index + 1])
        for index, line in enumerate(lines)
        if line.startswith("#EXT-X-STREAM-INF")
    ]
    variants.sort(key=lambda pair: int(re.search(r"BANDWIDTH=(\d+)", pair[0]).group(1)))
    master.unlink()  # a link to the ladder's own master: do not write through it
    master.write_text("\n".join([*head, *(line for pair in variants for line in pair)]) + "\n")


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in folder.glob(pattern))


def play(context, url: str, title: str, link: str, seconds: float) -> dict:
    """Open the library in a fresh, uncached tab; throttle; click `title`; watch `seconds`."""
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.goto(url)
        open_tab(page, TAB)
        grid = page.get_by_test_id("stTabPanel")
        button = grid.locator(f'button[data-hm-play^="{TAB}/{title}.hls"]')
        button.wait_for()
        page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()
        page.wait_for_load_state("networkidle")  # posters and hls.js are in
        bits, latency = LINKS[link]
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": latency,
                "downloadThroughput": bits / 8,
                "uploadThroughput": bits / 8,
            },
        )
        page.evaluate("performance.setResourceTimingBufferSize(2000)")
        button.click()
        page.wait_for_function("window.__slow !== null", timeout=5_000)
        page.wait_for_function(
            f"performance.now() - window.__slow.t0 >= {seconds * 1000}",
            timeout=(seconds + 20) * 1000,
            polling=100,
        )
        marks = page.evaluate(
            "(() => { const m = window.__slow; return {t0: m.t0, frame: m.frame, waits: m.waits,"
            " levels: m.levels, heights: m.heights, currentTime: m.currentTime,"
            " frags: m.frags || []}; })()"
        )
        marks["transfers"] = page.evaluate(TRANSFERS, marks["t0"])
        return marks
    finally:
        page.close()


def summarise(marks: dict, seconds: float) -> dict:
    end_ms = seconds * 1000
    waits = marks["waits"]
    stalled_ms = sum((w["until"] if w["until"] is not None else end_ms) - w["at"] for w in waits)
    levels = []
    for entry in marks["levels"]:
        name = f"{entry['height']}p" if entry["height"] else "single"
        if not levels or levels[-1] != name:
            levels.append(name)
    transfers = marks["transfers"]
    busy = transfers["busy_ms"] / 1000
    return {
        "frame": marks["frame"] / 1000 if marks["frame"] is not None else None,
        "stalls": len(waits),
        "stalled": stalled_ms / 1000,
        "played": marks.get("currentTime") or 0.0,
        "levels": "→".join(levels) or "-",
        "mbits": transfers["bytes"] * 8 / busy / 1e6 if busy else 0.0,
        "mbytes": transfers["bytes"] / 1e6,
        "requests": transfers["requests"],
    }


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="plays of each title on each link")
    parser.add_argument("--seconds", type=float, default=30, help="wall time watched per play")
    parser.add_argument("--keep", type=Path, help="build the library here and reuse it next time")
    parser.add_argument("--verbose", action="store_true", help="print every play")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also play the ladder with its master playlist listing 360p first",
    )
    parser.add_argument(
        "--only", action="append", metavar="TITLE", help="play only this title (repeatable)"
    )
    args = parser.parse_args()
    titles = {**TITLES, **(WHAT_IF if args.what_if else {})}
    titles = {name: what for name, what in titles.items() if name in (args.only or titles)}

    load_start = loadavg()
    print(f"/proc/loadavg at the start: {load_start}", flush=True)
    results: dict[tuple[str, str], list[dict]] = {}
    with scratch_dir("bench-slow-link-") as tmp:
        library = args.keep or Path(tmp) / "library"
        library.mkdir(parents=True, exist_ok=True)
        build_library(library)
        shutil.rmtree(library / ".homemovies" / "state" / "positions", ignore_errors=True)
        original = library / TAB / "Original.hls"
        ladder = library / TAB / "Ladder.hls"
        if args.what_if:
            lowest_first(ladder, library / TAB / "Lowest first.hls")
        sizes = {
            "Original": folder_bytes(original, "*.ts") * 8 / SOURCE_SECONDS / 1e6,
            **{
                f"Ladder {rung.name}": folder_bytes(rung, "*.ts") * 8 / SOURCE_SECONDS / 1e6
                for rung in sorted(ladder.iterdir())
                if rung.is_dir() and rung.name.endswith("p")
            },
        }
        with running_app(library, "slow-link") as app, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(PROBE)
            signing = context.new_page()
            sign_in(signing, app.url)
            open_tab(signing, TAB)
            wait_for_cookie(signing, SESSION_COOKIE)  # from now on the cookie opens the library
            signing.close()
            for rep in range(args.reps):  # alternate, so a busy moment hurts all rows alike
                for link in LINKS:
                    for title in titles:
                        marks = play(context, app.url, title, link, args.seconds)
                        summary = summarise(marks, args.seconds)
                        results.setdefault((title, link), []).append(summary)
                        if args.verbose:
                            print(f"{rep} {title} {link}: {summary}", flush=True)
                            for frag in marks["frags"]:
                                print(f"    {frag}")
            browser.close()
    load_end = loadavg()

    print()
    print(
        f"Adaptive start on a throttled link (CDP), {args.reps} plays each, "
        f"{args.seconds:.0f} s watched from the click; {machine()}"
    )
    print(f"/proc/loadavg at the start: {load_start}; at the end: {load_end}")
    print(
        "average bitrate of the segments (video + audio): "
        + ", ".join(f"{name} {mbits:.2f} Mbit/s" for name, mbits in sizes.items())
    )
    print()
    rows = []
    for (title, link), plays in results.items():
        frames = [p["frame"] for p in plays if p["frame"] is not None]
        missing = len(plays) - len(frames)
        levels = Counter(p["levels"] for p in plays).most_common(1)[0]
        rows.append(
            (
                f"{title} ({titles[title]})",
                link,
                f"{median(frames):.2f}" if frames else "none",
                f"{max(frames):.2f}" + (f" ({missing} none)" if missing else "") if frames else "-",
                f"{median([p['stalls'] for p in plays]):g}",
                f"{median([p['stalled'] for p in plays]):.1f}",
                f"{median([p['played'] for p in plays]):.1f}",
                f"{levels[0]} ({levels[1]}/{len(plays)})",
                f"{median([p['mbits'] for p in plays]):.2f}",
                f"{median([p['mbytes'] for p in plays]):.1f}",
            )
        )
    print(
        markdown_table(
            [
                "title",
                "link",
                "first frame s (median)",
                "max s",
                "stalls",
                "stalled s",
                "played s",
                "levels played",
                "link Mbit/s measured",
                "MB fetched",
            ],
            rows,
        )
    )
    print()
    target_played = args.seconds - TARGET_UNPLAYED_S
    for (title, link), plays in results.items():
        if title == "Original":
            continue
        target = TARGET_FRAME_S[link]
        frames = [p["frame"] if p["frame"] is not None else float("inf") for p in plays]
        checks = [
            (f"first frame median {median(frames):.2f} s <= {target} s", median(frames) <= target),
            (f"max {max(frames):.2f} s <= {target} s", max(frames) <= target),
            (
                f"stalls (all plays) {sum(p['stalls'] for p in plays)} == {TARGET_STALLS}",
                all(p["stalls"] == TARGET_STALLS for p in plays),
            ),
            (
                f"played median {median([p['played'] for p in plays]):.1f} s "
                f">= {target_played:.0f} s",
                median([p["played"] for p in plays]) >= target_played,
            ),
        ]
        for text, ok in checks:
            print(f"{title}, {link}: {text}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
