"""The library indexer on a bucket of 1,000 titles: titles a minute and bytes read a title.

    .venv/bin/python -m bench.index [--titles 1000] [--tabs 10] [--ingested 20] [--hand-made 10]

Fills a bucket of the loopback OCI server (tests/oci_server.py) with `--titles` titles in
`--tabs` tabs: the small fixture files of the tests (tests/media_fixtures.py: a faststart
H.264 MP4, a phone's with its moov last, an upright phone's HEVC .mov, MPEG-4 Part 2 in an
MP4, one without sound, a corrupt one; the server serves each file under many names, so
nothing is copied) and one minute-long 27 MB MP4 a tab, plus `--ingested` titles made by
`python -m lib.ingest` and `--hand-made` `ffmpeg -f hls` folders. Then one pass of the real
Indexer (lib/ingest/indexer.py: ffmpeg at nice 19, one title at a time) indexes them all
through the real `oci` SDK. The server counts the body bytes it sent for each title's
objects. The server runs in this process (its thread shares the interpreter with the
indexer's range server); ffmpeg and ffprobe are children. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import MIB, machine, table
from lib.ingest.indexer import Indexer
from lib.library import Library
from lib.media_index import INDEX_PREFIX, MediaIndex, Status
from lib.services import build_storage
from tests.conftest import start_loopback_oci
from tests.ingest_run import run_ingest
from tests.loopback import settings_for
from tests.media_fixtures import make_fixture

BUCKET = "bench-index"
SMALL = {  # fixture kind -> (title suffix, what it stands for)
    "faststart_h264": (".mp4", "H.264 MP4, moov first"),
    "phone_h264": (".mp4", "H.264 MP4, moov last"),
    "phone_hevc_portrait": (".mov", "HEVC .mov, upright"),
    "mpeg4_mp4": (".mp4", "MPEG-4 Part 2 MP4"),
    "no_audio": (".mp4", "H.264 MP4, no sound"),
    "truncated": (".mp4", "corrupt MP4"),
}
BIG = "big_faststart"
BIG_LABEL = "H.264 MP4, 60 s, 27 MB"
INGESTED = "HLS made by ingest"
HAND_MADE = "HLS made by ffmpeg -f hls"


def make_sources(base: Path) -> dict[str, Path]:
    """Make the fixture files and the two HLS folders; return them by label."""
    media = base / "media"
    sources = {label: make_fixture(kind, media) for kind, (_, label) in SMALL.items()}
    sources[BIG_LABEL] = make_fixture(BIG, media)
    library = base / "ingested"
    library.mkdir()
    clip = make_fixture("faststart_h264", media)
    run_ingest("--library", library, "--folder", "Made", "--title", "Clip", clip, check=True)
    sources[INGESTED] = library / "Made" / "Clip.hls"
    walk = base / "walk.hls"
    walk.mkdir()
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(clip), "-c", "copy",
            "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            str(walk / "output.m3u8"),
        ],
        check=True,
    )  # fmt: skip
    sources[HAND_MADE] = walk
    return sources


def fill(server, sources: dict[str, Path], options: argparse.Namespace) -> dict[str, str]:
    """Put the titles in the bucket; return each title's name and what it is."""
    kinds: dict[str, str] = {}
    labels = [label for label in sources if label not in (BIG_LABEL, INGESTED, HAND_MADE)]
    folders = [INGESTED] * options.ingested + [HAND_MADE] * options.hand_made
    files = options.titles - len(folders) - options.tabs
    plan = [BIG_LABEL] * options.tabs + folders + [labels[i % len(labels)] for i in range(files)]
    for number, label in enumerate(plan):
        tab = f"Tab {number % options.tabs:02d}"
        if label in (INGESTED, HAND_MADE):
            name = f"{tab}/Title {number:04d}.hls/"
            server.put_folder(BUCKET, sources[label], prefix=name)
        else:
            name = f"{tab}/Title {number:04d}{sources[label].suffix}"
            server.put_file(BUCKET, name, sources[label])
        kinds[name] = label
    return kinds


def bytes_by_title(seen, kinds: dict[str, str]) -> dict[str, int]:
    """Body bytes the server sent for each title's objects (GET), the index's own left out."""
    sent: Counter[str] = Counter()
    for request in seen:
        if request.method != "GET" or "/o/" not in request.path:
            continue
        name = request.path.split("/o/", 1)[1]
        if name.startswith(INDEX_PREFIX):
            continue
        title = name if name in kinds else name[: name.find(".hls/") + 5]
        if title in kinds:
            sent[title] += request.body_bytes
    return {title: sent.get(title, 0) for title in kinds}


def kib(value: float) -> str:
    return f"{value / 1024:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.index", description=__doc__)
    parser.add_argument("--titles", type=int, default=1000, help="titles in the bucket (1000)")
    parser.add_argument("--tabs", type=int, default=10, help="tabs; each has one 27 MB MP4 (10)")
    parser.add_argument("--ingested", type=int, default=20, help="HLS titles made by ingest (20)")
    parser.add_argument("--hand-made", type=int, default=10, help="ffmpeg -f hls titles (10)")
    options = parser.parse_args(argv)
    print(machine())
    load_start = Path("/proc/loadavg").read_text().strip()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as scratch:
        base = Path(scratch)
        sources = make_sources(base)
        sizes = {label: path_size(path) for label, path in sources.items()}
        (base / "oci").mkdir()
        oci = start_loopback_oci(base / "oci")
        try:
            kinds = fill(oci.server, sources, options)
            storage = build_storage(settings_for(oci, BUCKET))
            index = MediaIndex(storage)
            indexer = Indexer(storage, Library(storage), index, work_dir=base / "work")
            mark = oci.server.mark()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu, began = time.process_time(), time.monotonic()
            count = indexer.run_once()
            wall = time.monotonic() - began
            cpu = time.process_time() - cpu
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            tools = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            seen = oci.server.since(mark)
            entries = MediaIndex(storage).entries()
        finally:
            oci.server.stop()
    load_end = Path("/proc/loadavg").read_text().strip()
    sent = bytes_by_title(seen, kinds)
    statuses = Counter(entries[name].status for name in kinds if name in entries)
    print(f"\n### One indexer pass over {len(kinds):,} titles on the loopback OCI server\n")
    rows = [
        ["titles indexed", f"{count:,} ({statuses[Status.UNREADABLE]:,} unreadable)"],
        ["entries in the catalog afterwards", f"{len(entries):,}"],
        ["wall time", f"{wall / 60:.1f} min ({wall:.0f} s)"],
        ["titles a minute", f"{count / wall * 60:.0f}"],
        ["bytes read a title, median", f"{kib(statistics.median(sent.values()))} KiB"],
        ["bytes read a title, max", f"{kib(max(sent.values()))} KiB"],
        ["bytes read, all titles", f"{sum(sent.values()) / MIB:,.0f} MiB"],
        ["requests to the server", f"{len(seen):,}"],
        ["CPU s: this process (indexer, range server, OCI server)", f"{cpu:.0f}"],
        ["CPU s: ffmpeg and ffprobe (nice 19)", f"{tools:.0f}"],
        ["/proc/loadavg before", load_start],
        ["/proc/loadavg after", load_end],
    ]
    print(table(["", "figure"], rows))
    by_label: dict[str, list[int]] = defaultdict(list)
    for name, label in kinds.items():
        by_label[label].append(sent[name])
    print("\n### Bytes the server sent a title, by kind\n")
    kind_rows = [
        [
            label,
            len(values),
            f"{sizes[label] / 1024:,.0f}",
            kib(statistics.median(values)),
            kib(max(values)),
            f"{statistics.median(values) / sizes[label]:.0%}",
        ]
        for label, values in by_label.items()
    ]
    print(
        table(
            ["title", "count", "size KiB", "read KiB, median", "read KiB, max", "read / size"],
            kind_rows,
        )
    )
    print(f"\n{len(os.sched_getaffinity(0))} cores usable; command: python -m bench.index", end="")
    print(" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    return 0


def path_size(path: Path) -> int:
    """The bytes of a file, or of every file below a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


if __name__ == "__main__":
    sys.exit(main())
