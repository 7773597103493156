"""Where Chromium is and the flags every browser of the tests, benches and the image's smoke
test starts it with: no sandbox (root in CI), and a video may start playing, muted, without a
click of its own."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("HOMEMOVIES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
