"""A loopback HTTP server letting ffmpeg read storage objects by URL, with Range support.

ffprobe and ffmpeg open `http://127.0.0.1:PORT/SECRET/<name>` (the name percent-encoded, its
'/' kept, so an HLS playlist's relative URLs resolve beside it). The random SECRET keeps other
programs on the machine from reading the library through it. Each answer is read from storage
in windows (64 KiB, doubling up to 4 MiB), one `storage.read` each, into a socket with a small
send buffer: a window is asked for only once the previous one has gone to ffmpeg, so what is
read from storage stays close to what ffmpeg consumed, and no video is ever held whole.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote

from lib.storage import NotFound, Storage, StorageError, is_safe_name

# Measured with ffmpeg taking one frame after a seek: 256 KiB windows and a 128 KiB send
# buffer read ~1.5 MiB a seek, 64 KiB and 16 KiB (with ffmpeg's -recv_buffer_size 16384)
# one window, what it needed.
FIRST_WINDOW = 64 * 1024
MAX_WINDOW = 4 * 1024 * 1024
SEND_BUFFER = 16 * 1024
CLIENT_TIMEOUT = 60.0  # seconds a connection may sit idle (ffmpeg gone astray)
STOP_POLL_SECONDS = 0.05  # how soon stop() is noticed (serve_forever's default: 0.5 s)
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Given a Range header (or None) and an object's size, return the inclusive (start, end)
    to send; None when the range cannot be satisfied. Anything but one byte range is the
    whole object."""
    match = RANGE.fullmatch((header or "").strip())
    if match is None or not any(match.groups()):
        return (0, size - 1) if size else None
    first, last = match.groups()
    if not first:  # the last `last` bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


class RangeServer:
    """Serve one storage's objects to ffmpeg over loopback HTTP; count what it reads.

    Use as a context manager (or `start`/`stop`); `url(name)` is what ffmpeg opens.
    """

    def __init__(
        self,
        storage: Storage,
        first_window: int = FIRST_WINDOW,
        max_window: int = MAX_WINDOW,
        send_buffer: int = SEND_BUFFER,
    ) -> None:
        self.storage = storage
        self.first_window = first_window
        self.max_window = max_window
        self.send_buffer = send_buffer
        self.secret = secrets.token_urlsafe(24)
        self._lock = threading.Condition()
        self._active = 0  # requests being answered
        self._bytes = 0
        self._failure: StorageError | None = None
        self._sizes: dict[str, int] = {}
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----

    def start(self) -> RangeServer:
        """Listen on 127.0.0.1 and a port the OS picks, serving from a thread."""
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            name="homemovies-range-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections still open end with their requests)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._httpd = self._thread = None

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- what the indexer asks -----

    @property
    def base(self) -> str:
        """The URL every object's URL starts with (it holds the secret: never log it)."""
        if self._httpd is None:
            raise RuntimeError("the range server is not started")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}/{self.secret}/"

    def url(self, name: str) -> str:
        """Return the URL ffmpeg reads object `name` at."""
        return self.base + quote(name, safe="/")

    def scrub(self, text: str) -> str:
        """Return `text` (ffmpeg's complaint, say) with this server's URLs made object names."""
        return text.replace(self.base, "") if self._httpd is not None else text

    def reset(self) -> None:
        """Start counting afresh for the next title: bytes, failures and known sizes."""
        with self._lock:
            self._bytes = 0
            self._failure = None
            self._sizes.clear()

    @property
    def bytes_read(self) -> int:
        """Bytes read from storage since the last reset."""
        with self._lock:
            return self._bytes

    @property
    def failure(self) -> StorageError | None:
        """The first storage error (other than NotFound) since the last reset, if any: what
        made ffmpeg fail was then storage, not the bytes."""
        with self._lock:
            return self._failure

    def settled_failure(self, timeout: float = 120.0) -> StorageError | None:
        """`failure`, once no request is being answered (up to `timeout` s): ffmpeg may give
        up on a request while storage is still retrying it."""
        with self._lock:
            self._lock.wait_for(lambda: self._active == 0, timeout)
            return self._failure

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Count a request as being answered for the duration of the block."""
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end of object `name` from storage, counted, in windows."""
        window = self.first_window
        offset = start
        while offset <= end:
            last = min(offset + window - 1, end)
            for chunk in self._window(name, offset, last):
                offset += len(chunk)
                yield chunk
            if offset <= last:
                return  # the object shrank while it was read: end here
            window = min(window * 2, self.max_window)

    def _window(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end of `name` from one storage read, counted."""
        chunks = self._guarded(self.storage.read, name, start, end)
        try:
            while (chunk := self._guarded(next, chunks, None)) is not None:
                with self._lock:
                    self._bytes += len(chunk)
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def read_small(self, name: str, limit: int) -> bytes | None:
        """Return the whole of object `name` (counted) when it holds 1..`limit` bytes, else
        None; raises NotFound or the storage's error."""
        size = self.size(name)
        if not 0 < size <= limit:
            return None
        return b"".join(self.read(name, 0, size - 1))

    def size(self, name: str) -> int:
        """Return object `name`'s size (asked once per title); raises NotFound or the
        storage's error."""
        with self._lock:
            known = self._sizes.get(name)
        if known is not None:
            return known
        size: int = self._guarded(self.storage.stat, name).size
        with self._lock:
            self._sizes[name] = size
        return size

    def _guarded(self, call: Callable[..., Any], *arguments: Any) -> Any:
        """Return `call(*arguments)`; remember a storage failure other than NotFound, then
        re-raise it."""
        try:
            return call(*arguments)
        except NotFound:
            raise
        except StorageError as error:
            with self._lock:
                if self._failure is None:
                    self._failure = error
            raise

    def name_of(self, path: str) -> str | None:
        """Given a request path, return the object it names, or None when it is not ours."""
        prefix = f"/{self.secret}/"
        if not hmac.compare_digest(path[: len(prefix)].encode(), prefix.encode()):
            return None
        name = unquote(path[len(prefix) :].split("?", 1)[0])
        return name if is_safe_name(name) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, owner: RangeServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # A small send buffer: bytes wait in storage, not in the kernel, until ffmpeg reads.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.owner.send_buffer)
        connection.settimeout(CLIENT_TIMEOUT)
        return connection, address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: request lines hold the secret and would only be noise."""

    def do_HEAD(self) -> None:
        self.answer(body=False)

    def do_GET(self) -> None:
        self.answer(body=True)

    def answer(self, body: bool) -> None:
        """Send the object the path names, or the part of it the Range header asks for."""
        with self.server.owner.answering():
            self.send_object(body)

    def send_object(self, body: bool) -> None:
        owner = self.server.owner
        name = owner.name_of(self.path)
        if name is None:
            self.fail(404)
            return
        try:
            size = owner.size(name)
            wanted = byte_range(self.headers.get("Range"), size)
            if wanted is None:
                self.fail(416, {"Content-Range": f"bytes */{size}"})
                return
            start, end = wanted
            chunks = owner.read(name, start, end) if body else iter(())
            # The first storage read comes before the status line: a storage that fails at
            # once gets an error status, not a body cut short.
            first = next(chunks, b"")
        except NotFound:
            self.fail(404)
            return
        except StorageError:
            self.fail(503)
            return
        partial = self.headers.get("Range") is not None
        self.send_response(206 if partial else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        try:
            self.wfile.write(first)
            for chunk in chunks:
                self.wfile.write(chunk)
        except (StorageError, OSError):
            # Storage failed (recorded) or ffmpeg went away (it seeks by hanging up): the
            # body cannot be completed, so the connection ends here.
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def fail(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # a client that hung up mid-request
            super().handle()
