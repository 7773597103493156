"""The library indexer, with real ffmpeg, on the local backend and on the loopback OCI server
through the real SDK: what every kind of title's entry says, what is made for it and where,
what is read to make it, what is not tried again, and an outage survived."""

from __future__ import annotations

import logging
import math
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import oci as oci_sdk
import pytest

from lib.ingest.indexer import Indexer, cell_count, index_title
from lib.ingest.range_server import RangeServer
from lib.library import Library, Video
from lib.media_index import CATALOG, INDEX_PREFIX, IndexEntry, MediaIndex, Status, entry_folder
from lib.services import build_storage
from lib.storage import Storage, Unavailable
from lib.storage.local import LocalStorage
from lib.storage.oci import OciStorage
from lib.storage.oci_auth import client_options, load_auth, object_storage_client, retry_strategy
from scripts.make_demo import encode_hls_variants
from tests.camera_media import make_fixtures, session_media
from tests.conftest import LoopbackOci, start_loopback_oci
from tests.ingest_run import ROOT, ingest_command, ingest_env
from tests.loopback import settings_for
from tests.media_fixtures import KINDS, make_fixture, probe, rotation, video_stream
from tests.oci_server import Fault, OciApiServer, Seen
from tests.ui import wait_until

MIB = 1024 * 1024
TAB = "Trips"
FILES = {  # title -> fixture kind
    f"{TAB}/Fast.mp4": "faststart_h264",
    f"{TAB}/Big.mp4": "big_faststart",  # 27 MB: only a part of it may be read
    f"{TAB}/Beach.mp4": "phone_h264",  # the moov atom last, as phones write it
    f"{TAB}/Upright.mov": "phone_hevc_portrait",
    f"{TAB}/Old tape.mp4": "mpeg4_mp4",
    f"{TAB}/Quiet.mp4": "no_audio",
    f"{TAB}/Posed.mp4": "faststart_h264",  # beside its own poster, Posed.jpg
    f"{TAB}/Fun #2 & 50% é?.mp4": "faststart_h264",
    f"{TAB}/Broken.mp4": "truncated",
    f"{TAB}/Empty.mov": "zero_bytes",
}
HAND_POSTER = f"{TAB}/Posed.jpg"
INGESTED = f"{TAB}/Harbour.hls/"  # made by ingest: poster, preview and sidecar inside
WALK = f"{TAB}/Walk.hls/"  # ffmpeg -f hls: one media playlist, 1 s segments
VARIANTS = f"{TAB}/Variants.hls/"  # a master over 360p and 180p variants
FRAGMENTS = f"{TAB}/Fragments.hls/"  # ffmpeg -f hls -hls_segment_type fmp4: an init section
READABLE = [name for name, kind in FILES.items() if KINDS[kind].readable]
MADE_POSTERS = [name for name in READABLE if name != f"{TAB}/Posed.mp4"]
HAND_MADE = [WALK, VARIANTS, FRAGMENTS]
TITLES = len(FILES) + 1 + len(HAND_MADE)
CUE = re.compile(r"([\d:.]+) --> ([\d:.]+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)")


# ----- the library, on both backends -----


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_media(tmp_path_factory)


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Path:
    """One tab holding a title of every kind the indexer meets."""
    root = tmp_path_factory.mktemp("index-library")
    (root / TAB).mkdir()
    clip = make_fixture("phone_h264", media)
    # Harbour is ingested (a child process, as a user runs it) while the rest is made.
    harbour = subprocess.Popen(
        ingest_command("--library", root, "--folder", TAB, "--title", "Harbour", clip),
        cwd=ROOT, env=ingest_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        made = make_fixtures(FILES.values(), media)
        for name, kind in FILES.items():
            shutil.copy(made[kind], root / name)
        ffmpeg(
            "-f", "lavfi", "-i", "color=c=red:s=320x180", "-frames:v", "1", str(root / HAND_POSTER)
        )  # fmt: skip
        for folder, kind in ((WALK, "mpegts"), (FRAGMENTS, "fmp4")):
            (root / folder).mkdir()
            ffmpeg(
                "-i", str(clip), "-c", "copy", "-f", "hls", "-hls_time", "1",
                "-hls_segment_type", kind, "-hls_playlist_type", "vod",
                str(root / folder / "output.m3u8"),
            )  # fmt: skip
        encode_hls_variants(root / VARIANTS)
    except BaseException:
        harbour.kill()
        harbour.wait()
        raise
    _, stderr = harbour.communicate(timeout=600)
    assert harbour.returncode == 0, stderr
    return root


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


class ReadCountingStorage(LocalStorage):
    """The real local backend, recording the name of every object read through it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, name: str, start: int, end: int) -> Iterator[bytes]:
        self.reads.append(name)
        return super().read(name, start, end)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackOci]:
    oci = start_loopback_oci(tmp_path_factory.mktemp("index-oci"))
    yield oci
    oci.server.stop()


def local_copy(library_dir: Path, base: Path) -> Path:
    """A copy of the library (hard links) the indexer may write into."""
    root = base / "library"
    shutil.copytree(library_dir, root, copy_function=_link)
    return root


def _link(source: str, target: str) -> None:
    Path(target).hardlink_to(source)


def oci_bucket(
    loopback: LoopbackOci, library_dir: Path, bucket: str, tries: int | None = None
) -> OciStorage:
    """The library as a bucket of the loopback OCI server, through the real SDK; with
    `tries`, its reads are tried that many times, not the app's four (whose backoff waits
    up to 2 + 4 + 8 s when a fault outlasts them)."""
    loopback.server.put_folder(bucket, library_dir)
    if tries is None:
        storage = build_storage(settings_for(loopback, bucket))
        assert isinstance(storage, OciStorage)
        return storage
    auth = load_auth(settings_for(loopback, bucket).oci_credentials)
    options = client_options(auth, loopback.url, None)
    options["retry_strategy"] = retry_strategy(max_attempts=tries)
    return OciStorage(
        oci_sdk.object_storage.ObjectStorageClient(**options),
        bucket,
        upload_client=object_storage_client(auth, loopback.url, retries=False),
    )


@dataclass
class Run:
    """One indexer pass over the library on one backend, and what it did."""

    storage: Storage
    indexer: Indexer
    count: int
    before: dict[str, int]  # every object and its size before the pass
    seen: list[Seen] | None  # the OCI server's requests during the pass (None: local)
    read: list[str]  # the objects read during the pass
    library_dir: Path
    server: OciApiServer

    def reads_during(self, action: Callable[[], object]) -> list[str]:
        """Run `action`; return the objects it read from storage."""
        if isinstance(self.storage, ReadCountingStorage):
            self.storage.reads.clear()
            action()
            return list(self.storage.reads)
        mark = self.server.mark()
        action()
        return objects_read(self.server.since(mark))

    @property
    def entries(self) -> dict[str, IndexEntry]:
        return stored_entries(self.storage)

    def video(self, name: str) -> Video:
        found = Library(self.storage).find(name)
        assert found is not None, name
        return found

    def served(self, name: str) -> int:
        """Body bytes the OCI server sent for object `name` (or below prefix `name`)."""
        assert self.seen is not None
        return sum(s.body_bytes for s in self.seen if s.method == "GET" and in_path(s, name))


def in_path(seen: Seen, name: str) -> bool:
    return "/o/" in seen.path and seen.path.split("/o/", 1)[1].startswith(name)


def objects_read(seen: list[Seen]) -> list[str]:
    """The objects the OCI server sent (GET) among `seen` requests."""
    return [s.path.split("/o/", 1)[1] for s in seen if s.method == "GET" and "/o/" in s.path]


def stored_entries(storage: Storage) -> dict[str, IndexEntry]:
    """The catalog as stored, read afresh (as another process, or after a restart, reads it)."""
    return MediaIndex(storage).entries()


def new_indexer(storage: Storage, work: Path, **options: float) -> Indexer:
    return Indexer(storage, Library(storage), MediaIndex(storage), work_dir=work, **options)


BACKENDS = ("local", "oci")


def index_pass(backend: str, library_dir: Path, loopback: LoopbackOci, base: Path) -> Run:
    """One indexer pass over a fresh copy of the library on `backend`."""
    if backend == "local":
        storage: Storage = ReadCountingStorage(local_copy(library_dir, base))
    else:
        storage = oci_bucket(loopback, library_dir, "indexed")
    before = {info.name: info.size for info in storage.scan()}
    indexer = new_indexer(storage, base / "work")
    mark = loopback.server.mark()
    count = indexer.run_once()
    if isinstance(storage, ReadCountingStorage):
        seen, read = None, list(storage.reads)
    else:
        seen = loopback.server.since(mark)  # the local pass sends the server nothing
        read = objects_read(seen)
    return Run(storage, indexer, count, before, seen, read, library_dir, loopback.server)


@pytest.fixture(scope="module")
def passes(
    library_dir: Path, loopback: LoopbackOci, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Run]:
    """A pass on each backend, both at once: a pass runs its ffprobe and ffmpeg one at a
    time, each on one thread, so the two passes keep two cores busy instead of one."""
    bases = {backend: tmp_path_factory.mktemp(f"index-{backend}") for backend in BACKENDS}
    with ThreadPoolExecutor(max_workers=len(BACKENDS)) as pool:
        running = {
            backend: pool.submit(index_pass, backend, library_dir, loopback, bases[backend])
            for backend in BACKENDS
        }
        return {backend: future.result() for backend, future in running.items()}


@pytest.fixture(scope="module", params=BACKENDS)
def run(request: pytest.FixtureRequest, passes: dict[str, Run]) -> Run:
    return passes[request.param]


def fetch(storage: Storage, name: str, folder: Path) -> Path:
    """Copy object `name` to a local file."""
    path = folder / name.rsplit("/", 1)[-1]
    path.write_bytes(b"".join(storage.read(name, 0, storage.stat(name).size - 1)))
    return path


def picture_size(path: Path) -> tuple[int, int, str]:
    stream = video_stream(probe(path))
    assert stream is not None
    return stream["width"], stream["height"], stream["codec_name"]


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


# ----- what every entry says -----


def test_every_playable_title_is_indexed_once(run: Run) -> None:
    assert run.count == TITLES
    assert set(run.entries) == {*FILES, INGESTED, *HAND_MADE}
    assert run.indexer.run_once() == 0
    assert run.indexer.progress() == (TITLES, 0, None)


@pytest.mark.parametrize("name", READABLE)
def test_a_file_gets_the_length_picture_size_and_recording_date_ffprobe_gives(
    run: Run, name: str
) -> None:
    entry = run.entries[name]
    info = probe(run.library_dir / name)
    stream = video_stream(info)
    assert stream is not None
    width, height = stream["width"], stream["height"]
    if rotation(stream) % 180:
        width, height = height, width
    assert entry.status is Status.OK
    assert entry.duration == pytest.approx(float(info["format"]["duration"]), abs=0.2)
    assert (entry.width, entry.height) == (width, height)
    video = run.video(name)
    assert (entry.etag, entry.size) == (video.etag, video.size)
    created = KINDS[FILES[name]].creation_time
    assert entry.recorded is not None and video.modified is not None
    if created:
        assert entry.recorded == datetime.fromisoformat(created)
    else:  # no creation_time: the object's own time
        assert abs(entry.recorded - video.modified) < timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("name", "video_codec", "audio_codec", "mime"),
    [
        (f"{TAB}/Fast.mp4", "h264", "aac", 'video/mp4; codecs="avc1.42401f,mp4a.40.2"'),
        (f"{TAB}/Quiet.mp4", "h264", None, 'video/mp4; codecs="avc1.42401f"'),
        (f"{TAB}/Upright.mov", "hevc", "aac", 'video/mp4; codecs="hvc1.1.6.L93.B0,mp4a.40.2"'),
        (f"{TAB}/Old tape.mp4", "mpeg4", "aac", 'video/mp4; codecs="mp4v.20.1,mp4a.40.2"'),
        (WALK, "h264", "aac", 'video/mp4; codecs="avc1.42401f,mp4a.40.2"'),
        (FRAGMENTS, "h264", "aac", 'video/mp4; codecs="avc1.42401f,mp4a.40.2"'),
    ],
)
def test_a_title_is_offered_to_the_browser_with_its_codecs(
    run: Run, name: str, video_codec: str, audio_codec: str | None, mime: str
) -> None:
    entry = run.entries[name]
    assert (entry.video_codec, entry.audio_codec, entry.mime) == (video_codec, audio_codec, mime)
    assert entry.has_picture


# ----- posters and seek previews -----


@pytest.mark.parametrize("name", [*MADE_POSTERS, *HAND_MADE])
def test_a_poster_is_made_for_a_title_without_one(run: Run, name: str, tmp_path: Path) -> None:
    entry = run.entries[name]
    assert entry.poster == entry_folder(name) + "poster.jpg"
    assert run.storage.stat(entry.poster).size > 0
    width, height, codec = picture_size(fetch(run.storage, entry.poster, tmp_path))
    assert codec == "mjpeg"
    assert 0 < width <= 640
    assert entry.width is not None and entry.height is not None
    assert (height > width) == (entry.height > entry.width)  # the picture as shown


def test_a_poster_is_not_the_first_frame_but_one_a_third_of_the_way_in(
    run: Run, tmp_path: Path
) -> None:
    entry = run.entries[f"{TAB}/Beach.mp4"]  # fades in from black over its first half second
    assert entry.poster is not None
    poster = fetch(run.storage, entry.poster, tmp_path)
    gray = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(poster), "-vf", "scale=8:8,format=gray",
         "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert sum(gray) / len(gray) > 40  # black is 16


def test_a_title_with_its_own_poster_keeps_it(run: Run) -> None:
    name = f"{TAB}/Posed.mp4"
    assert run.entries[name].poster == HAND_POSTER
    assert not any(n.startswith(entry_folder(name) + "poster.jpg") for n in names(run.storage))


@pytest.mark.parametrize("name", [*READABLE, *HAND_MADE])
def test_a_seek_preview_has_a_cell_every_so_often_in_ingests_format(
    run: Run, name: str, tmp_path: Path
) -> None:
    entry = run.entries[name]
    assert entry.preview == entry_folder(name) + "thumbnails.vtt"
    assert entry.duration is not None and entry.width and entry.height
    text = b"".join(run.storage.read(entry.preview, 0, run.storage.stat(entry.preview).size - 1))
    assert text.startswith(b"WEBVTT\n\n")
    cues = CUE.findall(text.decode())
    count = min(max(round(entry.duration / 10), 2), 30)
    assert len(cues) == count == cell_count(entry.duration)
    cell_height = round(160 * entry.height / entry.width / 2) * 2
    columns = min(count, 10)
    for index, (start, end, sprite, x, y, w, h) in enumerate(cues):
        assert seconds(start) == pytest.approx(index * entry.duration / count, abs=0.002)
        assert seconds(end) == pytest.approx((index + 1) * entry.duration / count, abs=0.002)
        assert sprite == "sprite.jpg"
        assert (int(x), int(y)) == (index % columns * 160, index // columns * cell_height)
        assert (int(w), int(h)) == (160, cell_height)
    width, height, codec = picture_size(
        fetch(run.storage, entry_folder(name) + "sprite.jpg", tmp_path)
    )
    assert (width, height, codec) == (columns * 160, math.ceil(count / 10) * cell_height, "mjpeg")


def test_a_minute_long_title_gets_six_cells(run: Run) -> None:
    entry = run.entries[f"{TAB}/Big.mp4"]
    assert entry.duration == pytest.approx(60, abs=0.2)
    assert entry.preview is not None
    text = b"".join(run.storage.read(entry.preview, 0, run.storage.stat(entry.preview).size - 1))
    assert len(CUE.findall(text.decode())) == 6


def test_an_ingested_title_gets_its_own_poster_and_preview_and_nothing_is_made(run: Run) -> None:
    entry = run.entries[INGESTED]
    assert entry.status is Status.OK
    assert entry.poster == INGESTED + "poster.jpg"
    assert entry.preview == INGESTED + "preview/thumbnails.vtt"
    assert entry.duration == pytest.approx(3.0, abs=0.2)
    assert (entry.width, entry.height) == (1280, 720)
    assert entry.mime is not None and entry.mime.startswith('video/mp4; codecs="avc1.64')
    assert entry.mime.endswith(',mp4a.40.2"')
    assert (entry.video_codec, entry.audio_codec) == ("h264", "aac")
    assert entry.recorded == datetime.fromisoformat(KINDS["phone_h264"].creation_time or "")
    assert not [n for n in names(run.storage) if n.startswith(entry_folder(INGESTED))]
    sidecar_and_master = {INGESTED + "info.json", INGESTED + "output.m3u8"}
    assert entry.bytes_read == sum(run.before[name] for name in sidecar_and_master)
    assert {name for name in run.read if name.startswith(INGESTED)} == sidecar_and_master


def test_a_hand_made_hls_title_is_read_from_its_lightest_variant(run: Run) -> None:
    entry = run.entries[VARIANTS]
    assert entry.duration == pytest.approx(6.0, abs=0.2)  # the playlist's segments
    assert (entry.width, entry.height) == (640, 360)  # its largest variant's
    heavy, light = f"{VARIANTS}stream_0", f"{VARIANTS}stream_1"
    assert any(name.startswith(light) for name in run.read)
    assert not any(name.startswith(heavy) for name in run.read)


# ----- what is read, written and tried again -----


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        (
            f"{TAB}/Broken.mp4",
            "Broken.mp4 is not a video ffmpeg can read (damaged or not a video).",
        ),
        (f"{TAB}/Empty.mov", "Empty.mov is empty (zero bytes)."),
    ],
)
def test_a_file_ffprobe_cannot_read_is_unreadable_with_one_sentence(
    run: Run, name: str, sentence: str
) -> None:
    entry = run.entries[name]
    assert entry.status is Status.UNREADABLE
    assert entry.error == sentence
    assert (entry.poster, entry.preview, entry.duration) == (None, None, None)
    assert not [n for n in names(run.storage) if n.startswith(entry_folder(name))]


def test_an_unreadable_file_is_not_tried_again(run: Run) -> None:
    assert f"{TAB}/Broken.mp4" in run.read
    counts: list[int] = []
    read = run.reads_during(lambda: counts.append(run.indexer.run_once()))
    assert counts == [0]
    assert f"{TAB}/Broken.mp4" not in read
    assert not [name for name in read if not name.startswith(INDEX_PREFIX)]


def test_nothing_is_written_outside_the_index_folder(run: Run) -> None:
    after = {info.name: info.size for info in run.storage.scan()}
    assert {name: after.get(name) for name in run.before} == run.before
    added = set(after) - set(run.before)
    assert added and all(name.startswith(INDEX_PREFIX) for name in added)


def test_only_a_part_of_a_big_file_is_read(run: Run) -> None:
    big, fast = f"{TAB}/Big.mp4", f"{TAB}/Fast.mp4"
    size = run.before[big]
    assert size > 20 * MIB
    assert run.entries[big].bytes_read < size / 4
    assert run.entries[fast].bytes_read <= 8 * MIB
    if run.seen is not None:  # as the OCI server counted what it sent
        assert run.entries[big].bytes_read <= run.served(big) < size / 4
        assert run.served(fast) <= 8 * MIB
        for name in READABLE:
            assert run.served(name) <= 8 * MIB, name


def test_a_playlist_pointing_outside_its_folder_is_unreadable_and_not_followed(
    library_dir: Path, tmp_path: Path
) -> None:
    root = local_copy(library_dir, tmp_path)
    hostile = root / TAB / "Hostile.hls"
    hostile.mkdir()
    (hostile / "output.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n../Fast.mp4\n"
        "#EXTINF:2.0,\nhttps://elsewhere.example/stolen.ts\n#EXT-X-ENDLIST\n"
    )
    storage = ReadCountingStorage(root)
    video = Library(storage).find(f"{TAB}/Hostile.hls/")
    assert video is not None
    with RangeServer(storage) as reader:
        done = index_title(storage, video, reader, tmp_path, ("output.m3u8",))
    assert done.entry.status is Status.UNREADABLE
    assert done.entry.error == "Hostile.hls: its playlist refers to something outside its folder."
    assert storage.reads == [f"{TAB}/Hostile.hls/output.m3u8"]
    assert done.made == ()


# ----- changes, restarts, outages -----


def test_a_changed_file_is_indexed_again(media: Path, tmp_path: Path) -> None:
    (tmp_path / "library" / TAB).mkdir(parents=True)
    target = tmp_path / "library" / TAB / "Fast.mp4"
    shutil.copy(make_fixture("faststart_h264", media), target)
    shutil.copy(make_fixture("no_audio", media), target.with_name("Quiet.mp4"))
    storage = LocalStorage(tmp_path / "library")
    indexer = new_indexer(storage, tmp_path / "work")
    assert indexer.run_once() == 2
    assert stored_entries(storage)[f"{TAB}/Fast.mp4"].audio_codec == "aac"
    shutil.copy(make_fixture("no_audio", media), target)
    indexer.library.refresh()
    assert indexer.run_once() == 1
    entry = stored_entries(storage)[f"{TAB}/Fast.mp4"]
    assert (entry.size, entry.etag) == (target.stat().st_size, storage.stat(entry.name).etag)
    assert (entry.audio_codec, entry.mime) == (None, 'video/mp4; codecs="avc1.42401f"')


def test_nothing_is_indexed_again_after_a_restart(run: Run) -> None:
    restarted = Indexer(run.storage, Library(run.storage), MediaIndex(run.storage))
    counts: list[int] = []
    read = run.reads_during(lambda: counts.append(restarted.run_once()))
    assert counts == [0]
    assert restarted.progress() == (TITLES, 0, None)
    assert not [name for name in read if name != CATALOG]  # the catalog alone is read


def test_an_outage_pauses_the_indexer_with_one_line_and_it_finishes_after(
    loopback: LoopbackOci, media: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "outage"
    for title in ("A", "B", "C"):
        (folder / TAB).mkdir(parents=True, exist_ok=True)
        shutil.copy(make_fixture("faststart_h264", media), folder / TAB / f"{title}.mp4")
    storage = oci_bucket(loopback, folder, "outage", tries=2)  # the outage outlasts a retry
    indexer = new_indexer(storage, tmp_path / "work", idle_seconds=0.2, pause_seconds=0.5)
    down = Fault("status", method="GET", path_contains=f"/o/{TAB}/B.mp4", status=503, times=10**6)
    loopback.server.inject(down)
    caplog.set_level(logging.INFO, logger="homemovies.index")

    def paused() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "the library index is paused" in r.getMessage()]

    indexer.start()
    try:
        wait_until(lambda: paused(), "the indexer did not pause", timeout=120)
        entries = indexer.index.entries()
        assert f"{TAB}/B.mp4" not in entries  # not marked unreadable: storage was down
        assert entries[f"{TAB}/A.mp4"].status is Status.OK
        loopback.server.clear_faults()
        wait_until(lambda: indexer.progress() == (3, 0, None), "it did not finish", timeout=120)
    finally:
        indexer.stop(30)
        loopback.server.clear_faults()
    [record] = paused()
    assert record.levelno == logging.WARNING
    assert re.fullmatch(
        r"the library index is paused: [^\n]+; trying again in 0\.5 s", record.getMessage()
    ), record.getMessage()
    assert down.hits > 0
    assert stored_entries(storage)[f"{TAB}/B.mp4"].status is Status.OK
    # No URL of the range server (they hold its secret) reached the log.
    ports = set(re.findall(r"http://127\.0\.0\.1:(\d+)", caplog.text))
    assert ports <= {loopback.url.rsplit(":", 1)[1]}


# ----- the range server -----


@pytest.fixture
def served(library_dir: Path) -> Iterator[RangeServer]:
    with RangeServer(LocalStorage(library_dir)) as server:
        yield server


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        # Long enough for the SDK to give up retrying (see lib/storage/oci_auth.py).
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_range_server_answers_a_range_with_206_and_only_those_bytes(
    served: RangeServer, library_dir: Path
) -> None:
    name = f"{TAB}/Fun #2 & 50% é?.mp4"
    whole = (library_dir / name).read_bytes()
    status, headers, body = get(served.url(name), {"Range": "bytes=100-1099"})
    assert (status, headers["Content-Range"], body) == (
        206,
        f"bytes 100-1099/{len(whole)}",
        whole[100:1100],
    )
    assert headers["Accept-Ranges"] == "bytes"
    assert served.bytes_read == 1000
    status, headers, body = get(served.url(name), {"Range": "bytes=-10"})
    assert (status, body) == (206, whole[-10:])
    status, headers, _ = get(served.url(name), {"Range": f"bytes={len(whole)}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(whole)}")


def test_the_range_server_serves_nothing_without_its_secret(served: RangeServer) -> None:
    name = f"{TAB}/Fast.mp4"
    elsewhere = served.url(name).replace(served.secret, "guessed")
    assert get(elsewhere)[0] == 404
    assert get(served.url(f"{TAB}/none.mp4"))[0] == 404
    assert get(served.base + "../secret.txt")[0] == 404
    assert served.bytes_read == 0


def test_the_range_server_reads_storage_only_as_fast_as_the_client_reads(
    served: RangeServer, library_dir: Path
) -> None:
    name = f"{TAB}/Big.mp4"
    assert (library_dir / name).stat().st_size > 20 * MIB
    with urllib.request.urlopen(served.url(name), timeout=10) as response:
        assert len(response.read(100_000)) == 100_000
        # The client reads no more: once the kernel's buffers are full, neither does the server.
        counts: list[int] = []

        def steady() -> bool:  # the same count over 0.2 s
            counts.append(served.bytes_read)
            return len(counts) >= 3 and counts[-1] == counts[-3] > 0

        wait_until(steady, "the server kept reading")
        assert 100_000 <= served.bytes_read < 1 * MIB


def test_the_range_server_remembers_that_storage_failed(
    loopback: LoopbackOci, library_dir: Path
) -> None:
    storage = oci_bucket(loopback, library_dir, "range-failure", tries=2)
    name = f"{TAB}/Quiet.mp4"
    loopback.server.inject(Fault("status", "GET", f"/o/{name}", status=503, times=10**6))
    try:
        with RangeServer(storage) as server:
            assert get(server.url(name))[0] == 503
            assert isinstance(server.failure, Unavailable)
            assert get(server.url(f"{TAB}/none.mp4"))[0] == 404
    finally:
        loopback.server.clear_faults()


def names(storage: Storage) -> set[str]:
    return {info.name for info in storage.scan()}
