"""`python -m lib.ingest` into a local library, on real camera-like files made by ffmpeg."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import m3u8
import pytest

from lib.library import Kind, Library
from lib.storage.local import LocalStorage
from tests.camera_media import make_fixtures, session_media
from tests.ingest_run import run_ingest
from tests.media_fixtures import KINDS, make_fixture, probe

GOOD = {
    "phone_h264": "phone_h264",
    "phone_hevc_portrait": "phone_hevc_portrait",
    "hdr_hlg": "hdr_hlg",
    "interlaced_mts": "interlaced_mts",
    "dv_avi": "dv_avi",
    "vfr_mp4": "vfr_mp4",
    "multi_audio_mkv": "multi_audio_mkv",
    "no_audio": "no_audio",
    "avi_mpeg4": "avi_mpeg4",
    "wmv": "wmv",
    "mpg": "mpg",
}
BAD = ("not_video", "zero_bytes", "truncated")
Runs = dict[str, tuple[Path, subprocess.CompletedProcess[str]]]  # name -> (library, result)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_media(tmp_path_factory)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Runs:
    """Two runs at once, each into a library of its own: "camera", over a folder of good
    files with bad ones among them, and "hd", of the 1080p source. (An ffmpeg making a title
    keeps one core busy and the other only in part: the two share the cores.)"""
    inputs = tmp_path_factory.mktemp("camera")
    made = make_fixtures([*GOOD, *BAD, "full_hd"], media)
    for kind in (*GOOD, *BAD):
        (inputs / made[kind].name).symlink_to(made[kind])
    arguments = {
        "camera": ("--folder", "Camera", inputs),
        "hd": ("--folder", "HD", made["full_hd"]),
    }
    libraries = {name: tmp_path_factory.mktemp(f"library-{name}") for name in arguments}
    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        running = {
            name: pool.submit(run_ingest, "--library", libraries[name], *args)
            for name, args in arguments.items()
        }
        return {name: (libraries[name], future.result()) for name, future in running.items()}


@pytest.fixture(scope="session")
def ingested(runs: Runs) -> tuple[Path, str]:
    """One run over a folder of good files with bad ones among them."""
    library, result = runs["camera"]
    assert result.returncode == len(BAD), result.stderr
    return library, result.stderr


def title_folder(library: Path, kind: str) -> Path:
    return library / "Camera" / (Path(make_name(kind)).stem + ".hls")


def make_name(kind: str) -> str:
    return KINDS[kind].file_name


def variants(folder: Path) -> list[m3u8.Playlist]:
    master = m3u8.load(str(folder / "output.m3u8"))
    assert master.is_variant
    return list(master.playlists)


def video_of(path: Path) -> dict[str, object]:
    return next(s for s in probe(path)["streams"] if s["codec_type"] == "video")


def first_segment(folder: Path, playlist: m3u8.Playlist) -> Path:
    assert playlist.uri is not None
    variant = m3u8.load(str(folder / playlist.uri))
    assert variant.playlist_type == "vod" and variant.is_endlist
    uri = variant.segments[0].uri
    assert uri is not None
    return folder / Path(playlist.uri).parent / uri


def mean_luma(image: Path) -> float:
    """The average brightness (0-255) of an image, from ffmpeg's signalstats."""
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-f", "lavfi", f"movie={image},signalstats",
            "-show_entries", "frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(result.stdout.strip().splitlines()[0])


@pytest.mark.parametrize("kind", GOOD)
def test_every_good_input_becomes_a_playable_title(ingested: tuple[Path, str], kind: str) -> None:
    library, _ = ingested
    folder = title_folder(library, kind)
    playlists = variants(folder)
    assert playlists, kind
    for playlist in playlists:
        segment = first_segment(folder, playlist)
        video = video_of(segment)
        assert video["codec_name"] == "h264" and video["profile"] == "High"
        assert video["pix_fmt"] == "yuv420p"
        width, height = playlist.stream_info.resolution or (0, 0)
        assert (video["width"], video["height"]) == (width, height)
        assert video.get("field_order", "progressive") == "progressive"
    assert (folder / "poster.jpg").stat().st_size > 1000
    assert (folder / "preview" / "sprite.jpg").is_file()
    vtt = (folder / "preview" / "thumbnails.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "sprite.jpg#xywh=0,0," in vtt
    info = json.loads((folder / "info.json").read_text())
    assert info["duration"] > 1 and info["width"] > 0 and info["codec"]


def test_the_library_lists_the_new_titles_as_hls(ingested: tuple[Path, str]) -> None:
    library, _ = ingested
    storage = LocalStorage(library)
    videos = [v for v in Library(storage).all_videos() if v.tab == "Camera"]
    assert sorted(v.title for v in videos) == sorted(Path(make_name(k)).stem for k in GOOD)
    assert {v.kind for v in videos} == {Kind.HLS}
    assert all(v.poster for v in videos)
    assert not list((library / ".homemovies" / "ingest").iterdir())  # work folders gone


def test_bad_inputs_get_one_sentence_each_and_nothing_in_the_library(
    ingested: tuple[Path, str],
) -> None:
    library, stderr = ingested
    failures = [line for line in stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == len(BAD)
    for kind in BAD:
        line = next(f for f in failures if make_name(kind) in f)
        assert line.endswith("."), line
        assert not title_folder(library, kind).exists()
    assert "Traceback" not in stderr


def test_a_1080p_source_gets_four_rungs_with_aligned_segments(runs: Runs) -> None:
    library, result = runs["hd"]
    assert result.returncode == 0, result.stderr
    folder = library / "HD" / "full_hd.hls"
    playlists = variants(folder)
    assert sorted(p.stream_info.resolution or (0, 0) for p in playlists) == [
        (640, 360),
        (960, 540),
        (1280, 720),
        (1920, 1080),
    ]
    durations = set()
    for playlist in playlists:
        assert playlist.uri is not None
        variant = m3u8.load(str(folder / playlist.uri))
        durations.add(tuple(round(s.duration or 0, 2) for s in variant.segments))
        codecs = playlist.stream_info.codecs or ""
        assert codecs.startswith("avc1.64") and codecs.endswith(",mp4a.40.2")
        sizes = [
            (folder / Path(playlist.uri).parent / (s.uri or "")).stat().st_size
            for s in variant.segments
        ]
        peak = max(
            size * 8 / (s.duration or 1) for size, s in zip(sizes, variant.segments, strict=True)
        )
        assert playlist.stream_info.bandwidth == pytest.approx(peak, rel=0.01)
    assert len(durations) == 1  # every rung cut at the same instants


def test_the_poster_is_not_the_black_first_frame(ingested: tuple[Path, str], media: Path) -> None:
    library, _ = ingested
    poster = title_folder(library, "phone_h264") / "poster.jpg"
    assert mean_luma(poster) > 40


def test_a_portrait_phone_video_stays_portrait(ingested: tuple[Path, str]) -> None:
    library, _ = ingested
    for playlist in variants(title_folder(library, "phone_hevc_portrait")):
        width, height = playlist.stream_info.resolution or (0, 0)
        assert height > width
    info = json.loads((title_folder(library, "phone_hevc_portrait") / "info.json").read_text())
    assert info["codec"] == "hevc" and info["height"] > info["width"]
    assert info["recorded"].startswith("2023-07-14T10:20:30")


def test_hdr_is_tone_mapped_to_sdr(ingested: tuple[Path, str]) -> None:
    library, _ = ingested
    folder = title_folder(library, "hdr_hlg")
    video = video_of(first_segment(folder, variants(folder)[0]))
    assert video.get("color_transfer") == "bt709"
    assert video.get("color_primaries") == "bt709"


def test_frame_rates_are_constant_and_capped(ingested: tuple[Path, str]) -> None:
    library, _ = ingested
    folder = title_folder(library, "vfr_mp4")
    for playlist in variants(folder):
        video = video_of(first_segment(folder, playlist))
        assert video["r_frame_rate"] == video["avg_frame_rate"] or video["r_frame_rate"] in (
            "30/1",
            "60/1",
        )
        num, den = str(video["r_frame_rate"]).split("/")
        assert int(num) / int(den) <= 60


def test_audio_tracks_first_only_and_none_when_absent(ingested: tuple[Path, str]) -> None:
    library, _ = ingested
    folder = title_folder(library, "multi_audio_mkv")
    streams = probe(first_segment(folder, variants(folder)[0]))["streams"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(audio) == 1 and audio[0]["channels"] == 2 and audio[0]["profile"] == "LC"
    silent = title_folder(library, "no_audio")
    assert all("mp4a" not in (p.stream_info.codecs or "") for p in variants(silent))
    streams = probe(first_segment(silent, variants(silent)[0]))["streams"]
    assert [s["codec_type"] for s in streams] == ["video"]


def test_an_existing_title_is_refused_unless_replace(tmp_path: Path, media: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    clip = make_fixture("no_audio", media)
    run_ingest("--library", library, "--folder", "A", "--title", "Clip", clip, check=True)
    again = run_ingest("--library", library, "--folder", "A", "--title", "Clip", clip)
    assert again.returncode == 1
    assert "already in the library; pass --replace" in again.stderr
    stamp = (library / "A" / "Clip.hls" / "output.m3u8").stat().st_mtime_ns
    run_ingest(
        "--library", library, "--folder", "A", "--title", "Clip", "--replace", clip, check=True
    )
    assert (library / "A" / "Clip.hls" / "output.m3u8").stat().st_mtime_ns != stamp
    assert [p.name for p in (library / "A").iterdir()] == ["Clip.hls"]


def test_dry_run_writes_nothing(tmp_path: Path, media: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    result = run_ingest(
        "--library", library, "--folder", "A", "--dry-run", make_fixture("full_hd", media)
    )
    assert result.returncode == 0, result.stderr
    assert "1080p: 1920x1080" in result.stderr and "360p: 640x360" in result.stderr
    assert "A/full_hd.hls/" in result.stderr
    assert not (library / "A").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--title", ".hidden"], "starts with a dot"),
        (["--title", "a/b"], "contains a slash"),
        (["--title", " "], "is empty"),
    ],
)
def test_a_name_that_cannot_be_a_title_is_refused(
    tmp_path: Path, media: Path, args: list[str], message: str
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    result = run_ingest(
        "--library", library, "--folder", "A", *args, make_fixture("no_audio", media)
    )
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (library / "A").exists()


def test_settings_mistakes_are_one_sentence(tmp_path: Path) -> None:
    result = run_ingest("--folder", "A", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("homemovies ingest: Pass --library PATH")
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_is_a_manual() -> None:
    result = run_ingest("--help")
    assert result.returncode == 0
    for flag in (
        "--library",
        "--bucket",
        "--folder",
        "--title",
        "--dry-run",
        "--replace",
        "--keep-original",
        "--existing",
        "--all-unplayable",
        "--delete-original",
    ):
        assert flag in result.stdout


def test_existing_objects_are_converted_in_place(tmp_path: Path, media: Path) -> None:
    library = tmp_path / "library"
    (library / "Events").mkdir(parents=True)
    tape = library / "Events" / "Old tape.avi"
    tape.write_bytes(make_fixture("avi_mpeg4", media).read_bytes())
    run_ingest("--library", library, "--all-unplayable", check=True)
    assert (library / "Events" / "Old tape.hls" / "output.m3u8").is_file()
    assert tape.is_file()  # kept unless --delete-original
    run_ingest(
        "--library", library, "--existing", "Events/Old tape.avi", "--replace",
        "--delete-original", "--keep-original", check=True,
    )  # fmt: skip
    kept = library / "Events" / "Old tape.hls" / "original.avi"
    assert kept.read_bytes() == make_fixture("avi_mpeg4", media).read_bytes()
    assert not tape.exists()
    assert (library / "Events" / "Old tape.hls" / "output.m3u8").is_file()
    assert not list((library / ".homemovies" / "ingest").iterdir())  # no copy of the tape left


def test_keep_original_stores_the_source_in_the_title(tmp_path: Path, media: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    clip = make_fixture("no_audio", media)
    result = run_ingest("--library", library, "--folder", "A", "--keep-original", clip, check=True)
    kept = library / "A" / "no_audio.hls" / "original.mp4"
    assert kept.read_bytes() == clip.read_bytes()
    assert "original kept" in result.stderr
