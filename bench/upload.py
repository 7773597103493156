"""Upload of a title to a bucket: ingest's BucketPublisher vs `oci os object bulk-upload`.

python -m bench.upload [--size-gib 1] [--jobs 4] [--rounds 3] [--kill-at 0.5 0.8]
                       [--oci-cli /tmp/ocicli-venv/bin/oci] [--quick]

A title of about `--size-gib` GiB is written to a scratch folder as random bytes (no video is
encoded: the uploader never looks inside): 400 segments a GiB in four variant folders
(`360p/` to `1080p/`, 0.6-2.5 MiB each, 1.5 MiB on average), their `index.m3u8`, a master
`output.m3u8`, and beside the folder a 400 MiB a GiB original. One loopback OCI server
(tests/oci_server.py, in this process, on a thread; it checks every signature, hashes every
body and spools it to disk) takes every run, each into a fresh bucket that is checked
afterwards (every object there, with its size) and then dropped:

- ours: `BucketPublisher(storage, workers).publish(prefix, title, folder_items(folder) +
  [Item("original.mov", original)])` with `storage.part_size = part MiB`, run as a child
  process (`python -m bench.upload --child ...`) like oci-cli, so that client and server do
  not share one interpreter; once more in this process (client and server then share a GIL);
- oci-cli: `oci os object bulk-upload --src-dir DIR --prefix P --overwrite` (hard links of the
  same files, the original included) with its defaults, then `--parallel-upload-count JOBS`;
  `--overwrite` skips its per-object HEAD, its fastest path.

"wall" is the child's whole life (interpreter and SDK start-up included); "active" runs from
the server's first request to the child's exit. CPU is the child's (rusage) and the server's
(this process's CPU time over the run). Both run on this machine: they compete for its cores.

Resume: ours is started as a child and SIGKILLed when the server has received `--kill-at` of
the title's bytes (complete request bodies, polled every 10 ms); then the same publish runs
again and the bytes the server receives from it are counted against the title's.

Needs oci-cli in its own venv (it pins other `oci` versions than .venv):
python3 -m venv /tmp/ocicli-venv && /tmp/ocicli-venv/bin/pip install oci-cli
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
GIB = 1024 * MIB
VARIANTS = {"360p": 0.4, "540p": 0.7, "720p": 1.1, "1080p": 1.8}  # relative segment sizes
SEGMENTS_PER_GIB = 400
SEGMENT_MEAN = 1.5 * MIB
ORIGINAL_PER_GIB = 400 * MIB
OCI_CLI = "/tmp/ocicli-venv/bin/oci"
TITLE = "Upload bench"
TARGET_RATIO = 1.0
AIM_RATIO = 1.5


# ----- the child: ingest's publisher on a pre-built folder -----


def child(options: argparse.Namespace) -> int:
    """Publish `--folder` plus `--original` below `--prefix`; print what was sent as JSON."""
    from lib.ingest.publish import BucketPublisher, Item, folder_items
    from lib.services import build_storage
    from lib.settings import Settings

    settings = Settings(
        bucket=options.bucket, os_endpoint=options.endpoint, oci_config=options.config
    )
    storage = build_storage(settings)
    storage.part_size = options.part_mb * MIB
    items = [*folder_items(Path(options.folder)), Item("original.mov", Path(options.original))]
    if options.original_first:  # what-if: the largest object starts first
        items = items[-1:] + items[:-1]
    started = time.monotonic()
    sent = BucketPublisher(storage, workers=options.jobs).publish(options.prefix, TITLE, items)
    seconds = time.monotonic() - started
    print(json.dumps({**vars(sent), "seconds": seconds}), flush=True)
    return 0


# ----- the title -----


@dataclass
class Title:
    folder: Path  # the .hls folder as ingest builds it
    original: Path  # the kept original, outside it
    cli_src: Path  # hard links of both, for oci-cli's --src-dir
    sizes: dict[str, int]  # object name (below the prefix) -> bytes

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def build_title(base: Path, size_gib: float) -> Title:
    """Write the random-byte title and its original; return where and what."""
    from bench.common import random_file

    rng = random.Random(7)
    folder, cli_src = base / "title.hls", base / "cli-src"
    per_variant = round(SEGMENTS_PER_GIB * size_gib / len(VARIANTS))
    mean_weight = statistics.mean(VARIANTS.values())
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant, weight in VARIANTS.items():
        playlist = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4"]
        playlist.append("#EXT-X-PLAYLIST-TYPE:VOD")
        for number in range(per_variant):
            size = round(SEGMENT_MEAN * weight / mean_weight * rng.uniform(0.9, 1.1))
            random_file(folder / variant / f"seg_{number:05d}.ts", size)
            playlist += ["#EXTINF:4.000000,", f"seg_{number:05d}.ts"]
        playlist.append("#EXT-X-ENDLIST")
        (folder / variant / "index.m3u8").write_text("\n".join(playlist) + "\n")
        bandwidth = round(SEGMENT_MEAN * weight / mean_weight * 8 / 4)
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}", f"{variant}/index.m3u8"]
    (folder / "output.m3u8").write_text("\n".join(master) + "\n")
    original = random_file(base / "original.mov", round(ORIGINAL_PER_GIB * size_gib))
    sizes = {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file()
    }
    sizes["original.mov"] = original.stat().st_size
    for name in sizes:
        source = original if name == "original.mov" else folder / name
        (cli_src / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(source, cli_src / name)
    return Title(folder, original, cli_src, sizes)


# ----- one run -----


@dataclass
class Run:
    client: str
    jobs: int
    part_mb: int
    wall: float = 0.0
    active: float = 0.0
    received: int = 0  # request body bytes the server took (complete requests)
    requests: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    client_rss: int = 0
    ok: str = ""
    killed: bool = False
    output: dict = field(default_factory=dict)
    segments_done: float | None = None  # s after the first request: last segment stored
    original_done: float | None = None  # s after the first request: the original committed
    original_start: float | None = None  # s after the first request: its first request seen
    first_put: float | None = None  # s after the first request: the first PUT (checks done)


def watch_child(
    command: list[str], oci, run: Run, stop_at: int | None = None, logs: Path | None = None
) -> Run:
    """Run `command` to its end (or SIGKILL it once the server holds `stop_at` bytes)."""
    server = oci.server
    mark = server.mark()
    cpu = time.process_time()
    out = tempfile.TemporaryFile()  # noqa: SIM115 - oci-cli prints a long summary
    err = (logs or Path(tempfile.gettempdir())) / f"upload-{run.client}-{os.getpid()}.err"
    with err.open("wb") as errors:
        env = {**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"}
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=errors, env=env)
        first = None
        stamps: list[float] = []  # when each request was first seen (10 ms resolution)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            seen = server.since(mark)
            now = time.monotonic()
            stamps += [now] * (len(seen) - len(stamps))
            if first is None and seen:
                first = now
            run.client_rss = max(run.client_rss, peak_rss(process.pid))
            if pid:
                break
            if (
                stop_at is not None
                and not run.killed
                and sum(s.request_bytes for s in seen) >= stop_at
            ):
                os.kill(process.pid, signal.SIGKILL)
                run.killed = True
            time.sleep(0.01)
    ended = time.monotonic()
    if run.killed:
        time.sleep(1.0)  # let the server finish logging what it had received
    process.returncode = os.waitstatus_to_exitcode(status)
    run.wall = ended - started
    run.active = ended - (first or started)
    run.client_cpu = usage.ru_utime + usage.ru_stime
    run.server_cpu = time.process_time() - cpu
    seen = server.since(mark)
    stamps += [ended] * (len(seen) - len(stamps))
    run.received = sum(s.request_bytes for s in seen)
    run.requests = len(seen)
    timeline(run, seen, [stamp - (first or started) for stamp in stamps])
    if process.returncode != 0 and not run.killed:
        raise RuntimeError(f"{command[0]} exited {process.returncode}: {err.read_text()[-2000:]}")
    err.unlink(missing_ok=True)
    out.seek(0)
    lines = out.read().decode(errors="replace").strip().splitlines()
    if run.client.startswith("ours") and lines and not run.killed:
        run.output = json.loads(lines[-1])
    return run


def peak_rss(pid: int) -> int:
    """The peak RSS of `pid` since its exec (VmHWM; rusage's maxrss counts the parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def timeline(run: Run, seen: list, stamps: list[float]) -> None:
    """Note when the last segment was stored and when the original started and ended."""
    segments = [t for s, t in zip(seen, stamps, strict=True) if s.path.endswith(".ts")]
    original = [t for s, t in zip(seen, stamps, strict=True) if "original.mov" in s.path]
    run.segments_done = max(segments, default=None)
    run.original_start = min(original, default=None)
    run.original_done = max(original, default=None)
    run.first_put = min(
        (t for s, t in zip(seen, stamps, strict=True) if s.method == "PUT"), default=None
    )


def ours_command(
    oci, title: Title, bucket: str, prefix: str, jobs: int, part_mb: int, first: bool = False
) -> list:
    return [
        sys.executable,
        "-m",
        "bench.upload",
        "--child",
        "--folder",
        str(title.folder),
        "--original",
        str(title.original),
        "--bucket",
        bucket,
        "--endpoint",
        oci.url,
        "--config",
        str(oci.config_path),
        "--prefix",
        prefix,
        "--jobs",
        str(jobs),
        "--part-mb",
        str(part_mb),
        *(["--original-first"] if first else []),
    ]


def cli_command(
    cli: str, oci, title: Title, bucket: str, prefix: str, jobs: int | None
) -> list[str]:
    command = [cli, "os", "object", "bulk-upload", "-ns", oci.server.namespace, "-bn", bucket]
    command += ["--src-dir", str(title.cli_src), "--prefix", prefix, "--overwrite"]
    command += ["--endpoint", oci.url, "--config-file", str(oci.config_path)]
    command += ["--auth", "api_key"]
    if jobs is not None:
        command += ["--parallel-upload-count", str(jobs)]
    return command


def in_process(oci, title: Title, bucket: str, prefix: str, run: Run) -> Run:
    """Ours in this process: the server's thread and the upload threads share one GIL."""
    from lib.ingest.publish import BucketPublisher, Item, folder_items
    from lib.services import build_storage
    from tests.loopback import settings_for

    storage = build_storage(settings_for(oci, bucket))
    storage.part_size = run.part_mb * MIB
    items = [*folder_items(title.folder), Item("original.mov", title.original)]
    mark, cpu, started = oci.server.mark(), time.process_time(), time.monotonic()
    sent = BucketPublisher(storage, workers=run.jobs).publish(prefix, TITLE, items)
    run.wall = run.active = time.monotonic() - started
    run.client_cpu = time.process_time() - cpu  # client and server together
    seen = oci.server.since(mark)
    run.received, run.requests = sum(s.request_bytes for s in seen), len(seen)
    run.output = vars(sent)
    return run


def check(oci, bucket: str, prefix: str, title: Title) -> str:
    """'ok' if the bucket holds exactly the title's objects with their sizes (and no
    unfinished multipart upload), else what differs."""
    with oci.server._lock:
        target = oci.server.bucket(bucket)
        held = {n[len(prefix) :]: o.size for n, o in target.objects.items() if n.startswith(prefix)}
        uploads = len(target.uploads)
    missing = sorted(set(title.sizes) - set(held))
    extra = sorted(set(held) - set(title.sizes))
    wrong = sorted(n for n in set(held) & set(title.sizes) if held[n] != title.sizes[n])
    if not (missing or extra or wrong or uploads):
        return f"ok ({len(held)})"
    return f"BAD: {len(missing)} missing, {len(extra)} extra, {len(wrong)} sizes, {uploads} uploads"


def drop(oci, bucket: str) -> None:
    """Forget bucket `bucket` and delete its spooled bodies (the disk is shared)."""
    with oci.server._lock:
        target = oci.server.buckets.pop(bucket, None)
    if target is None:
        return
    for stored in target.objects.values():
        oci.server.discard(stored)
    for upload in target.uploads.values():
        for part in upload.parts.values():
            part.path.unlink(missing_ok=True)


# ----- the bench -----


def seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def mib_s(run: Run, total: int) -> float:
    return total / MIB / run.active


def upload_rows(runs: list[Run], total: int) -> list[list[object]]:
    rows = []
    for run in runs:
        rows.append(
            [
                run.client,
                run.jobs,
                run.part_mb,
                f"{run.wall:.1f}",
                f"{run.active:.1f}",
                f"{mib_s(run, total):.0f}",
                run.requests,
                f"{run.client_cpu:.1f}",
                f"{run.server_cpu:.1f}" if run.server_cpu else "(with client)",
                f"{run.client_rss / MIB:.0f}" if run.client_rss else "",
                seconds(run.segments_done),
                f"{seconds(run.original_start)}-{seconds(run.original_done)}",
                run.ok,
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upload", description=__doc__)
    parser.add_argument("--size-gib", type=float, default=1.0, help="title size (1 GiB)")
    parser.add_argument("--jobs", type=int, default=4, help="ingest's --jobs (4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the main three (3)")
    parser.add_argument(
        "--kill-at", type=float, nargs="*", default=[0.5, 0.8], help="resume kills (0.5 0.8)"
    )
    parser.add_argument("--oci-cli", default=OCI_CLI, help=f"the oci executable ({OCI_CLI})")
    parser.add_argument("--quick", action="store_true", help="only the main three, no extras")
    child_group = parser.add_argument_group("child (internal)")
    child_group.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for flag in ("--folder", "--original", "--bucket", "--endpoint", "--config", "--prefix"):
        child_group.add_argument(flag, help=argparse.SUPPRESS)
    child_group.add_argument("--part-mb", type=int, default=64, help=argparse.SUPPRESS)
    child_group.add_argument("--original-first", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        return child(options)
    return bench(options)


def bench(options: argparse.Namespace) -> int:
    from bench.common import machine, scratch_dir, table
    from tests.conftest import start_loopback_oci

    if not Path(options.oci_cli).exists():
        raise SystemExit(
            f"{options.oci_cli} is missing: python3 -m venv /tmp/ocicli-venv && "
            "/tmp/ocicli-venv/bin/pip install oci-cli"
        )
    load_start = Path("/proc/loadavg").read_text().strip()
    print(machine())
    print(f"\n/proc/loadavg at start: {load_start}")
    jobs, count = options.jobs, iter(range(1, 1000))
    with scratch_dir("bench-upload-") as scratch:
        base = Path(scratch)
        began = time.monotonic()
        title = build_title(base / "data", options.size_gib)
        print(
            f"title: {len(title.sizes)} objects, {title.total / MIB:,.0f} MiB "
            f"(original {title.sizes['original.mov'] / MIB:,.0f} MiB), "
            f"written in {time.monotonic() - began:.1f} s"
        )
        (base / "oci").mkdir()
        oci = start_loopback_oci(base / "oci")
        try:

            def once(run: Run, command: list[str] | None = None) -> Run:
                bucket = f"bench-{next(count)}"
                prefix = "Bench/Upload.hls/"
                oci.server.bucket(bucket)
                if run.client == "ours in-process":
                    in_process(oci, title, bucket, prefix, run)
                elif run.client.startswith("ours"):
                    first = run.client == "ours, original first"
                    command = ours_command(oci, title, bucket, prefix, run.jobs, run.part_mb, first)
                    watch_child(command, oci, run, logs=base)
                else:
                    parallel = None if run.client == "oci-cli defaults" else run.jobs
                    command = cli_command(options.oci_cli, oci, title, bucket, prefix, parallel)
                    watch_child(command, oci, run, logs=base)
                run.ok = check(oci, bucket, prefix, title)
                drop(oci, bucket)
                print(
                    f"  {run.client:<18} jobs {run.jobs:<2} part {run.part_mb:>3} MiB: "
                    f"{run.active:6.1f} s active, {mib_s(run, title.total):4.0f} MiB/s, {run.ok}",
                    flush=True,
                )
                return run

            main_runs: dict[str, list[Run]] = {"ours": [], "cli": [], "cli-jobs": [], "first": []}
            contenders = [
                ("ours", lambda: Run("ours", jobs, 64)),
                ("cli", lambda: Run("oci-cli defaults", 10, 128)),
                ("cli-jobs", lambda: Run("oci-cli", jobs, 128)),
                ("first", lambda: Run("ours, original first", jobs, 64)),
            ]
            for number in range(options.rounds):  # each round starts with the next one
                for key, make in contenders[number % 4 :] + contenders[: number % 4]:
                    main_runs[key].append(once(make()))
            extra_runs: list[Run] = []
            if not options.quick:
                extra_runs.append(once(Run("ours", 8, 64)))
                extra_runs.append(once(Run("ours", jobs, 128)))
                extra_runs.append(once(Run("ours", 8, 128)))
                extra_runs.append(once(Run("ours in-process", jobs, 64)))
            resumes = [resume(oci, title, jobs, fraction, base) for fraction in options.kill_at]
        finally:
            oci.server.stop()
        load_end = Path("/proc/loadavg").read_text().strip()

    total = title.total
    headers = [
        "client",
        "parallel",
        "part MiB",
        "wall s",
        "active s",
        "MiB/s (active)",
        "requests",
        "client CPU s",
        "server CPU s",
        "client max RSS MiB",
        "segments done s",
        "original s",
        "bucket check",
    ]
    all_runs = [run for runs in main_runs.values() for run in runs] + extra_runs
    print(f"\n### Upload of {total / MIB:,.0f} MiB ({len(title.sizes)} objects)\n")
    print(table(headers, upload_rows(all_runs, total)))

    def speed(runs: list[Run]) -> float:
        return statistics.median(mib_s(run, total) for run in runs)

    ours, cli, cli_jobs, first = (
        speed(main_runs[key]) for key in ("ours", "cli", "cli-jobs", "first")
    )
    ratio_rows = [
        [f"ours ({jobs}, 64 MiB) / oci-cli defaults (10, 128 MiB)", f"{ours / cli:.2f}"],
        [
            f"ours ({jobs}, 64 MiB) / oci-cli --parallel-upload-count {jobs}",
            f"{ours / cli_jobs:.2f}",
        ],
    ]
    ratio_rows += [
        [
            f"what-if: ours, original first ({jobs}, 64 MiB) / oci-cli defaults",
            f"{first / cli:.2f}",
        ],
        [
            f"what-if: ours, original first / oci-cli --parallel-upload-count {jobs}",
            f"{first / cli_jobs:.2f}",
        ],
    ]
    met = "met" if ours / cli >= TARGET_RATIO else "MISSED"
    print(
        f"\n### Speed ratio (medians of {options.rounds} round(s); "
        f"target ≥ {TARGET_RATIO}×, aim {AIM_RATIO}×: {met})\n"
    )
    print(table(["ratio", "×"], ratio_rows))

    print(f"\n### Resume after SIGKILL (ours, {jobs} jobs, 64 MiB parts)\n")
    resume_headers = [
        "killed at",
        "received before kill MiB",
        "objects done at kill",
        "original parts done at kill",
        "resumed run sent MiB",
        "sent / title",
        "sent twice MiB",
        "resumed s",
        "of which checks s",
        "resumed requests",
        "bucket check",
    ]
    print(table(resume_headers, [one.row(total) for one in resumes]))
    print(f"\n/proc/loadavg at end: {load_end}")
    return 0


@dataclass
class Resume:
    fraction: float
    before: Run
    after: Run
    objects_at_kill: int
    parts_at_kill: int

    def row(self, total: int) -> list[object]:
        again = self.before.received + self.after.received - total
        return [
            f"{self.fraction:.0%} ({self.before.received / total:.0%} received)",
            f"{self.before.received / MIB:,.0f}",
            self.objects_at_kill,
            self.parts_at_kill,
            f"{self.after.received / MIB:,.0f}",
            f"{self.after.received / total:.0%}",
            f"{again / MIB:,.0f} ({again / total:.1%})",
            f"{self.after.active:.1f}",
            seconds(self.after.first_put),
            self.after.requests,
            self.after.ok,
        ]


def resume(oci, title: Title, jobs: int, fraction: float, base: Path) -> Resume:
    """Kill ours at `fraction` of the bytes, then publish again; return both runs."""
    bucket, prefix = f"bench-resume-{round(fraction * 100)}", "Bench/Upload.hls/"
    oci.server.bucket(bucket)
    command = ours_command(oci, title, bucket, prefix, jobs, 64)
    before = watch_child(
        command, oci, Run("ours", jobs, 64), stop_at=round(title.total * fraction), logs=base
    )
    if not before.killed:
        raise RuntimeError(f"the upload ended before {fraction:.0%} was reached")
    with oci.server._lock:
        target = oci.server.bucket(bucket)
        objects = sum(
            1
            for name in target.objects
            if name.startswith(prefix) and name[len(prefix) :] in title.sizes
        )
        parts = sum(len(upload.parts) for upload in target.uploads.values())
    after = watch_child(command, oci, Run("ours resumed", jobs, 64), logs=base)
    after.ok = check(oci, bucket, prefix, title)
    drop(oci, bucket)
    print(
        f"  resume after a kill at {fraction:.0%}: sent {after.received / MIB:,.0f} MiB "
        f"of {title.total / MIB:,.0f}, {after.ok}",
        flush=True,
    )
    return Resume(fraction, before, after, objects, parts)


if __name__ == "__main__":
    sys.exit(main())
