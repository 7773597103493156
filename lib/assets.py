"""The browser files the app serves itself: hls.js (pinned in package.json, installed by
`npm ci`) and the player's own module and stylesheet (lib/frontend/), each at a URL that
names its version or content digest, so browsers may cache them for good.
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
# The element the player renders into, in the component and on the share page alike.
PLAYER_HTML = '<div class="hm-player" data-testid="hm-player"></div>'


@dataclass(frozen=True)
class OwnAsset:
    """One of the player's own files: its name, media type, bytes and content digest."""

    filename: str
    media_type: str
    body: bytes
    digest: str


OWN_ASSETS = {"mjs": ("player.js", "text/javascript"), "css": ("player.css", "text/css")}


@functools.cache
def hls_version() -> str | None:
    """Return the installed hls.js version, or None when `npm ci` has not been run."""
    try:
        version = json.loads((HLS_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


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
