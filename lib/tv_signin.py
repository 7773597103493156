"""Signing in on a TV with a phone: a one-time code shown as a QR code, approved by a user.

The TV's session starts a request and keeps a claim secret in its own session state; the QR
code carries only the request's code. A signed-in user opens the code's link on a phone,
sees which device asks (its browser and a short matching code also shown on the TV) and
approves. The TV's page polls `claim`, which hands the user name over once, and only to the
holder of the claim secret. Codes expire after a few minutes and are never reused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import segno
from ua_parser import parse as parse_user_agent

CODE_SECONDS = 300
CLAIM_GRACE_SECONDS = 30
MATCH_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
MATCH_LENGTH = 4
MAX_PENDING = 1000  # a bound on memory if someone keeps asking for codes


@dataclass(frozen=True)
class DeviceRequest:
    """A pending sign-in of one device: what the approving user is told about it."""

    code: str
    device: str  # e.g. "Chrome 140 on Android (SHIELD Android TV)"
    match: str  # short code shown on both screens, so the user knows it is that TV
    expires: float
    approved_by: str | None = None


def device_label(user_agent: str | None) -> str:
    """Return a short human name for the browser behind `user_agent`."""
    if not user_agent:
        return "An unknown device"
    return _device_label(user_agent[:512])


@functools.lru_cache(maxsize=256)
def _device_label(user_agent: str) -> str:
    result = parse_user_agent(user_agent)
    browser = result.user_agent
    label = "A browser"
    if browser is not None and browser.family != "Other":
        label = f"{browser.family} {browser.major}" if browser.major else browser.family
    if result.os is not None and result.os.family != "Other":
        label += f" on {result.os.family}"
    if result.device is not None and result.device.family not in ("Other", "Generic Smartphone"):
        label += f" ({result.device.family})"
    return label


def qr_png(text: str) -> bytes:
    """Return a PNG of the QR code for `text`, big enough to scan from a sofa."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class DeviceSignIns:
    """The process-wide store of pending device sign-ins."""

    def __init__(self, ttl: float = CODE_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, tuple[DeviceRequest, bytes]] = {}

    def start(self, device: str) -> tuple[DeviceRequest, str]:
        """Open a request for `device`; return it and the claim secret the TV session keeps."""
        code = secrets.token_urlsafe(24)
        claim = secrets.token_urlsafe(32)
        match = "".join(secrets.choice(MATCH_ALPHABET) for _ in range(MATCH_LENGTH))
        request = DeviceRequest(code, device, match, self.clock() + self.ttl)
        with self._lock:
            self._forget_expired()
            if len(self._requests) >= MAX_PENDING:
                oldest = min(self._requests, key=lambda c: self._requests[c][0].expires)
                del self._requests[oldest]
            self._requests[code] = (request, _digest(claim))
        return request, claim

    def _forget_expired(self) -> None:
        now = self.clock()
        for code in [c for c, (r, _) in self._requests.items() if r.expires <= now]:
            del self._requests[code]

    def pending(self, code: str) -> DeviceRequest | None:
        """Return the request `code` while it still awaits approval, else None."""
        with self._lock:
            entry = self._requests.get(code)
        if entry is None or entry[0].expires <= self.clock() or entry[0].approved_by:
            return None
        return entry[0]

    def approve(self, code: str, username: str) -> bool:
        """Let the device behind `code` sign in as `username`; False if used or expired."""
        with self._lock:
            entry = self._requests.get(code)
            if entry is None or entry[0].expires <= self.clock() or entry[0].approved_by:
                return False
            # A little grace, so an approval made in the code's last seconds still lands.
            expires = max(entry[0].expires, self.clock() + CLAIM_GRACE_SECONDS)
            self._requests[code] = (
                replace(entry[0], approved_by=username, expires=expires),
                entry[1],
            )
        return True

    def deny(self, code: str) -> None:
        """Drop the request `code`: the TV's code stops working."""
        with self._lock:
            self._requests.pop(code, None)

    def claim(self, code: str, claim_secret: str) -> str | None:
        """Return the approving user name once, to the session holding the claim secret."""
        with self._lock:
            entry = self._requests.get(code)
            if entry is None or not hmac.compare_digest(entry[1], _digest(claim_secret)):
                return None
            request = entry[0]
            if request.expires <= self.clock():
                del self._requests[code]
                return None
            if request.approved_by is None:
                return None
            del self._requests[code]
        return request.approved_by

    def waiting(self, code: str) -> bool:
        """Return whether request `code` still exists (pending or approved, not expired)."""
        with self._lock:
            entry = self._requests.get(code)
        return entry is not None and entry[0].expires > self.clock()
