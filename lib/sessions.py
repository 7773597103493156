"""Sign-outs enforced on the server.

The browser may keep a copy of the login cookie after signing out, so every cookie issued to
a user before their last sign-out is refused until it would have expired anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt


class SignOuts:
    """When each user last signed out; cookies issued before that are revoked."""

    def __init__(
        self, keep_seconds: float = 7 * 86400, clock: Callable[[], float] = time.time
    ) -> None:
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._signed_out: dict[str, float] = {}

    def record(self, username: str) -> None:
        """Note that `username` signed out now; forget sign-outs whose cookies have all expired."""
        now = self._clock()
        with self._lock:
            self._signed_out = {
                u: t for u, t in self._signed_out.items() if t >= now - self._keep_seconds
            }
            self._signed_out[username.lower()] = now

    def revokes(self, username: str, issued_at: float) -> bool:
        """Return whether a cookie issued to `username` at `issued_at` is revoked."""
        with self._lock:
            signed_out = self._signed_out.get(username.lower())
        return signed_out is not None and issued_at <= signed_out


def cookie_is_revoked(raw: str, cookie_key: str, expiry_days: float, sign_outs: SignOuts) -> bool:
    """Return whether the login cookie `raw` was issued before its user signed out."""
    try:
        claims = jwt.decode(raw, cookie_key, algorithms=["HS256"])
        issued_at = float(claims["exp_date"]) - expiry_days * 86400
        return sign_outs.revokes(str(claims["username"]), issued_at)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return False  # not ours or malformed: streamlit-authenticator refuses it itself
