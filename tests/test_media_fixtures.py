"""The ingest fixtures are what they claim to be: ffprobe agrees with KINDS about every one."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.media_fixtures import (
    CREATION_TIME,
    FFMPEG,
    FFPROBE,
    KINDS,
    FfmpegError,
    audio_streams,
    make_fixture,
    probe,
    probe_first_frame,
    rate,
    rotation,
    video_stream,
)

VIDEO_KINDS = [kind for kind, spec in KINDS.items() if spec.readable]
BROKEN_KINDS = [kind for kind, spec in KINDS.items() if not spec.readable]


@pytest.fixture(scope="session")
def fixture_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which(FFMPEG) is None or shutil.which(FFPROBE) is None:
        pytest.fail("ffmpeg and ffprobe are required: apt-get install -y ffmpeg")
    return tmp_path_factory.mktemp("ingest-media")


def gray_frames(path: Path, start: float, count: int) -> list[bytes]:
    """Decode `count` frames from `start` s as 32x18 grayscale pictures."""
    out = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-nostdin",
            "-ss",
            str(start),
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-frames:v",
            str(count),
            "-vf",
            "scale=32:18,format=gray",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    size = 32 * 18
    return [out[i : i + size] for i in range(0, len(out), size)]


def mean(picture: bytes) -> float:
    return sum(picture) / len(picture)


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_ffprobe_says_what_the_spec_says(kind: str, fixture_folder: Path) -> None:
    spec = KINDS[kind]
    path = make_fixture(kind, fixture_folder)
    assert path == fixture_folder / spec.file_name
    info = probe(path)
    video = video_stream(info)
    assert video is not None
    assert video["codec_name"] == spec.video_codec
    assert (video["width"], video["height"]) == (spec.width, spec.height)
    assert rotation(video) == spec.rotation
    assert video["pix_fmt"] == spec.pix_fmt
    assert video.get("field_order") == spec.field_order
    assert video.get("color_transfer") == spec.color_transfer
    assert video.get("color_primaries") == spec.color_primaries
    assert video.get("color_space") == spec.color_space
    if spec.frame_rate:
        assert video["r_frame_rate"] == spec.frame_rate
    assert (video["r_frame_rate"] != video["avg_frame_rate"]) == spec.variable_frame_rate
    audio = audio_streams(info)
    assert len(audio) == spec.audio_streams
    if audio:
        assert audio[0]["codec_name"] == spec.audio_codec
    if spec.audio_languages:
        assert tuple(a["tags"]["language"] for a in audio) == spec.audio_languages
    form = info["format"]
    assert form["format_name"] == spec.format_name
    assert spec.duration is not None
    assert float(form["duration"]) == pytest.approx(spec.duration, abs=0.5)
    if spec.bit_rate:
        assert int(form["bit_rate"]) == pytest.approx(spec.bit_rate, rel=0.15)
    created = form.get("tags", {}).get("creation_time")
    if spec.creation_time:
        assert created is not None
        assert created.startswith(spec.creation_time.removesuffix("Z"))
    first = probe_first_frame(path)
    assert bool(first["interlaced_frame"]) == spec.interlaced
    if spec.top_field_first is not None:
        assert bool(first["top_field_first"]) == spec.top_field_first


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_the_picture_moves(kind: str, fixture_folder: Path) -> None:
    frames = gray_frames(make_fixture(kind, fixture_folder), 1.0, 8)
    assert len(frames) == 8
    assert len(set(frames)) >= 4, "a still picture: poster picking would learn nothing"


def test_phone_h264_fades_in_from_black(fixture_folder: Path) -> None:
    path = make_fixture("phone_h264", fixture_folder)
    assert mean(gray_frames(path, 0, 1)[0]) < 20  # limited-range black is 16
    assert mean(gray_frames(path, 1.0, 1)[0]) > 40


def test_phone_fixtures_keep_the_creation_time(fixture_folder: Path) -> None:
    for kind in ("phone_h264", "phone_hevc_portrait"):
        tags = probe(make_fixture(kind, fixture_folder))["format"]["tags"]
        assert tags["creation_time"] == CREATION_TIME.replace("Z", ".000000Z")


def test_portrait_hevc_is_shown_portrait(fixture_folder: Path) -> None:
    spec = KINDS["phone_hevc_portrait"]
    assert spec.display_size == (720, 1280)
    video = video_stream(probe(make_fixture("phone_hevc_portrait", fixture_folder)))
    assert video is not None
    assert video["codec_tag_string"] == "hvc1"
    [matrix] = [s for s in video["side_data_list"] if s["side_data_type"] == "Display Matrix"]
    assert matrix["rotation"] == -90


def test_hdr_pq_carries_mastering_display_metadata(fixture_folder: Path) -> None:
    first = probe_first_frame(make_fixture("hdr_pq", fixture_folder))
    kinds = {s["side_data_type"] for s in first.get("side_data_list", [])}
    assert {"Mastering display metadata", "Content light level metadata"} <= kinds


def test_vfr_mp4_runs_at_120_fps_somewhere(fixture_folder: Path) -> None:
    path = make_fixture("vfr_mp4", fixture_folder)
    out = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = sorted(float(line) for line in out.split())
    gaps = {round(1 / (b - a)) for a, b in itertools.pairwise(times)}
    assert {24, 60, 120} <= gaps
    assert max(gaps) == KINDS["vfr_mp4"].max_frame_rate
    video = video_stream(probe(path))
    assert video is not None
    assert rate(video["avg_frame_rate"]) < rate(video["r_frame_rate"])


def test_multi_audio_mkv_has_english_then_french(fixture_folder: Path) -> None:
    english, french = audio_streams(probe(make_fixture("multi_audio_mkv", fixture_folder)))
    assert english["tags"]["language"] == "eng"
    assert english["channels"] == 2
    assert english["disposition"]["default"] == 1
    assert french["tags"]["language"] == "fre"
    assert french["disposition"]["default"] == 0


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_broken_files_do_not_probe_as_video(kind: str, fixture_folder: Path) -> None:
    path = make_fixture(kind, fixture_folder)
    assert path.suffix in {".mp4", ".mov"}
    with pytest.raises(FfmpegError, match=r"Invalid data found|moov atom not found"):
        probe(path)


def test_broken_files_are_what_they_say(fixture_folder: Path) -> None:
    assert make_fixture("not_video", fixture_folder).read_text() == "hello, not a video\n"
    assert make_fixture("zero_bytes", fixture_folder).stat().st_size == 0
    whole = make_fixture("phone_h264", fixture_folder).read_bytes()
    part = make_fixture("truncated", fixture_folder).read_bytes()
    assert part == whole[: len(whole) // 5]


def test_a_made_fixture_is_reused(fixture_folder: Path) -> None:
    path = make_fixture("wmv", fixture_folder)
    made = path.stat().st_mtime_ns
    assert make_fixture("wmv", fixture_folder) == path
    assert path.stat().st_mtime_ns == made
    assert not list(fixture_folder.glob(".*partial*")), "no temporary file is left behind"


def test_rate_reads_ffprobe_rates() -> None:
    assert rate("30000/1001") == pytest.approx(29.97, abs=0.01)
    assert rate("0/0") == 0
    assert rate("25") == 25
