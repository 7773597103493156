"""The routes serving the browser files the app ships itself (lib/assets.py): hls.js and
tus-js-client by their version, the player's module and stylesheet by their content digest,
cached for good."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from lib.assets import HLS_MODULE, TUS_SCRIPT, hls_version, own_asset, tus_version
from lib.links import ASSET_PREFIX
from lib.web.headers import IMMUTABLE, response_headers

log = logging.getLogger("homemovies.assets")


async def _serve_hls(request: Request) -> Response:
    version = hls_version()
    if version is None or request.path_params["version"] != version:
        return PlainTextResponse(
            "hls.js is not installed here; run `npm ci`.",
            status_code=404,
            headers=response_headers(),
        )
    return FileResponse(
        HLS_MODULE, media_type="text/javascript", headers=response_headers(IMMUTABLE)
    )


async def _serve_tus(request: Request) -> Response:
    version = tus_version()
    if version is None or request.path_params["version"] != version:
        return PlainTextResponse(
            "tus-js-client is not installed here; run `npm ci`.",
            status_code=404,
            headers=response_headers(),
        )
    return FileResponse(
        TUS_SCRIPT, media_type="text/javascript", headers=response_headers(IMMUTABLE)
    )


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
