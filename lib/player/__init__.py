"""The player: one Streamlit component (v2) for MP4 and HLS, and the routes serving its assets.

The same ES module runs inside Streamlit (as the component) and on the share page (imported
from `/assets/player-<digest>.mjs`), so both get speed, quality, subtitles and shortcuts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from lib.library import Kind, Video
from lib.sidecars import Subtitle

ASSETS = Path(__file__).resolve().parent
NODE_MODULES = ASSETS.parent.parent / "node_modules"
HLS_PACKAGE = NODE_MODULES / "hls.js"
ASSET_PREFIX = "/assets"

log = logging.getLogger("homemovies.player")


@dataclass(frozen=True)
class Track:
    """A subtitle track the player offers: its URL, menu label and language tag."""

    src: str
    label: str
    lang: str = ""


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
    name: str = ""  # the title's object name: a renewed link to it carries on where it is
    subtitles: tuple[Track, ...] = ()
    report: str = ""  # where the player posts its position (lib/progress.py), or "" for nowhere


def source_for(
    video: Video,
    subtitles: tuple[Subtitle, ...],
    url: Callable[[str, str], str],
    hls_script: str,
    start: float = 0.0,
    report: str = "",
) -> PlayerSource:
    """Return what the player needs for `video`; `url(scope, name)` signs each object's URL
    and `report` is the URL its position is posted to ("" for nowhere).

    Sidecars get their own scope: the `.hls` folder, or for a file title each sidecar file
    alone, so no token reaches beyond the title's own files.
    """
    return PlayerSource(
        kind="hls" if video.kind is Kind.HLS else "file",
        src=url(video.scope, video.playlist),
        title=video.title,
        hlsScript=hls_script,
        poster=url(video.sidecar_scope(video.poster), video.poster) if video.poster else "",
        start=start,
        name=video.name,
        subtitles=tuple(
            Track(url(video.sidecar_scope(track.name), track.name), track.label, track.language)
            for track in subtitles
        ),
        report=report,
    )


def idle_source(hls_script: str) -> PlayerSource:
    """Return the source of a player with nothing chosen yet: hidden, loading hls.js early."""
    return PlayerSource(kind="idle", src="", title="", hlsScript=hls_script)


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


@functools.cache
def _own_asset(filename: str) -> tuple[str, bytes]:
    """Return (content digest, bytes) of one of the player's own files."""
    body = (ASSETS / filename).read_bytes()
    return hashlib.sha256(body).hexdigest()[:12], body


OWN_ASSETS = {"mjs": ("player.js", "text/javascript"), "css": ("player.css", "text/css")}


def player_asset_path(extension: str, base_path: str = "") -> str:
    """Return the URL path of the player's module ('mjs') or stylesheet ('css')."""
    digest, _ = _own_asset(OWN_ASSETS[extension][0])
    return f"{base_path.rstrip('/')}{ASSET_PREFIX}/player-{digest}.{extension}"


async def _serve_own(request: Request) -> Response:
    asset = OWN_ASSETS.get(request.path_params["extension"])
    digest, body = _own_asset(asset[0]) if asset else ("", b"")
    if asset is None or request.path_params["digest"] != digest:
        return PlainTextResponse("Not found.", status_code=404)
    return Response(
        body,
        media_type=asset[1],
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


def asset_routes() -> list[Route]:
    """Return the routes serving the player's assets: hls.js and the player for share pages."""
    if hls_version() is None:
        log.warning("hls.js is missing (run `npm ci`): HLS titles will not play")
    return [
        Route(ASSET_PREFIX + "/hls-{version}.min.mjs", _serve_hls, methods=["GET", "HEAD"]),
        Route(
            ASSET_PREFIX + "/player-{digest}.{extension:str}",
            _serve_own,
            methods=["GET", "HEAD"],
        ),
    ]


@functools.cache
def _component() -> Any:
    return st.components.v2.component(
        "homemovies_player",
        html=PLAYER_HTML,
        css=_own_asset("player.css")[1].decode("utf-8"),
        js=_own_asset("player.js")[1].decode("utf-8"),
    )


PLAYER_HTML = '<div class="hm-player" data-testid="hm-player"></div>'


def player(
    source: PlayerSource,
    key: str = "player",
    offers: Mapping[str, PlayerSource] | None = None,
    on_open: Callable[[str], None] | None = None,
) -> Any:
    """Draw the player for `source`; switching sources tears the previous one down.

    `offers` maps object names to their sources: a click on a play button of the page
    (`data-hm-play`, see lib/grid.py) starts that title at once and reaches `on_open` with
    the name, in the session's script thread.
    """
    data = {**asdict(source), "offers": {k: asdict(v) for k, v in (offers or {}).items()}}
    callbacks: dict[str, Callable[[], None]] = {}
    if on_open is not None:

        def opened() -> None:
            name = st.session_state[key].get("open")
            if isinstance(name, str) and name:  # client input: only a name is acted upon
                on_open(name)

        callbacks["on_open_change"] = opened
    return _component()(data=data, key=key, **callbacks)
