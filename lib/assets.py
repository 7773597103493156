"""The browser files the app serves itself: hls.js and tus-js-client (pinned in package.json,
installed by `npm ci`) and the player's own module and stylesheet (lib/frontend/), each at a
URL that names its version or content digest, so browsers may cache them for good.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lib.links import ASSET_PREFIX

FRONTEND = Path(__file__).resolve().parent / "frontend"
NODE_MODULES = FRONTEND.parent.parent / "node_modules"
HLS_PACKAGE = NODE_MODULES / "hls.js"
HLS_MODULE = HLS_PACKAGE / "dist" / "hls.min.mjs"
TUS_PACKAGE = NODE_MODULES / "tus-js-client"  # resumable uploads from the Add videos page
TUS_SCRIPT = TUS_PACKAGE / "dist" / "tus.min.js"
# The element the player renders into, in the component and on the share page alike.
PLAYER_HTML = '<div class="hm-player" data-testid="hm-player"></div>'
UPLOADER_HTML = '<div class="hm-uploader" data-testid="hm-uploader"></div>'


@dataclass(frozen=True)
class OwnAsset:
    """One of the player's own files: its name, media type, bytes and content digest."""

    filename: str
    media_type: str
    body: bytes
    digest: str


OWN_ASSETS = {"mjs": ("player.js", "text/javascript"), "css": ("player.css", "text/css")}


@functools.cache
def package_version(package: Path) -> str | None:
    """Return an installed npm package's version, or None when `npm ci` has not been run."""
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


def hls_version() -> str | None:
    """Return the installed hls.js version, or None when `npm ci` has not been run."""
    return package_version(HLS_PACKAGE)


def tus_version() -> str | None:
    """Return the installed tus-js-client version, or None when `npm ci` has not been run."""
    return package_version(TUS_PACKAGE)


def tus_script_path(base: str = "") -> str:
    """Return the URL path of tus-js-client (a classic script defining `window.tus`)."""
    return f"{base.rstrip('/')}{ASSET_PREFIX}/tus-{tus_version() or 'missing'}.min.js"


def hls_script_path(base: str = "") -> str:
    """Return the URL path of the hls.js ES module served by this app."""
    return f"{base.rstrip('/')}{ASSET_PREFIX}/hls-{hls_version() or 'missing'}.min.mjs"


@functools.cache
def own_asset(extension: str) -> OwnAsset | None:
    """Return the player's module ('mjs') or stylesheet ('css'), or None for anything else."""
    known = OWN_ASSETS.get(extension)
    if known is None:
        return None
    filename, media_type = known
    body = (FRONTEND / filename).read_bytes()
    return OwnAsset(filename, media_type, body, hashlib.sha256(body).hexdigest()[:12])


def player_asset_path(extension: str, base: str = "") -> str:
    """Return the URL path of the player's module ('mjs') or stylesheet ('css')."""
    asset = own_asset(extension)
    assert asset is not None, f"the player has no {extension!r} file"
    return f"{base.rstrip('/')}{ASSET_PREFIX}/player-{asset.digest}.{extension}"


@functools.cache
def frontend_text(filename: str) -> str:
    """Return one of lib/frontend/'s files (the uploader's script and style) as text."""
    return (FRONTEND / filename).read_text(encoding="utf-8")
