"""Storage: the protocol every backend implements, and the backends (local folder, OCI bucket).

This package imports nothing else of the app. `from lib.storage import Storage` names the
protocol; the OCI modules are imported only when a bucket is served (the SDK is slow to import).
"""

from lib.storage.protocol import (
    CHUNK_SIZE,
    Conflict,
    Listing,
    NotFound,
    ObjectInfo,
    Storage,
    StorageError,
    Unavailable,
    file_md5,
    is_safe_name,
)

__all__ = [
    "CHUNK_SIZE",
    "Conflict",
    "Listing",
    "NotFound",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "Unavailable",
    "file_md5",
    "is_safe_name",
]
