"""A loopback OCI API server for the tests: Object Storage, Vault and Secrets.

It speaks the subset of OCI's native REST API the app uses, with OCI's JSON shapes and
headers, checks every signed request's draft-cavage HTTP signature (RSA-SHA256) against the
public keys the tests register, counts requests, and injects faults on demand. Runs in a
thread (uvicorn) on 127.0.0.1 and a port the OS picks.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# Object bodies go out in 1 MiB pieces. OCI's servers do not share the app's CPUs, so this
# stand-in should take as little of them as it can: with 256 KiB pieces it hopped threads
# 4,096 times per GiB and cost 0.6-0.9 CPU s/GiB, more than the app it was serving.
CHUNK = 1024 * 1024
MAX_LIMIT = 1000
MAX_CLOCK_SKEW = timedelta(minutes=5)
LIST_FIELDS = {
    "name",
    "size",
    "etag",
    "timecreated",
    "md5",
    "timemodified",
    "storagetier",
    "archivalstate",
}
FIELD_NAMES = {
    "timecreated": "timeCreated",
    "timemodified": "timeModified",
    "storagetier": "storageTier",
    "archivalstate": "archivalState",
}
PAR_ACCESS_TYPES = {
    "ObjectRead",
    "ObjectWrite",
    "ObjectReadWrite",
    "AnyObjectWrite",
    "AnyObjectRead",
    "AnyObjectReadWrite",
}
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST,PUT,GET,HEAD,DELETE,OPTIONS",
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "accept-ranges,access-control-allow-credentials,"
    "access-control-allow-methods,access-control-allow-origin,content-length,content-md5,"
    "content-range,content-type,date,etag,last-modified,opc-client-request-id,opc-request-id",
}
BODY_SIGNED = ("content-length", "content-type", "x-content-sha256")
# PutObject and UploadPart: the two requests whose body OCI does not have signed.
UNSIGNED_BODY = re.compile(r"/n/[^/]+/b/[^/]+/[ou]/")
STORAGE_TIERS = {"Standard", "InfrequentAccess", "Archive"}
MAX_PART_NUMBER = 10_000


def iso(moment: datetime) -> str:
    """OCI's timestamp format: RFC 3339 in UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_id() -> str:
    return secrets.token_hex(16).upper()


@dataclass
class StoredObject:
    """An object: bytes in memory, a file on disk streamed in chunks, or (with neither)
    `size` zero bytes generated on reading."""

    name: str
    size: int
    etag: str
    md5: str
    modified: datetime
    created: datetime
    data: bytes | None = None
    path: Path | None = None
    content_type: str = "application/octet-stream"
    tier: str = "Standard"
    # Set for an object committed from parts, which OCI reports instead of a content MD5.
    multipart_md5: str = ""

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end inclusive."""
        if self.data is not None:
            for offset in range(start, end + 1, CHUNK):
                yield self.data[offset : min(offset + CHUNK, end + 1)]
            return
        if self.path is None:
            for offset in range(start, end + 1, CHUNK):
                yield bytes(min(CHUNK, end + 1 - offset))
            return
        with self.path.open("rb") as handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk


@dataclass
class Par:
    """A pre-authenticated request."""

    id: str
    token: str
    name: str
    access_type: str
    object_name: str | None
    bucket_listing_action: str | None
    expires: datetime
    created: datetime


@dataclass
class Part:
    """One uploaded part of a multipart upload, kept in a file."""

    number: int
    path: Path
    size: int
    md5: bytes  # raw
    etag: str
    modified: datetime


@dataclass
class MultipartUpload:
    """A multipart upload between its create and its commit or abort."""

    id: str
    name: str
    content_type: str
    tier: str
    created: datetime
    parts: dict[int, Part] = field(default_factory=dict)

    def summary(self, namespace: str, bucket: str) -> dict:
        return {
            "namespace": namespace,
            "bucket": bucket,
            "object": self.name,
            "uploadId": self.id,
            "timeCreated": iso(self.created),
            "storageTier": self.tier,
        }


@dataclass
class Bucket:
    name: str
    objects: dict[str, StoredObject] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # sorted, for listing
    pars: dict[str, Par] = field(default_factory=dict)
    uploads: dict[str, MultipartUpload] = field(default_factory=dict)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def put(self, stored: StoredObject) -> None:
        if stored.name not in self.objects:
            bisect.insort(self.names, stored.name)
        self.objects[stored.name] = stored

    def put_many(self, stored: Iterable[StoredObject]) -> None:
        """Add many objects at once: one sort instead of an insertion each."""
        self.objects.update((item.name, item) for item in stored)
        self.names = sorted(self.objects)

    def remove(self, name: str) -> None:
        del self.objects[name]
        self.names.pop(bisect.bisect_left(self.names, name))


@dataclass
class Secret:
    """A Vault secret with its current content."""

    id: str
    name: str
    compartment_id: str
    content: bytes
    lifecycle_state: str = "ACTIVE"
    vault_id: str = "ocid1.vault.oc1..loopback"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Seen:
    """One request as the server received it, and how its answer went."""

    method: str
    path: str
    query: dict[str, str]
    status: int  # 0: the connection was reset without an answer
    signed_by: str | None
    body_bytes: int = 0  # response body bytes handed to the connection
    disconnected: bool = False  # the client went away before the answer was complete
    request_bytes: int = 0  # request body bytes received


@dataclass
class Body:
    """A request body as received: in memory, or (a PutObject or UploadPart) in a file, so
    big uploads stay off the heap."""

    size: int
    md5: bytes  # raw
    sha256: bytes | None = None  # only when the request has an x-content-sha256 header
    data: bytes | None = None
    path: Path | None = None

    @property
    def md5_text(self) -> str:
        return base64.b64encode(self.md5).decode("ascii")

    def take(self) -> Path:
        """Hand the spooled file over to whoever keeps it (it is then not deleted)."""
        assert self.path is not None
        path, self.path = self.path, None
        return path

    def bytes(self) -> bytes:
        """The body in memory (for small bodies only)."""
        if self.data is not None:
            return self.data
        return self.path.read_bytes() if self.path is not None else b""

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


@dataclass
class Fault:
    """Make the next `times` requests matching `method`, `path_contains` and `query` misbehave.

    kind: 'status' (answer `status`), 'slow' (wait `delay` seconds before answering),
    'drop' (send the headers and `after_bytes` of the body, then cut the connection),
    'reset' (take the whole request, then close the connection without an answer).
    """

    kind: str
    method: str = "GET"
    path_contains: str = ""
    query: dict[str, str] = field(default_factory=dict)  # must all be in the request's query
    times: int = 1
    status: int = 500
    delay: float = 0.0
    after_bytes: int = 1024
    hits: int = 0

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        return (
            self.times > 0
            and method == self.method
            and self.path_contains in path
            and self.query.items() <= query.items()
        )


class ConnectionDropped(Exception):
    """Raised inside a streamed body to make the server cut the connection."""


ERROR_CODES = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    404: "NotAuthorizedOrNotFound",
    409: "Conflict",
    416: "InvalidRange",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


def oci_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An error the way OCI answers: JSON {code, message} and an opc-request-id."""
    return JSONResponse(
        {"code": code or ERROR_CODES.get(status, "Error"), "message": message},
        status_code=status,
        headers={"opc-request-id": request_id()},
    )


class OciApiServer:
    """The loopback server: state (buckets, secrets, keys), faults, request log, HTTP app."""

    def __init__(self, namespace: str = "loopbackns") -> None:
        self.namespace = namespace
        # Uploaded bodies larger than a chunk, parts and committed multipart objects.
        self.spool = Path(tempfile.mkdtemp(prefix="loopback-oci-"))
        self.buckets: dict[str, Bucket] = {}
        self.secrets: list[Secret] = []
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.secret_page_size = 2  # small, so every Vault listing is paginated
        self.upload_page_size = MAX_LIMIT  # a test makes it small to page multipart uploads
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/n", self.get_namespace, methods=["GET"]),
                Route("/n/", self.get_namespace, methods=["GET"]),
                Route("/n/{ns}/b/{bucket}", self.get_bucket, methods=["GET"]),
                Route("/n/{ns}/b/{bucket}/o", self.list_objects, methods=["GET"]),
                Route(
                    "/n/{ns}/b/{bucket}/o/{name:path}",
                    self.object,
                    methods=["GET", "HEAD", "PUT", "DELETE"],
                ),
                Route("/n/{ns}/b/{bucket}/u", self.multipart_uploads, methods=["GET", "POST"]),
                Route(
                    "/n/{ns}/b/{bucket}/u/{name:path}",
                    self.multipart_upload,
                    methods=["GET", "PUT", "POST", "DELETE"],
                ),
                Route("/n/{ns}/b/{bucket}/p", self.pars, methods=["GET", "POST"]),
                Route("/n/{ns}/b/{bucket}/p/{par_id:path}", self.delete_par, methods=["DELETE"]),
                Route(
                    "/p/{token}/n/{ns}/b/{bucket}/o/{name:path}",
                    self.par_read,
                    methods=["GET", "HEAD"],
                ),
                Route("/20180608/secrets", self.list_secrets, methods=["GET"]),
                Route("/20190301/secretbundles/{secret_id}", self.secret_bundle, methods=["GET"]),
            ]
        )

    # ----- lifecycle -----

    def start(self) -> OciApiServer:
        config = uvicorn.Config(
            self.asgi,
            host="127.0.0.1",
            port=0,
            log_level="critical",  # the injected connection drops would log tracebacks
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback OCI server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        shutil.rmtree(self.spool, ignore_errors=True)

    # ----- what the tests arrange -----

    def add_key(self, key_id: str, public_key: rsa.RSAPublicKey) -> None:
        self.keys[key_id] = public_key

    def bucket(self, name: str) -> Bucket:
        with self._lock:
            return self.buckets.setdefault(name, Bucket(name))

    def store(self, bucket: str, stored: StoredObject) -> StoredObject:
        with self._lock:
            target = self.bucket(bucket)
            replaced = target.objects.get(stored.name)
            target.put(stored)
        if replaced is not None:
            self.discard(replaced)
        return stored

    def spool_file(self, suffix: str) -> Path:
        """A new empty file in the spool folder."""
        descriptor, name = tempfile.mkstemp(suffix=suffix, dir=self.spool)
        os.close(descriptor)
        return Path(name)

    def discard(self, stored: StoredObject) -> None:
        """Delete the file of an object that is gone, if this server made it."""
        if stored.path is not None and stored.path.parent == self.spool:
            stored.path.unlink(missing_ok=True)

    def put_bytes(self, bucket: str, name: str, data: bytes) -> StoredObject:
        now = datetime.now(UTC)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - OCI's field
        return self.store(
            bucket,
            StoredObject(name, len(data), str(uuid.uuid4()), md5, now, now, data=data),
        )

    def put_file(self, bucket: str, name: str, path: Path) -> StoredObject:
        """Serve `path` as object `name` without reading it into memory."""
        info = path.stat()
        modified = datetime.fromtimestamp(info.st_mtime, UTC)
        etag = hashlib.sha256(f"{path}:{info.st_mtime_ns}".encode()).hexdigest()[:32]
        return self.store(
            bucket, StoredObject(name, info.st_size, etag, "", modified, modified, path=path)
        )

    def put_generated(
        self,
        bucket: str,
        sizes: Iterable[tuple[str, int]],
        created: datetime | None = None,
        tier: str = "Standard",
    ) -> None:
        """Hold many (name, size) objects cheaply: no bytes kept, zeros generated on reading."""
        moment = created or datetime.now(UTC)
        batch = uuid.uuid4().hex[:16]
        stored = (
            StoredObject(name, size, f"{batch}{index:08x}", "", moment, moment, tier=tier)
            for index, (name, size) in enumerate(sizes)
        )
        with self._lock:
            self.bucket(bucket).put_many(stored)

    def put_folder(self, bucket: str, root: Path, prefix: str = "") -> None:
        """Serve every file below `root` as an object named by its relative path."""
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.put_file(bucket, prefix + path.relative_to(root).as_posix(), path)

    def add_secret(
        self, compartment_id: str, name: str, value: str, lifecycle_state: str = "ACTIVE"
    ) -> Secret:
        secret = Secret(
            id=f"ocid1.vaultsecret.oc1..{secrets.token_hex(8)}",
            name=name,
            compartment_id=compartment_id,
            content=value.encode("utf-8"),
            lifecycle_state=lifecycle_state,
        )
        with self._lock:
            self.secrets.append(secret)
        return secret

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests(self, method: str | None = None, path_contains: str = "") -> list[Seen]:
        """The requests received so far (optionally only those matching)."""
        with self._lock:
            seen = list(self.seen)
        return [
            s for s in seen if (method is None or s.method == method) and path_contains in s.path
        ]

    def mark(self) -> int:
        """A position in the request log; `since(mark)` returns what came after it."""
        with self._lock:
            return len(self.seen)

    def since(self, mark: int) -> list[Seen]:
        with self._lock:
            return list(self.seen[mark:])

    # ----- the ASGI entry: log, authenticate, inject faults, route -----

    async def asgi(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = unquote(scope["raw_path"].decode("latin-1"))
        try:
            body = await self.read_body(request, path)
        except ClientDisconnect:
            return
        try:
            await self.answer(scope, receive, send, request, path, body)
        finally:
            body.discard()

    async def answer(self, scope, receive, send, request: Request, path: str, body: Body) -> None:
        """Given a request whose body has been read, check it, inject a fault or route it."""
        signed_by = None
        # PAR reads and the instance metadata service (/opc/v2) take no signature.
        anonymous = path.startswith(("/p/", "/opc/"))
        if not anonymous:
            signed_by, problem = self.verify_signature(request, body)
            if problem is not None:
                self.record(request, path, 401, None, body)
                await oci_error(401, problem)(scope, receive, send)
                return
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        fault = self.take_fault(request.method, path, query)
        if fault is not None and fault.kind == "status":
            self.record(request, path, fault.status, signed_by, body)
            response = oci_error(fault.status, "Injected fault.")
            if fault.status in (429, 503):
                response.headers["retry-after"] = "1"
            await response(scope, receive, send)
            return
        if fault is not None and fault.kind == "reset":
            self.record(request, path, 0, signed_by, body).disconnected = True
            await reset_connection(receive)
            return
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay)

        seen: Seen | None = None

        async def send_logged(message) -> None:
            nonlocal seen
            if message["type"] == "http.response.start":
                seen = self.record(request, path, message["status"], signed_by, body)
            elif message["type"] == "http.response.body" and seen is not None:
                seen.body_bytes += len(message.get("body", b""))
            await send(message)

        replayed = False

        async def replay():
            # The body was read for the signature check: hand it over once, then the
            # real channel (which reports the client's disconnect).
            nonlocal replayed
            if replayed:
                message = await receive()
                if message["type"] == "http.disconnect" and seen is not None:
                    seen.disconnected = True
                return message
            replayed = True
            return {"type": "http.request", "body": body.data or b"", "more_body": False}

        scope = {**scope, "homemovies.fault": fault, "homemovies.body": body}
        await self.app(scope, replay, send_logged)

    async def read_body(self, request: Request, path: str) -> Body:
        """Read the request's body: into memory, or for an unsigned upload into a file."""
        wants_sha256 = "x-content-sha256" in request.headers
        if request.method != "PUT" or not UNSIGNED_BODY.match(path):
            data = await request.body()
            sha256 = hashlib.sha256(data).digest() if wants_sha256 else None
            return Body(len(data), hashlib.md5(data).digest(), sha256, data=data)  # noqa: S324
        md5 = hashlib.md5()  # noqa: S324 - OCI's checksum
        sha256_hash = hashlib.sha256()
        body = Body(0, b"", path=self.spool_file(".body"))
        try:
            with body.path.open("wb") as handle:
                async for chunk in request.stream():
                    handle.write(chunk)
                    md5.update(chunk)
                    if wants_sha256:
                        sha256_hash.update(chunk)
                    body.size += len(chunk)
        except BaseException:
            body.discard()
            raise
        body.md5 = md5.digest()
        body.sha256 = sha256_hash.digest() if wants_sha256 else None
        return body

    def record(
        self,
        request: Request,
        path: str,
        status: int,
        signed_by: str | None,
        body: Body | None = None,
    ) -> Seen:
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        seen = Seen(request.method, path, query, status, signed_by)
        seen.request_bytes = body.size if body is not None else 0
        with self._lock:
            self.seen.append(seen)
        return seen

    def take_fault(self, method: str, path: str, query: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path, query):
                    fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def verify_signature(self, request: Request, body: Body) -> tuple[str | None, str | None]:
        """Check the request's draft-cavage signature; return (keyId, None) or (None, why)."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Signature "):
            return None, "The required information to complete authentication was not provided."
        params: dict[str, str] = {}
        for part in header[len("Signature ") :].split(","):
            key, _, value = part.strip().partition("=")
            params[key] = value.strip('"')
        if params.get("algorithm") != "rsa-sha256" or params.get("version", "1") != "1":
            return None, "Unsupported signature algorithm."
        signed = params.get("headers", "date").lower().split()
        required = {"(request-target)", "host"} | ({"x-date"} if "x-date" in signed else {"date"})
        method = request.method.lower()
        unsigned_body = method == "put" and UNSIGNED_BODY.match(request.url.path) is not None
        if method in ("post", "put", "patch") and not unsigned_body:
            required |= set(BODY_SIGNED)
        if not required <= set(signed):
            return None, f"Signed headers must include {' '.join(sorted(required))}."
        public_key = self.keys.get(params.get("keyId", ""))
        if public_key is None:
            return None, "The key id is not known."
        date_text = request.headers.get("x-date") or request.headers.get("date", "")
        try:
            skew = abs(datetime.now(UTC) - parsedate_to_datetime(date_text))
        except (TypeError, ValueError):
            return None, "The date header is missing or malformed."
        if skew > MAX_CLOCK_SKEW:
            return None, "The date header is too far from the server's clock."
        if "x-content-sha256" in signed:
            digest = base64.b64encode(body.sha256 or b"").decode()
            if request.headers.get("x-content-sha256") != digest:
                return None, "x-content-sha256 does not match the body."
            if request.headers.get("content-length", "0") != str(body.size):
                return None, "content-length does not match the body."
        target = request.scope["raw_path"].decode("latin-1")
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        lines = []
        for name in signed:
            if name == "(request-target)":
                lines.append(f"(request-target): {method} {target}")
            elif name in request.headers:
                lines.append(f"{name}: {request.headers[name]}")
            else:
                return None, f"The signed header {name} is missing."
        try:
            public_key.verify(
                base64.b64decode(params.get("signature", "")),
                "\n".join(lines).encode("utf-8"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return None, "The signature does not verify."
        return params["keyId"], None

    # ----- Object Storage -----

    def find_bucket(self, request: Request) -> Bucket | Response:
        if request.path_params["ns"] != self.namespace:
            return oci_error(
                404,
                "You do not have authorization to perform this request, or the "
                "requested resource could not be found.",
            )
        name = request.path_params["bucket"]
        with self._lock:
            bucket = self.buckets.get(name)
        if bucket is None:
            return oci_error(
                404,
                f"Either the bucket named '{name}' does not exist in the namespace "
                f"'{self.namespace}' or you are not authorized to access it",
                "BucketNotFound",
            )
        return bucket

    async def get_namespace(self, request: Request) -> Response:
        return JSONResponse(self.namespace, headers={"opc-request-id": request_id()})

    async def get_bucket(self, request: Request) -> Response:
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        fields = {f.strip().lower() for f in request.query_params.get("fields", "").split(",")}
        with self._lock:
            objects = list(bucket.objects.values())
        etag = hashlib.sha256(bucket.name.encode()).hexdigest()[:32]
        body = {
            "namespace": self.namespace,
            "name": bucket.name,
            "compartmentId": "ocid1.compartment.oc1..loopback",
            "metadata": {},
            "createdBy": "ocid1.user.oc1..loopback",
            "timeCreated": iso(bucket.created),
            "etag": etag,
            "publicAccessType": "NoPublicAccess",
            "storageTier": "Standard",
            "objectEventsEnabled": False,
            "freeformTags": {},
            "definedTags": {},
            "kmsKeyId": None,
            "objectLifecyclePolicyEtag": None,
            "approximateCount": len(objects) if "approximatecount" in fields else None,
            "approximateSize": sum(o.size for o in objects)
            if "approximatesize" in fields
            else None,
            "replicationEnabled": False,
            "isReadOnly": False,
            "id": f"ocid1.bucket.oc1..{etag[:16]}",
            "versioning": "Disabled",
            "autoTiering": "Disabled",
        }
        return JSONResponse(body, headers={"opc-request-id": request_id(), "etag": etag})

    async def list_objects(self, request: Request) -> Response:
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        query = request.query_params
        delimiter = query.get("delimiter")
        if delimiter not in (None, "/"):
            return oci_error(400, "Only '/' is a supported delimiter character at this time.")
        try:
            limit = int(query.get("limit", MAX_LIMIT))
        except ValueError:
            return oci_error(400, "The limit must be an integer.")
        if limit < 1:
            return oci_error(400, "The limit must be at least 1.")
        limit = min(limit, MAX_LIMIT)
        fields = {f.strip().lower() for f in query.get("fields", "name").split(",") if f.strip()}
        unknown = fields - LIST_FIELDS
        if unknown:
            return oci_error(400, f"Unknown field(s): {', '.join(sorted(unknown))}.")
        with self._lock:
            page = self.list_page(
                bucket,
                prefix=query.get("prefix", ""),
                start=query.get("start"),
                start_after=query.get("startAfter"),
                end=query.get("end"),
                delimiter=delimiter,
                limit=limit,
            )
        objects, prefixes, next_start = page
        body: dict = {"objects": [self.summary(o, fields) for o in objects]}
        if delimiter is not None:
            body["prefixes"] = prefixes
        if next_start is not None:
            body["nextStartWith"] = next_start
        return JSONResponse(body, headers={"opc-request-id": request_id()})

    @staticmethod
    def list_page(
        bucket: Bucket,
        prefix: str,
        start: str | None,
        start_after: str | None,
        end: str | None,
        delimiter: str | None,
        limit: int,
    ) -> tuple[list[StoredObject], list[str], str | None]:
        """One page in name order: up to `limit` objects and prefixes, and where to go on.

        A prefix counts as one entry and is not repeated on the next page: the next page
        starts at the first object name after everything under it.
        """
        names = bucket.names
        low = max(prefix, start or "")
        index = bisect.bisect_left(names, low)
        if start_after is not None:
            index = max(index, bisect.bisect_right(names, start_after))
        objects: list[StoredObject] = []
        prefixes: list[str] = []
        while index < len(names):
            name = names[index]
            if not name.startswith(prefix) or (end is not None and name >= end):
                break
            if len(objects) + len(prefixes) == limit:
                return objects, prefixes, name
            rest = name[len(prefix) :]
            cut = rest.find("/") if delimiter else -1
            if cut >= 0:
                common = prefix + rest[: cut + 1]
                prefixes.append(common)
                # Every name below `common` sorts before `common` with its '/' bumped to '0'.
                index = bisect.bisect_left(names, common[:-1] + "0", index)
                continue
            objects.append(bucket.objects[name])
            index += 1
        return objects, prefixes, None

    @staticmethod
    def summary(stored: StoredObject, fields: set[str]) -> dict:
        values = {
            "name": stored.name,
            "size": stored.size,
            "etag": stored.etag,
            "md5": stored.multipart_md5 or stored.md5 or None,
            "timecreated": iso(stored.created),
            "timemodified": iso(stored.modified),
            "storagetier": stored.tier,
            "archivalstate": None,
        }
        return {FIELD_NAMES.get(f, f): values[f] for f in sorted(fields | {"name"})}

    async def object(self, request: Request) -> Response:
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        name = request.path_params["name"]
        if request.method == "PUT":
            return self.put_object(bucket, name, request.scope["homemovies.body"], request)
        with self._lock:
            stored = bucket.objects.get(name)
            if stored is None:
                return oci_error(
                    404,
                    f"The object '{name}' was not found in the bucket '{bucket.name}'",
                    "ObjectNotFound",
                )
            reading = request.method != "DELETE"
            problem = precondition_problem(request.headers, stored, reading=reading)
            if problem is not None:
                return problem
            if not reading:
                bucket.remove(name)
        if request.method == "DELETE":
            self.discard(stored)
            return Response(status_code=204, headers={"opc-request-id": request_id()})
        return self.object_body(request, stored)

    def put_object(self, bucket: Bucket, name: str, body: Body, request: Request) -> Response:
        """PutObject: check the body's Content-MD5, keep the content type and storage tier,
        honour if-match and if-none-match: '*'."""
        problem = (
            md5_problem(request, body)
            or tier_problem(request.headers.get("storage-tier"))
            or write_condition_problem(request.headers)
        )
        if problem is not None:
            return problem
        now = datetime.now(UTC)
        stored = StoredObject(
            name,
            body.size,
            str(uuid.uuid4()),
            body.md5_text,
            now,
            now,
            content_type=request.headers.get("content-type", "application/octet-stream"),
            tier=request.headers.get("storage-tier", "Standard"),
        )
        if body.size <= CHUNK:
            stored.data = body.bytes()
        else:
            stored.path = body.take()
        with self._lock:  # the condition and the write as one step
            problem = precondition_problem(request.headers, bucket.objects.get(name))
            if problem is None:
                self.store(bucket.name, stored)
        if problem is not None:
            self.discard(stored)
            return problem
        return Response(
            status_code=200,
            headers={
                "opc-request-id": request_id(),
                "etag": stored.etag,
                "last-modified": format_datetime(stored.modified, usegmt=True),
                "opc-content-md5": stored.md5,
            },
        )

    # ----- multipart uploads -----

    async def multipart_uploads(self, request: Request) -> Response:
        """POST: CreateMultipartUpload; GET: ListMultipartUploads (paginated)."""
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        if request.method == "GET":
            return self.list_multipart_uploads(request, bucket)
        try:
            details = json.loads(await request.body())
        except ValueError:
            return oci_error(400, "The request body is not JSON.")
        name = details.get("object") if isinstance(details, dict) else None
        if not isinstance(name, str) or not name:
            return oci_error(400, "The object name is required.", "MissingParameter")
        tier = details.get("storageTier") or "Standard"
        problem = tier_problem(tier)
        if problem is not None:
            return problem
        upload = MultipartUpload(
            id=str(uuid.uuid4()),
            name=name,
            content_type=details.get("contentType") or "application/octet-stream",
            tier=tier,
            created=datetime.now(UTC),
        )
        with self._lock:
            bucket.uploads[upload.id] = upload
        return JSONResponse(
            upload.summary(self.namespace, bucket.name),
            headers={
                "opc-request-id": request_id(),
                "location": f"/n/{self.namespace}/b/{bucket.name}/u/{quote(name, safe='')}",
            },
        )

    def list_multipart_uploads(self, request: Request, bucket: Bucket) -> Response:
        limit, offset = page_window(request)
        limit = min(limit, self.upload_page_size)
        with self._lock:
            uploads = sorted(bucket.uploads.values(), key=lambda u: (u.name, u.created))
        headers = {"opc-request-id": request_id()}
        if offset + limit < len(uploads):
            headers["opc-next-page"] = str(offset + limit)
        page = uploads[offset : offset + limit]
        return JSONResponse(
            [upload.summary(self.namespace, bucket.name) for upload in page], headers=headers
        )

    async def multipart_upload(self, request: Request) -> Response:
        """PUT: UploadPart; POST: CommitMultipartUpload; DELETE: abort; GET: list its parts."""
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        name = request.path_params["name"]
        upload_id = request.query_params.get("uploadId", "")
        with self._lock:
            upload = bucket.uploads.get(upload_id)
        if upload is None or upload.name != name:
            return oci_error(
                404, f"No such upload {upload_id!r} for object '{name}'.", "NoSuchUpload"
            )
        if request.method == "PUT":
            return self.upload_part(upload, request.scope["homemovies.body"], request)
        if request.method == "GET":
            return self.list_parts(upload, request)
        if request.method == "DELETE":
            with self._lock:
                bucket.uploads.pop(upload.id, None)
            for part in upload.parts.values():
                part.path.unlink(missing_ok=True)
            return Response(status_code=204, headers={"opc-request-id": request_id()})
        try:
            details = json.loads(await request.body())
        except ValueError:
            return oci_error(400, "The request body is not JSON.")
        problem = write_condition_problem(request.headers)
        if problem is not None:
            return problem
        return await asyncio.to_thread(self.commit, bucket, upload, details, request.headers)

    def upload_part(self, upload: MultipartUpload, body: Body, request: Request) -> Response:
        try:
            number = int(request.query_params.get("uploadPartNum", ""))
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PART_NUMBER:
            return oci_error(400, f"uploadPartNum must be 1 to {MAX_PART_NUMBER}.")
        problem = md5_problem(request, body)
        if problem is not None:
            return problem
        part = Part(
            number,
            body.take(),
            body.size,
            body.md5,
            str(uuid.uuid4()),
            datetime.now(UTC),
        )
        with self._lock:
            replaced = upload.parts.get(number)
            upload.parts[number] = part
        if replaced is not None:
            replaced.path.unlink(missing_ok=True)
        return Response(
            status_code=200,
            headers={
                "opc-request-id": request_id(),
                "etag": part.etag,
                "opc-content-md5": base64.b64encode(part.md5).decode("ascii"),
                "last-modified": format_datetime(part.modified, usegmt=True),
            },
        )

    def list_parts(self, upload: MultipartUpload, request: Request) -> Response:
        limit, offset = page_window(request)
        with self._lock:
            parts = sorted(upload.parts.values(), key=lambda part: part.number)
        headers = {"opc-request-id": request_id()}
        if offset + limit < len(parts):
            headers["opc-next-page"] = str(offset + limit)
        body = [
            {
                "partNumber": part.number,
                "etag": part.etag,
                "md5": base64.b64encode(part.md5).decode("ascii"),
                "size": part.size,
            }
            for part in parts[offset : offset + limit]
        ]
        return JSONResponse(body, headers=headers)

    def commit(
        self,
        bucket: Bucket,
        upload: MultipartUpload,
        details: object,
        conditions: Mapping[str, str] | None = None,
    ) -> Response:
        """CommitMultipartUpload: join the listed parts, in part order, into the object, if
        its if-match / if-none-match `conditions` hold (the upload stays open if not)."""
        listed = details.get("partsToCommit") if isinstance(details, dict) else None
        if not isinstance(listed, list) or not listed:
            return oci_error(400, "partsToCommit must list at least one part.")
        chosen: list[Part] = []
        for entry in sorted(listed, key=lambda entry: entry.get("partNum", 0)):
            part = upload.parts.get(entry.get("partNum"))
            if part is None or part.etag != entry.get("etag"):
                return oci_error(
                    400,
                    f"Part {entry.get('partNum')} was not uploaded with etag {entry.get('etag')}.",
                    "InvalidUploadPart",
                )
            chosen.append(part)
        path = self.spool_file(".object")
        with path.open("wb") as handle:
            for part in chosen:
                with part.path.open("rb") as source:
                    shutil.copyfileobj(source, handle, CHUNK)
        combined = hashlib.md5(b"".join(part.md5 for part in chosen)).digest()  # noqa: S324
        now = datetime.now(UTC)
        stored = StoredObject(
            upload.name,
            sum(part.size for part in chosen),
            str(uuid.uuid4()),
            "",
            now,
            now,
            path=path,
            content_type=upload.content_type,
            tier=upload.tier,
            multipart_md5=f"{base64.b64encode(combined).decode('ascii')}-{len(chosen)}",
        )
        with self._lock:  # the condition and the write as one step
            problem = precondition_problem(conditions or {}, bucket.objects.get(upload.name))
            if problem is None:
                bucket.uploads.pop(upload.id, None)
                self.store(bucket.name, stored)
        if problem is not None:
            self.discard(stored)
            return problem
        for part in upload.parts.values():
            part.path.unlink(missing_ok=True)
        return Response(
            status_code=200,
            headers={
                "opc-request-id": request_id(),
                "etag": stored.etag,
                "last-modified": format_datetime(stored.modified, usegmt=True),
                "opc-multipart-md5": stored.multipart_md5,
            },
        )

    def object_body(self, request: Request, stored: StoredObject, cors: bool = False) -> Response:
        """GET/HEAD of one object, with Range support, as OCI answers it."""
        headers = {
            "opc-request-id": request_id(),
            "etag": stored.etag,
            "last-modified": format_datetime(stored.modified, usegmt=True),
            "accept-ranges": "bytes",
            "content-type": stored.content_type,
            "storage-tier": stored.tier,
            "version-id": stored.etag[:16],
        }
        if stored.multipart_md5:
            headers["opc-multipart-md5"] = stored.multipart_md5
        elif stored.md5:
            headers["content-md5"] = stored.md5
        if cors:
            headers.update(CORS_HEADERS)
        start, end, status = 0, stored.size - 1, 200
        spec = request.headers.get("range")
        if spec:
            parsed = parse_range(spec, stored.size)
            if parsed is None:
                response = oci_error(416, "The requested range is not satisfiable.")
                response.headers["content-range"] = f"bytes */{stored.size}"
                return response
            start, end = parsed
            status = 206
            headers["content-range"] = f"bytes {start}-{end}/{stored.size}"
        headers["content-length"] = str(max(end - start + 1, 0))
        if request.method == "HEAD" or stored.size == 0:
            return Response(status_code=status, headers=headers)
        fault = request.scope.get("homemovies.fault")
        chunks = stored.chunks(start, end)
        if fault is not None and fault.kind == "drop":
            chunks = dropping(chunks, fault.after_bytes)
        return StreamingResponse(chunks, status_code=status, headers=headers)

    # ----- pre-authenticated requests -----

    async def pars(self, request: Request) -> Response:
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        if request.method == "GET":
            return self.list_pars(request, bucket)
        try:
            details = json.loads(await request.body())
        except ValueError:
            return oci_error(400, "The request body is not JSON.")
        access_type = details.get("accessType")
        if access_type not in PAR_ACCESS_TYPES:
            return oci_error(400, f"Unknown accessType {access_type!r}.")
        object_name = details.get("objectName")
        if access_type.startswith("Object") and not object_name:
            return oci_error(400, "An object PAR needs objectName.")
        try:
            expires = datetime.fromisoformat(details["timeExpires"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return oci_error(400, "timeExpires is missing or malformed.")
        if expires <= datetime.now(UTC):
            return oci_error(400, "timeExpires must be in the future.")
        par = Par(
            id=base64.b64encode(secrets.token_bytes(24)).decode() + ":" + (object_name or ""),
            token=secrets.token_urlsafe(48),
            name=details.get("name", ""),
            access_type=access_type,
            object_name=object_name,
            bucket_listing_action=details.get("bucketListingAction"),
            expires=expires,
            created=datetime.now(UTC),
        )
        with self._lock:
            bucket.pars[par.id] = par
        access_uri = f"/p/{par.token}/n/{self.namespace}/b/{bucket.name}/o/"
        if access_type.startswith("Object"):
            access_uri += quote(object_name, safe="")
        body = {
            **self.par_summary(par),
            "accessUri": access_uri,
            "fullPath": self.url + access_uri,
        }
        return JSONResponse(body, headers={"opc-request-id": request_id()})

    @staticmethod
    def par_summary(par: Par) -> dict:
        return {
            "id": par.id,
            "name": par.name,
            "objectName": par.object_name,
            "bucketListingAction": par.bucket_listing_action,
            "accessType": par.access_type,
            "timeExpires": iso(par.expires),
            "timeCreated": iso(par.created),
        }

    def list_pars(self, request: Request, bucket: Bucket) -> Response:
        prefix = request.query_params.get("objectNamePrefix", "")
        limit = min(int(request.query_params.get("limit", 100)), 1000)
        offset = int(request.query_params.get("page", 0) or 0)
        with self._lock:
            pars = sorted(bucket.pars.values(), key=lambda par: par.created)
        pars = [par for par in pars if (par.object_name or "").startswith(prefix)]
        page = pars[offset : offset + limit]
        headers = {"opc-request-id": request_id()}
        if offset + limit < len(pars):
            headers["opc-next-page"] = str(offset + limit)
        return JSONResponse([self.par_summary(par) for par in page], headers=headers)

    async def delete_par(self, request: Request) -> Response:
        bucket = self.find_bucket(request)
        if isinstance(bucket, Response):
            return bucket
        par_id = unquote(request.path_params["par_id"])
        with self._lock:
            removed = bucket.pars.pop(par_id, None)
        if removed is None:
            return oci_error(404, "The pre-authenticated request was not found.", "ParNotFound")
        return Response(status_code=204, headers={"opc-request-id": request_id()})

    async def par_read(self, request: Request) -> Response:
        """Anonymous GET/HEAD through a PAR's access URI."""
        denied = oci_error(
            404,
            "Either the PAR does not exist, has expired or does not allow this request.",
        )
        denied.headers.update(CORS_HEADERS)
        if request.path_params["ns"] != self.namespace:
            return denied
        with self._lock:
            bucket = self.buckets.get(request.path_params["bucket"])
            par = None
            if bucket is not None:
                par = next(
                    (p for p in bucket.pars.values() if p.token == request.path_params["token"]),
                    None,
                )
        if bucket is None or par is None or par.expires <= datetime.now(UTC):
            return denied
        if "Read" not in par.access_type:
            return denied
        name = request.path_params["name"]
        if name == "":
            if par.bucket_listing_action != "ListObjects":
                return denied
            return oci_error(400, "Listing through a PAR is not served by this test server.")
        if par.access_type.startswith("Object") and name != par.object_name:
            return denied
        if par.access_type.startswith("Any") and not name.startswith(par.object_name or ""):
            return denied
        with self._lock:
            stored = bucket.objects.get(name)
        if stored is None:
            return denied
        return self.object_body(request, stored, cors=True)

    # ----- Vault and Secrets -----

    async def list_secrets(self, request: Request) -> Response:
        compartment = request.query_params.get("compartmentId")
        if not compartment:
            return oci_error(400, "compartmentId is required.", "MissingParameter")
        state = request.query_params.get("lifecycleState")
        name = request.query_params.get("name")
        limit = int(request.query_params.get("limit", self.secret_page_size))
        limit = min(limit, self.secret_page_size)
        offset = int(request.query_params.get("page", 0) or 0)
        with self._lock:
            found = [
                s
                for s in self.secrets
                if s.compartment_id == compartment
                and (state is None or s.lifecycle_state == state.upper())
                and (name is None or s.name == name)
            ]
        page = found[offset : offset + limit]
        headers = {"opc-request-id": request_id()}
        if offset + limit < len(found):
            headers["opc-next-page"] = str(offset + limit)
        body = [
            {
                "compartmentId": s.compartment_id,
                "definedTags": {},
                "description": None,
                "freeformTags": {},
                "id": s.id,
                "keyId": "ocid1.key.oc1..loopback",
                "lifecycleDetails": None,
                "lifecycleState": s.lifecycle_state,
                "secretName": s.name,
                "timeCreated": iso(s.created),
                "timeOfCurrentVersionExpiry": None,
                "timeOfDeletion": None,
                "vaultId": s.vault_id,
            }
            for s in page
        ]
        return JSONResponse(body, headers=headers)

    async def secret_bundle(self, request: Request) -> Response:
        secret_id = request.path_params["secret_id"]
        stage = request.query_params.get("stage", "CURRENT")
        with self._lock:
            secret = next((s for s in self.secrets if s.id == secret_id), None)
        if secret is None or stage not in ("CURRENT", "LATEST"):
            return oci_error(404, f"Secret bundle for {secret_id} not found.")
        body = {
            "secretId": secret.id,
            "versionNumber": 1,
            "versionName": None,
            "stages": ["CURRENT", "LATEST"],
            "timeCreated": iso(secret.created),
            "timeOfDeletion": None,
            "timeOfExpiry": None,
            "metadata": None,
            "secretBundleContent": {
                "contentType": "BASE64",
                "content": base64.b64encode(secret.content).decode("ascii"),
            },
        }
        return JSONResponse(body, headers={"opc-request-id": request_id()})


async def reset_connection(receive) -> None:
    """Close the client's connection without an answer (a dropped connection).

    uvicorn hands the app its request cycle's bound `receive`, which holds the transport.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("the server cannot reach the connection to reset it")
    transport.abort()
    for _ in range(3):  # let uvicorn see the connection go, so it does not answer a 500
        await asyncio.sleep(0)


def dropping(chunks: Iterator[bytes], after_bytes: int) -> Iterator[bytes]:
    """Yield about `after_bytes` of `chunks`, then fail so the server cuts the connection."""
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= after_bytes:
            yield chunk[: max(after_bytes - sent, 1)]
            raise ConnectionDropped("injected: connection dropped mid-body")
        sent += len(chunk)
        yield chunk


def md5_problem(request: Request, body: Body) -> Response | None:
    """OCI's answer when the body does not match its Content-MD5 header, else None."""
    claimed = request.headers.get("content-md5")
    if claimed is None or claimed == body.md5_text:
        return None
    return oci_error(
        400,
        f"The computed MD5 of the request body ({body.md5_text}) does not match the "
        f"Content-MD5 header ({claimed})",
        "UnmatchedContentMD5",
    )


def tier_problem(tier: str | None) -> Response | None:
    """OCI's answer to an unknown storage tier, else None."""
    if tier is None or tier in STORAGE_TIERS:
        return None
    return oci_error(400, f"The storage tier {tier!r} is not valid.", "InvalidStorageTier")


def precondition_problem(
    headers: Mapping[str, str], current: StoredObject | None, *, reading: bool = False
) -> Response | None:
    """OCI's answer when the request's if-match / if-none-match does not hold for the object
    as it is now (`current`, None when absent), else None. Call it under the server's lock,
    with the change it guards, so that racing requests see each other."""
    if_match, if_none_match = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None and (current is None or if_match not in ("*", current.etag)):
        found = current.etag if current is not None else "none"
        return oci_error(
            412,
            f"The If-Match header is '{if_match}' but the current entity tag is '{found}'.",
            "IfMatchFailed",
        )
    if if_none_match is not None and current is not None and if_none_match in ("*", current.etag):
        if reading:
            return Response(
                status_code=304, headers={"opc-request-id": request_id(), "etag": current.etag}
            )
        return oci_error(
            412,
            f"The If-None-Match header is '{if_none_match}' but there is an existing entity.",
            "IfNoneMatchFailed",
        )
    return None


def write_condition_problem(headers: Mapping[str, str]) -> Response | None:
    """OCI's answer to an if-none-match other than '*' on a write, else None."""
    value = headers.get("if-none-match")
    if value is None or value == "*":
        return None
    return oci_error(400, "The only valid value of the If-None-Match header is '*'.")


def page_window(request: Request) -> tuple[int, int]:
    """The (limit, offset) of a page-token listing (the token is an offset here)."""
    limit = min(max(int(request.query_params.get("limit", MAX_LIMIT)), 1), MAX_LIMIT)
    return limit, int(request.query_params.get("page", 0) or 0)


def parse_range(spec: str, size: int) -> tuple[int, int] | None:
    """OCI's single-range semantics: (start, end) inclusive, or None when unsatisfiable."""
    unit, _, value = spec.partition("=")
    first, _, last = value.strip().partition("-")
    if unit.strip() != "bytes" or "," in value:
        return 0, size - 1
    if first == "":
        if not last.isdigit() or int(last) == 0 or size == 0:
            return None
        return max(size - int(last), 0), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        return 0, size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        return None
    return start, end


def new_key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    """Return an RSA key and its OCI fingerprint (MD5 of the DER public key, colon hex)."""
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der).hexdigest()  # noqa: S324 - OCI's fingerprint format
    return key, ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
