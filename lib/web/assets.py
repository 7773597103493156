"""The routes serving the browser files the app ships itself (lib/assets.py): hls.js and
tus-js-client by their version, the player's module and stylesheet by their content digest,
cached for good."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from lib.assets import HLS_MODULE, TUS_SCRIPT, hls_version, own_asset, tus_version
from lib.links import ASSET_PREFIX
from lib.web.headers import IMMUTABLE, response_headers

log = logging.getLogger("homemovies.assets")
Endpoint = Callable[[Request], Awaitable[Response]]


def _npm_file(package: str, path: Path, version_of: Callable[[], str | None]) -> Endpoint:
    """Return the endpoint serving `path` of an npm package at the version installed."""

    async def serve(request: Request) -> Response:
        version = version_of()
        if version is None or request.path_params["version"] != version:
            return PlainTextResponse(
                f"{package} is not installed here; run `npm ci`.",
                status_code=404,
                headers=response_headers(),
            )
        return FileResponse(path, media_type="text/javascript", headers=response_headers(IMMUTABLE))

    return serve


_serve_hls = _npm_file("hls.js", HLS_MODULE, hls_version)
_serve_tus = _npm_file("tus-js-client", TUS_SCRIPT, tus_version)


async def _serve_own(request: Request) -> Response:
    asset = own_asset(request.path_params["extension"])
    if asset is None or request.path_params["digest"] != asset.digest:
        return PlainTextResponse("Not found.", status_code=404, headers=response_headers())
    return Response(asset.body, media_type=asset.media_type, headers=response_headers(IMMUTABLE))


def asset_routes() -> list[Route]:
    """Return the routes serving the browser assets: hls.js, tus-js-client and the player."""
    if hls_version() is None:
        log.warning("hls.js is missing (run `npm ci`): HLS titles will not play")
    return [
        Route(ASSET_PREFIX + "/hls-{version}.min.mjs", _serve_hls, methods=["GET", "HEAD"]),
        Route(ASSET_PREFIX + "/tus-{version}.min.js", _serve_tus, methods=["GET", "HEAD"]),
        Route(
            ASSET_PREFIX + "/player-{digest}.{extension:str}",
            _serve_own,
            methods=["GET", "HEAD"],
        ),
    ]
