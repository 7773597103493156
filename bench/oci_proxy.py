"""Target 2: the media route on the OCI backend against the SDK reading the object directly.

python -m bench.oci_proxy [--size-mib 512] [--rounds 9]

The loopback OCI server of the tests serves a random file (from disk, in this process's own
thread). The direct reader is a separate Python process with the unmodified `oci` SDK doing
one GET and reading the body in 1 MiB pieces (as the app does); the proxied reader is curl
fetching the same object through the app's media route (`--bucket`, proxy delivery). The
runs alternate; the figure of merit is the median of the per-round ratios proxied/direct
(target: at least 0.7). Both go no faster than the loopback server sends, and on a small
machine the CPU columns explain the rest: proxying adds a Python process to the chain.
The direct reader's speed swings with where the scheduler puts its busy threads (0.5-1.5x
between rounds here), so the default is nine rounds: with three, one unlucky round moved the
median by 0.1.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    MIB,
    cpu_seconds,
    machine,
    median,
    random_file,
    scratch_dir,
    signed_url,
    table,
)
from bench.throughput import curl_mib_per_s
from tests.conftest import ADMIN, OCI_BUCKET, app_env, start_app, start_loopback_oci, stop_app

NAME = "Big/random.mp4"
TARGET_RATIO = 0.7


def sdk_read(endpoint: str, config: str, bucket: str, name: str) -> None:
    """Read one object with the SDK in 1 MiB pieces; print bytes and seconds (child process)."""
    import oci

    client = oci.object_storage.ObjectStorageClient(
        oci.config.from_file(config), service_endpoint=endpoint
    )
    namespace = client.get_namespace().data
    started, cpu = time.perf_counter(), own_cpu_seconds()
    response = client.get_object(namespace, bucket, name)
    received = sum(len(piece) for piece in response.data.raw.stream(MIB, decode_content=False))
    print(received, time.perf_counter() - started, own_cpu_seconds() - cpu)


def sdk_mib_per_s(endpoint: str, config: Path, name: str, size: int) -> tuple[float, float]:
    """Run `sdk_read` in a fresh Python process; return MiB/s and the CPU seconds the read
    took (not the process's start-up); check the byte count."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.oci_proxy", "--sdk-read", endpoint, str(config), name],
        capture_output=True,
        text=True,
        check=True,
    )
    received, seconds, cpu = result.stdout.split()
    if int(received) != size:
        raise RuntimeError(f"the SDK read {received} of {size} bytes")
    return size / MIB / float(seconds), float(cpu)


@dataclass(frozen=True)
class Run:
    """One download: MiB/s, and CPU seconds per GiB of the loopback server, app and reader."""

    speed: float
    server_cpu: float
    app_cpu: float
    reader_cpu: float


def measured(download: Callable[[], tuple[float, float | None]], app_pid: int, size: int) -> Run:
    """Run `download` (returning MiB/s and, if it knows, the reader's CPU seconds); return
    its speed and what it cost each process in CPU."""
    per_gib = 1024 * MIB / size
    before = (own_cpu_seconds(), cpu_seconds(app_pid), children_cpu_seconds())
    speed, reader_cpu = download()
    after = (own_cpu_seconds(), cpu_seconds(app_pid), children_cpu_seconds())
    server, app, children = ((b - a) * per_gib for a, b in zip(before, after, strict=True))
    return Run(speed, server, app, children if reader_cpu is None else reader_cpu * per_gib)


def own_cpu_seconds() -> float:
    """CPU time of this process: the loopback server's thread (the main thread only waits)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time of the finished child processes: the readers (SDK process, curl)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sdk-read", nargs=3, metavar=("ENDPOINT", "CONFIG", "NAME"))
    args = parser.parse_args()
    if args.sdk_read:
        sdk_read(args.sdk_read[0], args.sdk_read[1], OCI_BUCKET, args.sdk_read[2])
        return
    size = args.size_mib * MIB

    rows = []
    with scratch_dir("bench-oci-proxy-") as tmp:
        folder = Path(tmp)
        oci = start_loopback_oci(folder)
        oci.server.put_file(OCI_BUCKET, NAME, random_file(folder / "random.mp4", size))
        app = start_app([*oci.flags(), "--username", ADMIN], app_env(), "oci-proxy")
        try:
            url = signed_url(app.url, NAME)

            def direct() -> tuple[float, float]:
                return sdk_mib_per_s(oci.url, oci.config_path, NAME, size)

            def proxied() -> tuple[float, None]:
                return curl_mib_per_s(url, size), None  # curl's CPU: the children's

            direct(), proxied()  # warm up the page cache and both paths
            for round_number in range(1, args.rounds + 1):
                rows.append((round_number, "SDK direct", measured(direct, app.process.pid, size)))
                rows.append((round_number, "media route", measured(proxied, app.process.pid, size)))
        finally:
            stop_app(app)
            oci.server.stop()

    ratios = [b[2].speed / a[2].speed for a, b in zip(rows[::2], rows[1::2], strict=True)]
    print(f"OCI proxy, {args.size_mib} MiB random object on the loopback OCI server, {machine()}")
    print(
        table(
            ["round", "reader", "MiB/s", "CPU s/GiB: loopback server", "app", "reader process"],
            [
                (
                    n,
                    who,
                    f"{r.speed:.0f}",
                    f"{r.server_cpu:.2f}",
                    f"{r.app_cpu:.2f}",
                    f"{r.reader_cpu:.2f}",
                )
                for n, who, r in rows
            ],
        )
    )
    ratio = median(ratios)
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    rounds = ", ".join(f"{q:.2f}" for q in ratios)
    print(f"median ratio {ratio:.2f} (rounds {rounds}; {verdict} the target of {TARGET_RATIO})")
    direct_speed = median([run.speed for *_, run in rows[::2]])
    proxied_speed = median([run.speed for *_, run in rows[1::2]])
    print(
        f"median speeds: media route {proxied_speed:.0f} MiB/s, SDK direct {direct_speed:.0f}"
        f" MiB/s (ratio {proxied_speed / direct_speed:.2f})"
    )


if __name__ == "__main__":
    main()
