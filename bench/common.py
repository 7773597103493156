"""What every bench shares: the real app and nginx as child processes, big files, tables."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.links import media_url
from tests.conftest import ADMIN, RunningApp, app_env, start_app, stop_app
from tests.media_tokens import SIGNER
from tests.proxy import nginx

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
MIB = 1024 * 1024

NGINX_STATIC = """\
    sendfile on;
    types {{
        text/html html;
        text/javascript mjs;
        video/mp4 mp4;
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}"""


@dataclass(frozen=True)
class Server:
    """A server under test: its base URL and the process whose resources we read."""

    url: str
    pid: int


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory:
    """Return a temporary directory that nginx's worker (maybe `nobody`) can read."""
    directory = tempfile.TemporaryDirectory(prefix=prefix)
    os.chmod(directory.name, 0o755)  # noqa: S103 - nginx's worker may run as nobody
    return directory


def random_file(path: Path, size: int) -> Path:
    """Write `size` random bytes to `path` in 1 MiB pieces (never the whole file in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = os.urandom(min(MIB, remaining))
            handle.write(piece)
            remaining -= len(piece)
    path.chmod(0o644)
    return path


@contextlib.contextmanager
def running_app(library: Path, name: str = "bench", **env: str) -> Iterator[RunningApp]:
    """Serve `library` with the real `streamlit run` app for the duration of the block."""
    app = start_app(["--library", str(library), "--username", ADMIN], app_env(**env), name)
    try:
        yield app
    finally:
        stop_app(app)


@contextlib.contextmanager
def running_nginx(root: Path) -> Iterator[Server]:
    """Serve `root` with nginx (one worker, sendfile on) from a config written to a temp dir."""
    with (
        scratch_dir("bench-nginx-") as tmp,
        nginx(tmp, lambda port: NGINX_STATIC.format(port=port, root=root)) as (url, pid),
    ):
        yield Server(url, pid)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    """Wait until `url` answers any HTTP status; fail if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def signed_url(base: str, name: str, ttl: int = 3600) -> str:
    """Return the full media URL for object `name` under a fresh token."""
    return base + media_url(SIGNER.issue(name, ADMIN, ttl), name)


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process `pid`, read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _stat_fields(pid: int) -> list[str]:
    """Return the fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) process `pid` has used."""
    return sum(int(value) for value in _stat_fields(pid)[11:13]) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time used by `pid` and its live children (nginx's worker, say)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    total += cpu_seconds(int(entry.name))
    return total


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the `fraction` percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """Return one line describing this machine and how busy it is."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load average {load}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table (it reads fine in a terminal and pastes into the README)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join(lines)
