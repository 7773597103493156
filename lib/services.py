"""The process-wide services: settings, storage, library, accounts, signers and app state.

`streamlit_app.py` builds them from the command line and installs them; page scripts and
routes get them with `current()`. When nothing was installed (AppTest, `uvicorn
streamlit_app:app` without flags) they are built from the environment alone.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lib.accounts import Accounts, build_accounts
from lib.jobs import JobStore
from lib.library import Library
from lib.media_index import MediaIndex
from lib.positions import Positions
from lib.session_cookie import SessionCookies, Tickets
from lib.sessions import SignOuts
from lib.settings import Settings, SettingsError, load_settings, with_vault_secrets
from lib.shares import Shares, share_id_of
from lib.staging import Staging
from lib.stats import LibraryStats
from lib.storage import Storage, StorageError
from lib.storage.appstate import CorruptState, shared_key
from lib.storage.local import LocalStorage
from lib.throttle import SignInThrottle
from lib.tokens import TokenSigner, derive_key
from lib.tv_signin import DeviceSignIns

if TYPE_CHECKING:
    from lib.storage.oci_auth import OciAuth

log = logging.getLogger("homemovies.services")


@dataclass(frozen=True)
class Services:
    """Everything a page or route needs, built once per process."""

    settings: Settings
    storage: Storage
    library: Library
    stats: LibraryStats
    index: MediaIndex  # what the indexer knows of each title (lib/media_index.py)
    accounts: Accounts
    signer: TokenSigner
    report_signer: TokenSigner  # position reports (lib/web/positions.py): a key of their own
    positions: Positions
    shares: Shares
    jobs: JobStore  # conversions asked for, in the backend (lib/jobs.py)
    staging: Staging  # browser uploads as they arrive (lib/staging.py)
    upload_signer: TokenSigner  # the upload route's tokens (lib/web/uploads.py)
    # The session cookie and the one-time tickets handing it over (lib/session_cookie.py).
    session_cookies: SessionCookies
    tickets: Tickets
    cookie_key: str = field(repr=False)
    sign_outs: SignOuts = field(default_factory=SignOuts)
    # --delivery par: (scope, name) -> a direct URL the media route redirects to, and the
    # hosts those URLs are on (pages must allow the browser to play from them).
    direct: Callable[[str, str], str] | None = None
    media_sources: tuple[str, ...] = ()
    device_sign_ins: DeviceSignIns = field(default_factory=DeviceSignIns)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    clock: Callable[[], float] = time.time  # the wall clock every expiry is measured by

    def may_watch(self, holder: str) -> bool:
        """Return whether a media token's holder (a user or a share link) may still watch."""
        share_id = share_id_of(holder)
        if share_id is not None:
            return self.shares.is_live(share_id)
        return holder in self.accounts

    def is_admin(self, username: str) -> bool:
        """Return whether `username` is an account with the admin role."""
        user = self.accounts.get(username)
        return user is not None and user.is_admin


def oci_auth(settings: Settings) -> OciAuth:
    """Return the OCI credentials the settings select (raises AuthError if unusable)."""
    from lib.storage.oci_auth import load_auth  # imported lazily: the oci SDK is slow to import

    return load_auth(settings.oci_credentials)


def build_storage(settings: Settings, auth: OciAuth | None = None) -> Storage:
    """Return the storage backend the settings name (an OCI one signs with `auth`)."""
    if settings.library is not None:
        return LocalStorage(settings.library)
    if not settings.bucket:
        raise StorageError("Pass --bucket NAME (or a 'bucket' secret in the Vault).")
    from lib.storage.oci import open_bucket

    return open_bucket(
        settings.bucket, auth or oci_auth(settings), settings.os_endpoint, settings.oci_timeout
    )


def settings_from_vault(settings: Settings, auth: OciAuth, *, login: bool = True) -> Settings:
    """Return `settings` completed with the Vault secrets of `--secret` (see lib/settings.py)."""
    from lib.storage.vault import SecretError, read_secrets

    def read(names: Set[str]) -> dict[str, str]:
        try:
            return read_secrets(
                settings.secret or "",
                auth,
                names,
                settings.vault_endpoint,
                settings.secrets_endpoint,
            )
        except SecretError as error:
            raise SettingsError(str(error)) from error

    return with_vault_secrets(settings, read, login=login)


def kept_cookie_key(storage: Storage) -> str:
    """Return the cookie key kept in the backend (made by the first process to need one).

    Every replica and every restart then signs with the same key, so nobody is signed out
    by a load balancer or a new container. When the backend cannot keep it, this process
    makes its own, and says so.
    """
    try:
        return shared_key(storage, "cookie", lambda: secrets.token_urlsafe(32))
    except (StorageError, CorruptState) as error:
        log.warning(
            "cannot keep a cookie key in the library (%s): this process uses its own, so "
            "sign-ins end when it stops and do not reach other replicas; set --cookie_key",
            error,
        )
        return secrets.token_urlsafe(32)


def build_services(
    settings: Settings,
    storage: Storage | None = None,
    throttle: SignInThrottle | None = None,
    clock: Callable[[], float] = time.time,
) -> Services:
    """Given settings, return the services; raises SettingsError/AccountsError/StorageError.

    `storage` replaces the backend the settings name (every service is built on it),
    `throttle` the sign-in throttle and `clock` the wall clock of every expiry: tests pass
    ones they can watch or move in time.
    """
    auth = None
    if settings.source == "oci" and storage is None:
        auth = oci_auth(settings)
        if settings.secret:
            # Before the accounts and the cookie key: the Vault may hold both.
            settings = settings_from_vault(settings, auth)
    if storage is None:
        storage = build_storage(settings, auth)
    cookie_key = settings.cookie_key or kept_cookie_key(storage)
    direct = None
    media_sources: tuple[str, ...] = ()
    if settings.delivery == "par":
        from lib.storage.oci import OciStorage
        from lib.storage.par import ParLinks, par_hosts

        assert isinstance(storage, OciStorage), "settings.validate allows par only for OCI"
        direct = ParLinks(storage, lifetime=settings.token_seconds, clock=clock).url
        media_sources = par_hosts(storage.endpoint)
    accounts = build_accounts(settings.users, settings.username, settings.password)

    def signer(purpose: str) -> TokenSigner:
        return TokenSigner(derive_key(cookie_key, purpose), clock=clock)

    return Services(
        settings=settings,
        storage=storage,
        library=Library(storage, ttl=settings.cache_ttl, clock=clock),
        index=MediaIndex(storage, ttl=settings.cache_ttl, clock=clock),
        stats=LibraryStats(storage, ttl=settings.stats_ttl),
        accounts=accounts,
        signer=signer("homemovies media token v1"),
        report_signer=signer("homemovies position report v1"),
        positions=Positions(storage, clock=clock),
        shares=Shares(storage, signer("homemovies share link v1"), clock),
        jobs=JobStore(storage, clock),
        staging=Staging(settings.staging_dir, max_bytes=settings.max_upload_bytes, clock=clock),
        upload_signer=signer("homemovies upload v1"),
        cookie_key=cookie_key,
        sign_outs=SignOuts(
            keep_seconds=settings.cookie_expiry_days * 86400, clock=clock, storage=storage
        ),
        direct=direct,
        media_sources=media_sources,
        device_sign_ins=DeviceSignIns(clock=clock, storage=storage),
        session_cookies=SessionCookies(
            derive_key(cookie_key, "homemovies session cookie v1"),
            settings.cookie_expiry_days,
            clock=clock,
        ),
        tickets=Tickets(storage, clock=clock),
        throttle=SignInThrottle(clock=clock, storage=storage) if throttle is None else throttle,
        clock=clock,
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
