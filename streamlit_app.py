"""homemovies: the entry point.

`streamlit run streamlit_app.py -- FLAGS` and `uvicorn streamlit_app:app` both serve the pages
and the media route from one port. Flags are read only when this file is the program run;
under uvicorn the settings come from HOMEMOVIES_* variables and secrets.toml.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import streamlit as st

from lib.accounts import AccountsError
from lib.app import ENTRY_PAGE, lifespan, middleware, routes
from lib.links import base_path
from lib.oidc import OidcSettingsError, Provider, unreachable
from lib.services import Services, build_services, install
from lib.settings import SettingsError, settings_or_exit
from lib.storage import StorageError
from lib.ui.sign_in import configured_providers


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
    # An access log records every video URL, and each carries a signed token: never keep one
    # (Streamlit gives uvicorn's access logger a handler even under `uvicorn --no-access-log`).
    logging.getLogger("uvicorn.access").disabled = True
    settings = settings_or_exit(own_argv())
    try:
        services = build_services(settings)
    except (AccountsError, SettingsError, StorageError) as error:
        print(f"homemovies: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    install(services)
    log = logging.getLogger("homemovies")
    log.info("serving %s", services.storage.describe())
    try:
        providers = configured_providers()
    except OidcSettingsError as error:
        print(f"homemovies: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if providers:
        log.info("sign-in providers: %s", ", ".join(p.name for p in providers))
        threading.Thread(target=say_unreachable, args=(providers,), daemon=True).start()
    return services


def say_unreachable(providers: list[Provider]) -> None:
    """Log one line for each sign-in provider that does not answer now (start-up goes on)."""
    for problem in unreachable(providers):
        logging.getLogger("homemovies").warning(problem)


services = services_or_exit()
# `streamlit run` finds the app by reading this file for a call of st.App, so the call is
# here; everything it serves beside the pages comes from the factory in lib/app.py.
app = st.App(
    ENTRY_PAGE,
    routes=routes(services, base_path(st.get_option("server.baseUrlPath"))),
    middleware=middleware(services),
    lifespan=lifespan(services),
)
