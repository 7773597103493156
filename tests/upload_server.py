"""The upload route served alone by uvicorn in a child process, and a small tus client for it.

The tests of uploads and `bench.browser_upload` use it to see the route as a browser does (a
real socket, a connection that drops) and to read the server's own memory and CPU time.

    python -m tests.upload_server --staging DIR --completions FILE [--max-bytes N] [--idle S]

prints its port on the first line of its output, then serves until terminated. Its
`on_complete` appends one JSON line per finished upload to FILE: the upload's id, length
and metadata, and `at`, the time it was called.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.staging import UPLOAD_SCOPE, StagedUpload, Staging
from lib.tokens import TokenSigner, derive_key

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
SECRET = "a long secret the upload tests sign their tokens with, 0123456789"
SIGNER = TokenSigner(derive_key(SECRET, "homemovies upload v1"))
MEDIA_SIGNER = TokenSigner(derive_key(SECRET, "homemovies media token v1"))  # share links'
ADMINS = frozenset({"admin", "ann"})
VIEWER = "viewer"


def upload_token(user: str = "admin", signer: TokenSigner = SIGNER, ttl: int = 3600) -> str:
    """Return an upload token for `user` (signed by `signer`: another key makes a forgery)."""
    return signer.issue(UPLOAD_SCOPE, user, ttl)


def tus(token: str | None = None, **extra: str) -> dict[str, str]:
    """Return the headers of a tus request carrying `token`, plus `extra` (underscores
    become dashes: Upload_Offset)."""
    headers = {"Tus-Resumable": "1.0.0"}
    if token is not None:
        headers["X-Homemovies-Upload"] = token
    headers.update({name.replace("_", "-"): value for name, value in extra.items()})
    return headers


def pattern(size: int, piece: int = MIB, seed: int = 7) -> Iterator[bytes]:
    """Yield `size` bytes that look random, `piece` at a time, never holding more than one
    piece: one random block with the piece's number in front."""
    block = random.Random(seed).randbytes(max(piece, 8))
    sent, number = 0, 0
    while sent < size:
        count = min(piece, size - sent)
        yield (number.to_bytes(8, "big") + block[8:count])[:count]
        sent += count
        number += 1


@dataclass
class Answer:
    """A tus answer: its status and headers (lower-cased names)."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


class TusClient:
    """A tus client on one keep-alive connection to 127.0.0.1:`port`, as a browser's."""

    def __init__(self, port: int, token: str, timeout: float = 60) -> None:
        self.port = port
        self.token = token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def close(self) -> None:
        self.connection.close()

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        all_headers = {**tus(self.token), **(headers or {})}
        self.connection.request(method, path, body=body, headers=all_headers)
        return self.answer()

    def answer(self) -> Answer:
        response = self.connection.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def create(self, length: int, filename: str = "film.mov", **metadata: str) -> str:
        """Make an upload of `length` bytes; return its path (the Location answered)."""
        pairs = {"filename": filename, **metadata}
        answer = self.request(
            "POST",
            "/upload/",
            {"Upload-Length": str(length), "Upload-Metadata": encode(pairs)},
        )
        if answer.status != 201:
            raise AssertionError(f"creation answered {answer.status}: {answer.body!r}")
        return answer.headers["location"]

    def offset(self, path: str) -> int:
        answer = self.request("HEAD", path)
        if answer.status != 200:
            raise AssertionError(f"HEAD answered {answer.status}")
        return int(answer.headers["upload-offset"])

    def send_patch(self, path: str, offset: int, length: int, pieces: Iterable[bytes]) -> None:
        """Send the headers of a PATCH of `length` bytes from `offset`, then `pieces` as they
        come (the caller reads the answer with `answer()`, or drops the connection)."""
        connection = self.connection
        connection.putrequest("PATCH", path, skip_accept_encoding=True)
        headers = tus(
            self.token,
            Upload_Offset=str(offset),
            Content_Type="application/offset+octet-stream",
            Content_Length=str(length),
        )
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        for piece in pieces:
            connection.send(piece)

    def patch(self, path: str, offset: int, length: int, pieces: Iterable[bytes]) -> Answer:
        self.send_patch(path, offset, length, pieces)
        return self.answer()

    def drop(self) -> None:
        """Close the connection at once, as a phone losing its signal (the next request
        opens a new one)."""
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def encode(metadata: Mapping[str, str]) -> str:
    """Return `metadata` as an Upload-Metadata header, as tus-js-client writes it."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in metadata.items()
    )


# ----- the child process -----


@dataclass
class UploadServer:
    """The route served by `python -m tests.upload_server` in a child process."""

    process: subprocess.Popen[str]
    port: int
    staging: Path
    completions_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, user: str = "admin") -> TusClient:
        return TusClient(self.port, upload_token(user))

    def completions(self) -> list[dict[str, object]]:
        """Return what `on_complete` was called with so far, in order."""
        if not self.completions_path.exists():
            return []
        lines = self.completions_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def completion(self, upload_id: str, timeout: float = 30) -> dict[str, object]:
        """Wait until `on_complete` has been called for `upload_id`; return what it got."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen in self.completions():
                if seen["id"] == upload_id:
                    return seen
            if self.process.poll() is not None:
                raise RuntimeError(f"the upload server exited with {self.process.returncode}")
            time.sleep(0.01)
        raise AssertionError(f"on_complete was not called for {upload_id} within {timeout} s")


@contextlib.contextmanager
def upload_server(
    staging: Path,
    max_bytes: int = 8 * 10**9,
    idle_seconds: float = 60.0,
    http: str = "auto",
) -> Iterator[UploadServer]:
    """Serve the upload route into `staging` in a child process for the block's duration."""
    completions = staging.parent / f"{staging.name}-completions.jsonl"
    command = [
        sys.executable,
        "-m",
        "tests.upload_server",
        "--staging",
        str(staging),
        "--completions",
        str(completions),
        "--max-bytes",
        str(max_bytes),
        "--idle",
        str(idle_seconds),
        "--http",
        http,
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the port, once the socket listens
        if not line.strip().isdigit():
            raise RuntimeError(f"the upload server did not start (exit {process.wait(10)})")
        yield UploadServer(process, int(line), staging, completions)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RssSampler:
    """Samples the resident memory of process `pid` every `every` seconds in a thread."""

    def __init__(self, pid: int, every: float = 0.01) -> None:
        self.pid = pid
        self.every = every
        self.first = rss_bytes(pid)
        self.peak = self.first
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_bytes(self.pid))
                self.samples += 1

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.first


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process `pid` (psutil's figure), read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def serve(argv: list[str] | None = None) -> None:
    """Serve the upload route (the child process's main)."""
    import logging

    import uvicorn
    from starlette.applications import Starlette

    from lib.web.uploads import UploadEndpoint, upload_routes

    parser = argparse.ArgumentParser(description="the upload route alone, for tests")
    parser.add_argument("--staging", type=Path, required=True)
    parser.add_argument("--completions", type=Path, required=True)
    parser.add_argument("--max-bytes", type=int, default=8 * 10**9)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    lock = threading.Lock()

    def on_complete(upload: StagedUpload) -> None:
        line = {
            "id": upload.id,
            "at": time.time(),
            "length": upload.length,
            "metadata": upload.metadata,
            "user": upload.user,
        }
        with lock, args.completions.open("a") as out:
            out.write(json.dumps(line) + "\n")

    staging = Staging(args.staging, max_bytes=args.max_bytes)
    endpoint = UploadEndpoint(
        staging,
        SIGNER,
        is_admin=ADMINS.__contains__,
        on_complete=on_complete,
        idle_seconds=args.idle,
    )
    app = Starlette(routes=upload_routes(endpoint))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", http=args.http
    )
    server = uvicorn.Server(config)
    print(sock.getsockname()[1], flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    serve()
