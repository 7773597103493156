"""homemovies: the entry point.

`streamlit run streamlit_app.py -- FLAGS` and `uvicorn streamlit_app:app` both serve the pages
and the media route from one port. Flags are read only when this file is the program run;
under uvicorn the settings come from HOMEMOVIES_* variables and secrets.toml.
"""

from __future__ import annotations

import atexit
import logging
import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from lib.accounts import AccountsError
from lib.headers import SecurityHeaders
from lib.media import IdentityEncoding, MediaEndpoint, media_routes
from lib.player import asset_routes
from lib.progress import ProgressEndpoint, progress_routes
from lib.services import Services, build_services, install
from lib.settings import SettingsError, settings_or_exit
from lib.share_page import SharePage, share_routes
from lib.storage import StorageError

HERE = Path(__file__).resolve().parent
ENTRY_PAGE = HERE / "pages" / "main.py"


def own_argv() -> list[str]:
    """Return the flags meant for us: those after `--` when this file is the program."""
    if sys.argv and Path(sys.argv[0]).resolve() == Path(__file__).resolve():
        return sys.argv[1:]
    return []


def services_or_exit() -> Services:
    """Build and install the services; on a user mistake print one sentence and exit 2."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_or_exit(own_argv())
    try:
        services = build_services(settings)
    except (AccountsError, SettingsError, StorageError) as error:
        print(f"homemovies: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    install(services)
    atexit.register(services.positions.close)  # saved positions still pending reach storage
    logging.getLogger("homemovies").info("serving %s", services.storage.describe())
    return services


services = services_or_exit()
endpoint = MediaEndpoint(
    services.storage,
    services.signer,
    is_active_user=services.may_watch,
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
    media_sources=services.media_sources,
)
app = st.App(
    ENTRY_PAGE,
    routes=[
        *media_routes(endpoint),
        *progress_routes(reports),
        *share_routes(share_page),
        *asset_routes(),
    ],
    middleware=[
        Middleware(SecurityHeaders, media_sources=services.media_sources),
        Middleware(IdentityEncoding),
    ],
)
