"""The upload route: a tus 1.0.0 server (core, creation, termination, expiration) for the
Add videos page, writing into the staging folder (lib/staging.py).

URL shape: POST /upload/ creates an upload and answers its URL, /upload/<id>; HEAD there says
how far it got, PATCH appends a chunk from that offset, DELETE cancels it. Every request but
OPTIONS carries an admin's upload token in the X-Homemovies-Upload header (its own key, so a
media token or a share link cannot upload), and an upload belongs to the admin who made it.

A PATCH body goes to the disk as it arrives, a megabyte at a time in a worker thread: memory
does not grow with the file, and what arrived before a dropped connection stays (the next
HEAD reports it). The upload that becomes whole is handed to `on_complete` in a thread of
its own, so the last PATCH is answered at once.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from lib.links import UPLOAD_PREFIX, UPLOAD_TOKEN_HEADER
from lib.staging import (
    UPLOAD_SCOPE,
    Busy,
    NoSpace,
    OffsetMismatch,
    StagedUpload,
    Staging,
    StagingError,
    TooLarge,
    TooLong,
    UnknownUpload,
    UploadWriter,
)
from lib.tokens import InvalidToken, TokenSigner
from lib.web.endpoint import Endpoint
from lib.web.headers import response_headers

__all__ = ["UPLOAD_SCOPE", "UploadEndpoint", "parse_metadata", "upload_routes"]

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
WRITE_BYTES = 1024 * 1024  # what a worker thread writes at a time
IDLE_SECONDS = 60.0  # a PATCH that receives nothing for this long lets its upload go
MAX_METADATA_CHARS = 8192
MAX_METADATA_PAIRS = 32
METADATA_KEY = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces (commas split pairs)
NUMBER = re.compile(r"[0-9]{1,19}")
CREATE_METHODS = ("POST", "OPTIONS")
UPLOAD_METHODS = ("HEAD", "PATCH", "DELETE", "OPTIONS")
INVALID_LINK = "This upload link is invalid or has expired; reload the Add videos page."
NOT_ADMIN = "Only an admin can add videos."
STATUS: Mapping[type[StagingError], int] = {
    TooLarge: 413,
    TooLong: 413,
    NoSpace: 507,
    UnknownUpload: 404,
    OffsetMismatch: 409,
    Busy: 423,
}

Ending = Literal["done", "gone", "stalled"]  # how a PATCH body ended: whole, cut off, idle

log = logging.getLogger("homemovies.uploads")


def tus_headers(**extra: str) -> dict[str, str]:
    """Return the headers of every answer of the route: the house ones (never stored) and
    the tus version, plus `extra` (underscores become dashes: Upload_Offset)."""
    headers = {**response_headers(), "Tus-Resumable": TUS_VERSION}
    headers.update({name.replace("_", "-"): value for name, value in extra.items()})
    return headers


def refuse(status: int, detail: str, **extra: str) -> HTTPException:
    """Return the error answering `status` with the sentence `detail`, as tus answers."""
    return HTTPException(status, detail, tus_headers(**extra))


def http_date(moment: float) -> str:
    """Return an epoch time as an HTTP date (RFC 7231): 'Wed, 25 Jun 2014 16:00:00 GMT'."""
    return formatdate(moment, usegmt=True)


def parse_metadata(header: str) -> dict[str, str] | None:
    """Given an Upload-Metadata header (`key base64value` pairs, comma-separated), return its
    pairs, or None when it is not one. Spaces, empty items, a missing value or padding are
    forgiven; keys that are not printable ASCII, bad base64 or a huge header are not."""
    if len(header) > MAX_METADATA_CHARS:
        return None
    pairs: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if not key:
            continue
        value = value.strip()
        if not METADATA_KEY.fullmatch(key) or len(pairs) >= MAX_METADATA_PAIRS:
            return None
        try:
            decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
        pairs[key] = decoded.decode("utf-8", errors="replace")
    return pairs


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """Return `metadata` as an Upload-Metadata header."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
        for key, value in metadata.items()
    )


def number_header(request: Request, name: str) -> int | None:
    """Return header `name` as a non-negative whole number, None when absent; raise 400
    when it is something else."""
    value = request.headers.get(name)
    if value is None:
        return None
    if NUMBER.fullmatch(value.strip()) is None:
        raise refuse(400, f"{name} must be a whole number of bytes.")
    return int(value)


@dataclass(frozen=True)
class UploadEndpoint(Endpoint):
    """ASGI endpoint of the tus protocol, for admins, into one staging folder."""

    staging: Staging
    signer: TokenSigner
    is_admin: Callable[[str], bool]
    on_complete: Callable[[StagedUpload], object]  # its answer is not used
    base: str = ""  # the app's base URL path ('' or '/family'), for the Location answered
    idle_seconds: float = IDLE_SECONDS

    async def get_response(self, request: Request) -> Response:
        """Given a tus request, return its answer or raise an error status."""
        upload_id = request.path_params.get("id")
        allowed = CREATE_METHODS if upload_id is None else UPLOAD_METHODS
        if request.method not in allowed:
            raise refuse(405, "Method not allowed.", Allow=", ".join(allowed))
        if request.method == "OPTIONS":
            return self.options()
        self.check_version(request)
        user = self.check_token(request)
        try:
            if upload_id is None:
                return await self.create(request, user)
            upload = await anyio.to_thread.run_sync(self.staging.get, upload_id, user)
            if request.method == "HEAD":
                return await self.head(upload)
            if request.method == "PATCH":
                return await self.patch(request, upload)
            return await self.delete(upload)
        except StagingError as error:
            extra = (
                {"Upload_Offset": str(error.offset)} if isinstance(error, OffsetMismatch) else {}
            )
            raise refuse(STATUS.get(type(error), 507), str(error), **extra) from None

    def options(self) -> Response:
        """Return what this server supports (tus discovery; no token needed)."""
        headers = tus_headers(
            Tus_Version=TUS_VERSION,
            Tus_Extension=TUS_EXTENSIONS,
            Tus_Max_Size=str(self.staging.max_bytes),
        )
        return Response(status_code=204, headers=headers)

    @staticmethod
    def check_version(request: Request) -> None:
        """Raise 412 unless the request speaks tus 1.0.0."""
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise refuse(412, "This server speaks tus 1.0.0.", Tus_Version=TUS_VERSION)

    def check_token(self, request: Request) -> str:
        """Given a request, return the admin its upload token names, or raise 403."""
        try:
            grant = self.signer.verify(request.headers.get(UPLOAD_TOKEN_HEADER, ""))
        except InvalidToken:
            raise refuse(403, INVALID_LINK) from None
        if grant.scope != UPLOAD_SCOPE:
            raise refuse(403, INVALID_LINK)
        if not self.is_admin(grant.user):
            raise refuse(403, NOT_ADMIN)
        return grant.user

    async def create(self, request: Request, user: str) -> Response:
        """Make an upload from the request's Upload-Length and Upload-Metadata; return 201
        with its URL."""
        if "Upload-Defer-Length" in request.headers:
            raise refuse(400, "Upload-Defer-Length is not supported; send Upload-Length.")
        length = number_header(request, "Upload-Length")
        if length is None:
            raise refuse(400, "Upload-Length is required.")
        metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        if metadata is None:
            raise refuse(400, "Upload-Metadata must be comma-separated `key base64value` pairs.")
        if not metadata.get("filename"):
            raise refuse(400, "Upload-Metadata must name the file (filename).")
        await anyio.to_thread.run_sync(self.staging.sweep_if_due)
        upload = await anyio.to_thread.run_sync(self.staging.create, user, length, metadata)
        log.info("upload %s: %s sends %r, %d bytes", upload.id, user, upload.filename, length)
        if upload.complete:  # an empty file: nothing will be sent
            self.hand_off(upload)
        # Beside the creation URL as the browser asked for it, so any base path is kept.
        where = f"{self.base.rstrip('/')}{UPLOAD_PREFIX}/" if self.base else request.url.path
        location = f"{where.rstrip('/')}/{upload.id}"
        return Response(
            status_code=201,
            headers=tus_headers(Location=location, **self.expiry(upload)),
        )

    async def head(self, upload: StagedUpload) -> Response:
        """Return how far `upload` got."""
        offset = await anyio.to_thread.run_sync(self.staging.offset, upload)
        headers = tus_headers(
            Upload_Offset=str(offset),
            Upload_Length=str(upload.length),
            **self.expiry(upload),
        )
        if upload.metadata:
            headers["Upload-Metadata"] = encode_metadata(upload.metadata)
        return Response(status_code=200, headers=headers)

    async def patch(self, request: Request, upload: StagedUpload) -> Response:
        """Append the request's body to `upload` from its Upload-Offset; return 204 with the
        new offset."""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != OFFSET_STREAM:
            raise refuse(415, f"A PATCH sends its bytes as {OFFSET_STREAM}.")
        offset = number_header(request, "Upload-Offset")
        if offset is None:
            raise refuse(400, "Upload-Offset is required.")
        declared = number_header(request, "Content-Length")
        if declared is not None and offset + declared > upload.length:
            raise TooLong("This request sends more bytes than the file has (Upload-Length).")
        writer = await anyio.to_thread.run_sync(self.staging.writer, upload, offset)
        try:
            went = await self.receive_into(request, writer)
        finally:
            with anyio.CancelScope(shield=True):  # the upload is let go even on shutdown
                upload = await anyio.to_thread.run_sync(writer.close)
        if writer.completed:
            log.info("upload %s: complete, %d bytes", upload.id, upload.length)
            self.hand_off(upload)
        headers = tus_headers(Upload_Offset=str(writer.offset), **self.expiry(upload))
        if went == "stalled":
            raise HTTPException(408, f"No bytes arrived for {self.idle_seconds:g} s.", headers)
        return Response(status_code=204, headers=headers)

    async def receive_into(self, request: Request, writer: UploadWriter) -> Ending:
        """Stream the request's body into `writer`, WRITE_BYTES at a time in a worker thread;
        return 'done', 'gone' (the client disconnected) or 'stalled' (nothing arrived for
        `idle_seconds`). Raise TooLong, writing nothing past the length, if it is longer."""
        left = writer.upload.length - writer.offset
        pending = bytearray()
        chunks = request.stream().__aiter__()
        went: Ending = "done"
        try:
            while True:
                with anyio.move_on_after(self.idle_seconds) as idle:
                    chunk = await anext(chunks, None)
                if idle.cancelled_caught:
                    went = "stalled"
                    break
                if chunk is None:
                    break
                if len(pending) + len(chunk) > left:
                    await anyio.to_thread.run_sync(writer.write, pending)
                    raise TooLong("This request sends more bytes than the file has.")
                pending += chunk
                if len(pending) >= WRITE_BYTES:
                    await anyio.to_thread.run_sync(writer.write, pending)
                    left -= len(pending)
                    pending = bytearray()
        except ClientDisconnect:
            went = "gone"
        if pending:
            await anyio.to_thread.run_sync(writer.write, pending)
        if went != "done":
            log.info(
                "upload %s: the PATCH stopped (%s) at byte %d",
                writer.upload.id,
                went,
                writer.offset,
            )
        return went

    async def delete(self, upload: StagedUpload) -> Response:
        """Cancel `upload`: its files go (tus termination); return 204."""
        if upload.complete:
            raise refuse(
                409, "This file has arrived whole and is being converted; cancel its job instead."
            )
        await anyio.to_thread.run_sync(self.staging.remove, upload.id)
        log.info("upload %s: cancelled", upload.id)
        return Response(status_code=204, headers=tus_headers())

    @staticmethod
    def expiry(upload: StagedUpload) -> dict[str, str]:
        """Return the Upload-Expires header of an unfinished upload (a whole one waits for
        its consumer, not for a clock)."""
        return {} if upload.complete else {"Upload_Expires": http_date(upload.expires)}

    def hand_off(self, upload: StagedUpload) -> None:
        """Call `on_complete(upload)` in a thread of its own (it may take minutes)."""
        threading.Thread(
            target=self.consume, args=(upload,), name=f"upload-{upload.id}", daemon=True
        ).start()

    def consume(self, upload: StagedUpload) -> None:
        try:
            self.on_complete(upload)
        except Exception:
            log.exception("upload %s: handing it off failed", upload.id)


def upload_routes(endpoint: UploadEndpoint) -> list[Route]:
    """Return the tus routes through `endpoint`: POST /upload/ and /upload/<id>."""
    return [
        Route(UPLOAD_PREFIX + "/", endpoint),
        Route(UPLOAD_PREFIX + "/{id}", endpoint),
    ]
