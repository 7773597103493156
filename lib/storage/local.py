"""The local-folder backend: a directory laid out like the bucket."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import stat as stat_module
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from lib.storage import (
    CHUNK_SIZE,
    Conflict,
    Listing,
    NotFound,
    ObjectInfo,
    StorageError,
    Unavailable,
    file_md5,
    is_safe_name,
)

# The hidden file a write goes through before it is moved in place: `.NAME.PID.tmp` (a
# conditional write adds the thread's id to the digits, as threads may race on one name).
TEMPORARY = re.compile(r"\.(.+)\.\d+\.tmp")

log = logging.getLogger("homemovies.storage")


def _refusal(error: OSError) -> str:
    """The sentence for a write the folder refused."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"The library folder is full ({error.strerror}); free some space and try again."
    return f"The library folder cannot be written to ({error.strerror})."


def _version(data: bytes) -> str:
    """A small object's version: the SHA-256 of its bytes. Not the mtime-and-size etag: two
    writes of one size within a clock tick would look alike."""
    return hashlib.sha256(data).hexdigest()


def _info(name: str, result: os.stat_result) -> ObjectInfo:
    modified = datetime.fromtimestamp(result.st_mtime, UTC)
    # As a bucket's ETag, it changes whenever the content may have: a new time or size.
    etag = f"{result.st_mtime_ns:x}-{result.st_size:x}"
    return ObjectInfo(
        name=name, size=result.st_size, modified=modified, created=modified, etag=etag
    )


class LocalStorage:
    """Serve objects from files below `root`; nothing outside it is ever opened."""

    def __init__(self, root: Path, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = root.resolve(strict=True)
        self.chunk_size = chunk_size

    def describe(self) -> str:
        return f"local folder {self.root}"

    def _path(self, name: str) -> Path:
        """Given an object name or prefix, return its path below the root or raise NotFound."""
        if name == "":
            return self.root
        if not is_safe_name(name.rstrip("/") if name.endswith("/") else name):
            raise NotFound(name)
        try:
            path = (self.root / name).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            raise NotFound(name) from None
        if os.path.commonpath([self.root, path]) != str(self.root):
            raise NotFound(name)
        return path

    def list(self, prefix: str = "") -> Listing:
        folder = self._path(prefix)
        if not folder.is_dir():
            raise NotFound(prefix)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    result = entry.stat()
                except OSError:
                    continue
                if stat_module.S_ISDIR(result.st_mode):
                    prefixes.append(f"{prefix}{entry.name}/")
                elif stat_module.S_ISREG(result.st_mode):
                    objects.append(_info(prefix + entry.name, result))
        objects.sort(key=lambda info: info.name)
        prefixes.sort()
        return Listing(objects=tuple(objects), prefixes=tuple(prefixes))

    def stat(self, name: str) -> ObjectInfo:
        path = self._path(name)
        try:
            result = path.stat()
        except OSError:
            raise NotFound(name) from None
        if not stat_module.S_ISREG(result.st_mode):
            raise NotFound(name)
        return _info(name, result)

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            folder = self._path(prefix)
        except NotFound:
            return  # nothing below it, as a bucket answers
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            relative = os.path.relpath(dirpath, self.root)
            base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
            for filename in sorted(filenames):
                try:
                    result = os.stat(os.path.join(dirpath, filename))
                except OSError:
                    continue
                if stat_module.S_ISREG(result.st_mode):
                    yield _info(base + filename, result)

    def usage(self) -> tuple[int, int]:
        count = size = 0
        for info in self.scan():
            count += 1
            size += info.size
        return count, size

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._replace(name, lambda handle: handle.write(data))

    def upload(
        self,
        name: str,
        path: Path,
        content_type: str,
        *,
        tier: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Copy `path` in chunks into object `name`; a folder has neither types nor tiers."""
        with path.open("rb", buffering=0) as source:

            def copy(target: BinaryIO) -> None:
                while chunk := source.read(self.chunk_size):
                    target.write(chunk)
                    if progress is not None:
                        progress(len(chunk))

            self._replace(name, copy)

    def _replace(self, name: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write object `name` through `fill` into a hidden file beside it, then move it in.

        A reader never sees half an object, and an interrupted write leaves only the hidden
        `.NAME.PID.tmp` file, which `abort_uploads` removes.
        """
        if not is_safe_name(name):
            raise NotFound(name)
        path = self.root / name
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.commonpath([self.root, path.parent.resolve()]) != str(self.root):
                raise NotFound(name)
            with temporary.open("wb") as handle:
                fill(handle)
            os.replace(temporary, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            # A read-only folder (a container image, a mounted share) is storage refusing.
            log.warning("cannot write %r below %s", name, self.root, exc_info=error)
            raise Unavailable(_refusal(error)) from error

    def read_versioned(self, name: str) -> tuple[bytes, str]:
        path = self._path(name)
        try:
            data = path.read_bytes()
        except OSError:  # gone meanwhile, a folder, or unreadable
            raise NotFound(name) from None
        return data, _version(data)

    def write_if(self, name: str, data: bytes, content_type: str, *, version: str | None) -> str:
        """Create (version None) by hard-linking a finished hidden file to the name, which
        fails if the name exists; replace under the lock `_held` takes."""
        if version is None:
            path = self._new_path(name)
            with self._spooled(name, path, data) as temporary:
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    raise Conflict(f"'{name}' was written meanwhile; read it again.") from None
        else:
            with (
                self._held(name, version, missing=Conflict) as path,
                self._spooled(name, path, data) as temporary,
            ):
                os.replace(temporary, path)
        return _version(data)

    def delete_if(self, name: str, *, version: str) -> None:
        with self._held(name, version, missing=NotFound) as path:
            try:
                path.unlink()
            except OSError as error:
                log.warning("cannot remove %r below %s", name, self.root, exc_info=error)
                raise Unavailable(_refusal(error)) from error

    def _new_path(self, name: str) -> Path:
        """Return where object `name` goes below the root, its folders made; raise NotFound
        for a name that may not be written."""
        if not is_safe_name(name):
            raise NotFound(name)
        path = self.root / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Unavailable(_refusal(error)) from error
        if os.path.commonpath([self.root, path.parent.resolve()]) != str(self.root):
            raise NotFound(name)
        return path

    @contextlib.contextmanager
    def _spooled(self, name: str, path: Path, data: bytes) -> Iterator[Path]:
        """Write `data` into a hidden file beside `path`, yield it, then remove what is left.

        The folder refusing (full, read-only) is Unavailable.
        """
        digits = f"{os.getpid()}{threading.get_native_id():010d}"
        temporary = path.with_name(f".{path.name}.{digits}.tmp")
        try:
            temporary.write_bytes(data)
            yield temporary
        except OSError as error:
            log.warning("cannot write %r below %s", name, self.root, exc_info=error)
            raise Unavailable(_refusal(error)) from error
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _held(self, name: str, version: str, missing: type[StorageError]) -> Iterator[Path]:
        """Yield the path of object `name`, locked against every other conditional write (of
        any thread or process), if its content is still at `version`; else raise Conflict, or
        `missing` when there is no such object.

        The lock is an exclusive flock on the file. A writer replaces the file under it, so
        whoever was waiting holds the lock of a file no longer at the path: it starts over.
        """
        if not is_safe_name(name):
            raise NotFound(name)
        while True:
            try:
                path = self._path(name)
                # O_NONBLOCK: a FIFO planted at the name must not hang the open.
                descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except (NotFound, FileNotFoundError):
                raise missing(name) from None
            except OSError as error:
                raise Unavailable(_refusal(error)) from error
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                held = os.fstat(descriptor)
                try:
                    now = os.stat(path)
                except FileNotFoundError:
                    continue  # removed while we waited
                if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
                    continue  # replaced while we waited
                if not stat_module.S_ISREG(held.st_mode):
                    raise missing(name)
                if _version(path.read_bytes()) != version:
                    raise Conflict(f"'{name}' changed since it was read; read it again.")
                yield path
                return
            finally:
                os.close(descriptor)  # releases the lock

    def matches(self, name: str, path: Path) -> bool:
        size = path.stat().st_size
        try:
            stored = self._path(name)
            result = stored.stat()
        except (NotFound, OSError):
            return False
        if not stat_module.S_ISREG(result.st_mode) or result.st_size != size:
            return False
        return file_md5(stored) == file_md5(path)

    def abort_uploads(self, prefix: str) -> int:
        """Delete the hidden temporary files of interrupted writes below `prefix`."""
        try:
            folder = self._path(prefix[: prefix.rfind("/") + 1])
        except NotFound:
            return 0
        removed = 0
        for dirpath, _, filenames in os.walk(folder):
            relative = os.path.relpath(dirpath, self.root)
            base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
            for filename in filenames:
                match = TEMPORARY.fullmatch(filename)
                if match is None or not (base + match[1]).startswith(prefix):
                    continue
                try:
                    os.unlink(os.path.join(dirpath, filename))
                except FileNotFoundError:
                    continue
                except OSError as error:
                    log.warning("cannot remove %s", filename, exc_info=error)
                    raise Unavailable(_refusal(error)) from error
                removed += 1
        return removed

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(name) from None

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        path = self._path(name)
        try:
            handle = path.open("rb", buffering=0)
        except OSError:
            raise NotFound(name) from None
        return self._chunks(handle, start, end)

    def _chunks(self, handle: BinaryIO, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end (inclusive) of an open file, then close it."""
        with handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(self.chunk_size, remaining))
                if not chunk:
                    return  # the file shrank while we served it: end the stream cleanly
                remaining -= len(chunk)
                yield chunk
                del chunk  # hold no sent chunk while reading the next (see Storage.read)
