"""Target 3: first byte of a Range request at a random offset while 20 other streams run.

python -m bench.seek [--streams 20] [--requests 300] [--rate-mbit 20]

One client opens a fresh connection, asks for `Range: bytes=<random offset>-`, times the
first body byte and hangs up (as a browser does when the viewer seeks again): on an idle
server, then while 20 curl clients read a 1 GiB file over and over, paced like video players
(--rate-mbit each; 20 Mbit/s is a high-bitrate 1080p home video), then unthrottled (a stress
case: 20 greedy curls starve every process of CPU on 2 cores). nginx serving the same file
under the same loads is the reference. Targets (paced streams): p50 <= 5 ms, p99 <= 25 ms.
"""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import (
    MIB,
    machine,
    percentile,
    random_file,
    running_app,
    running_nginx,
    scratch_dir,
    signed_url,
    table,
)

NAME = "Big/one-gib.mp4"
TARGET_P50_MS = 5
TARGET_P99_MS = 25


def first_byte_ms(url: str, offset: int) -> float:
    """Open a connection, request `offset`- and return the milliseconds to the first body byte."""
    parts = urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path, headers={"Range": f"bytes={offset}-"})
        response = connection.getresponse()
        if response.status != 206 or len(response.read(1)) != 1:
            raise RuntimeError(f"range at {offset}: status {response.status}")
        return (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def background_streams(url: str, count: int, rate_mbit: int, stop: threading.Event) -> list:
    """Start `count` threads that download `url` with curl again and again until `stop`."""
    limit = ["--limit-rate", f"{rate_mbit * 125}k"] if rate_mbit else []

    def loop() -> None:
        while not stop.is_set():
            process = subprocess.Popen(["curl", "-s", "-o", "/dev/null", *limit, url])
            while process.poll() is None:
                if stop.wait(0.1):
                    process.terminate()
                    process.wait()
                    return

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def measure(url: str, size: int, requests: int, seed: int) -> list[float]:
    chooser = random.Random(seed)
    return [first_byte_ms(url, chooser.randrange(size)) for _ in range(requests)]


def under_load(url: str, size: int, args: argparse.Namespace, rate: int | None) -> list[float]:
    """Return first-byte times while streams at `rate` Mbit/s run (0: unthrottled, None: none)."""
    if rate is None:
        return measure(url, size, args.requests, seed=1)
    stop = threading.Event()
    threads = background_streams(url, args.streams, rate, stop)
    time.sleep(2)  # let the streams get going
    try:
        return measure(url, size, args.requests, seed=2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rate-mbit", type=int, default=20, help="pace of each paced stream")
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MIB
    paced = f"{args.streams} streams at {args.rate_mbit} Mbit/s"
    loads = [("idle", None), (paced, args.rate_mbit), (f"{args.streams} streams unthrottled", 0)]

    rows = []
    with scratch_dir("bench-seek-") as tmp:
        library = Path(tmp)
        random_file(library / NAME, size)
        with running_nginx(library) as nginx, running_app(library, "seek") as app:
            servers = [("nginx", f"{nginx.url}/{NAME}"), ("media route", signed_url(app.url, NAME))]
            for server, url in servers:
                measure(url, size, 20, seed=0)  # warm up
                for label, rate in loads:
                    rows.append((server, label, under_load(url, size, args, rate)))

    print(f"Seek: first byte of a random Range request, {args.requests} requests, {machine()}")
    print(
        table(
            ["server", "while", "p50 ms", "p90 ms", "p99 ms", "max ms"],
            [
                (
                    server,
                    label,
                    *(f"{percentile(v, q):.1f}" for q in (0.5, 0.9, 0.99)),
                    f"{max(v):.1f}",
                )
                for server, label, v in rows
            ],
        )
    )
    ours = next(v for server, label, v in rows if server == "media route" and label == paced)
    p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
    verdict = "meets" if p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS else "MISSES"
    print(
        f"media route with {paced}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({verdict} the target "
        f"of p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms)"
    )


if __name__ == "__main__":
    main()
