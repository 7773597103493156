"""Response headers the app adds on top of Streamlit's.

- Every HTML page gets a Content-Security-Policy limiting where the page may fetch from
  (`connect-src`) and play from (`media-src`) to this app itself: a hostile playlist naming
  another host gets nothing out of the browser. With `--delivery par` the Object Storage
  hosts the pre-authenticated requests live on are allowed too.
- Every response under the media prefix carries the media route's safety headers, even
  when a layer in front of the route (Streamlit's path checks) answers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.media import ERROR_HEADERS, ROUTE_PREFIX

# The hosts OCI hands out pre-authenticated request URLs on (the classic regional endpoint
# and the namespace-specific one).
OCI_PAR_HOSTS = ("https://*.oraclecloud.com", "https://*.oci.customer-oci.com")


def par_sources(endpoint: str) -> tuple[str, ...]:
    """Return the CSP sources a browser needs to follow redirects to PARs of `endpoint`."""
    parts = urlsplit(endpoint)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return tuple(dict.fromkeys(source for source in (origin, *OCI_PAR_HOSTS) if source))


def page_policy(media_sources: Sequence[str] = ()) -> str:
    """Return the Content-Security-Policy of the app's pages.

    Scripts and styles are left to Streamlit (it needs inline ones); what is locked down is
    where data may come from, plugins, the base URL and who may frame the app (its own
    component iframes are same-origin, hence 'self' rather than 'none').
    """
    extra = "".join(f" {source}" for source in media_sources)
    return (
        f"connect-src 'self'{extra}; media-src 'self' blob:{extra}; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    )


class SecurityHeaders:
    """ASGI middleware adding the page policy to HTML and the media headers under /video/."""

    def __init__(
        self,
        app: ASGIApp,
        media_sources: Sequence[str] = (),
        media_prefix: str = ROUTE_PREFIX + "/",
    ) -> None:
        self.app = app
        self.policy = page_policy(media_sources)
        self.media_prefix = media_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_media = scope["path"].startswith(self.media_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if is_media:
                    for name, value in ERROR_HEADERS.items():
                        headers.setdefault(name, value)
                elif headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", self.policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
