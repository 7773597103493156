"""The OCI Object Storage backend: the storage protocol over the unmodified `oci` SDK.

Listings ask for one folder level (delimiter '/') and only the fields the library shows;
reads are ranged GETs streamed in chunks; conditional writes are if-match/if-none-match
requests on the object's ETag. Every SDK error becomes NotFound, Conflict or Unavailable
with a message a user may read.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

import oci
from oci.object_storage.models import (
    CommitMultipartUploadDetails,
    CommitMultipartUploadPartDetails,
    CreateMultipartUploadDetails,
)

from lib.storage.oci_auth import (
    NETWORK_ERRORS,
    READ_TIMEOUT,
    OciAuth,
    call,
    object_storage_client,
    upload_retry_strategy,
)
from lib.storage.protocol import (
    CHUNK_SIZE,
    Conflict,
    Listing,
    NotFound,
    ObjectInfo,
    Unavailable,
    file_md5,
    md5_text,
    part_digests,
)

LIST_FIELDS = "name,size,etag,timeCreated,timeModified"  # the ETag: a title's version
SCAN_FIELDS = "name,size,etag,timeCreated,timeModified,storageTier"
PAGE_LIMIT = 1000  # OCI's maximum
# Files larger than a part go up in parts of this size (OCI takes 10 MiB to 50 GiB a part,
# the last one smaller, and at most 10,000 parts): a failed try re-sends one part, not all.
PART_SIZE = 64 * 1024 * 1024

log = logging.getLogger("homemovies.oci")
# A conditional request is sent once. Retrying one whose answer was lost (a timeout, a reset,
# a 5xx after the write) would meet its own write and report a lost race that was won; the
# caller reads the object again instead and decides.
ONCE = oci.retry.NoneRetryStrategy()


def _content_md5(data: bytes) -> str:
    """The Content-MD5 header of a body, so that OCI checks the bytes it received."""
    return md5_text([hashlib.md5(data, usedforsecurity=False).digest()])


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


class FileRange:
    """Bytes offset..offset+length of an open file as a request body of known length."""

    def __init__(self, handle: BinaryIO, offset: int, length: int) -> None:
        handle.seek(offset)
        self._handle = handle
        self._left = length

    def __len__(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        """Return up to `size` bytes of the range (all that is left when negative)."""
        if self._left <= 0:
            return b""
        chunk = self._handle.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(chunk)
        return chunk


class OciStorage:
    """One bucket of OCI Object Storage, read and written through the SDK.

    `upload_client` is a second client built without client-level retries
    (`object_storage_client(auth, endpoint, retries=False)`): uploads retry each request
    themselves, reopening the file. Safe to use from a few threads at once.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        namespace: str | None = None,
        chunk_size: int = CHUNK_SIZE,
        part_size: int = PART_SIZE,
        upload_client: Any | None = None,
    ) -> None:
        self.client = client
        self.upload_client: Any = upload_client
        self.bucket = bucket
        self.endpoint: str = client.base_client.get_endpoint()
        self.chunk_size = chunk_size
        self.part_size = part_size
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
        headers = response.headers
        modified = headers.get("last-modified")
        return ObjectInfo(
            name=name,
            size=int(headers.get("content-length", 0)),
            modified=parsedate_to_datetime(modified) if modified else None,
            etag=headers.get("etag"),
            storage_tier=headers.get("storage-tier"),
            md5=headers.get("content-md5") or headers.get("opc-multipart-md5"),
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

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        # Without a content type the SDK would store bytes as application/json.
        md5 = _content_md5(data)
        self.request(
            self.subject(name),
            lambda: self.client.put_object(
                self.namespace, self.bucket, name, data, content_type=content_type, content_md5=md5
            ),
        )

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        """One GET of the whole (small) object; its version is the ETag OCI sent with it."""

        def fetch() -> tuple[bytes, str]:
            response = self.client.get_object(self.namespace, self.bucket, name)
            try:
                body: bytes = response.data.raw.read(decode_content=False)
            finally:
                response.data.close()
            return body, response.headers["etag"]

        found: tuple[bytes, str] = self.request(self.subject(name), fetch)
        return found

    def write_if(self, name: str, data: bytes, content_type: str, *, version: str | None) -> str:
        """One PUT with if-match `version` (if-none-match '*' for None), never retried (see
        ONCE); return the ETag of the object written."""
        condition = {"if_none_match": "*"} if version is None else {"if_match": version}
        md5 = _content_md5(data)
        what = self.subject(name)
        try:
            response = self.request(
                what,
                lambda: self.client.put_object(
                    self.namespace,
                    self.bucket,
                    name,
                    data,
                    content_type=content_type,
                    content_md5=md5,
                    retry_strategy=ONCE,
                    **condition,
                ),
            )
        except NotFound:
            if version is None:
                raise
            raise Conflict(f"{what} was removed since it was read.") from None
        etag: str = response.headers["etag"]
        return etag

    def delete_if(self, name: str, *, version: str) -> None:
        """One DELETE with if-match `version`, never retried (see ONCE)."""
        self.request(
            self.subject(name),
            lambda: self.client.delete_object(
                self.namespace, self.bucket, name, if_match=version, retry_strategy=ONCE
            ),
        )

    def upload(
        self,
        name: str,
        path: Path,
        content_type: str,
        *,
        tier: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Stream `path` into object `name`: one PUT up to `part_size`, else a multipart upload.

        Each request (a part, the PUT, the create, the commit) is retried on its own from the
        start of its bytes. A failed multipart upload is aborted if OCI still answers, else
        left for `abort_uploads`.
        """
        if self.upload_client is None:
            raise RuntimeError("OciStorage.upload needs an upload_client built without retries")
        size = path.stat().st_size  # a missing file is the caller's error, not OCI's
        options = {"content_type": content_type}
        if tier is not None:
            options["storage_tier"] = tier
        report = progress or (lambda _: None)
        what = self.subject(name)
        if size > self.part_size:
            self.request(what, lambda: self._upload_parts(name, path, size, options, report))
        else:
            self.request(what, lambda: self._put_file(name, path, size, options))
            report(size)

    def _put_file(self, name: str, path: Path, size: int, options: dict[str, str]) -> None:
        """One PUT of the whole file, retried with the file reopened for each try."""
        namespace, md5 = self.namespace, file_md5(path)

        def attempt() -> Any:
            with path.open("rb") as handle:
                return self.upload_client.put_object(
                    namespace,
                    self.bucket,
                    name,
                    handle,
                    content_length=size,
                    content_md5=md5,
                    **options,
                )

        upload_retry_strategy().make_retrying_call(attempt)

    def _upload_parts(
        self,
        name: str,
        path: Path,
        size: int,
        options: dict[str, str],
        report: Callable[[int], None],
    ) -> None:
        """Create a multipart upload, send the parts one after another, commit them."""
        namespace, client, retry = self.namespace, self.upload_client, upload_retry_strategy()
        digests = part_digests(path, self.part_size)
        details = CreateMultipartUploadDetails(object=name, **options)
        upload_id = retry.make_retrying_call(
            client.create_multipart_upload, namespace, self.bucket, details
        ).data.upload_id
        try:
            parts = []
            for number, digest in enumerate(digests, start=1):
                offset = (number - 1) * self.part_size
                length = min(self.part_size, size - offset)

                def attempt(
                    number: int = number,
                    offset: int = offset,
                    length: int = length,
                    md5: str = md5_text([digest]),
                ) -> Any:
                    with path.open("rb") as handle:
                        return client.upload_part(
                            namespace,
                            self.bucket,
                            name,
                            upload_id,
                            number,
                            FileRange(handle, offset, length),
                            content_length=length,
                            content_md5=md5,
                        )

                etag = retry.make_retrying_call(attempt).headers["etag"]
                parts.append(CommitMultipartUploadPartDetails(part_num=number, etag=etag))
                report(length)
            response = retry.make_retrying_call(
                client.commit_multipart_upload,
                namespace,
                self.bucket,
                name,
                upload_id,
                CommitMultipartUploadDetails(parts_to_commit=parts),
            )
        except Exception:
            self._abandon(namespace, name, upload_id)
            raise
        stored = response.headers.get("opc-multipart-md5")
        if stored is not None and stored != md5_text(digests):
            log.warning("OCI stored %s as %s, the file is %s", name, stored, md5_text(digests))
            raise Unavailable(f"OCI stored {self.subject(name)} with other bytes; upload it again.")

    def _abandon(self, namespace: str, name: str, upload_id: str) -> None:
        """Abort a failed multipart upload once, without retries (OCI may be down)."""
        try:
            self.upload_client.abort_multipart_upload(namespace, self.bucket, name, upload_id)
        except Exception as error:  # the upload's own failure is what the caller hears of
            log.warning(
                "cannot abort the unfinished upload of %s; abort_uploads removes it later",
                self.subject(name),
                exc_info=error,
            )

    def matches(self, name: str, path: Path) -> bool:
        size = path.stat().st_size
        try:
            info = self.stat(name)
        except NotFound:
            return False
        if info.size != size or not info.md5:
            return False
        # A multipart object's MD5 depends on its part size: ours, as `upload` would use it.
        part_size = self.part_size if "-" in info.md5 else None
        return file_md5(path, part_size) == info.md5

    def abort_uploads(self, prefix: str) -> int:
        """Abort every unfinished multipart upload of an object whose name starts with
        `prefix` (none of them may still be running); return how many."""
        names = [
            (upload.object, upload.upload_id)
            for response in oci.pagination.list_call_get_all_results_generator(
                self._uploads_call, "response", limit=PAGE_LIMIT
            )
            for upload in response.data
            if upload.object.startswith(prefix)
        ]
        aborted = 0
        for name, upload_id in names:
            abort = functools.partial(
                self.client.abort_multipart_upload, self.namespace, self.bucket, name, upload_id
            )
            try:
                self.request(self.subject(name), abort)
            except NotFound:
                continue  # finished or aborted meanwhile
            aborted += 1
        return aborted

    def _uploads_call(self, **kwargs: Any) -> Any:
        """One ListMultipartUploads call, retried and translated (see `_list_call`)."""
        return self.request(
            self.subject(""),
            lambda: self.client.list_multipart_uploads(self.namespace, self.bucket, **kwargs),
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


def open_bucket(
    bucket: str, auth: OciAuth, endpoint: str | None = None, timeout: float = READ_TIMEOUT
) -> OciStorage:
    """Return bucket `bucket`, reached at `endpoint` (else the region's) and signed with `auth`;
    a read waits up to `timeout` seconds for an answer, retries included."""
    return OciStorage(
        object_storage_client(auth, endpoint, timeout=timeout),
        bucket,
        upload_client=object_storage_client(auth, endpoint, retries=False, timeout=timeout),
    )
