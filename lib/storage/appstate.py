"""App state kept in the storage backend itself: small JSON objects under `.homemovies/state/`.

A stateless container then loses nothing on restart. The prefix starts with '.', so the
library never shows it as a tab or title; totals over the whole bucket must skip it
(`is_app_state`).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from lib.storage import NotFound, Storage

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
