"""The process-wide services: settings, storage, library, accounts, signers and app state.

`streamlit_app.py` builds them from the command line and installs them; page scripts and
routes get them with `current()`. When nothing was installed (AppTest, `uvicorn
streamlit_app:app` without flags) they are built from the environment alone.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lib.accounts import Accounts, build_accounts
from lib.library import Library
from lib.positions import Positions
from lib.sessions import SignOuts
from lib.settings import Settings, load_settings
from lib.shares import Shares, share_id_of
from lib.stats import LibraryStats
from lib.storage import Storage
from lib.storage_local import LocalStorage
from lib.throttle import SignInThrottle
from lib.tokens import TokenSigner, derive_key
from lib.tv_signin import DeviceSignIns

if TYPE_CHECKING:
    from lib.oci_auth import OciAuth


@dataclass(frozen=True)
class Services:
    """Everything a page or route needs, built once per process."""

    settings: Settings
    storage: Storage
    library: Library
    stats: LibraryStats
    accounts: Accounts
    signer: TokenSigner
    report_signer: TokenSigner  # position reports (lib/progress.py): a key of their own
    positions: Positions
    shares: Shares
    cookie_key: str = field(repr=False)
    sign_outs: SignOuts = field(default_factory=SignOuts)
    # --delivery par: (scope, name) -> a direct URL the media route redirects to, and the
    # hosts those URLs are on (pages must allow the browser to play from them).
    direct: Callable[[str, str], str] | None = None
    media_sources: tuple[str, ...] = ()
    device_sign_ins: DeviceSignIns = field(default_factory=DeviceSignIns)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)

    def may_watch(self, holder: str) -> bool:
        """Return whether a media token's holder (a user or a share link) may still watch."""
        share_id = share_id_of(holder)
        if share_id is not None:
            return self.shares.is_live(share_id)
        return holder in self.accounts


def build_storage(settings: Settings, auth: OciAuth | None = None) -> Storage:
    """Return the storage backend the settings name (an OCI one signs with `auth`)."""
    if settings.library is not None:
        return LocalStorage(settings.library)
    from lib.storage_oci import oci_storage  # imported lazily: the oci SDK is slow to import

    return oci_storage(settings, auth)


def build_services(settings: Settings) -> Services:
    """Given settings, return the services; raises SettingsError/AccountsError/StorageError."""
    auth = None
    if settings.source == "oci":
        from lib.oci_auth import load_auth  # imported lazily: the oci SDK is slow to import

        auth = load_auth(settings)
        if settings.secret:
            from lib.vault import with_vault_secrets

            # Before the accounts and the cookie key: the Vault may hold both.
            settings = with_vault_secrets(settings, auth)
    cookie_key = settings.cookie_key or secrets.token_urlsafe(32)
    storage = build_storage(settings, auth)
    direct = None
    media_sources: tuple[str, ...] = ()
    if settings.delivery == "par":
        from lib.headers import par_sources
        from lib.par import ParLinks
        from lib.storage_oci import OciStorage

        assert isinstance(storage, OciStorage), "settings.validate allows par only for OCI"
        direct = ParLinks(storage, lifetime=settings.token_seconds).url
        media_sources = par_sources(storage.endpoint)
    accounts = build_accounts(settings.users, settings.username, settings.password)
    return Services(
        settings=settings,
        storage=storage,
        library=Library(storage, ttl=settings.cache_ttl),
        stats=LibraryStats(storage, ttl=settings.stats_ttl),
        accounts=accounts,
        signer=TokenSigner(derive_key(cookie_key, "homemovies media token v1")),
        report_signer=TokenSigner(derive_key(cookie_key, "homemovies position report v1")),
        positions=Positions(storage),
        shares=Shares(storage, TokenSigner(derive_key(cookie_key, "homemovies share link v1"))),
        cookie_key=cookie_key,
        sign_outs=SignOuts(keep_seconds=settings.cookie_expiry_days * 86400, storage=storage),
        direct=direct,
        media_sources=media_sources,
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
