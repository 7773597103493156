"""The background library indexer: for each playable title, its length, picture size, codecs,
recording date, a poster and a seek preview, stored under `.homemovies/index/`.

ffprobe and ffmpeg read titles through a loopback range server (lib/ingest/range_server.py),
so a bucket is read as a local folder is, and only in part: a poster is a few frames a third
of the way in, a preview cell the first frame at one seek (about one keyframe, or one HLS
segment). A title ingest made already has all this in its folder: only its sidecar and master
playlist are read. Titles are done one at a time at the lowest CPU priority, and a storage
outage pauses the indexer instead of marking titles unreadable.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import posixpath
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import m3u8

from lib.ingest.codecs import codec_names, codecs, file_mime, hls_mime, master_codecs
from lib.ingest.encode import POSTER as HLS_POSTER
from lib.ingest.encode import PREVIEW_FOLDER, SPRITE_COLUMNS, SpriteLayout, vtt_timestamp
from lib.ingest.errors import IngestError
from lib.ingest.playlists import SIDECAR
from lib.ingest.probe import source_from_probe
from lib.ingest.range_server import RangeServer
from lib.library import MAX_PLAYLIST_BYTES, Kind, Library, Video
from lib.media_index import (
    POSTER,
    SPRITE,
    SPRITE_VTT,
    IndexEntry,
    MediaIndex,
    Status,
    entry_folder,
    version_of,
)
from lib.stats.playlists import resolve
from lib.storage import NotFound, Storage, StorageError

PROBE_TIMEOUT = 60.0  # seconds for ffprobe, and for each ffmpeg run taking frames
# How ffmpeg reads the range server: only over HTTP (a playlist cannot send it elsewhere),
# giving up on a connection silent for 30 s, into a small receive buffer so that what storage
# was asked for stays close to what ffmpeg has used (see lib/ingest/range_server.py).
READ_OPTIONS = (
    "-protocol_whitelist", "crypto,http,tcp", "-rw_timeout", "30000000",
    "-recv_buffer_size", "16384",
)  # fmt: skip
# Taking a frame: a file's index (a mov's moov, a webm's cues) says all ffmpeg needs, and an
# HLS segment starts with a keyframe and its parameter sets, so no packets are probed first.
QUICK_OPEN = ("-probesize", "32", "-analyzeduration", "0")
# A segment is read straight through: seekable, ffmpeg would read its end for a duration.
SEGMENT_OPTIONS = (*READ_OPTIONS, "-seekable", "0")
# An fMP4 segment is read after its init section (concat:), which takes no socket options.
JOINED_OPTIONS = ("-protocol_whitelist", "concat,http,tcp", "-rw_timeout", "30000000")
POSTER_WIDTH = 640
POSTER_FRAMES = 10  # the thumbnail filter picks the most typical of these
CELL_WIDTH = 160
SECONDS_PER_CELL = 10
MIN_CELLS, MAX_CELLS = 2, 30
MAX_SIDECAR_BYTES = 1024 * 1024
MAX_FILE_NAME = 200  # bytes: object names may be longer than a local file name can be
JPEG = "image/jpeg"
VTT = "text/vtt; charset=utf-8"
NICE = ("nice", "-n", "19")

log = logging.getLogger("homemovies.index")


class ToolsMissing(Exception):
    """ffmpeg or ffprobe is not installed: nothing can be indexed."""


@dataclass(frozen=True)
class Made:
    """A file the indexer made and the object it is stored as."""

    name: str
    path: Path
    content_type: str


@dataclass(frozen=True)
class Indexed:
    """What indexing one title came to: its entry and the files to store for it."""

    entry: IndexEntry
    made: tuple[Made, ...] = ()


@dataclass(frozen=True)
class Segment:
    """One independent segment of an HLS variant, as ffmpeg opens it."""

    start: float  # seconds into the title
    length: float
    url: str  # the segment, or `concat:` of its init section and it
    options: tuple[str, ...]


@dataclass(frozen=True)
class Timeline:
    """Where ffmpeg reads a title at any time: a file (seeking by its index), or the
    independent segments of an HLS variant, or the variant's playlist itself."""

    url: str
    segments: tuple[Segment, ...] = ()
    quick_open: bool = False  # the container says everything up front: probe no packets
    duration: float | None = None  # an HLS variant's, from its playlist

    def input_at(self, seconds: float) -> tuple[list[str], float]:
        """Return the ffmpeg input options reading near `seconds`, and how far past the
        start of what they read the wanted time lies (0: take the first frame)."""
        head = ["-threads", "1"]
        if self.segments:
            at = next((s for s in reversed(self.segments) if s.start <= seconds), self.segments[0])
            skip = min(max(seconds - at.start, 0.0), max(at.length - 0.5, 0.0))
            return [*head, *at.options, *QUICK_OPEN, "-i", at.url], skip
        head += READ_OPTIONS
        if self.quick_open:
            head += QUICK_OPEN
        return [*head, "-noaccurate_seek", "-ss", f"{seconds:.3f}", "-i", self.url], 0.0

    @property
    def probe_input(self) -> list[str]:
        """What ffprobe reads to learn the streams: the file, or the first segment."""
        if self.segments:
            return [*self.segments[0].options, self.segments[0].url]
        return [*READ_OPTIONS, self.url]


@dataclass(frozen=True)
class Probed:
    """What ffprobe says of a title."""

    duration: float
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    codecs: str
    recorded: datetime


def cell_count(duration: float) -> int:
    """How many seek-preview cells a title of `duration` seconds gets: one every ~10 s."""
    return min(max(round(duration / SECONDS_PER_CELL), MIN_CELLS), MAX_CELLS)


def sprite_layout(duration: float, width: int, height: int) -> SpriteLayout:
    """The sprite of a title: `cell_count` cells, 160 px wide, in rows of ingest's width."""
    count = cell_count(duration)
    columns = min(SPRITE_COLUMNS, count)
    cell_height = max(2, round(CELL_WIDTH * height / width / 2) * 2)
    return SpriteLayout(
        duration / count, count, columns, math.ceil(count / columns), CELL_WIDTH, cell_height
    )


def sprite_vtt(layout: SpriteLayout, duration: float) -> str:
    """The WebVTT map of a sprite, in ingest's format (cues naming `sprite.jpg#xywh=...`)."""
    lines = ["WEBVTT", ""]
    for start, end, x, y in layout.cells(duration):
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}"]
        lines += [f"{SPRITE}#xywh={x},{y},{layout.width},{layout.height}", ""]
    return "\n".join(lines)


# ----- running ffmpeg -----


def require_tools() -> None:
    """Raise ToolsMissing unless ffprobe and ffmpeg are installed."""
    missing = [tool for tool in ("ffprobe", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        raise ToolsMissing(f"{' and '.join(missing)} not installed (apt install ffmpeg)")


@functools.cache
def _nice() -> tuple[str, ...]:
    return NICE if shutil.which(NICE[0]) else ()


def run_tool(arguments: Sequence[str], timeout: float = PROBE_TIMEOUT) -> tuple[int, bytes, bytes]:
    """Run ffmpeg or ffprobe at the lowest CPU priority; return (exit status, stdout, stderr),
    status -1 when it ran out of time."""
    command = [*_nice(), *arguments]
    try:
        done = subprocess.run(
            command, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, b"", b"timed out"
    return done.returncode, done.stdout, done.stderr


def _ffmpeg(inputs: list[str], filters: str, out: Path, quality: int) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-filter_threads", "1",
        *inputs,
        "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", filters, "-frames:v", "1",
        "-fps_mode", "passthrough",  # -ss keeps frames before the seek point: drop none
        "-threads", "1", "-q:v", str(quality), "-update", "1", "-y", str(out),
    ]  # fmt: skip


def _complaint(reader: RangeServer, stderr: bytes) -> str:
    """ffmpeg's last words, without the range server's URLs (they hold its secret)."""
    lines = reader.scrub(stderr.decode("utf-8", "replace")).strip().splitlines()
    return lines[-1][:300] if lines else "no message"


def frame(
    reader: RangeServer, timeline: Timeline, seconds: float, filters: str, out: Path, quality: int
) -> bool:
    """Write one picture taken at `seconds` through `filters` to `out`; return whether it worked."""
    inputs, skip = timeline.input_at(seconds)
    if skip > 0:
        filters = f"select='gte(t,{skip:.3f})',{filters}"
    status, _, stderr = run_tool(_ffmpeg(inputs, filters, out, quality))
    if status != 0 or not out.is_file() or out.stat().st_size == 0:
        log.debug("no picture at %.1f s: %s", seconds, _complaint(reader, stderr))
        return False
    return True


def probe(reader: RangeServer, timeline: Timeline, stand_in: Path) -> Probed:
    """ffprobe the timeline; return what it says. Raises IngestError naming `stand_in` (the
    title's file name, its modification time the object's) when it is not a video it reads."""
    status, stdout, stderr = run_tool(
        [
            "ffprobe", "-v", "error", "-print_format", "json",
            "-show_format", "-show_streams", *timeline.probe_input,
        ]
    )  # fmt: skip
    if status == -1:
        raise IngestError(f"{stand_in.name}: ffprobe took too long to read it.")
    try:
        data = json.loads(stdout) if status == 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.info("ffprobe cannot read %s: %s", stand_in.name, _complaint(reader, stderr))
        raise IngestError(
            f"{stand_in.name} is not a video ffmpeg can read (damaged or not a video)."
        )
    if timeline.duration is not None:  # one segment does not know the title's length
        data["format"] = {**data.get("format", {}), "duration": str(timeline.duration)}
    return described(data, stand_in)


def described(data: dict[str, Any], stand_in: Path) -> Probed:
    """Given ffprobe's JSON, return what the index keeps; raise IngestError when unusable."""
    streams = [s for s in data.get("streams", []) if isinstance(s, dict)]
    pictures = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    sound = next((s for s in streams if s.get("codec_type") == "audio"), None)
    modified = datetime.fromtimestamp(stand_in.stat().st_mtime, UTC)
    if not pictures:
        duration = _number(data.get("format", {}).get("duration"))
        if sound is None or duration is None:
            raise IngestError(f"{stand_in.name} has neither a picture nor sound ffmpeg can read.")
        name = str(sound.get("codec_name"))
        return Probed(duration, None, None, None, name, codecs(None, sound), modified)
    source = source_from_probe(stand_in, data)
    return Probed(
        source.duration,
        source.width,
        source.height,
        source.codec,
        source.audio_codec,
        codecs(pictures[0], sound),
        source.recorded,
    )


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


# ----- one title -----


@dataclass
class _Title:
    """Indexing one title: where it is read from and what has been made for it."""

    video: Video
    reader: RangeServer
    work: Path
    folder: str = field(init=False)  # what the indexer makes goes here
    made: list[Made] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = entry_folder(self.video.name)

    @property
    def label(self) -> str:
        return self.video.name.rstrip("/").rsplit("/", 1)[-1]

    def stand_in(self) -> Path:
        """A local file named as the title, dated as its object: how ingest's probe
        messages name it and where it finds the time when the metadata says none."""
        label = self.label
        if len(label.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME:
            label = "title" + self.video.extension  # a name no local file system takes
        path = self.work / "probe" / label
        path.parent.mkdir(exist_ok=True)
        path.touch()
        if self.video.modified is not None:
            moment = self.video.modified.timestamp()
            os.utime(path, (moment, moment))
        return path

    def poster(self, timeline: Timeline, duration: float) -> str | None:
        """Make the poster from frames a third of the way in; return its object name."""
        path = self.work / POSTER
        filters = f"thumbnail=n={POSTER_FRAMES},scale='min({POSTER_WIDTH},iw)':-2"
        if not frame(self.reader, timeline, duration / 3, filters, path, 3):
            return None
        return self.keep(POSTER, path, JPEG)

    def preview(self, timeline: Timeline, probed: Probed) -> str | None:
        """Make the seek-preview sprite and its map, one seek a cell; return the map's name."""
        if not probed.width or not probed.height:
            return None
        layout = sprite_layout(probed.duration, probed.width, probed.height)
        cells = self.work / "cells"
        cells.mkdir(exist_ok=True)
        scale = f"scale={layout.width}:{layout.height},setsar=1"
        for index in range(layout.count):
            seconds = (index + 0.5) * layout.interval
            if not frame(self.reader, timeline, seconds, scale, cells / f"{index:03d}.png", 2):
                return None
        sprite = self.work / SPRITE
        status, _, stderr = run_tool(
            [
                "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
                "-start_number", "0", "-i", str(cells / "%03d.png"),
                "-vf", f"tile={layout.columns}x{layout.rows}", "-frames:v", "1",
                "-q:v", "5", "-update", "1", "-y", str(sprite),
            ]
        )  # fmt: skip
        if status != 0:
            log.warning("could not tile a seek preview: %s", _complaint(self.reader, stderr))
            return None
        vtt = self.work / SPRITE_VTT
        vtt.write_text(sprite_vtt(layout, probed.duration), encoding="utf-8")
        self.keep(SPRITE, sprite, JPEG)
        return self.keep(SPRITE_VTT, vtt, VTT)

    def keep(self, base: str, path: Path, content_type: str) -> str:
        name = self.folder + base
        self.made.append(Made(name, path, content_type))
        return name

    def entry(
        self, probed: Probed, mime: str, poster: str | None, preview: str | None
    ) -> IndexEntry:
        etag, size = version_of(self.video)
        return IndexEntry(
            name=self.video.name,
            etag=etag,
            size=size,
            duration=round(probed.duration, 3),
            width=probed.width,
            height=probed.height,
            video_codec=probed.video_codec,
            audio_codec=probed.audio_codec,
            mime=mime,
            recorded=probed.recorded,
            poster=poster,
            preview=preview,
        )

    def pictures(self, timeline: Timeline, probed: Probed) -> tuple[str | None, str | None]:
        """The poster (the title's own, else one made) and the seek preview's map."""
        if probed.video_codec is None:
            return self.video.poster, None
        poster = self.video.poster or self.poster(timeline, probed.duration)
        return poster, self.preview(timeline, probed)


def index_file(title: _Title) -> IndexEntry:
    """Index a file title: ffprobe it, then make its poster and preview."""
    video, reader = title.video, title.reader
    if reader.size(video.name) == 0:
        raise IngestError(f"{title.label} is empty (zero bytes).")
    timeline = Timeline(reader.url(video.name), quick_open=True)
    probed = probe(reader, timeline, title.stand_in())
    poster, preview = title.pictures(timeline, probed)
    return title.entry(probed, file_mime(video.name, probed.codecs), poster, preview)


def read_playlist(title: _Title, name: str) -> m3u8.M3U8:
    """Read and parse one of the title's playlists (bounded); raise IngestError if unusable."""
    size = title.reader.size(name)
    if size == 0 or size > MAX_PLAYLIST_BYTES:
        reason = "is empty" if size == 0 else f"is over {MAX_PLAYLIST_BYTES // 2**20} MiB"
        raise IngestError(f"{title.label}: its playlist {name.rsplit('/', 1)[-1]} {reason}.")
    data = title.reader.read_small(name, MAX_PLAYLIST_BYTES) or b""
    try:
        text = data.decode("utf-8-sig")
        if not text.startswith("#EXTM3U"):
            raise ValueError("not a playlist")
        return m3u8.loads(text)
    except Exception as error:  # hostile text makes the parser raise almost anything
        raise IngestError(
            f"{title.label}: its playlist {name.rsplit('/', 1)[-1]} cannot be read "
            f"({type(error).__name__})."
        ) from None


def inside(title: _Title, playlist: str, uri: str | None) -> str:
    """The object a playlist's URI names; raise IngestError when it leaves the title's folder."""
    folder = title.video.name
    relative = resolve(posixpath.dirname(playlist[len(folder) :]), uri or "")
    if relative is None:
        raise IngestError(f"{title.label}: its playlist refers to something outside its folder.")
    return folder + relative


def hls_timeline(title: _Title) -> tuple[Timeline, float, m3u8.M3U8]:
    """The lightest variant of an HLS title as a timeline, its duration and the master."""
    reader, master_name = title.reader, title.video.playlist
    master = read_playlist(title, master_name)
    name, media = master_name, master
    if master.is_variant:
        variants = [v for v in master.playlists if v.uri]
        if not variants:
            raise IngestError(f"{title.label}: its master playlist lists no variant.")
        lightest = min(
            variants, key=lambda v: (v.stream_info.bandwidth or 0) if v.stream_info else 0
        )
        name = inside(title, master_name, lightest.uri)
        media = read_playlist(title, name)
        if media.is_variant:
            raise IngestError(f"{title.label}: its variant playlist is a master playlist.")
    segments: list[Segment] = []
    duration = 0.0
    for segment in media.segments:
        seconds = _number(segment.duration) or 0.0
        url = reader.url(inside(title, name, segment.uri))
        options: tuple[str, ...] = SEGMENT_OPTIONS
        init = segment.init_section
        if init is not None and init.uri:
            url = f"concat:{reader.url(inside(title, name, init.uri))}|{url}"
            options = JOINED_OPTIONS
        segments.append(Segment(duration, seconds, url, options))
        duration += seconds
    if not segments or duration <= 0:
        raise IngestError(f"{title.label}: its playlist lists no segments.")
    for key in media.keys:
        if key is not None and key.uri:
            inside(title, name, key.uri)
    # Encrypted segments, or parts of one file, are read through the playlist instead.
    plain = not any(key and key.uri for key in media.keys) and not any(
        segment.byterange or (segment.init_section and segment.init_section.byterange)
        for segment in media.segments
    )
    timeline = Timeline(reader.url(name), tuple(segments) if plain else (), duration=duration)
    return timeline, duration, master


def index_hls(storage: Storage, title: _Title, folder_objects: Sequence[str]) -> IndexEntry:
    """Index an HLS title: from ingest's sidecar when it made it, else from its lightest
    variant (ffprobe of its first segment, a seek into it per picture)."""
    video = title.video
    if video.name + SIDECAR in folder_objects:
        entry = from_sidecar(storage, title, folder_objects)
        if entry is not None:
            return entry
    timeline, duration, master = hls_timeline(title)
    probed = probe(title.reader, timeline, title.stand_in())
    width, height = largest_picture(master) or (probed.width, probed.height)
    probed = Probed(
        duration, width, height, probed.video_codec, probed.audio_codec,
        master_codecs(master) or probed.codecs, probed.recorded,
    )  # fmt: skip
    poster, preview = title.pictures(timeline, probed)
    return title.entry(probed, hls_mime(probed.codecs), poster, preview)


def largest_picture(master: m3u8.M3U8) -> tuple[int, int] | None:
    """The RESOLUTION of a master playlist's largest variant, if it says."""
    sizes = [v.stream_info.resolution for v in master.playlists if v.stream_info]
    known = [size for size in sizes if size]
    return max(known, key=lambda size: size[0] * size[1]) if known else None


def from_sidecar(
    storage: Storage, title: _Title, folder_objects: Sequence[str]
) -> IndexEntry | None:
    """The entry of a title ingest made, from its info.json and master playlist (reading
    nothing else, making nothing); None when the sidecar is not ingest's."""
    video, reader = title.video, title.reader
    data = reader.read_small(video.name + SIDECAR, MAX_SIDECAR_BYTES)
    try:
        info = json.loads(data or b"")
    except (ValueError, RecursionError):
        return None
    if not isinstance(info, dict):
        return None
    duration = _number(info.get("duration"))
    width, height = info.get("width"), info.get("height")
    if duration is None or not isinstance(width, int) or not isinstance(height, int):
        return None
    master = read_playlist(title, video.playlist)
    codec_list = master_codecs(master)
    if codec_list is None:
        return None
    try:
        recorded = datetime.fromisoformat(str(info.get("recorded")))
    except ValueError:
        recorded = video.modified or datetime.now(UTC)
    width, height = largest_picture(master) or (width, height)
    # What a browser decodes is what ingest made (the sidecar names the source's codecs).
    picture, sound = codec_names(codec_list)
    probed = Probed(
        duration, width, height, picture, sound, codec_list,
        recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC),
    )  # fmt: skip
    poster = video.name + HLS_POSTER
    preview = video.name + f"{PREVIEW_FOLDER}/{SPRITE_VTT}"
    return title.entry(
        probed,
        hls_mime(codec_list),
        poster if poster in folder_objects else video.poster,
        preview if exists(storage, preview) else None,
    )


def exists(storage: Storage, name: str) -> bool:
    """Whether object `name` is there (one stat)."""
    try:
        storage.stat(name)
    except NotFound:
        return False
    return True


def index_title(
    storage: Storage,
    video: Video,
    reader: RangeServer,
    work_dir: Path,
    folder_objects: Sequence[str] = (),
    now: datetime | None = None,
) -> Indexed:
    """Index one playable title, reading it through `reader` (a started range server on
    `storage`); `folder_objects` are the objects directly in an HLS title's folder.

    Returns its entry and the files made for it (to store under `entry_folder`). A title
    ffprobe cannot read is an UNREADABLE entry with a sentence; a storage failure (NotFound
    when the title is gone) is raised, so the title is tried again later.
    """
    reader.reset()
    title = _Title(video, reader, work_dir)
    moment = now or datetime.now(UTC)
    try:
        if video.kind is Kind.HLS:
            entry = index_hls(storage, title, folder_objects)
        else:
            entry = index_file(title)
    except IngestError as error:
        failure = reader.settled_failure()
        if failure is not None:
            raise failure from None
        etag, size = version_of(video)
        unreadable = IndexEntry(
            video.name,
            etag,
            size,
            Status.UNREADABLE,
            error=str(error),
            bytes_read=reader.bytes_read,
            indexed=moment,
        )
        return Indexed(unreadable)
    failure = reader.settled_failure()
    if failure is not None:
        raise failure  # a picture may be missing because storage failed: try later
    entry = replace(entry, bytes_read=reader.bytes_read, indexed=moment)
    return Indexed(entry, tuple(title.made))


# ----- the background indexer -----


@dataclass(frozen=True)
class Progress:
    """How far the indexer has got: titles indexed, titles to do, the one under way."""

    indexed: int = 0
    to_do: int = 0
    current: str | None = None


class Indexer:
    """Index every playable title of `library` that `index` has no current entry for, one at
    a time, in a daemon thread (`start`), a pass every `idle_seconds`; pause `pause_seconds`
    when storage fails, then go on."""

    def __init__(
        self,
        storage: Storage,
        library: Library,
        index: MediaIndex,
        *,
        clock: Callable[[], float] = time.time,
        idle_seconds: float = 30.0,
        pause_seconds: float = 60.0,
        work_dir: Path | None = None,
    ) -> None:
        self.storage = storage
        self.library = library
        self.index = index
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.pause_seconds = pause_seconds
        self.work_dir = work_dir
        self._lock = threading.Lock()
        self._progress = Progress()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The versions indexed by this process: not done again while the catalog cannot be
        # read (MediaIndex.entries then answers {}).
        self._done: dict[str, tuple[str | None, int | None]] = {}

    def progress(self) -> tuple[int, int, str | None]:
        """Return (titles indexed, titles to do, the title under way or None)."""
        with self._lock:
            return self._progress.indexed, self._progress.to_do, self._progress.current

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._progress = replace(self._progress, **changes)

    def _advance(self) -> None:
        with self._lock:
            done = self._progress
            self._progress = replace(done, indexed=done.indexed + 1, to_do=done.to_do - 1)

    def pending(self) -> tuple[list[Video], int]:
        """Return the playable titles without a current entry, and how many have one."""
        entries: Mapping[str, IndexEntry] = self.index.entries()
        pending, indexed = [], 0
        for video in self.library.all_videos():
            if not video.playable:
                continue
            entry = entries.get(video.name)
            version = version_of(video)
            if (entry is not None and entry.is_current(*version)) or (
                self._done.get(video.name) == version
            ):
                indexed += 1
            else:
                pending.append(video)
        return pending, indexed

    def run_once(self) -> int:
        """Index every title that needs it; return how many were indexed. Raises
        StorageError when storage fails (what was done is kept)."""
        require_tools()
        pending, indexed = self.pending()
        self._set(indexed=indexed, to_do=len(pending), current=None)
        count = 0
        try:
            with self._workspace() as work, RangeServer(self.storage) as reader:
                for video in pending:
                    if self._stop.is_set():
                        break
                    self._set(current=video.name)
                    count += self._index_one(video, reader, work)
                    self._advance()
                    self.index.save()
        finally:
            self._set(current=None)
        self.index.save(force=True)
        return count

    def _index_one(self, video: Video, reader: RangeServer, work: Path) -> bool:
        """Index one title and store what was made for it; False when it is gone."""
        try:
            folder_objects = self.library.folder_objects(video) if video.kind is Kind.HLS else ()
            with tempfile.TemporaryDirectory(dir=work) as scratch:
                now = datetime.fromtimestamp(self.clock(), UTC)
                done = index_title(self.storage, video, reader, Path(scratch), folder_objects, now)
                for made in done.made:
                    self.storage.upload(made.name, made.path, made.content_type)
        except NotFound:
            log.info("%s was not indexed: it is gone", video.name)
            return False
        if done.entry.status is Status.UNREADABLE:
            log.info("%s cannot be read: %s", video.name, done.entry.error)
        self.index.put(done.entry)
        self._done[video.name] = version_of(video)
        return True

    @contextmanager
    def _workspace(self) -> Iterator[Path]:
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            yield self.work_dir
            return
        with tempfile.TemporaryDirectory(prefix="homemovies-index-") as folder:
            yield Path(folder)

    # ----- the thread -----

    def start(self) -> None:
        """Index in a daemon thread until `stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="homemovies-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop after the title under way; wait up to `timeout` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        paused = False
        while not self._stop.is_set():
            try:
                self.run_once()
            except StorageError as error:
                if not paused:
                    log.warning(
                        "the library index is paused: %s; trying again in %g s",
                        error,
                        self.pause_seconds,
                    )
                log.debug("the library index failed", exc_info=error)
                paused = True
                self._stop.wait(self.pause_seconds)
                continue
            except ToolsMissing as error:
                log.error("the library index is off: %s", error)
                return
            except Exception:
                log.exception("the library index stopped")  # a bug: say so, do not spin on it
                return
            if paused:
                log.info("the library index goes on: storage answers again")
                paused = False
            self._stop.wait(self.idle_seconds)
