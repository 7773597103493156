"""The codec strings and MIME types the library index asks a browser about: from ffprobe's
own streams of the fixture files, and from the stream fields of codecs the fixtures lack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import m3u8
import pytest

from lib.ingest.codecs import (
    audio_codec,
    codec_names,
    codecs,
    file_mime,
    hls_mime,
    master_codecs,
    video_codec,
)
from lib.ingest.playlists import avc_codec
from tests.media_fixtures import audio_streams, make_fixture, probe, video_stream


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codec-media")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("faststart_h264", "avc1.42401f,mp4a.40.2"),  # x264 ultrafast: Constrained Baseline 3.1
        ("phone_hevc_portrait", "hvc1.1.6.L93.B0,mp4a.40.2"),
        ("mpeg4_mp4", "mp4v.20.1,mp4a.40.2"),  # Simple Profile, level 1
        ("no_audio", "avc1.42401f"),
        ("avi_mpeg4", "mp4v.20.1,mp4a.6B"),
        ("multi_audio_mkv", "avc1.42401f,mp4a.40.2"),  # the first sound track
    ],
)
def test_the_codecs_of_a_fixture_file(media: Path, kind: str, expected: str) -> None:
    info = probe(make_fixture(kind, media))
    sound = audio_streams(info)
    assert codecs(video_stream(info), sound[0] if sound else None) == expected


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ({"codec_name": "h264", "profile": "High", "level": 40}, "avc1.640028"),
        ({"codec_name": "h264", "profile": "Main", "level": 30}, "avc1.4d001e"),
        ({"codec_name": "h264", "profile": "Constrained Baseline", "level": 31}, "avc1.42401f"),
        ({"codec_name": "h264", "profile": "High 10", "level": 51}, "avc1.6e0033"),
        (
            {"codec_name": "hevc", "profile": "Main", "level": 120, "codec_tag_string": "hev1"},
            "hev1.1.6.L120.B0",
        ),
        (
            {"codec_name": "hevc", "profile": "Main 10", "level": 150, "codec_tag_string": "hvc1"},
            "hvc1.2.4.L150.B0",
        ),
        ({"codec_name": "mpeg4", "profile": "Simple Profile", "level": -99}, "mp4v.20.8"),
        ({"codec_name": "mpeg4", "profile": "Advanced Simple Profile", "level": 5}, "mp4v.20.245"),
        ({"codec_name": "vp8"}, "vp8"),
        ({"codec_name": "vp9", "profile": "Profile 0", "level": -99}, "vp9"),
        (
            {"codec_name": "vp9", "profile": "Profile 2", "level": 31, "pix_fmt": "yuv420p10le"},
            "vp09.02.31.10",
        ),
        (
            {"codec_name": "av1", "profile": "Main", "level": 8, "pix_fmt": "yuv420p"},
            "av01.0.08M.08",
        ),
        ({"codec_name": "prores", "profile": "HQ"}, "prores"),  # no browser plays it
    ],
)
def test_the_codec_string_of_a_video_stream(stream: dict[str, Any], expected: str) -> None:
    assert video_codec(stream) == expected


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ({"codec_name": "aac", "profile": "LC"}, "mp4a.40.2"),
        ({"codec_name": "aac", "profile": "HE-AAC"}, "mp4a.40.5"),
        ({"codec_name": "mp3"}, "mp4a.6B"),
        ({"codec_name": "opus"}, "opus"),
        ({"codec_name": "ac3"}, "ac-3"),
        ({"codec_name": "eac3"}, "ec-3"),
        ({"codec_name": "pcm_s16le"}, "pcm_s16le"),
    ],
)
def test_the_codec_string_of_a_sound_stream(stream: dict[str, Any], expected: str) -> None:
    assert audio_codec(stream) == expected


def test_ingest_names_h264_as_the_index_does() -> None:
    assert avc_codec("High", 31) == video_codec(
        {"codec_name": "h264", "profile": "High", "level": 31}
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Trips/a.mp4", 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'),
        ("Trips/a.M4V", 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'),
        ("Trips/a.mov", 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'),
        ("Trips/a.webm", 'video/webm; codecs="avc1.64001f,mp4a.40.2"'),
    ],
)
def test_a_file_is_asked_about_as_its_container(name: str, expected: str) -> None:
    assert file_mime(name, "avc1.64001f,mp4a.40.2") == expected


def test_an_hls_title_is_asked_about_as_the_mp4_that_hlsjs_makes_of_its_heaviest_variant() -> None:
    master = m3u8.loads(
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2"\n360p/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=3500000,CODECS="avc1.64001f,mp4a.40.2"\n720p/index.m3u8\n'
    )
    codec_list = master_codecs(master)
    assert codec_list == "avc1.64001f,mp4a.40.2"
    assert hls_mime(codec_list) == 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'
    assert codec_names(codec_list) == ("h264", "aac")
    assert master_codecs(m3u8.loads("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n")) is None
