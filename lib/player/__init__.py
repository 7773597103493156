"""The player: one Streamlit component (v2) for MP4 and HLS, and the route serving hls.js."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

ASSETS = Path(__file__).resolve().parent
NODE_MODULES = ASSETS.parent.parent / "node_modules"
HLS_PACKAGE = NODE_MODULES / "hls.js"
ASSET_PREFIX = "/assets"

log = logging.getLogger("homemovies.player")


@dataclass(frozen=True)
class PlayerSource:
    """What the player plays: a file URL or an HLS playlist URL, and how to label it."""

    kind: str  # "file", "hls", or "idle" (nothing chosen yet: hidden, loads hls.js early)
    src: str
    title: str
    hlsScript: str = ""  # noqa: N815 - read by the JavaScript side as-is
    poster: str = ""
    start: float = 0.0
    autoplay: bool = True


@functools.cache
def hls_version() -> str | None:
    """Return the installed hls.js version, or None when `npm ci` has not been run."""
    try:
        return json.loads((HLS_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def hls_script_path(base_path: str = "") -> str:
    """Return the URL path of the hls.js ES module served by this app."""
    return f"{base_path.rstrip('/')}{ASSET_PREFIX}/hls-{hls_version() or 'missing'}.min.mjs"


async def _serve_hls(request: Request) -> Response:
    version = hls_version()
    if version is None or request.path_params["version"] != version:
        return PlainTextResponse("hls.js is not installed here; run `npm ci`.", status_code=404)
    return FileResponse(
        HLS_PACKAGE / "dist" / "hls.min.mjs",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def asset_routes() -> list[Route]:
    """Return the routes serving the player's third-party assets (hls.js)."""
    if hls_version() is None:
        log.warning("hls.js is missing (run `npm ci`): HLS titles will not play")
    return [Route(ASSET_PREFIX + "/hls-{version}.min.mjs", _serve_hls, methods=["GET", "HEAD"])]


@functools.cache
def _component() -> Any:
    return st.components.v2.component(
        "homemovies_player",
        html='<div class="hm-player" data-testid="hm-player"></div>',
        css=(ASSETS / "player.css").read_text(),
        js=(ASSETS / "player.js").read_text(),
    )


def player(source: PlayerSource, key: str = "player") -> Any:
    """Draw the player for `source`; switching sources tears the previous one down."""
    return _component()(data=asdict(source), key=key)
