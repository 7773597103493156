"""The OCI Object Storage backend: the storage protocol over the unmodified `oci` SDK.

Listings ask for one folder level (delimiter '/') and only the fields the library shows;
reads are ranged GETs streamed in chunks. Every SDK error becomes NotFound or Unavailable
with a message a user may read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import oci

from lib.storage.oci_auth import NETWORK_ERRORS, OciAuth, call, object_storage_client
from lib.storage.protocol import CHUNK_SIZE, Listing, ObjectInfo, Unavailable

LIST_FIELDS = "name,size,timeCreated,timeModified"
SCAN_FIELDS = "name,size,etag,timeCreated,timeModified,storageTier"
PAGE_LIMIT = 1000  # OCI's maximum

log = logging.getLogger("homemovies.oci")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _summary_info(summary: Any) -> ObjectInfo:
    """Given an SDK ObjectSummary, return our ObjectInfo."""
    return ObjectInfo(
        name=summary.name,
        size=summary.size or 0,
        modified=_aware(summary.time_modified or summary.time_created),
        created=_aware(summary.time_created),
        etag=summary.etag,
        storage_tier=summary.storage_tier,
    )


class ObjectBody:
    """The bytes of one ranged GET, read in chunks; close() releases the connection.

    A failure after the first byte (a dropped connection, a read timeout, a short body)
    surfaces as Unavailable so the media route can end its response cleanly.
    """

    def __init__(self, response: Any, length: int, chunk_size: int, what: str) -> None:
        self._response = response
        self._chunks = response.raw.stream(chunk_size, decode_content=False)
        self._left = length
        self._what = what

    def __iter__(self) -> ObjectBody:
        return self

    def __next__(self) -> bytes:
        try:
            chunk: bytes = next(self._chunks)
        except StopIteration:
            self.close()
            if self._left > 0:
                raise Unavailable(f"OCI ended {self._what} {self._left} bytes early.") from None
            raise
        except NETWORK_ERRORS as error:
            self.close()
            log.warning("the read of %s broke off", self._what, exc_info=error)
            raise Unavailable(f"The connection to OCI broke while sending {self._what}.") from error
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        """Close the upstream response (a viewer who went away stops the download)."""
        self._response.close()

    @property
    def closed(self) -> bool:
        return bool(self._response.raw.closed)


class OciStorage:
    """One bucket of OCI Object Storage, read (and written for app state) through the SDK."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        namespace: str | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint: str = client.base_client.get_endpoint()
        self.chunk_size = chunk_size
        self._namespace = namespace
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"OCI bucket {self.bucket} at {self.endpoint}"

    @property
    def namespace(self) -> str:
        """The tenancy's Object Storage namespace, asked once (lazily, so the app starts even
        while OCI is unreachable)."""
        with self._lock:
            if self._namespace is None:
                self._namespace = self.request(
                    "the Object Storage namespace", self.client.get_namespace
                ).data
            return self._namespace

    def request(self, what: str, function: Callable[[], Any]) -> Any:
        """Run one SDK call about `what`; raise NotFound or Unavailable if it fails."""
        return call(what, self.endpoint, function)

    def subject(self, name: str) -> str:
        """How messages name an object (or, for "", the bucket)."""
        return f"'{name}' in bucket {self.bucket}" if name else f"bucket {self.bucket}"

    def _list_call(self, **kwargs: Any) -> Any:
        """One ListObjects call, already retried and translated (so the SDK's pagination
        helper, which adds its own retries, never retries a second time)."""
        return self.request(
            self.subject(kwargs.get("prefix", "")),
            lambda: self.client.list_objects(self.namespace, self.bucket, **kwargs),
        )

    def _pages(self, **kwargs: Any) -> Iterator[Any]:
        """Yield the ListObjects pages of one listing, following next_start_with."""
        for response in oci.pagination.list_call_get_all_results_generator(
            self._list_call, "response", limit=PAGE_LIMIT, **kwargs
        ):
            yield response.data

    def list(self, prefix: str = "") -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: dict[str, None] = {}  # ordered and free of repeats across pages
        for page in self._pages(prefix=prefix, delimiter="/", fields=LIST_FIELDS):
            objects.extend(_summary_info(s) for s in page.objects if s.name != prefix)
            prefixes.update(dict.fromkeys(page.prefixes or ()))
        return Listing(objects=tuple(objects), prefixes=tuple(prefixes))

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for page in self._pages(prefix=prefix, fields=SCAN_FIELDS):
            yield from (_summary_info(summary) for summary in page.objects)

    def stat(self, name: str) -> ObjectInfo:
        response = self.request(
            self.subject(name),
            lambda: self.client.head_object(self.namespace, self.bucket, name),
        )
        modified = response.headers.get("last-modified")
        return ObjectInfo(
            name=name,
            size=int(response.headers.get("content-length", 0)),
            modified=parsedate_to_datetime(modified) if modified else None,
            etag=response.headers.get("etag"),
            storage_tier=response.headers.get("storage-tier"),
        )

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        what = self.subject(name)
        response = self.request(
            what,
            lambda: self.client.get_object(
                self.namespace, self.bucket, name, range=f"bytes={start}-{end}"
            ),
        )
        if response.status != 206 and start != 0:
            response.data.close()
            raise Unavailable(f"OCI ignored the byte range asked for {what}.")
        return ObjectBody(response.data, end - start + 1, self.chunk_size, what)

    def write(self, name: str, data: bytes) -> None:
        self.request(
            self.subject(name),
            lambda: self.client.put_object(self.namespace, self.bucket, name, data),
        )

    def delete(self, name: str) -> None:
        self.request(
            self.subject(name),
            lambda: self.client.delete_object(self.namespace, self.bucket, name),
        )

    def usage(self) -> tuple[int, int]:
        """Return the bucket's approximate object count and total size in bytes."""
        bucket = self.request(
            self.subject(""),
            lambda: self.client.get_bucket(
                self.namespace, self.bucket, fields=["approximateCount", "approximateSize"]
            ),
        ).data
        return bucket.approximate_count or 0, bucket.approximate_size or 0


def open_bucket(bucket: str, auth: OciAuth, endpoint: str | None = None) -> OciStorage:
    """Return bucket `bucket`, reached at `endpoint` (else the region's) and signed with `auth`."""
    return OciStorage(object_storage_client(auth, endpoint), bucket)
