"""The app as streamlit_app.py builds it, plus one viewer account, for the browser role tests.

`streamlit run tests/viewer_app.py` takes its settings from HOMEMOVIES_* variables (flags
belong to streamlit_app.py). Issue 5's users file will make this file unnecessary.
"""

from dataclasses import replace

import streamlit as st
from starlette.middleware import Middleware

import streamlit_app as entry
from lib.accounts import Accounts, Role, User, hash_password
from lib.media import IdentityEncoding, MediaEndpoint, media_routes
from lib.player import asset_routes
from lib.services import install
from tests.conftest import ADMIN, VIEWER, VIEWER_PASSWORD

viewer = User(VIEWER, VIEWER, Role.VIEWER, hash_password(VIEWER_PASSWORD))
accounts = Accounts({ADMIN: entry.services.accounts.get(ADMIN), VIEWER: viewer})
services = replace(entry.services, accounts=accounts)
install(services)
endpoint = MediaEndpoint(
    services.storage, services.signer, is_active_user=accounts.__contains__, direct=services.direct
)
app = st.App(
    entry.ENTRY_PAGE,
    routes=[*media_routes(endpoint), *asset_routes()],
    middleware=[Middleware(IdentityEncoding)],
)
