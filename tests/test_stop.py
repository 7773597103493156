"""Stopping the app as a container runtime or a load balancer does (SIGTERM) loses nothing."""

from __future__ import annotations

import json
import shutil
import urllib.request

from lib.links import POSITION_PREFIX
from lib.positions import Positions
from lib.tokens import TokenSigner, derive_key
from tests.conftest import ADMIN, COOKIE_KEY, LONG_SECONDS, app_env, start_app, stop_app
from tests.ui import wait_until

TITLE = "Events/Long walk.mp4"


def saved(root) -> float:
    try:
        state = json.loads((root / Positions.object_name(ADMIN)).read_text())
        return state["positions"][TITLE]["position"]
    except (OSError, ValueError, KeyError):
        return 0.0


def report(url: str, token: str, position: float) -> None:
    body = json.dumps({"position": position, "duration": LONG_SECONDS}).encode()
    call = urllib.request.Request(
        f"{url}{POSITION_PREFIX}/{token}", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(call, timeout=10) as response:
        assert response.status == 204, response.status


def test_a_position_reported_just_before_a_stop_reaches_storage(fixture_library, tmp_path):
    root = tmp_path / "library"
    shutil.copytree(fixture_library.root / "Events", root / "Events")
    app = start_app(["--library", str(root), "--username", ADMIN], app_env(), "stop-positions")
    try:
        token = TokenSigner(derive_key(COOKIE_KEY, "homemovies position report v1")).issue(
            TITLE, ADMIN, 600
        )
        report(app.url, token, 10)
        wait_until(lambda: saved(root) == 10, "the first report was not written at once")
        report(app.url, token, 20)  # debounced: written up to 10 s later, or at the stop
    finally:
        stop_app(app)
    assert app.process.returncode is not None
    assert saved(root) == 20
