"""What the stats page's full scan costs, against the loopback OCI server of the tests.

python -m bench.stats_scan [VIDEOS SEGMENTS ...]

Each pair of numbers is one bucket of VIDEOS `.hls` titles of SEGMENTS segments each (and a
real playlist per title), spread over 10 tabs. The server runs in a child process, so the
table's memory is the scanning process's alone: the peak of Python allocations during the scan
(tracemalloc, in a second, traced run) and how much the process's peak RSS grew in the first.
Default: 200 x 50 (10,200 objects), 200 x 1,000 and 2,000 x 100 (200,200 objects each).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from lib.services import build_storage
from lib.settings import Settings
from lib.stats import scan_library
from tests.conftest import OCI_TENANCY, OCI_USER, write_oci_config
from tests.oci_server import OciApiServer, new_key_pair, private_pem

SEGMENT_BYTES = 1_500_000  # about 6 s of 2 Mbit/s video
SEGMENT_SECONDS = 6.0
TABS = 10


def bucket_name(videos: int, segments: int) -> str:
    return f"bench-{videos}x{segments}"


def fill(server: OciApiServer, videos: int, segments: int) -> None:
    """Put VIDEOS titles of SEGMENTS generated segments and a real playlist each."""
    bucket = bucket_name(videos, segments)
    names = []
    for video in range(videos):
        folder = f"Tab {video % TABS:02d}/Title {video:05d}.hls/"
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS:.0f}"]
        for segment in range(segments):
            names.append((f"{folder}output{segment:05d}.ts", SEGMENT_BYTES))
            lines += [f"#EXTINF:{SEGMENT_SECONDS:.6f},", f"output{segment:05d}.ts"]
        lines.append("#EXT-X-ENDLIST")
        server.put_bytes(bucket, folder + "output.m3u8", ("\n".join(lines) + "\n").encode())
    server.put_generated(bucket, names)


def serve(public_pem: bytes, layouts: list[tuple[int, int]], pipe) -> None:
    """The child process: a loopback server holding one bucket per layout."""
    server = OciApiServer().start()
    server.add_key(
        f"{OCI_TENANCY}/{OCI_USER}/{pipe.recv()}",
        serialization.load_pem_public_key(public_pem),
    )
    for videos, segments in layouts:
        fill(server, videos, segments)
    pipe.send(server.url)
    while (command := pipe.recv()) != "stop":
        seen = server.since(command)
        lists = sum(1 for s in seen if s.method == "GET" and s.path.endswith("/o"))
        reads = sum(1 for s in seen if s.method == "GET" and "/o/" in s.path)
        pipe.send((server.mark(), lists, reads))
    server.stop()


def main(layouts: list[tuple[int, int]]) -> None:
    key, fingerprint = new_key_pair()
    folder = Path(tempfile.mkdtemp())
    (folder / "key.pem").write_bytes(private_pem(key))
    config = write_oci_config(folder / "config", folder / "key.pem", fingerprint)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    load_before = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(public_pem, layouts, theirs), daemon=True)
    child.start()
    ours.send(fingerprint)
    url = ours.recv()
    rows = []
    try:
        for number, (videos, segments) in enumerate(layouts):
            settings = Settings(
                bucket=bucket_name(videos, segments), os_endpoint=url, oci_config=str(config)
            )
            storage = build_storage(settings)
            storage.namespace  # noqa: B018 - resolve it before timing
            if number == 0:
                scan_library(storage)  # warm up: imports (pandas) and connections
            ours.send(0)
            mark, _, _ = ours.recv()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            report = scan_library(storage)
            seconds = time.perf_counter() - started
            rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            ours.send(mark)
            _, lists, reads = ours.recv()
            tracemalloc.start()
            scan_library(storage)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows.append(
                (report.objects, len(report.videos), lists, reads, seconds, peak, rss_growth)
            )
    finally:
        ours.send("stop")
        child.join(30)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average before: {load_before}; after: {load} (on {os.cpu_count()} cores)")
    print(
        f"{'objects':>8} {'videos':>7} {'listings':>8} {'playlist GETs':>13} {'seconds':>8} "
        f"{'peak traced MB':>14} {'RSS growth MB':>13}"
    )
    for objects, videos, lists, reads, seconds, peak, rss in rows:
        print(
            f"{objects:>8,} {videos:>7,} {lists:>8,} {reads:>13,} {seconds:>8.2f} "
            f"{peak / 2**20:>14.1f} {rss / 1024:>13.1f}"
        )


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[1:]]
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True)) or [
        (200, 50),
        (200, 1000),
        (2000, 100),
    ]
    main(pairs)
