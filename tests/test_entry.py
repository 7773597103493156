"""Both entry points serve the pages and the media route from one port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.conftest import ADMIN, REPO, app_env, free_port

TOKEN = "a-token-that-must-never-reach-a-log"


def test_uvicorn_entry_serves_ui_and_media_route_and_logs_no_video_url(fixture_library):
    port = free_port()
    env = app_env(HOMEMOVIES_LIBRARY=str(fixture_library.root), HOMEMOVIES_USERNAME=ADMIN)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "streamlit_app:app",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "uvicorn did not become healthy"
                time.sleep(0.2)
        with urllib.request.urlopen(base + "/", timeout=5) as response:
            assert b"<html" in response.read().lower()
        try:
            urllib.request.urlopen(base + f"/video/{TOKEN}/Years/2024.mp4", timeout=5)
            raise AssertionError("a media URL without a valid token was served")
        except urllib.error.HTTPError as error:
            assert error.code == 403
    finally:
        process.terminate()
        process.wait(10)
    # Video URLs carry tokens: no access log keeps them, even without --no-access-log.
    output = process.stdout.read().decode()
    assert "Application startup complete" in output
    assert TOKEN not in output
