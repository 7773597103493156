"""The media route: the Range-capable endpoint serving storage objects to holders of a token.

URL shape: /video/<token>/<object name, percent-encoded per segment> (lib/links.py makes
them). The token scopes the request to one object or one `.hls` folder, so a playlist's
relative segment names resolve inside the same grant.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

import anyio
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from lib.library import MAX_PLAYLIST_BYTES, PLAYLIST_SUFFIX
from lib.links import MEDIA_PREFIX
from lib.storage import NotFound, ObjectInfo, Storage, StorageError, is_safe_name
from lib.tokens import Grant, InvalidToken, TokenSigner
from lib.web.endpoint import Endpoint, error_response
from lib.web.headers import private_cache, response_headers

MAX_CACHE_SECONDS = 3600

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
UNAVAILABLE = "The video storage is not answering; try again shortly."

log = logging.getLogger("homemovies.media")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the object does not have."""


def content_type(name: str) -> str:
    """Return the Content-Type for an object name, by its extension."""
    dot = name.rfind(".")
    return (
        CONTENT_TYPES.get(name[dot:].lower(), DEFAULT_CONTENT_TYPE)
        if dot > 0
        else DEFAULT_CONTENT_TYPE
    )


_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.ASCII | re.IGNORECASE)
MAX_RANGE_DIGITS = 20  # more than any object size; longer numbers are not worth parsing


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Given a Range header and the object size, return the inclusive (start, end) to send.

    None means "send the whole object": no header, a unit other than bytes, a syntax we do
    not understand or several ranges (RFC 9110 lets a server ignore Range). Raises
    RangeNotSatisfiable when a well-formed single range lies outside the object. Only ASCII
    digits count: '²' or '١' are digits to str.isdigit() but not in a Range header.
    """
    match = _RANGE.fullmatch(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if len(first) > MAX_RANGE_DIGITS or len(last) > MAX_RANGE_DIGITS:
        raise RangeNotSatisfiable(header)
    if first == "":
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(header)
    return start, end


def range_applies(
    if_range: str | None, etag: str | None, modified: datetime | None, now: float
) -> bool:
    """Given an If-Range header, the object's ETag header and modification time and the time
    now, return whether its Range may be honoured (RFC 9110 13.1.5).

    A client resuming a download sends the validator of the copy it holds; if the object
    changed since (another ETag, another date), it gets the whole current object instead of a
    range of it, so two versions are never spliced. An entity-tag matches only strongly
    (never a weak one); a date only when it is the object's Last-Modified exactly, and that
    is at least a second old (a newer one could hide a change within the same second).
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return etag is not None and not value.startswith("W/") and value == etag
    if modified is None or now - modified.timestamp() < 1:
        return False
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return date == modified.replace(microsecond=0)


async def _stream(chunks: Iterator[bytes], name: str, length: int) -> AsyncIterator[bytes]:
    """Yield the `length` bytes read in a worker thread; always close the upstream read.

    Ending early (storage failed, or the file shrank while it was served) raises StreamCut:
    the Content-Length has been promised, so the connection must close instead.
    """
    sent = 0
    try:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            sent += len(chunk)
            yield chunk
            del chunk  # let the sent chunk go before the next read: one chunk per client
    except StorageError as error:
        # Bytes are already on the wire: all we can honestly do is stop.
        log.warning("read of %r failed mid-stream: %s", name, error)
        raise StreamCut from None
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if sent < length:
        log.warning("%r ended %d bytes early (changed while served)", name, length - sent)
        raise StreamCut


class StreamCut(Exception):
    """Storage failed after the headers were sent: the response cannot be completed."""


class MediaStream(StreamingResponse):
    """A streamed object that holds about one chunk per client however slowly it reads, and
    is left unfinished when storage fails mid-body: the server then closes the connection
    and the client sees a short body, instead of the server failing on a body shorter than
    its Content-Length."""

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        with contextlib.suppress(StreamCut):
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                del chunk
                # An empty body returns once the server has handed the chunk to the socket
                # (ASGI back-pressure), so the next chunk is read only then, not while the
                # previous one still waits in the server's buffer.
                await send({"type": "http.response.body", "body": b"", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass(frozen=True)
class MediaEndpoint(Endpoint):
    """ASGI endpoint serving storage objects to holders of a valid token."""

    storage: Storage
    signer: TokenSigner
    is_active_user: Callable[[str], bool] = lambda user: True
    clock: Callable[[], float] = time.time
    # --delivery par: (token scope, object name) -> a URL serving it directly, or None to proxy.
    direct: Callable[[str, str], str] | None = None

    async def get_response(self, request: Request) -> Response:
        """Given a request, return the response: the bytes asked for, or an error status."""
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(405, "Method not allowed", {"Allow": "GET, HEAD"})
        grant = self.check_token(request.path_params.get("token", ""))
        await self.check_holder(grant)
        name = self.check_name(request.path_params.get("path", ""), grant)
        if self.direct is not None and request.query_params.get("download") != "1":
            return await self.redirect(grant, name)
        info = await self.lookup(name)
        return await self.object_response(request, info, grant)

    def check_token(self, token: str) -> Grant:
        """Given the URL's token, return its grant or raise 403."""
        try:
            grant = self.signer.verify(token)
        except InvalidToken:
            raise HTTPException(403, "This video link is invalid or has expired.") from None
        return grant

    async def check_holder(self, grant: Grant) -> None:
        """Raise 403 unless the grant's holder (a user, or a share link) may still watch.

        Asked in a worker thread: a share link's holder is checked against storage.
        """
        if not await anyio.to_thread.run_sync(self.is_active_user, grant.user):
            raise HTTPException(403, "This video link is invalid or has expired.")

    def check_name(self, name: str, grant: Grant) -> str:
        """Given the decoded path, return it as an object name inside the grant or raise 404."""
        if not is_safe_name(name) or not grant.covers(name):
            raise HTTPException(404, "Not found.")
        return name

    async def lookup(self, name: str) -> ObjectInfo:
        """Given an object name, return its info or raise 404 (or 503 if storage is down)."""
        try:
            return await anyio.to_thread.run_sync(self.storage.stat, name)
        except NotFound:
            raise HTTPException(404, "Not found.") from None
        except StorageError as error:
            log.warning("stat of %r failed: %s", name, error)
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "5"}) from None

    async def redirect(self, grant: Grant, name: str) -> Response:
        """Return a 302 to a URL serving `name` directly (a pre-authenticated request)."""
        assert self.direct is not None, "redirects only with --delivery par"
        try:
            url = await anyio.to_thread.run_sync(self.direct, grant.scope, name)
        except StorageError as error:
            log.warning("direct link for %r failed: %s", name, error)
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "5"}) from None
        return RedirectResponse(url, status_code=302, headers=response_headers())

    def headers(self, info: ObjectInfo, grant: Grant) -> dict[str, str]:
        """Return the headers every successful media response carries."""
        max_age = max(0, min(MAX_CACHE_SECONDS, int(grant.expires - self.clock())))
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Type": content_type(info.name),
            **response_headers(private_cache(max_age)),
        }
        if info.modified is not None:
            headers["Last-Modified"] = format_datetime(info.modified, usegmt=True)
        if info.etag:
            headers["ETag"] = f'"{info.etag.strip(chr(34))}"'
        return headers

    async def object_response(self, request: Request, info: ObjectInfo, grant: Grant) -> Response:
        """Return a 200/206/416 response streaming the requested bytes of `info`."""
        if info.name.endswith(PLAYLIST_SUFFIX) and info.size > MAX_PLAYLIST_BYTES:
            # Hours of video list in well under a megabyte; this one would only choke a player.
            log.warning("refused to serve %r: a %d-byte playlist", info.name, info.size)
            raise HTTPException(422, "This playlist is too large to be a video's.")
        headers = self.headers(info, grant)
        if request.query_params.get("download") == "1":
            filename = info.name.rsplit("/", 1)[-1]
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        asked = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if not range_applies(if_range, headers.get("ETag"), info.modified, self.clock()):
            asked = None  # the client's copy is of another version: send the whole object
        try:
            byte_range = parse_range(asked, info.size)
        except RangeNotSatisfiable:
            headers["Content-Range"] = f"bytes */{info.size}"
            return Response(status_code=416, headers=headers)
        status = 200
        start, end = 0, info.size - 1
        if byte_range is not None:
            status = 206
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        headers["Content-Length"] = str(max(end - start + 1, 0))
        if request.method == "HEAD" or info.size == 0:
            return Response(status_code=status, headers=headers)
        try:
            chunks = await anyio.to_thread.run_sync(self.storage.read, info.name, start, end)
        except NotFound:
            raise HTTPException(404, "Not found.") from None
        except StorageError as error:
            log.warning("read of %r failed: %s", info.name, error)
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "5"}) from None
        return MediaStream(
            _stream(chunks, info.name, end - start + 1), status_code=status, headers=headers
        )


class IdentityEncoding:
    """ASGI middleware keeping media uncompressed: Streamlit's gzip layer wraps custom routes,
    so Accept-Encoding is dropped from media requests before it can see them."""

    def __init__(self, app: ASGIApp, prefix: str = MEDIA_PREFIX + "/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


class NoMedia:
    """Anything under the prefix that is not /video/<token>/<name>: 404, with our headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(404, "Not found.")(scope, receive, send)


class WholePathConvertor(PathConvertor):
    """Starlette's `path`, but crossing newlines: with `.*`, a name ending in a decoded %0A
    matched without it (`$` matches before a final newline) and one with a newline inside
    matched no route, so the router answered with a redirect instead of our 404."""

    regex = "(?s:.*)"


def media_routes(endpoint: MediaEndpoint) -> list[Route]:
    """Return the Starlette routes serving media through `endpoint`.

    Every method reaches the endpoint (it answers 405 itself), so even refusals carry its
    headers; so does a malformed path below the prefix.
    """
    # Starlette keeps convertors in one registry; registering ours again is harmless.
    register_url_convertor("wholepath", WholePathConvertor())
    return [
        Route(MEDIA_PREFIX + "/{token}/{path:wholepath}", endpoint),
        Route(MEDIA_PREFIX + "/{rest:wholepath}", NoMedia()),
    ]
