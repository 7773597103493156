"""The app factory: given the services, the app's own routes and middleware, built once.

`streamlit_app.py` hands them to `st.App` with the entry page; the HTTP tests serve the same
two lists from a plain Starlette app (only one Streamlit runtime can exist in a process), and
tests/test_app.py checks that production answers on every route and through every middleware
these return.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from lib.ingest.indexer import Indexer
from lib.services import Services
from lib.web.assets import asset_routes
from lib.web.headers import SecurityHeaders
from lib.web.media import IdentityEncoding, MediaEndpoint, media_routes
from lib.web.positions import ProgressEndpoint, progress_routes
from lib.web.share_page import SharePage, share_routes

# A pass over the library's listings (cached for --cache_ttl) this often finds new titles.
INDEX_EVERY_SECONDS = 120.0
ENTRY_PAGE = Path(__file__).resolve().parent.parent / "pages" / "main.py"


def routes(services: Services) -> list[BaseRoute]:
    """Return the app's own HTTP routes: media, position reports, share pages and assets."""
    media = MediaEndpoint(
        services.storage,
        services.signer,
        is_active_user=services.may_watch,
        clock=services.clock,
        direct=services.direct,
    )
    reports = ProgressEndpoint(
        services.positions,
        services.library,
        services.report_signer,
        is_account=lambda user: user in services.accounts,
    )
    share_page = SharePage(
        services.shares,
        services.library,
        services.signer,
        services.settings.token_seconds,
        clock=services.clock,
        media_sources=services.media_sources,
        index=services.index,
    )
    return [
        *media_routes(media),
        *progress_routes(reports),
        *share_routes(share_page),
        *asset_routes(),
    ]


def middleware(services: Services) -> list[Middleware]:
    """Return the middleware wrapping every answer, Streamlit's pages included."""
    return [
        Middleware(SecurityHeaders, media_sources=services.media_sources),
        Middleware(IdentityEncoding),
    ]


def lifespan(services: Services) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Return the app's lifespan: the library indexer runs in the background while the app
    serves (unless --no_index), and stops with it."""

    @contextlib.asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        indexer = None
        if not services.settings.no_index:
            indexer = Indexer(
                services.storage,
                services.library,
                services.index,
                clock=services.clock,
                idle_seconds=INDEX_EVERY_SECONDS,
            )
            indexer.start()
        try:
            yield None
        finally:
            if indexer is not None:
                indexer.stop(5.0)

    return run
