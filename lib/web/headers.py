"""The security headers of every answer the app gives: one builder for all of them.

- The app's own routes (media, position reports, share pages, assets) answer with
  `response_headers`: never sniffed, no referrer leaking a URL that holds a token, and a
  cache rule of their own (`NO_STORE` for anything that is not the bytes asked for).
- Streamlit's HTML pages get `page_policy` as their Content-Security-Policy, limiting where a
  page may fetch from (`connect-src`) and play from (`media-src`) to this app itself: a
  hostile playlist naming another host gets nothing out of the browser. With `--delivery par`
  the Object Storage hosts the pre-authenticated requests live on are allowed too.
- The share page, which the app draws itself, gets the stricter `share_page_policy`.
- `SecurityHeaders` adds the page policy to Streamlit's pages, and the route headers to
  whatever answers under the media prefix (Streamlit's own path checks included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.links import MEDIA_PREFIX

NO_STORE = "no-store"
IMMUTABLE = "public, max-age=31536000, immutable"  # assets whose URL names their content


def private_cache(seconds: int) -> str:
    """Return the cache rule of bytes one viewer may keep for `seconds` (their token's life)."""
    return f"private, max-age={seconds}"


def response_headers(cache_control: str = NO_STORE, policy: str | None = None) -> dict[str, str]:
    """Return the headers of an answer of the app's own routes, cached as `cache_control`
    says and with `policy` as its Content-Security-Policy when given."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": cache_control,
    }
    if policy is not None:
        headers["Content-Security-Policy"] = policy
    return headers


def _policy(directives: Mapping[str, str]) -> str:
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def _extra(sources: Sequence[str]) -> str:
    return "".join(f" {source}" for source in sources)


def page_policy(media_sources: Sequence[str] = ()) -> str:
    """Return the Content-Security-Policy of Streamlit's pages.

    Scripts and styles are left to Streamlit (it needs inline ones); what is locked down is
    where data may come from, plugins, the base URL and who may frame the app (its own
    component iframes are same-origin, hence 'self' rather than 'none').
    """
    extra = _extra(media_sources)
    return _policy(
        {
            "connect-src": f"'self'{extra}",
            "media-src": f"'self' blob:{extra}",
            "object-src": "'none'",
            "base-uri": "'self'",
            "form-action": "'self'",
            "frame-ancestors": "'self'",
        }
    )


def share_page_policy(nonce: str, media_sources: Sequence[str] = ()) -> str:
    """Return the Content-Security-Policy of a share page: nothing but its own nonce'd script
    and style, the app's player files and the title's media (from the PAR hosts with
    `--delivery par`); never framed, since its URL holds a capability."""
    extra = _extra(media_sources)
    return _policy(
        {
            "default-src": "'none'",
            "script-src": f"'self' 'nonce-{nonce}'",
            "style-src": f"'self' 'nonce-{nonce}'",
            "img-src": f"'self'{extra}",
            "media-src": f"'self' blob:{extra}",
            "connect-src": f"'self'{extra}",
            "worker-src": "blob:",
            "base-uri": "'none'",
            "form-action": "'none'",
            "frame-ancestors": "'none'",
        }
    )


class SecurityHeaders:
    """ASGI middleware adding the page policy to HTML and the route headers under /video/."""

    def __init__(
        self,
        app: ASGIApp,
        media_sources: Sequence[str] = (),
        media_prefix: str = MEDIA_PREFIX + "/",
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
                    for name, value in response_headers().items():
                        headers.setdefault(name, value)
                elif headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", self.policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
