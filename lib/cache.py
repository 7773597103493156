"""The one expiring cache every part of the app uses (listings, the stats scan, share checks,
signed links, pre-authenticated requests).

It imports nothing of the app, so every layer may use it. Not `cachetools`: its caches are
neither thread-safe nor able to make callers of one key share one computation, and neither
remembers a failure for a few seconds; those three are what this class is for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """A thread-safe cache whose entries expire `ttl` seconds after they were computed.

    Errors of the types in `errors` are remembered too, for `error_ttl` seconds, so a folder
    that fails is not listed again (with all its retries) on every page run while storage
    struggles. Callers asking for the same key at once share one computation.
    """

    def __init__(
        self,
        ttl: float,
        error_ttl: float = 0.0,
        errors: tuple[type[Exception], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.error_ttl = min(error_ttl, ttl)
        self._errors = errors
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V | Exception]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}  # one per key ever asked for
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """Return the cached value for `key`, computing it when absent or expired."""
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            now = self._clock()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                stored, value = entry
                if isinstance(value, Exception):
                    if now - stored < self.error_ttl:
                        raise value
                elif now - stored < self.ttl:
                    return value
            try:
                value = compute()
            except self._errors as error:
                with self._lock:
                    self._entries[key] = (now, error)
                raise
            with self._lock:
                self._entries[key] = (now, value)
            return value

    def peek(self, key: Hashable) -> V | None:
        """Return the cached value for `key` if it is there and fresh, without computing it."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        stored, value = entry
        if isinstance(value, Exception) or self._clock() - stored >= self.ttl:
            return None
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store `value` for `key` as if it had just been computed."""
        with self._lock:
            self._entries[key] = (self._clock(), value)

    def clear(self) -> None:
        """Forget every entry: the next `get` of each key computes it again."""
        with self._lock:
            self._entries.clear()
