"""The app factory: given the services, the app's own routes and middleware, built once.

`streamlit_app.py` hands them to `st.App` with the entry page; the HTTP tests serve the same
two lists from a plain Starlette app (only one Streamlit runtime can exist in a process), and
tests/test_app.py checks that production answers on every route and through every middleware
these return.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from lib.ingest.indexer import Indexer
from lib.ingest.intake import Intake
from lib.ingest.worker import JobWorker
from lib.services import Services
from lib.web.assets import asset_routes
from lib.web.headers import SecurityHeaders
from lib.web.media import IdentityEncoding, MediaEndpoint, media_routes
from lib.web.positions import ProgressEndpoint, progress_routes
from lib.web.session import SessionEndpoint, session_routes
from lib.web.share_page import SharePage, share_routes
from lib.web.uploads import UploadEndpoint, upload_routes

# A pass over the library's listings (cached for --cache_ttl) this often finds new titles.
INDEX_EVERY_SECONDS = 120.0
ENTRY_PAGE = Path(__file__).resolve().parent.parent / "pages" / "main.py"


@dataclass(frozen=True)
class Conversions:
    """What turns uploads into titles in this process: the intake of finished uploads and
    the worker (None with --workers 0: another machine converts)."""

    intake: Intake
    worker: JobWorker | None


_conversions: dict[int, tuple[Services, Conversions]] = {}
_conversions_lock = threading.Lock()


def conversions(services: Services) -> Conversions:
    """Return the one intake and worker of `services` (the routes and lifespan share them)."""
    with _conversions_lock:
        known = _conversions.get(id(services))
        if known is not None and known[0] is services:
            return known[1]
        settings = services.settings
        worker = None
        if settings.workers > 0:
            worker = JobWorker(
                settings,
                services.storage,
                services.jobs,
                workers=settings.workers,
                on_done=lambda job: services.library.refresh(),  # list the new title at once
            )
        intake = Intake(
            services.storage,
            services.jobs,
            services.staging,
            settings.library.resolve() if settings.library is not None else None,
            wake=worker.wake if worker is not None else lambda: None,
        )
        made = Conversions(intake, worker)
        _conversions[id(services)] = (services, made)
        return made


def routes(services: Services, base: str = "") -> list[BaseRoute]:
    """Return the app's own HTTP routes: media, position reports, share pages, assets and the
    session cookie's hand-over; `base` is the app's base path ('' or '/family')."""
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
    uploads = UploadEndpoint(
        services.staging,
        services.upload_signer,
        is_admin=services.is_admin,
        on_complete=conversions(services).intake.accept,
    )
    return [
        *media_routes(media),
        *progress_routes(reports),
        *share_routes(share_page),
        *upload_routes(uploads),
        *session_routes(SessionEndpoint(services.tickets, services.session_cookies, base), base),
        *asset_routes(),
    ]


def middleware(services: Services) -> list[Middleware]:
    """Return the middleware wrapping every answer, Streamlit's pages included."""
    return [
        Middleware(SecurityHeaders, media_sources=services.media_sources),
        Middleware(IdentityEncoding),
    ]


def lifespan(services: Services) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Return the app's lifespan: the library indexer (unless --no_index) and the conversion
    worker (unless --workers 0) run in the background while the app serves, and stop with
    it; uploads that finished before a restart are handed off again."""

    @contextlib.asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        made = conversions(services)
        if made.worker is not None:
            made.worker.start()
        threading.Thread(
            target=hand_off_again, args=(services, made.intake), name="uploads", daemon=True
        ).start()
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
            # Saved positions still pending reach storage: a SIGTERM (docker stop, a replica
            # taken away) ends the process without running atexit handlers.
            services.positions.close()
            if indexer is not None:
                indexer.stop(5.0)
            if made.worker is not None:
                made.worker.stop(5.0)

    return run


def hand_off_again(services: Services, intake: Intake) -> None:
    """Turn uploads that finished before the app stopped into jobs, and drop expired ones."""
    services.staging.sweep()
    for upload in services.staging.completed():
        intake.accept(upload)
