"""The app's own URLs: where each of its routes lives, and how a link to one is made.

Both sides use this module: the routes (lib/web/) mount themselves at these prefixes, the
pages (lib/ui/) hand these links to the browser. `base_path` is Streamlit's
`server.baseUrlPath` in the form every builder takes: '' at the root, else '/base'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from lib.cache import TTLCache
from lib.tokens import TokenSigner

MEDIA_PREFIX = "/video"  # /video/<token>/<object name>: the Range route
POSITION_PREFIX = "/position"  # POST /position/<token>: where a playing title reports
SHARE_PREFIX = "/share"  # /share/<token>: the page of a share link
ASSET_PREFIX = "/assets"  # hls.js and the player's own files, by version or digest
UPLOAD_PREFIX = "/upload"  # the tus endpoint: POST /upload/ creates, /upload/<id> resumes
SESSION_PREFIX = "/session"  # /session/<ticket>: sets (or clears) the session cookie
# The header carrying the admin's upload token on every tus request (a name, not a secret).
UPLOAD_TOKEN_HEADER = "X-Homemovies-Upload"  # noqa: S105


def base_path(configured: str) -> str:
    """Given `server.baseUrlPath` as configured ('', 'family', '/family/'), return '' or
    '/family': what every path below is prefixed with."""
    stripped = configured.strip("/")
    return f"/{stripped}" if stripped else ""


def media_url(token: str, name: str, base: str = "") -> str:
    """Return the URL path serving object `name` under `token`."""
    return f"{base.rstrip('/')}{MEDIA_PREFIX}/{token}/{quote(name, safe='/')}"


def report_url(token: str, base: str = "") -> str:
    """Return the URL path a player posts its position to under `token`."""
    return f"{base.rstrip('/')}{POSITION_PREFIX}/{token}"


def session_path(ticket: str, base: str = "") -> str:
    """Return the URL path where the browser takes sign-in (or sign-out) ticket `ticket`."""
    return f"{base.rstrip('/')}{SESSION_PREFIX}/{ticket}"


def share_path(token: str, base: str = "") -> str:
    """Return the URL path of the share link carrying `token`."""
    return f"{base.rstrip('/')}{SHARE_PREFIX}/{token}"


class LinkBook:
    """Signed tokens for one viewer, reused until half their lifetime has passed.

    Reusing a URL keeps the player from reloading on every Streamlit rerun. `store` is the
    session's cache (kept in its session state), `new_store` makes one.
    """

    def __init__(
        self,
        signer: TokenSigner,
        user: str,
        ttl: int,
        store: TTLCache[str],
        base: str = "",
    ) -> None:
        self.signer = signer
        self.user = user
        self.ttl = ttl
        self.store = store
        self.base = base

    @staticmethod
    def new_store(ttl: int, clock: Callable[[], float] = time.time) -> TTLCache[str]:
        """Return a store keeping each token for half of its `ttl`."""
        return TTLCache(ttl / 2, clock=clock)

    def token(self, scope: str) -> str:
        """Return a token for `scope`, issuing a new one when the kept one is half spent."""
        return self.store.get(
            (self.user, scope), lambda: self.signer.issue(scope, self.user, self.ttl)
        )

    def url(self, scope: str, name: str, download: bool = False) -> str:
        """Return the URL path serving `name` under a token for `scope`."""
        url = media_url(self.token(scope), name, self.base)
        return url + "?download=1" if download else url
