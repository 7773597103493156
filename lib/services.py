"""The process-wide services: settings, storage, library, accounts, signers and app state.

`streamlit_app.py` builds them from the command line and installs them; page scripts and
routes get them with `current()`. When nothing was installed (AppTest, `uvicorn
streamlit_app:app` without flags) they are built from the environment alone.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field

from lib.accounts import Accounts
from lib.library import Library
from lib.positions import Positions
from lib.sessions import SignOuts
from lib.settings import Settings, load_settings
from lib.shares import Shares, share_id_of
from lib.storage import Storage
from lib.storage_local import LocalStorage
from lib.tokens import TokenSigner, derive_key
from lib.tv_signin import DeviceSignIns


@dataclass(frozen=True)
class Services:
    """Everything a page or route needs, built once per process."""

    settings: Settings
    storage: Storage
    library: Library
    accounts: Accounts
    signer: TokenSigner
    positions: Positions
    shares: Shares
    cookie_key: str = field(repr=False)
    sign_outs: SignOuts = field(default_factory=SignOuts)
    device_sign_ins: DeviceSignIns = field(default_factory=DeviceSignIns)

    def may_watch(self, holder: str) -> bool:
        """Return whether a media token's holder (a user or a share link) may still watch."""
        share_id = share_id_of(holder)
        if share_id is not None:
            return self.shares.is_live(share_id)
        return holder in self.accounts


def build_storage(settings: Settings) -> Storage:
    """Return the storage backend the settings name."""
    if settings.library is not None:
        return LocalStorage(settings.library)
    from lib.storage_oci import oci_storage  # imported lazily: the oci SDK is slow to import

    return oci_storage(settings)


def build_services(settings: Settings) -> Services:
    """Given settings, return the services; raises SettingsError/AccountsError/StorageError."""
    cookie_key = settings.cookie_key or secrets.token_urlsafe(32)
    storage = build_storage(settings)
    accounts = Accounts.single_admin(settings.username or "", settings.password or "")
    return Services(
        settings=settings,
        storage=storage,
        library=Library(storage, ttl=settings.cache_ttl),
        accounts=accounts,
        signer=TokenSigner(derive_key(cookie_key, "homemovies media token v1")),
        positions=Positions(storage),
        shares=Shares(storage, TokenSigner(derive_key(cookie_key, "homemovies share link v1"))),
        cookie_key=cookie_key,
        sign_outs=SignOuts(keep_seconds=settings.cookie_expiry_days * 86400),
    )


_lock = threading.Lock()
_installed: Services | None = None


def install(services: Services) -> None:
    """Make `services` the ones `current()` returns."""
    global _installed
    with _lock:
        _installed = services


def current() -> Services:
    """Return the installed services, building them from the environment on first use."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = build_services(load_settings([], os.environ))
        return _installed
