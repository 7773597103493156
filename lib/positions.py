"""Continue watching: per-user playback positions, saved in the storage backend.

Rules: a position is kept once playback is past 5% of a title and forgotten after 90%
(watched). The player reports every few seconds; writes are debounced to at most one per
user per `interval` seconds, and the latest state always reaches storage within that time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lib.storage import Storage, StorageError
from lib.storage.appstate import CorruptState, read_json, state_name, write_json

START_FRACTION = 0.05
WATCHED_FRACTION = 0.90
MAX_ENTRIES = 200  # per user; the oldest are dropped so the object stays small
FORMAT_VERSION = 1
RELOAD_SECONDS = 10.0  # how stale positions saved by another replica may be when read here

log = logging.getLogger("homemovies.positions")


class Decision(StrEnum):
    """What a reported position means for the saved one."""

    IGNORE = "ignore"  # too early to be worth resuming: leave what is saved alone
    SAVE = "save"
    CLEAR = "clear"  # watched


def decide(position: float, duration: float) -> Decision:
    """Given a reported position and the title's duration (seconds), say what to do."""
    if not (math.isfinite(position) and math.isfinite(duration)) or duration <= 0:
        return Decision.IGNORE
    fraction = position / duration
    if fraction >= WATCHED_FRACTION:
        return Decision.CLEAR
    if fraction > START_FRACTION:
        return Decision.SAVE
    return Decision.IGNORE


@dataclass(frozen=True)
class Resume:
    """A saved position: where `name` (a title's object name) was left, and when."""

    name: str
    position: float
    duration: float
    updated: float

    @property
    def fraction(self) -> float:
        return min(max(self.position / self.duration, 0.0), 1.0)


def _parse(value: object) -> dict[str, Resume]:
    """Given the stored JSON, return the positions in it; raise CorruptState if it is not ours."""
    if not isinstance(value, dict) or not isinstance(value.get("positions"), dict):
        raise CorruptState("saved positions have an unknown shape")
    positions: dict[str, Resume] = {}
    for name, entry in value["positions"].items():
        try:
            resume = Resume(
                name=str(name),
                position=float(entry["position"]),
                duration=float(entry["duration"]),
                updated=float(entry["updated"]),
            )
        except (KeyError, TypeError, ValueError):
            raise CorruptState(f"saved position for {name!r} is malformed") from None
        if decide(resume.position, resume.duration) is Decision.SAVE:
            positions[resume.name] = resume
    return positions


def _serialise(positions: dict[str, Resume]) -> dict[str, Any]:
    kept = sorted(positions.values(), key=lambda r: r.updated, reverse=True)[:MAX_ENTRIES]
    return {
        "version": FORMAT_VERSION,
        "positions": {
            r.name: {"position": round(r.position, 1), "duration": r.duration, "updated": r.updated}
            for r in kept
        },
    }


class _UserBook:
    """One user's positions in memory, with what has not reached storage yet."""

    def __init__(self, positions: dict[str, Resume], loaded: float) -> None:
        self.positions = positions
        self.loaded = loaded
        self.dirty = False
        self.last_write = -math.inf
        self.timer: threading.Timer | None = None
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()  # one write at a time, so none lands out of order


class Positions:
    """Saved positions of every user, read from and debounced into the storage backend."""

    def __init__(
        self,
        storage: Storage,
        interval: float = 10.0,
        reload_after: float = RELOAD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.interval = interval
        self.reload_after = reload_after
        self.clock = clock
        self._books: dict[str, _UserBook] = {}
        self._lock = threading.Lock()

    @staticmethod
    def object_name(user: str) -> str:
        """The object holding `user`'s positions."""
        return state_name("positions", user.lower())

    def _load(self, user: str) -> dict[str, Resume]:
        """Read `user`'s positions from storage; a corrupt or unreadable object counts as none."""
        name = self.object_name(user)
        try:
            value = read_json(self.storage, name)
            return {} if value is None else _parse(value)
        except CorruptState as error:
            log.warning("ignoring saved positions of %r: %s", user, error)
        except StorageError as error:
            log.warning("cannot read saved positions of %r: %s", user, error)
        return {}

    def _book(self, user: str) -> _UserBook:
        """Return `user`'s book, (re)loading it when it is stale and has nothing unsaved."""
        key = user.lower()
        with self._lock:
            book = self._books.get(key)
        now = self.clock()
        if book is not None and (book.dirty or now - book.loaded < self.reload_after):
            return book
        loaded = _UserBook(self._load(key), now)
        with self._lock:
            current = self._books.get(key)
            if current is not None and current.dirty:
                return current  # a report arrived while we read: keep it
            self._books[key] = loaded
        return loaded

    def resume_list(self, user: str) -> list[Resume]:
        """Return `user`'s saved positions, most recently watched first."""
        book = self._book(user)
        with book.lock:
            entries = list(book.positions.values())
        return sorted(entries, key=lambda r: r.updated, reverse=True)

    def get(self, user: str, name: str) -> Resume | None:
        """Return where `user` left title `name`, if a position is saved."""
        book = self._book(user)
        with book.lock:
            return book.positions.get(name)

    def report(self, user: str, name: str, position: float, duration: float) -> Decision:
        """Record a position reported by `user`'s player; storage is written debounced."""
        decision = decide(position, duration)
        if decision is Decision.IGNORE:
            return decision
        book = self._book(user)
        with book.lock:
            if decision is Decision.SAVE:
                book.positions[name] = Resume(name, position, duration, self.clock())
            elif book.positions.pop(name, None) is None:
                return decision  # watched, and nothing was saved: nothing to write
            book.dirty = True
            self._schedule(user.lower(), book)
        return decision

    def _schedule(self, user: str, book: _UserBook) -> None:
        """Write now if the last write is old enough, else once `interval` has passed."""
        if book.timer is not None:
            return
        delay = max(0.0, book.last_write + self.interval - self.clock())
        book.timer = threading.Timer(delay, self.flush, args=(user,))
        book.timer.daemon = True
        book.timer.start()

    def flush(self, user: str) -> None:
        """Write `user`'s positions to storage if they changed since the last write."""
        with self._lock:
            book = self._books.get(user.lower())
        if book is None:
            return
        with book.write_lock:
            with book.lock:
                book.timer = None
                if not book.dirty:
                    return
                value = _serialise(book.positions)
                book.dirty = False
                book.last_write = self.clock()
            try:
                write_json(self.storage, self.object_name(user), value)
            except StorageError as error:
                log.warning("cannot save positions of %r: %s", user, error)
                with book.lock:
                    book.dirty = True  # try again with the next report

    def close(self) -> None:
        """Write every user's unsaved positions now and stop the pending timers (shutdown)."""
        with self._lock:
            books = dict(self._books)
        for user, book in books.items():
            with book.lock:
                timer, book.timer = book.timer, None
            if timer is not None:
                timer.cancel()
            self.flush(user)
