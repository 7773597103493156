"""Sign-outs enforced on the server.

The browser may keep a copy of the login cookie after signing out, so every cookie issued to
a user before their last sign-out is refused until it would have expired anyway. With a
storage backend the list is kept under `.homemovies/state/` so it survives a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import jwt

from lib.storage import Storage, StorageError
from lib.storage.appstate import CorruptState, read_json, state_name, write_json

COOKIE_NAME = "homemovies_auth"  # the login cookie (written by streamlit-authenticator)
STATE_NAME = state_name("sessions", "sign-outs")

log = logging.getLogger("homemovies.sessions")


class SignOuts:
    """When each user last signed out; cookies issued before that are revoked."""

    def __init__(
        self,
        keep_seconds: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
        storage: Storage | None = None,
    ) -> None:
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._storage = storage
        self._lock = threading.Lock()
        self._signed_out: dict[str, float] | None = None if storage is not None else {}

    def _loaded(self) -> dict[str, float]:
        """The sign-outs, read from storage on first use; lock held."""
        if self._signed_out is None:
            self._signed_out = self._read()
        return self._signed_out

    def _read(self) -> dict[str, float]:
        if self._storage is None:
            return {}
        try:
            stored = read_json(self._storage, STATE_NAME) or {}
        except (CorruptState, StorageError) as error:
            # Unreadable: revocations made before this start are lost, later ones still work.
            log.warning("sign-outs could not be read, starting without them: %s", error)
            return {}
        if not isinstance(stored, dict):
            return {}
        return {
            str(user): float(at)
            for user, at in stored.items()
            if isinstance(at, int | float) and not isinstance(at, bool)
        }

    def record(self, username: str) -> None:
        """Note that `username` signed out now; forget sign-outs whose cookies have all expired."""
        now = self._clock()
        with self._lock:
            kept = {u: t for u, t in self._loaded().items() if t >= now - self._keep_seconds}
            kept[username.lower()] = now
            self._signed_out = kept
            if self._storage is not None:
                try:
                    write_json(self._storage, STATE_NAME, kept)
                except StorageError as error:
                    log.warning("sign-out of %r kept in memory only: %s", username, error)

    def revokes(self, username: str, issued_at: float) -> bool:
        """Return whether a cookie issued to `username` at `issued_at` is revoked."""
        with self._lock:
            signed_out = self._loaded().get(username.lower())
        return signed_out is not None and issued_at <= signed_out


def cookie_is_revoked(raw: str, cookie_key: str, expiry_days: float, sign_outs: SignOuts) -> bool:
    """Return whether the login cookie `raw` was issued before its user signed out."""
    try:
        claims = jwt.decode(raw, cookie_key, algorithms=["HS256"])
        issued_at = float(claims["exp_date"]) - expiry_days * 86400
        return sign_outs.revokes(str(claims["username"]), issued_at)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return False  # not ours or malformed: streamlit-authenticator refuses it itself
