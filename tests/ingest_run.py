"""Running `python -m lib.ingest` as a user would: a child process, no terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_PRESET = "superfast"  # the fastest preset giving H.264 High profile


def ingest_command(*args: str | Path) -> list[str]:
    """The command line running ingest with `args` (and the test preset)."""
    return [sys.executable, "-m", "lib.ingest", "--preset", TEST_PRESET, *map(str, args)]


def ingest_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: this one without HOMEMOVIES_* settings, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOMEMOVIES_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    return environment


def run_ingest(
    *args: str | Path, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command with `args` (and the test preset); with `check`, require success."""
    result = subprocess.run(
        ingest_command(*args),
        capture_output=True,
        text=True,
        env=ingest_env(env),
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
