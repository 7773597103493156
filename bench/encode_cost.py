"""Encoding cost and quality of the ingest pipeline (lib/ingest/encode.py).

python -m bench.encode_cost [--seconds 20] [--presets ultrafast superfast ...] [--rounds 2]

On a generated 1080p30 source (testsrc2 with temporal noise, AAC audio, made once with
x264 at CRF 16 into a scratch folder under /tmp and kept for later runs):

1. the full ladder (4 rungs, poster, sprite) in the plan's one ffmpeg process, against the
   same 4 rungs as 4 separate ffmpeg runs (each decoding the source; the same per-rung
   options, `rendition_arguments`, and the same filter chain, without `split`): wall time and
   CPU time (user + sys of the children). Target: one process <= 0.7x the separate runs' wall.
2. `python -m lib.ingest --library TMP --folder Bench SOURCE` against the bare ffmpeg
   command it runs (`plan.command()`): wall time. Target: <= 5 % overhead.
3. x264 presets: speed (x real time = source duration / wall time of the full ladder in one
   process) and each rung's SSIM against the source scaled to the rung with the same scaler
   (ffmpeg's `ssim` filter, the rung decoded from its variant playlist).
4. the default preset: the best SSIM among the High-profile presets (lib.ingest.encode.PRESETS;
   ultrafast is Constrained Baseline) that encodes the full ladder at >= 1x real time.

Timings are the best of --rounds runs (the machine is shared: the least disturbed run is the
closest to the encoder's own cost); every run is listed with the 1-min load average before it.
Before each timed run the bench waits (up to --patience seconds, --wait-budget in all) until
the machine is quiet: 1-min load <= --max-load, or other processes using under 0.3 cores over
a 2 s sample (the load average still counts the bench's own previous encode for a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, machine, table
from lib.ingest.encode import DEFAULT_PRESET, PRESETS, VARIANT_PLAYLIST, EncodePlan
from lib.ingest.probe import Source, probe

ALL_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
SCRATCH = Path("/tmp/homemovies-encode-cost")
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
QUIET_CORES = 0.3  # other processes' CPU use (in cores) under which the machine counts as quiet
SPEED_TARGET = 1.0  # x real time, full ladder of a 1080p30 source
ONE_PROCESS_TARGET = 0.7  # one process's wall <= 0.7 x the separate runs'
OVERHEAD_TARGET = 0.05
# a preset whose first run is this far from the speed target is not run again: more rounds
# could not change its verdict, and the slow presets are the bulk of the bench's time
REPEAT_BAND = (0.7, 1.5)


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + sys of the children, seconds
    load: float  # 1-min load average before the run


def make_source(seconds: int) -> Path:
    """Return a 1080p30 test source of `seconds` seconds, made once and kept in SCRATCH."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / f"source-1080p30-{seconds}s.mp4"
    if path.is_file():
        return path
    print(f"making the {seconds} s source (once): {path}", file=sys.stderr)
    partial = path.with_suffix(".part.mp4")
    video = f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=6:allf=t"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    subprocess.run(
        [
            *FFMPEG, "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-maxrate", "30M",
            "-bufsize", "60M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
            "-shortest", str(partial),
        ],
        check=True,
    )  # fmt: skip
    partial.replace(path)
    return path


def busy_cores(sample: float = 2.0) -> float:
    """How many cores the machine's processes keep busy, over `sample` seconds."""

    def times() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = times()
    time.sleep(sample)
    busy1, total1 = times()
    return (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)


WAITED = [0.0]  # seconds spent waiting for quiet so far, against --wait-budget


def wait_quiet(options: argparse.Namespace) -> float:
    """Wait until the machine is quiet or patience runs out; return the 1-min load."""
    started = time.monotonic()
    deadline = started + max(0.0, min(options.patience, options.wait_budget - WAITED[0]))
    try:
        while True:
            load = os.getloadavg()[0]
            if load <= options.max_load:
                return load
            others = busy_cores()
            if others <= QUIET_CORES:
                return load
            if time.monotonic() >= deadline:
                print(
                    f"  busy: load {load:.2f}, {others:.1f} cores in use; timing anyway",
                    file=sys.stderr,
                )
                return load
            time.sleep(5)
    finally:
        WAITED[0] += time.monotonic() - started


def timed(argv: list[str], options: argparse.Namespace, wait: bool = True, **kwargs) -> Run:
    """Run `argv` to completion; return its wall and children's CPU time."""
    load = wait_quiet(options) if wait else os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, load)


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def one_process(source: Source, folder: Path, preset: str, options) -> Run:
    """The plan's own command: every rung, the poster and the sprite from one decode."""
    plan = EncodePlan.for_source(source, fresh(folder), preset)
    plan.prepare()
    return timed(plan.command(), options)


def separate_commands(plan: EncodePlan) -> list[list[str]]:
    """One ffmpeg per rung: the plan's shared filters and that rung's chain, no split."""
    chains = plan.filter_graph().split(";")
    shared = chains[0].split(",split=", 1)[0]
    commands = []
    for index, rendition in enumerate(plan.renditions):
        rung = chains[1 + index].removeprefix(f"[s{index}]")
        graph = f"{shared},{rung}"
        command = [*FFMPEG, "-i", str(plan.source.path), "-filter_complex", graph]
        commands.append(command + plan.rendition_arguments(index, rendition))
    return commands


def separate_runs(source: Source, folder: Path, preset: str, options) -> Run:
    plan = EncodePlan.for_source(source, fresh(folder), preset)
    plan.prepare()
    load = wait_quiet(options)  # once: the 4 runs follow each other as one encode would
    runs = [timed(command, options, wait=False) for command in separate_commands(plan)]
    return Run(sum(r.wall for r in runs), sum(r.cpu for r in runs), load)


def ingest_command(source: Source, library: Path, preset: str, options) -> Run:
    """`python -m lib.ingest` into a fresh local library (probe, encode, master, rename)."""
    fresh(library)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEMOVIES_")}
    argv = [sys.executable, "-m", "lib.ingest", "--library", str(library), "--folder", "Bench"]
    argv += [str(source.path), "--preset", preset]
    run = timed(argv, options, cwd=REPO, env=env)
    if not any(library.glob("Bench/*.hls/*.m3u8")):
        raise SystemExit(f"python -m lib.ingest made no title in {library}")
    return run


def ssim_per_rung(plan: EncodePlan) -> dict[str, float]:
    """Each rung (decoded from its variant playlist) against the source scaled to its size."""
    count = len(plan.renditions)
    inputs: list[str] = []
    for rendition in plan.renditions:
        inputs += ["-i", str(plan.folder / rendition.name / VARIANT_PLAYLIST)]
    inputs += ["-i", str(plan.source.path)]
    align = "settb=AVTB,setpts=PTS-STARTPTS"
    refs = "".join(f"[r{i}]" for i in range(count))
    chains = [f"[{count}:v]{align},format=yuv420p,split={count}{refs}"]
    for i, rendition in enumerate(plan.renditions):
        chains.append(f"[r{i}]scale={rendition.width}:{rendition.height}:flags=bicubic[ref{i}]")
        chains.append(f"[{i}:v]{align}[main{i}]")
        chains.append(f"[main{i}][ref{i}]ssim@{rendition.name}")
    argv = ["ffmpeg", "-hide_banner", "-nostdin", *inputs, "-filter_complex", ";".join(chains)]
    result = subprocess.run(
        [*argv, "-an", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = dict(re.findall(r"\[ssim@(\w+) @ [^]]+\] SSIM .*All:([0-9.]+)", result.stderr))
    if result.returncode != 0 or len(found) != count:
        raise SystemExit(f"ssim failed: {result.stderr[-2000:]}")
    return {name: float(value) for name, value in found.items()}


def profile(folder: Path) -> str:
    """The H.264 profile of the top rung's first segment."""
    segment = min(folder.glob("*/seg_00000.ts"), key=lambda p: -int(p.parent.name[:-1]))
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=profile"]
    result = subprocess.run(
        [*argv, "-of", "json", str(segment)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["streams"][0]["profile"]


def runs_text(runs: list[Run]) -> str:
    return ", ".join(f"{r.wall:.1f}" for r in runs)


def loads_text(runs: list[Run]) -> str:
    return ", ".join(f"{r.load:.1f}" for r in runs)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def bench_ladder(source: Source, options) -> None:
    preset = options.preset
    ones: list[Run] = []
    separates: list[Run] = []
    for round_ in range(options.rounds):
        print(f"ladder round {round_ + 1}/{options.rounds}", file=sys.stderr)
        ways = [(ones, one_process), (separates, separate_runs)]
        for runs, way in ways if round_ % 2 == 0 else ways[::-1]:
            runs.append(way(source, SCRATCH / "ladder", preset, options))
    one, sep = best(ones), best(separates)
    rows = [
        ["one process (4 rungs + poster + sprite)", runs_text(ones), f"{one.wall:.1f}",
         f"{one.cpu:.1f}", f"{source.duration / one.wall:.2f}", loads_text(ones)],
        ["4 separate runs (4 rungs)", runs_text(separates), f"{sep.wall:.1f}",
         f"{sep.cpu:.1f}", f"{source.duration / sep.wall:.2f}", loads_text(separates)],
        ["one / separate", "", f"**{one.wall / sep.wall:.2f}**", f"{one.cpu / sep.cpu:.2f}",
         "", ""],
    ]  # fmt: skip
    print(f"\n### One process vs separate runs ({preset}, best of {options.rounds})\n")
    print(
        table(["way", "wall s (each round)", "best wall s", "CPU s", "x real time", "load"], rows)
    )
    ratio = one.wall / sep.wall
    print(
        f"\nTarget one process <= {ONE_PROCESS_TARGET}x the separate runs' wall: "
        f"{verdict(ratio <= ONE_PROCESS_TARGET)} ({ratio:.2f}x; CPU {one.cpu / sep.cpu:.2f}x)"
    )


def bench_command(source: Source, options) -> None:
    preset = options.preset
    bare: list[Run] = []
    cli: list[Run] = []
    for round_ in range(options.rounds):
        print(f"command round {round_ + 1}/{options.rounds}", file=sys.stderr)
        ways = [
            (bare, lambda: one_process(source, SCRATCH / "bare", preset, options)),
            (cli, lambda: ingest_command(source, SCRATCH / "library", preset, options)),
        ]
        for runs, way in ways if round_ % 2 == 0 else ways[::-1]:
            runs.append(way())
    shutil.rmtree(SCRATCH / "library", ignore_errors=True)
    b, c = best(bare), best(cli)
    overhead = c.wall / b.wall - 1
    rows = [
        ["ffmpeg alone (plan.command())", runs_text(bare), f"{b.wall:.2f}", f"{b.cpu:.1f}",
         loads_text(bare)],
        ["python -m lib.ingest --library", runs_text(cli), f"{c.wall:.2f}", f"{c.cpu:.1f}",
         loads_text(cli)],
    ]  # fmt: skip
    print(f"\n### The command's overhead ({preset}, best of {options.rounds})\n")
    print(table(["run", "wall s (each round)", "best wall s", "CPU s", "load"], rows))
    median_overhead = statistics.median(c.wall for c in cli) / statistics.median(
        b.wall for b in bare
    )
    print(
        f"\nTarget overhead <= {OVERHEAD_TARGET:.0%}: {verdict(overhead <= OVERHEAD_TARGET)} "
        f"({overhead:+.1%} best vs best, {median_overhead - 1:+.1%} median vs median; "
        f"{c.wall - b.wall:+.2f} s)"
    )


def bench_presets(source: Source, options) -> None:
    results = {}
    for preset in options.presets:
        folder = SCRATCH / f"preset-{preset}"
        runs = [one_process(source, folder, preset, options)]
        print(f"{preset}: {runs[0].wall:.1f} s", file=sys.stderr)
        low, high = REPEAT_BAND
        if low <= source.duration / runs[0].wall <= high:
            for _ in range(options.rounds - 1):
                runs.append(one_process(source, folder, preset, options))
                print(f"{preset}: {runs[-1].wall:.1f} s", file=sys.stderr)
        plan = EncodePlan.for_source(source, folder, preset)
        results[preset] = (runs, ssim_per_rung(plan), profile(folder))
        shutil.rmtree(folder, ignore_errors=True)
    names = [r.name for r in EncodePlan.for_source(source, SCRATCH, DEFAULT_PRESET).renditions]
    rows = []
    for preset, (runs, ssim, prof) in results.items():
        run = best(runs)
        rows.append(
            [preset, prof, runs_text(runs), f"{source.duration / run.wall:.2f}", f"{run.cpu:.1f}"]
            + [f"{ssim[n]:.4f}" for n in names]
            + [f"{statistics.mean(ssim.values()):.4f}", loads_text(runs)]
        )
    headers = ["preset", "profile", "wall s", "x real time", "CPU s"]
    headers += [f"SSIM {n}" for n in names] + ["SSIM mean", "load"]
    print(f"\n### Presets (full ladder in one process, best of up to {options.rounds})\n")
    print(table(headers, rows))
    fast_enough = [
        p
        for p, (runs, _, _) in results.items()
        if p in PRESETS and source.duration / best(runs).wall >= SPEED_TARGET
    ]
    if not fast_enough:
        print(f"\nNo High-profile preset reaches {SPEED_TARGET}x real time here.")
        return
    choice = max(fast_enough, key=lambda p: statistics.mean(results[p][1].values()))
    speed = source.duration / best(results[choice][0]).wall
    print(
        f"\nDefault preset: **{choice}** ({speed:.2f}x real time, the best mean SSIM among the "
        f"High-profile presets at >= {SPEED_TARGET}x: {', '.join(fast_enough)}); "
        f"DEFAULT_PRESET is {DEFAULT_PRESET}."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.encode_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=int, default=20, help="source length (default: 20)")
    parser.add_argument("--presets", nargs="+", choices=ALL_PRESETS, default=list(ALL_PRESETS))
    parser.add_argument(
        "--preset", choices=PRESETS, default=DEFAULT_PRESET, help="preset of parts 1 and 2"
    )
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each (best kept)")
    parser.add_argument(
        "--parts", nargs="+", choices=("ladder", "command", "presets"),
        default=["ladder", "command", "presets"],
    )  # fmt: skip
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument(
        "--patience", type=float, default=120.0, help="seconds to wait for quiet before a run"
    )
    parser.add_argument(
        "--wait-budget", type=float, default=300.0, help="seconds of waiting in all (then none)"
    )
    options = parser.parse_args(argv)
    started = time.monotonic()
    source = probe(make_source(options.seconds))
    print(f"machine: {machine()}\n")
    print(
        f"source: {source.width}x{source.height} {source.fps:g} fps {source.codec}, "
        f"{source.duration:.0f} s, {source.video_bitrate / 1e6:.0f} Mbit/s, "
        f"{source.audio_tracks} AAC track (testsrc2 + temporal noise)"
    )
    if "ladder" in options.parts:
        bench_ladder(source, options)
    if "command" in options.parts:
        bench_command(source, options)
    if "presets" in options.parts:
        bench_presets(source, options)
    for leftover in ("ladder", "bare"):
        shutil.rmtree(SCRATCH / leftover, ignore_errors=True)
    print(f"\nbench time {time.monotonic() - started:.0f} s; machine at the end: {machine()}")


if __name__ == "__main__":
    main()
