"""Target 1: one curl client reading a 512 MiB file, through the media route vs nginx.

python -m bench.throughput [--size-mib 512] [--rounds 3]

Both servers serve the same file from the same temp dir; the runs alternate (nginx, app,
nginx, app, ...) so a busy machine slows both alike. The figure of merit is the median of
the per-round ratios app/nginx (target: at least 0.8). The CPU columns (user + system time
of each server per GiB sent, from /proc) are steadier than speeds on a busy machine.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from bench.common import (
    MIB,
    machine,
    median,
    process_tree_cpu_seconds,
    random_file,
    running_app,
    running_nginx,
    scratch_dir,
    signed_url,
    table,
)

NAME = "Big/random.mp4"
TARGET_RATIO = 0.8


def timed_download(url: str, size: int, server_pid: int) -> tuple[float, float]:
    """Download `url` once; return MiB/s and the server's CPU seconds per GiB sent."""
    cpu_before = process_tree_cpu_seconds(server_pid)
    speed = curl_mib_per_s(url, size)
    cpu = process_tree_cpu_seconds(server_pid) - cpu_before
    return speed, cpu * 1024 * MIB / size


def curl_mib_per_s(url: str, size: int) -> float:
    """Download `url` once with curl into /dev/null and return MiB/s; check the byte count."""
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    status, downloaded, seconds = result.stdout.split()
    if status != "200" or int(downloaded) != size:
        raise RuntimeError(f"{url}: status {status}, {downloaded} of {size} bytes")
    return size / MIB / float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MIB

    with scratch_dir("bench-throughput-") as tmp:
        library = Path(tmp)
        random_file(library / NAME, size)
        with running_nginx(library) as nginx, running_app(library, "throughput") as app:
            nginx_url = f"{nginx.url}/{NAME}"
            app_url = signed_url(app.url, NAME)
            curl_mib_per_s(nginx_url, size)  # warm the page cache and both servers
            curl_mib_per_s(app_url, size)
            rows = []
            for round_number in range(1, args.rounds + 1):
                nginx_speed, nginx_cpu = timed_download(nginx_url, size, nginx.pid)
                app_speed, app_cpu = timed_download(app_url, size, app.process.pid)
                ratio = app_speed / nginx_speed
                rows.append((round_number, nginx_speed, app_speed, ratio, nginx_cpu, app_cpu))

    ratio = median([row[3] for row in rows])
    print(f"Throughput, one curl client, {args.size_mib} MiB random file, {machine()}")
    print(
        table(
            [
                "round",
                "nginx MiB/s",
                "media route MiB/s",
                "ratio",
                "nginx CPU s/GiB",
                "media route CPU s/GiB",
            ],
            [
                (r, f"{n:.0f}", f"{a:.0f}", f"{q:.2f}", f"{nc:.2f}", f"{ac:.2f}")
                for r, n, a, q, nc, ac in rows
            ],
        )
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"median ratio {ratio:.2f} ({verdict} the target of {TARGET_RATIO})")


if __name__ == "__main__":
    main()
