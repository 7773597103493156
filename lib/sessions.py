"""Sign-outs enforced on the server.

The browser may keep a copy of the session cookie (lib/session_cookie.py) after signing out,
so every session of a user begun before their last sign-out is refused until its cookie
would have expired anyway. With a
storage backend the list is kept under `.homemovies/state/` so it survives a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from lib.cache import TTLCache
from lib.storage import Conflict, NotFound, Storage, StorageError
from lib.storage.appstate import state_name

STATE_NAME = state_name("sessions", "sign-outs")

log = logging.getLogger("homemovies.sessions")


SEEN_SECONDS = 5.0  # how stale a sign-out made by another process may be when read here
MAX_TRIES = 5  # conditional writes lost to other processes before one gives up


class SignOuts:
    """When each user last signed out; cookies issued before that are revoked.

    With a storage backend the list is one object shared by every process on it: a
    sign-out is merged in with a conditional write (none is lost when two replicas sign
    people out at once), and each process re-reads the list at most every `seen_seconds`,
    so a sign-out on one replica is honoured on the others within that time.
    """

    def __init__(
        self,
        keep_seconds: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
        storage: Storage | None = None,
        seen_seconds: float = SEEN_SECONDS,
    ) -> None:
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._storage = storage
        self._lock = threading.Lock()
        self._own: dict[str, float] = {}  # this process's sign-outs, whatever storage says
        self._stored: TTLCache[dict[str, float]] = TTLCache(seen_seconds, clock=clock)

    def _read(self) -> dict[str, float]:
        """The stored sign-outs ({} when unreadable: later ones still work)."""
        if self._storage is None:
            return {}
        try:
            data, _ = self._storage.read_versioned(STATE_NAME)
        except NotFound:
            return {}
        except StorageError as error:
            log.warning("sign-outs could not be read, going on without them: %s", error)
            return {}
        return _parsed(data)

    def record(self, username: str) -> None:
        """Note that `username` signed out now; forget sign-outs whose cookies have all expired."""
        now = self._clock()
        user = username.lower()
        with self._lock:
            self._own = {u: t for u, t in self._own.items() if t >= now - self._keep_seconds}
            self._own[user] = now
        if self._storage is not None:
            try:
                self._stored.put("all", self._merge(user, now))
            except StorageError as error:
                log.warning("sign-out of %r kept in this process only: %s", username, error)

    def _merge(self, user: str, now: float) -> dict[str, float]:
        """Add one sign-out to the stored list with a conditional write; return the list."""
        assert self._storage is not None
        for _ in range(MAX_TRIES):
            try:
                data, version = self._storage.read_versioned(STATE_NAME)
                stored = _parsed(data)
            except NotFound:
                version, stored = None, {}
            kept = {u: t for u, t in stored.items() if t >= now - self._keep_seconds}
            kept[user] = max(now, kept.get(user, now))
            body = json.dumps(kept, separators=(",", ":"), sort_keys=True).encode("utf-8")
            try:
                self._storage.write_if(STATE_NAME, body, "application/json", version=version)
            except Conflict:
                continue  # another process signed someone out meanwhile: merge again
            return kept
        raise StorageError(f"{STATE_NAME} kept changing; {MAX_TRIES} tries lost the race")

    def revokes(self, username: str, issued_at: float) -> bool:
        """Return whether a cookie issued to `username` at `issued_at` is revoked."""
        user = username.lower()
        with self._lock:
            own = self._own.get(user)
        stored = self._stored.get("all", self._read).get(user)
        signed_out = max((t for t in (own, stored) if t is not None), default=None)
        return signed_out is not None and issued_at <= signed_out


def _parsed(data: bytes) -> dict[str, float]:
    """The sign-outs in a stored object ({} with a warning when it is not ours)."""
    try:
        stored = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        log.warning("sign-outs could not be read (not JSON), going on without them")
        return {}
    if not isinstance(stored, dict):
        return {}
    return {
        str(user): float(at)
        for user, at in stored.items()
        if isinstance(at, int | float) and not isinstance(at, bool)
    }
