"""Signing in on a TV with a phone: a one-time code shown as a QR code, approved by a user.

The TV's session starts a request and keeps a claim secret in its own session state; the QR
code carries only the request's code. A signed-in user opens the code's link on a phone,
sees which device asks (its browser and a short matching code also shown on the TV) and
approves. The TV's page polls `claim`, which hands the user name over once, and only to the
holder of the claim secret. Codes expire after a few minutes and are never reused.

With a storage backend the pending codes are small objects, `.homemovies/tv/<sha256>.json`,
so the TV's replica and the phone's need not be the same. The name is the SHA-256 of the
code (a listing shows no code that could be approved) and the record keeps only the SHA-256
of the claim secret. Approving is a conditional write of the record read, claiming a
conditional delete of it: of two replicas racing, only one wins either.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import io
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import segno
from ua_parser import parse as parse_user_agent

from lib.storage import Conflict, NotFound, ObjectInfo, Storage, StorageError
from lib.storage.appstate import APP_PREFIX

CODE_SECONDS = 300
CLAIM_GRACE_SECONDS = 30
MATCH_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
MATCH_LENGTH = 4
MAX_PENDING = 1000  # a bound on memory (or the bucket) if someone keeps asking for codes
TV_PREFIX = APP_PREFIX + "tv/"
JSON_TYPE = "application/json"
SWEEP_SECONDS = 180  # how often `start` looks for expired records to remove
SWEEP_READS = 100  # records one sweep reads (oldest first): a full folder costs one start little

_RECORD_NAME = re.compile(re.escape(TV_PREFIX) + r"[0-9a-f]{64}\.json")
_NEVER = datetime.min.replace(tzinfo=UTC)

log = logging.getLogger("homemovies.tv_signin")


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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def record_name(code: str) -> str:
    """Return the object name of the request with code `code` (its code's SHA-256)."""
    return f"{TV_PREFIX}{_digest(code)}.json"


@dataclass(frozen=True)
class _Record:
    """A request as stored, with the SHA-256 of its claim secret and the version read.

    The code itself is not stored (the object's name is its hash): whoever can list or read
    the bucket learns no code a TV is waiting on, so cannot approve it for their account.
    """

    request: DeviceRequest
    claim: str
    version: str = ""

    def to_json(self) -> bytes:
        fields = {**asdict(self.request), "claim": self.claim}
        del fields["code"]
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, version: str, code: str) -> _Record:
        """Parse the stored record of `code`; raise ValueError if it is not one."""
        try:
            value = json.loads(data)
            approved_by = value["approved_by"]
            if approved_by is not None and not isinstance(approved_by, str):
                raise TypeError("approved_by is not a name")
            request = DeviceRequest(
                code,
                str(value["device"]),
                str(value["match"]),
                float(value["expires"]),
                approved_by,
            )
            return cls(request, str(value["claim"]), version)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a device sign-in record: {error}") from None


class _Records(Protocol):
    """What the sign-ins need of a store: a Storage's conditional writes, delete and scan."""

    def read_versioned(self, name: str) -> tuple[bytes, str]: ...

    def write_if(
        self, name: str, data: bytes, content_type: str, *, version: str | None
    ) -> str: ...

    def delete_if(self, name: str, *, version: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]: ...


class _MemoryRecords:
    """Objects in this process's memory, with a Storage's conditional semantics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._versions = itertools.count(1)

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        with self._lock:
            found = self._objects.get(name)
        if found is None:
            raise NotFound(name)
        return found

    def write_if(self, name: str, data: bytes, content_type: str, *, version: str | None) -> str:
        with self._lock:
            current = self._objects.get(name)
            if (None if current is None else current[1]) != version:
                raise Conflict(f"'{name}' changed since it was read.")
            new = str(next(self._versions))
            self._objects[name] = (data, new)  # a rewrite keeps its place: the oldest first
        return new

    def delete_if(self, name: str, *, version: str) -> None:
        with self._lock:
            current = self._objects.get(name)
            if current is None:
                raise NotFound(name)
            if current[1] != version:
                raise Conflict(f"'{name}' changed since it was read.")
            del self._objects[name]

    def delete(self, name: str) -> None:
        with self._lock:
            if self._objects.pop(name, None) is None:
                raise NotFound(name)

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the objects below `prefix` in the order they were made (no modified time)."""
        with self._lock:
            found = [(name, len(data)) for name, (data, _) in self._objects.items()]
        yield from (ObjectInfo(name, size) for name, size in found if name.startswith(prefix))


def _age(info: ObjectInfo) -> datetime:
    """Sort key, the oldest first; a stable sort keeps the memory store's order."""
    return info.modified or _NEVER


class DeviceSignIns:
    """The pending device sign-ins: in this process's memory, or shared through `storage`."""

    def __init__(
        self,
        ttl: float = CODE_SECONDS,
        clock: Callable[[], float] = time.time,
        storage: Storage | None = None,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._records: _Records = _MemoryRecords() if storage is None else storage
        self._lock = threading.Lock()
        self._next_sweep = float("-inf")

    def start(self, device: str) -> tuple[DeviceRequest, str]:
        """Open a request for `device`; return it and the claim secret the TV session keeps.

        Raises StorageError when the backend cannot store it.
        """
        code = secrets.token_urlsafe(24)
        claim = secrets.token_urlsafe(32)
        match = "".join(secrets.choice(MATCH_ALPHABET) for _ in range(MATCH_LENGTH))
        now = self.clock()
        request = DeviceRequest(code, device, match, now + self.ttl)
        self._make_room(now)
        record = _Record(request, _digest(claim))
        self._records.write_if(record_name(code), record.to_json(), JSON_TYPE, version=None)
        return request, claim

    def pending(self, code: str) -> DeviceRequest | None:
        """Return the request `code` while it still awaits approval, else None."""
        try:
            record = self._read(code)
        except StorageError as error:
            log.warning("a device sign-in code could not be looked up: %s", error)
            return None
        if record is None or record.request.expires <= self.clock() or record.request.approved_by:
            return None
        return record.request

    def approve(self, code: str, username: str) -> bool:
        """Let the device behind `code` sign in as `username`; False if used or expired."""
        try:
            record = self._read(code)
        except StorageError as error:
            log.warning("a device sign-in code could not be looked up: %s", error)
            return False
        now = self.clock()
        if record is None or record.request.expires <= now or record.request.approved_by:
            return False
        # A little grace, so an approval made in the code's last seconds still lands.
        expires = max(record.request.expires, now + CLAIM_GRACE_SECONDS)
        approved = replace(record.request, approved_by=username, expires=expires)
        data = _Record(approved, record.claim).to_json()
        try:
            self._records.write_if(record_name(code), data, JSON_TYPE, version=record.version)
        except Conflict:
            return False  # another approval, a denial or the sweep came first
        except StorageError as error:
            log.warning("a device sign-in could not be approved: %s", error)
            return self._approved_as(code, username)  # the write may have landed
        return True

    def _approved_as(self, code: str, username: str) -> bool:
        """Return whether request `code` reads as approved by `username` (False if unknown)."""
        try:
            record = self._read(code)
        except StorageError:
            return False
        return record is not None and record.request.approved_by == username

    def deny(self, code: str) -> None:
        """Drop the request `code`: the TV's code stops working."""
        try:
            self._records.delete(record_name(code))
        except NotFound:
            pass
        except StorageError as error:
            log.warning("a device sign-in code could not be removed: %s", error)

    def claim(self, code: str, claim_secret: str) -> str | None:
        """Return the approving user name once, to the session holding the claim secret."""
        try:
            record = self._read(code)
            if record is None or not hmac.compare_digest(record.claim, _digest(claim_secret)):
                return None
            if record.request.expires <= self.clock():
                self._records.delete_if(record_name(code), version=record.version)
                return None
            if record.request.approved_by is None:
                return None
            # Whoever removes the approved record gets the sign-in: it is handed over once.
            self._records.delete_if(record_name(code), version=record.version)
        except (NotFound, Conflict):
            return None  # claimed, denied or swept meanwhile
        except StorageError as error:
            log.warning("a device sign-in could not be claimed: %s", error)
            return None
        return record.request.approved_by

    def waiting(self, code: str) -> bool:
        """Return whether request `code` still exists (pending or approved, not expired).

        When storage does not answer it says yes: one failed poll must not drop the TV's code.
        """
        try:
            record = self._read(code)
        except StorageError as error:
            log.warning("a device sign-in code could not be looked up: %s", error)
            return True
        return record is not None and record.request.expires > self.clock()

    def _read(self, code: str) -> _Record | None:
        """Return the stored request `code`, or None when there is none (one GET)."""
        try:
            data, version = self._records.read_versioned(record_name(code))
        except NotFound:
            return None
        try:
            return _Record.from_json(data, version, code)
        except ValueError as error:
            log.warning("ignoring a device sign-in record: %s", error)
            return None

    def _make_room(self, now: float) -> None:
        """Remove expired records if a sweep is due, then the oldest while at the cap."""
        records = sorted(
            (info for info in self._records.scan(TV_PREFIX) if _RECORD_NAME.fullmatch(info.name)),
            key=_age,
        )
        with self._lock:
            due = now >= self._next_sweep
            if due:
                self._next_sweep = now + SWEEP_SECONDS
        if due:
            swept = self._sweep(records[:SWEEP_READS], now)
            records = [info for info in records if info.name not in swept]
        for info in records[: max(0, len(records) - MAX_PENDING + 1)]:
            with contextlib.suppress(NotFound):
                self._records.delete(info.name)

    def _sweep(self, records: Sequence[ObjectInfo], now: float) -> set[str]:
        """Remove those of `records` that expired by `now` (or are not records); return them."""
        gone: set[str] = set()
        for info in records:
            try:
                data, version = self._records.read_versioned(info.name)
                if not _expired(data, now):
                    continue
                self._records.delete_if(info.name, version=version)
            except Conflict:
                continue  # approved meanwhile
            except NotFound:
                pass  # claimed, denied or swept elsewhere meanwhile
            gone.add(info.name)
        return gone


def _expired(data: bytes, now: float) -> bool:
    """Return whether the stored record `data` expired by `now` (True if it is not one)."""
    try:
        return _Record.from_json(data, "", "").request.expires <= now
    except ValueError:
        return True  # nothing can use it
