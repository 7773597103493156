"""Reading an HLS title's playlists for the stats page: its duration, and what its playlists
reference that is missing, outside its folder, or cannot be used at all."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import m3u8

from lib.format import format_size
from lib.library import MAX_PLAYLIST_BYTES, PLAYLIST_NAME
from lib.stats.problems import ProblemKind, Problems
from lib.storage import Storage, StorageError

MAX_CHILD_PLAYLISTS = 8  # variant and rendition playlists read below one master playlist


def _decode(data: bytes) -> str | None:
    """Return a playlist's text, or None when it is not UTF-8 text (binary)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def resolve(base: str, uri: str) -> str | None:
    """Given a playlist's folder-relative directory and a URI in it, return the folder-relative
    name it points to, or None when it leaves the folder (another host, '/', '..')."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc or parts.path.startswith("/") or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
    if path in (".", "..") or path.startswith("../"):
        return None
    return path


class PlaylistCheck:
    """Read one HLS title's playlists: their duration and what they reference that is missing."""

    def __init__(self, storage: Storage, folder: str, sizes: Mapping[str, int]) -> None:
        self.storage = storage
        self.folder = folder
        self.sizes = sizes  # every object in the folder, by its name relative to the folder
        self.problems = Problems()

    def run(self) -> float | None:
        """Return the title's duration in seconds (None if unknown); problems go to .problems."""
        playlist = self.parse(PLAYLIST_NAME)
        if playlist is None:
            return None
        if not playlist.is_variant:
            return self.media_duration(PLAYLIST_NAME, playlist)
        children = [
            *playlist.playlists,
            *playlist.media,
            *playlist.iframe_playlists,
            *playlist.image_playlists,
        ]
        durations: list[float | None] = []
        # One playlist may be listed more than once (a rendition in several audio groups):
        # read and check it once.
        uris = list(dict.fromkeys(child.uri for child in children if child.uri))
        for uri in uris[:MAX_CHILD_PLAYLISTS]:
            name = self.reference(PLAYLIST_NAME, uri)
            if name is None:
                continue
            child = self.parse(name)
            if child is None:
                continue
            if child.is_variant:
                self.bad(name, "is a master playlist inside a master playlist")
                continue
            durations.append(self.media_duration(name, child))
        known = [seconds for seconds in durations if seconds is not None]
        return max(known) if known else None

    def bad(self, name: str, detail: str) -> None:
        self.problems.add(ProblemKind.BAD_PLAYLIST, self.folder + name, detail)

    def parse(self, name: str) -> m3u8.M3U8 | None:
        """Read a playlist of this folder (bounded) and parse it; None (and a problem) if it
        cannot be used."""
        size = self.sizes.get(name, 0)
        if size == 0:
            self.bad(name, "is empty")
            return None
        if size > MAX_PLAYLIST_BYTES:
            self.bad(
                name,
                f"is {format_size(size)}; a playlist over {format_size(MAX_PLAYLIST_BYTES)} "
                "is not read",
            )
            return None
        try:
            data = b"".join(self.storage.read(self.folder + name, 0, size - 1))
        except StorageError as error:
            self.bad(name, f"could not be read: {error}")
            return None
        text = _decode(data)
        if text is None:
            self.bad(name, "is binary data, not a text playlist")
            return None
        if not text.startswith("#EXTM3U"):
            self.bad(name, "does not start with #EXTM3U")
            return None
        try:
            return m3u8.loads(text)
        except Exception as error:
            # Hostile text makes the parser raise ValueError, TypeError, KeyError,
            # OverflowError... (seen fuzzing it): a problem to report, not a crash.
            self.bad(name, f"cannot be parsed ({type(error).__name__})")
            return None

    def reference(self, playlist: str, uri: str) -> str | None:
        """Return the name a URI of `playlist` points to if it is in the folder; else report."""
        name = resolve(posixpath.dirname(playlist), uri)
        if name is None:
            shown = uri if len(uri) <= 120 else uri[:117] + "..."
            self.problems.add(
                ProblemKind.OUTSIDE_REFERENCE, self.folder + playlist, f"refers to {shown}"
            )
            return None
        if name not in self.sizes:
            self.problems.add(
                ProblemKind.MISSING_SEGMENT, self.folder + name, f"listed in {playlist}"
            )
            return None
        return name

    def media_duration(self, name: str, playlist: m3u8.M3U8) -> float | None:
        """Check a media playlist's references; return the sum of its #EXTINF durations."""
        uris = [*playlist.files, *(m.uri for m in playlist.segment_map if m and m.uri)]
        for uri in dict.fromkeys(uri for uri in uris if uri):
            self.reference(name, uri)
        if not playlist.segments:
            self.bad(name, "lists no segments")
            return None
        durations: list[float] = []
        for segment in playlist.segments:
            seconds = segment.duration
            if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
                self.bad(name, "has a segment without a valid #EXTINF duration")
                return None
            durations.append(seconds)
        total = float(sum(durations))
        if not math.isfinite(total):
            self.bad(name, "adds up to an impossible duration")
            return None
        return total


def check_playlist(
    storage: Storage, folder: str, sizes: Mapping[str, int]
) -> tuple[float | None, Problems]:
    """Given an HLS folder prefix and the sizes of the objects in it (by relative name),
    return the title's duration in seconds (None if unknown) and its playlists' problems."""
    check = PlaylistCheck(storage, folder, sizes)
    return check.run(), check.problems
