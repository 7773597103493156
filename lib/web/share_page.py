"""The share page: `/share/<token>` shows one title to someone without an account.

A small HTML page served by the app's own Starlette route: only the shared title, played by
the same player module the library uses, with media tokens held by the share (`share:<id>`)
and never longer-lived than it. Anything else (forged, expired, revoked) gets one clear
"this link has expired" page; nothing of the rest of the library is reachable from here.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from lib.assets import PLAYER_HTML, hls_script_path, player_asset_path
from lib.format import format_utc
from lib.library import Library, Video
from lib.links import SHARE_PREFIX, media_url
from lib.media_index import IndexEntry, MediaIndex
from lib.playback import source_for
from lib.shares import Share, Shares
from lib.sidecars import Subtitle
from lib.storage import StorageError
from lib.tokens import TokenSigner
from lib.web.headers import NO_STORE, response_headers, share_page_policy

EXPIRED_TITLE = "This link has expired"
EXPIRED_TEXT = "Ask the person who sent it to you for a new one."
GONE_TITLE = "This video is no longer available"
GONE_TEXT = "It was moved or removed from the library."
UNAVAILABLE_TEXT = "The video storage is not answering; try again in a minute."

PAGE_STYLE = """
:root { color-scheme: dark; }
body { margin: 0; background: #0e1117; color: #fafafa;
       font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
p { color: #c9cdd4; }
"""


def _page(title: str, body: str, nonce: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)} · Home movies</title>"
        f'<link rel="stylesheet" href="..{player_asset_path("css")}">'
        f'<style nonce="{nonce}">{PAGE_STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )


def _headers(nonce: str, media_sources: tuple[str, ...] = ()) -> dict[str, str]:
    # The URL holds a capability: keep it out of caches, referrers and frames.
    return response_headers(NO_STORE, share_page_policy(nonce, media_sources))


@dataclass(frozen=True)
class SharePage:
    """ASGI endpoint drawing the page of one share link."""

    shares: Shares
    library: Library
    media_signer: TokenSigner
    token_seconds: int
    clock: Callable[[], float] = time.time
    media_sources: tuple[str, ...] = ()  # --delivery par: the hosts of the PARs
    index: MediaIndex | None = None  # the library index: a poster and seek preview for all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.get_response(Request(scope, receive))
        await response(scope, receive, send)

    async def get_response(self, request: Request) -> Response:
        """Given a request for a share link, return its page (or the expired page)."""
        nonce = secrets.token_urlsafe(16)
        try:
            share, video = await run_in_threadpool(self.lookup, request.path_params["token"])
        except StorageError:
            return self.message(503, "Please try again", UNAVAILABLE_TEXT, nonce)
        if share is None:
            return self.message(410, EXPIRED_TITLE, EXPIRED_TEXT, nonce)
        if video is None:
            return self.message(404, GONE_TITLE, GONE_TEXT, nonce)
        subtitles = await run_in_threadpool(self.library.subtitles, video)
        entry = await run_in_threadpool(self.index.entry, video) if self.index else None
        return HTMLResponse(
            self.render(share, video, subtitles, nonce, entry),
            headers=_headers(nonce, self.media_sources),
        )

    def lookup(self, token: str) -> tuple[Share | None, Video | None]:
        """Return the live share behind `token` and its title, if both still exist."""
        share = self.shares.open(token)
        if share is None:
            return None, None
        video = self.library.find(share.name)
        if video is None or not video.playable:
            return share, None
        return share, video

    def render(
        self,
        share: Share,
        video: Video,
        subtitles: tuple[Subtitle, ...],
        nonce: str,
        entry: IndexEntry | None = None,
    ) -> str:
        """Return the page: title, note, the player and when the link stops working."""
        ttl = max(1, int(min(self.token_seconds, share.expires - self.clock())))

        def url(scope: str, name: str) -> str:
            # Relative to /share/<token>, so the page works under any server.baseUrlPath.
            return ".." + media_url(self.media_signer.issue(scope, share.holder, ttl), name)

        source = source_for(video, subtitles, url, ".." + hls_script_path(), entry=entry)
        data = json.dumps(asdict(source)).replace("<", "\\u003c")
        until = format_utc(share.expires)
        note = f"<p>{html.escape(share.note)}</p>" if share.note else ""
        script = (
            f'<script type="module" nonce="{nonce}">'
            f'import player from "..{player_asset_path("mjs")}";'
            f"player({{parentElement: document.body, data: {data}}});</script>"
        )
        body = (
            f"<h1>{html.escape(video.title)}</h1>{note}{PLAYER_HTML}"
            f"<p>This link works until {until}.</p>{script}"
        )
        return _page(video.title, body, nonce)

    def message(self, status: int, title: str, text: str, nonce: str) -> Response:
        """Return a page saying only `title` and `text`."""
        body = f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        return HTMLResponse(
            _page(title, body, nonce),
            status_code=status,
            headers=_headers(nonce, self.media_sources),
        )


def share_routes(page: SharePage) -> list[Route]:
    """Return the route serving share links through `page`."""
    return [Route(SHARE_PREFIX + "/{token}", page, methods=["GET", "HEAD"])]
