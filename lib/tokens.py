"""Media tokens: HMAC-SHA256 signed grants to read one object or one folder prefix."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_KEY_BYTES = 16


class InvalidToken(Exception):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: reading `scope` (a name, or a prefix ending in '/')."""

    scope: str
    user: str
    expires: int

    def covers(self, name: str) -> bool:
        """Return whether the grant allows reading object `name`."""
        if self.scope.endswith("/"):
            return name.startswith(self.scope) and len(name) > len(self.scope)
        return name == self.scope


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or len(text) > 8192 or not text.isascii():
        raise InvalidToken("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise InvalidToken("malformed") from None


def derive_key(secret: str, purpose: str) -> bytes:
    """Return a 256-bit key for `purpose`, derived from the app's secret."""
    return hmac.new(secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()


class TokenSigner:
    """Issue and verify media tokens with one secret key."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError("media token key must be at least 128 bits")
        self._key = key
        self._clock = clock

    def _mac(self, payload: str) -> str:
        return _b64encode(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, scope: str, user: str, ttl: int) -> str:
        """Return a token granting `user` read access to `scope` for `ttl` seconds."""
        expires = int(self._clock()) + ttl
        body = json.dumps({"s": scope, "u": user, "e": expires}, separators=(",", ":"))
        payload = _b64encode(body.encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str) -> Grant:
        """Return the grant inside `token`, or raise InvalidToken if forged or expired."""
        payload, dot, mac = token.partition(".")
        if not dot or not payload.isascii() or not mac.isascii():
            raise InvalidToken("malformed")
        if not hmac.compare_digest(self._mac(payload), mac):
            raise InvalidToken("bad signature")
        try:
            body = json.loads(_b64decode(payload))
            grant = Grant(scope=str(body["s"]), user=str(body["u"]), expires=int(body["e"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidToken("malformed") from None
        if grant.expires <= self._clock():
            raise InvalidToken("expired")
        return grant
