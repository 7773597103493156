"""Target 4: 50 concurrent full reads of a 1 GiB file; the server's RSS must grow < 100 MB.

python -m bench.memory [--size-mib 1024] [--clients 50]

RSS is read from /proc/<server pid>/status every 50 ms while 50 curl processes download the
file at once; growth is the peak minus the RSS of the idle server after one warm-up read.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from bench.common import (
    MIB,
    machine,
    random_file,
    rss_bytes,
    running_app,
    scratch_dir,
    signed_url,
    table,
)

NAME = "Big/one-gib.mp4"
TARGET_MB = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    size = args.size_mib * MIB

    with scratch_dir("bench-memory-") as tmp:
        library = Path(tmp)
        random_file(library / NAME, size)
        with running_app(library, "memory") as app:
            pid = app.process.pid
            url = signed_url(app.url, NAME)
            subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
            time.sleep(1)
            before = rss_bytes(pid)
            started = time.monotonic()
            clients = [
                subprocess.Popen(
                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.clients)
            ]
            peak = before
            while any(client.poll() is None for client in clients):
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.05)
            seconds = time.monotonic() - started
            after = rss_bytes(pid)
            answers = [client.communicate()[0].split() for client in clients]

    complete = sum(1 for status, got in answers if status == "200" and int(got) == size)
    growth = (peak - before) / 1e6
    print(
        f"Memory, {args.clients} concurrent full reads of a {args.size_mib} MiB file, {machine()}"
    )
    print(
        table(
            [
                "clients",
                "complete",
                "seconds",
                "RSS idle MB",
                "RSS peak MB",
                "growth MB",
                "RSS after MB",
            ],
            [
                (
                    args.clients,
                    complete,
                    f"{seconds:.1f}",
                    f"{before / 1e6:.0f}",
                    f"{peak / 1e6:.0f}",
                    f"{growth:.0f}",
                    f"{after / 1e6:.0f}",
                )
            ],
        )
    )
    verdict = "meets" if growth < TARGET_MB and complete == args.clients else "MISSES"
    print(f"peak growth {growth:.0f} MB ({verdict} the target of < {TARGET_MB} MB)")


if __name__ == "__main__":
    main()
