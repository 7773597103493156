"""Direct delivery (`--delivery par`): the media route redirects viewers to short-lived OCI
pre-authenticated requests (PARs) instead of passing the bytes through this app.

A file gets an ObjectRead PAR for that one object; an HLS title gets an AnyObjectRead PAR
limited to its `.hls/` folder with listing denied, so relative segment names resolve inside
it and nothing else in the bucket is readable. A PAR is reused until half its life is spent;
expired PARs this app created are deleted now and then.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import oci

from lib.cache import TTLCache
from lib.storage.oci import OciStorage
from lib.storage.protocol import StorageError

NAME_PREFIX = "homemovies-"
CLEANUP_EVERY = 600.0  # seconds between sweeps of expired PARs
# The hosts OCI hands out pre-authenticated request URLs on (the classic regional endpoint
# and the namespace-specific one).
OCI_PAR_HOSTS = ("https://*.oraclecloud.com", "https://*.oci.customer-oci.com")

log = logging.getLogger("homemovies.par")


def par_hosts(endpoint: str) -> tuple[str, ...]:
    """Return the origins a browser follows redirects to for PARs of `endpoint` (the pages'
    Content-Security-Policy must allow playing from them)."""
    parts = urlsplit(endpoint)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return tuple(dict.fromkeys(source for source in (origin, *OCI_PAR_HOSTS) if source))


@dataclass(frozen=True)
class IssuedPar:
    """A PAR we created: its URL (ending in '/o/' for a folder PAR) and expiry (epoch s)."""

    id: str
    url: str
    expires: float


class ParLinks:
    """Issue, reuse and clean up the PARs of one bucket."""

    def __init__(
        self,
        storage: OciStorage,
        lifetime: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.lifetime = lifetime
        self.clock = clock
        # A PAR is reused until half its life is spent.
        self._issued: TTLCache[IssuedPar] = TTLCache(lifetime / 2, clock=clock)
        self._cleanup_lock = threading.Lock()
        self._next_cleanup = 0.0

    def url(self, scope: str, name: str) -> str:
        """Given a token's scope (a file or a `.hls/` prefix) and an object inside it, return
        a URL that reads the object without credentials."""
        par = self.par(scope)
        return par.url + quote(name, safe="/") if scope.endswith("/") else par.url

    def par(self, scope: str) -> IssuedPar:
        """Return a PAR for `scope` with at least half its lifetime left, creating one if needed."""
        created: list[IssuedPar] = []

        def create() -> IssuedPar:
            created.append(self.create(scope))
            return created[-1]

        par = self._issued.get(scope, create)
        if created:  # sweep now and then, when PARs are being made anyway
            with self._cleanup_lock:
                due = self.clock() >= self._next_cleanup
                if due:
                    self._next_cleanup = self.clock() + CLEANUP_EVERY
            if due:
                self.delete_expired()
        return par

    def create(self, scope: str) -> IssuedPar:
        """Create a read-only PAR for one object, or for one folder prefix without listing."""
        folder = scope.endswith("/")
        expires = self.clock() + self.lifetime
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
        details = oci.object_storage.models.CreatePreauthenticatedRequestDetails(
            name=f"{NAME_PREFIX}{digest}-{int(expires)}",
            access_type="AnyObjectRead" if folder else "ObjectRead",
            object_name=scope,
            bucket_listing_action="Deny" if folder else None,
            time_expires=datetime.fromtimestamp(expires, UTC),
        )
        storage = self.storage
        created = storage.request(
            f"a link to {storage.subject(scope)}",
            lambda: storage.client.create_preauthenticated_request(
                storage.namespace, storage.bucket, details
            ),
        ).data
        url = created.full_path or storage.endpoint + created.access_uri
        return IssuedPar(id=created.id, url=url, expires=expires)

    def delete_expired(self) -> int:
        """Delete the expired PARs this app created; return how many. Failures are logged."""
        storage = self.storage
        now = datetime.fromtimestamp(self.clock(), UTC)

        def list_page(**kwargs: Any) -> Any:
            return storage.request(
                "the bucket's pre-authenticated requests",
                lambda: storage.client.list_preauthenticated_requests(
                    storage.namespace, storage.bucket, **kwargs
                ),
            )

        deleted = 0
        try:
            pars = oci.pagination.list_call_get_all_results(list_page).data
            for par in pars:
                if par.name.startswith(NAME_PREFIX) and par.time_expires <= now:

                    def delete(par_id: str = par.id) -> Any:
                        return storage.client.delete_preauthenticated_request(
                            storage.namespace, storage.bucket, par_id
                        )

                    storage.request("an expired pre-authenticated request", delete)
                    deleted += 1
        except StorageError as error:
            log.warning("could not delete expired pre-authenticated requests: %s", error)
        return deleted
