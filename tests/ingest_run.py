"""Running `python -m lib.ingest` as a user would: a child process, no terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_PRESET = "superfast"  # the fastest preset giving H.264 High profile


def run_ingest(
    *args: str | Path, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command with `args` (and the test preset); with `check`, require success."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOMEMOVIES_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "lib.ingest", "--preset", TEST_PRESET, *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
