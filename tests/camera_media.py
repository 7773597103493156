"""The camera and phone files of tests/media_fixtures.py, made once per test session and
several at a time.

    folder = session_media(tmp_path_factory)          # the same folder for every module
    make_fixtures(["phone_h264", "full_hd"], folder)  # made in parallel; made ones reused

make_fixture() makes one file per call, under a lock of its process, and reuses a file it
finds made in the folder (written under a temporary name, then renamed, so that a file
found there is whole even if another process made it). The modules using this one share a
folder, so a kind is encoded once per session, not once per module; and what is missing is
made by a few child processes at once, since one ffmpeg encoding a test clip keeps only
1 to 1.5 cores busy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.media_fixtures import KINDS, make_fixture

ROOT = Path(__file__).resolve().parent.parent
# The child processes making fixtures: about one per core (each ffmpeg uses a little more).
JOBS = max(2, os.cpu_count() or 2)
_MAKE_ONE = "import sys; from pathlib import Path; from tests.media_fixtures import make_fixture; "
_MAKE_ONE += "make_fixture(sys.argv[1], Path(sys.argv[2]))"


def session_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of camera files shared by every module of this test session."""
    folder = tmp_path_factory.getbasetemp() / "camera-media"
    folder.mkdir(exist_ok=True)
    return folder


def _cost(kind: str) -> float:
    """Roughly how long a kind takes to make: pixels encoded, HEVC counted thrice."""
    spec = KINDS[kind]
    pixels = (spec.width or 0) * (spec.height or 0) * (spec.duration or 0)
    return pixels * (3 if spec.video_codec == "hevc" else 1)


def _make_in_child(kind: str, folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MAKE_ONE, kind, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"making the {kind} fixture failed:\n{done.stderr}")


def make_fixtures(kinds: Iterable[str], folder: Path) -> dict[str, Path]:
    """Make every fixture of `kinds` in `folder` that is not there yet, the costliest first,
    JOBS at a time; return each kind's path. Files made from another fixture (`truncated`)
    and the ones without a picture are made here, once the others exist."""
    wanted = list(dict.fromkeys(kinds))
    missing = [
        kind
        for kind in wanted
        if KINDS[kind].readable and not (folder / KINDS[kind].file_name).exists()
    ]
    if len(missing) > 1:
        with ThreadPoolExecutor(max_workers=JOBS) as pool:
            costliest_first = sorted(missing, key=_cost, reverse=True)
            list(pool.map(lambda kind: _make_in_child(kind, folder), costliest_first))
    return {kind: make_fixture(kind, folder) for kind in wanted}
