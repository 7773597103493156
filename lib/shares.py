"""Share links: an admin lets someone without an account watch one title until a deadline.

A share is a small JSON object under `.homemovies/state/shares/` (so revoking deletes it and a
restarted container still knows it). The link carries a signed token naming the share; the
page it opens hands out media tokens whose holder is `share:<id>`, and the media route asks
`is_live` on every request, so revoking or expiring a share stops its media too.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from lib.cache import TTLCache
from lib.storage import NotFound, Storage, StorageError
from lib.storage.appstate import STATE_PREFIX, CorruptState, read_json, state_name, write_json
from lib.tokens import InvalidToken, TokenSigner

MIN_HOURS = 1
MAX_HOURS = 7 * 24
MAX_NOTE = 200
HOLDER_PREFIX = "share:"
SHARES_PREFIX = STATE_PREFIX + "shares/"
LIVE_CACHE_SECONDS = 5.0  # how stale a revocation seen by another process may be

log = logging.getLogger("homemovies.shares")


class ShareError(ValueError):
    """A share cannot be made as asked; the message says what to choose instead."""


@dataclass(frozen=True)
class Share:
    """One share link: which title, until when, who made it and why."""

    id: str
    name: str  # the title's object name (or `.hls` folder prefix)
    title: str
    created: float
    expires: float
    created_by: str
    note: str = ""

    @property
    def holder(self) -> str:
        """The media-token holder standing for this share."""
        return HOLDER_PREFIX + self.id

    @classmethod
    def from_json(cls, value: object) -> Share:
        """Return the share stored as `value`; raise CorruptState if it is not one."""
        if not isinstance(value, dict):
            raise CorruptState("a share is not a JSON object")
        try:
            return cls(
                id=str(value["id"]),
                name=str(value["name"]),
                title=str(value["title"]),
                created=float(value["created"]),
                expires=float(value["expires"]),
                created_by=str(value["created_by"]),
                note=str(value.get("note", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise CorruptState("a share is missing fields") from None


def share_id_of(holder: str) -> str | None:
    """Return the share id a media-token holder stands for, or None for a user."""
    return holder.removeprefix(HOLDER_PREFIX) if holder.startswith(HOLDER_PREFIX) else None


class Shares:
    """Create, find, list and revoke share links kept in the storage backend."""

    def __init__(
        self, storage: Storage, signer: TokenSigner, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self._live: TTLCache[bool] = TTLCache(LIVE_CACHE_SECONDS, clock=clock)

    @staticmethod
    def object_name(share_id: str) -> str:
        return state_name("shares", share_id)

    def create(self, name: str, title: str, hours: float, created_by: str, note: str = "") -> Share:
        """Make and store a share of title `name` valid for `hours` (1 hour to 7 days)."""
        if not MIN_HOURS <= hours <= MAX_HOURS:
            raise ShareError("Choose an expiry between 1 hour and 7 days.")
        note = " ".join(note.split())
        if len(note) > MAX_NOTE:
            raise ShareError(f"Keep the note under {MAX_NOTE} characters.")
        now = self.clock()
        share = Share(
            id=secrets.token_urlsafe(12),
            name=name,
            title=title,
            created=now,
            expires=now + hours * 3600,
            created_by=created_by,
            note=note,
        )
        write_json(self.storage, self.object_name(share.id), asdict(share))
        return share

    def token(self, share: Share) -> str:
        """Return the signed token of `share`'s link (valid until the share expires)."""
        return self.signer.issue(share.id, "share", max(1, int(share.expires - self.clock())))

    def get(self, share_id: str) -> Share | None:
        """Return the unexpired share `share_id`, or None if it expired, was revoked or is bad."""
        try:
            value = read_json(self.storage, self.object_name(share_id))
            share = None if value is None else Share.from_json(value)
        except CorruptState as error:
            log.warning("ignoring share %r: %s", share_id, error)
            share = None
        if share is None or share.id != share_id or share.expires <= self.clock():
            return None
        return share

    def open(self, token: str) -> Share | None:
        """Given a link's token, return its live share, or None (forged, expired or revoked)."""
        try:
            grant = self.signer.verify(token)
        except InvalidToken:
            return None
        return self.get(grant.scope)

    def is_live(self, share_id: str) -> bool:
        """Return whether `share_id` may still be watched (cached a few seconds per share)."""

        def check() -> bool:
            try:
                return self.get(share_id) is not None
            except StorageError as error:
                log.warning("cannot check share %r: %s", share_id, error)
                return False

        return self._live.get(share_id, check)

    def active(self) -> list[Share]:
        """Return the unexpired shares, soonest expiry first; expired ones are deleted."""
        shares = []
        for info in self.storage.scan(SHARES_PREFIX):
            share_id = info.name.removeprefix(SHARES_PREFIX).removesuffix(".json")
            try:
                value = read_json(self.storage, info.name)
                if value is None:
                    continue  # revoked while we listed
                share = Share.from_json(value)
            except CorruptState as error:
                log.warning("ignoring share object %r: %s", info.name, error)
                continue
            if share.expires <= self.clock() and share.id == share_id:
                self._delete(info.name)
            elif share.id == share_id:
                shares.append(share)
        return sorted(shares, key=lambda share: share.expires)

    def revoke(self, share_id: str) -> None:
        """Delete share `share_id`: its link and media stop working at once in this process."""
        self._delete(self.object_name(share_id))
        self._live.put(share_id, False)

    def _delete(self, name: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: revoked twice, or elsewhere
            self.storage.delete(name)
