"""App state kept in the storage backend itself: small JSON objects under `.homemovies/state/`.

A stateless container then loses nothing on restart. The prefix starts with '.', so the
library never shows it as a tab or title; totals over the whole bucket must skip it
(`is_app_state`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from lib.storage import Conflict, NotFound, Storage, StorageError

APP_PREFIX = ".homemovies/"
STATE_PREFIX = APP_PREFIX + "state/"
MAX_STATE_BYTES = 256 * 1024

log = logging.getLogger("homemovies.state")


class CorruptState(ValueError):
    """A state object exists but is not the JSON we wrote (or is implausibly large)."""


def is_app_state(name: str) -> bool:
    """Return whether object `name` belongs to the app rather than to the library."""
    return name.startswith(APP_PREFIX)


def state_name(kind: str, key: str) -> str:
    """Return the object name holding state `kind` for `key` (a user name or an id)."""
    return f"{STATE_PREFIX}{kind}/{quote(key, safe='')}.json"


def read_json(storage: Storage, name: str) -> Any | None:
    """Return the JSON value stored at `name`, or None when there is none.

    Raises CorruptState when the object is not valid JSON or too large to be ours, and
    StorageError when storage cannot answer.
    """
    try:
        info = storage.stat(name)
        if info.size > MAX_STATE_BYTES:
            raise CorruptState(f"{name} is {info.size} bytes, more than state ever takes")
        if info.size == 0:
            raise CorruptState(f"{name} is empty")
        chunks = storage.read(name, 0, info.size - 1)
    except NotFound:
        return None
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise CorruptState(f"{name} is not valid JSON") from None


def write_json(storage: Storage, name: str, value: Any) -> None:
    """Store `value` as compact JSON at `name` (raises StorageError when storage refuses)."""
    data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
    storage.write(name, data, "application/json")


KEYS_PREFIX = APP_PREFIX + "keys/"


def shared_key(storage: Storage, purpose: str, make: Callable[[], str]) -> str:
    """Return the secret kept for `purpose` in the backend, storing `make()` if there is none.

    Every process on the same backend gets the same value: the first to write it wins (a
    create-only write), the others read the winner's. Raises StorageError when the backend
    can neither answer nor be written, and CorruptState when the object is not ours.
    """
    name = f"{KEYS_PREFIX}{quote(purpose, safe='')}.json"
    for _ in range(3):
        try:
            data, _version = storage.read_versioned(name)
        except NotFound:
            value = make()
            record = json.dumps({"key": value}, separators=(",", ":")).encode("utf-8")
            try:
                storage.write_if(name, record, "application/json", version=None)
            except Conflict:
                continue  # another process stored its key first: read that one
            return value
        try:
            value = json.loads(data)["key"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise CorruptState(f"{name} is not a key this app wrote") from None
        if not isinstance(value, str) or len(value) < 32:
            raise CorruptState(f"{name} does not hold a usable key")
        return value
    raise StorageError(f"{name} kept changing while it was read")
