"""The ingest plan without running ffmpeg: the ladder, the ffmpeg arguments, the master."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import m3u8
import pytest

from lib.ingest.encode import EncodePlan, picture_filters, sprite_layout
from lib.ingest.errors import IngestError
from lib.ingest.ladder import Rendition, choose_ladder
from lib.ingest.playlists import VariantStats, avc_codec, master_playlist
from lib.ingest.probe import Source, source_from_probe

SOURCE = Source(
    path=Path("clip.mp4"),
    duration=30.0,
    width=1920,
    height=1080,
    codec="h264",
    pix_fmt="yuv420p",
    fps=30.0,
    max_fps=30.0,
    video_bitrate=12_000_000,
    interlaced=False,
    transfer="bt709",
    primaries="bt709",
    matrix="bt709",
    rotation=0,
    audio_tracks=1,
    audio_codec="aac",
    recorded=datetime(2024, 5, 1, tzinfo=UTC),
)


def names(source: Source) -> list[str]:
    return [rendition.name for rendition in choose_ladder(source)]


def test_a_1080p_source_gets_four_rungs_at_their_targets() -> None:
    ladder = choose_ladder(SOURCE)
    assert [(r.name, r.width, r.height, r.bitrate) for r in ladder] == [
        ("360p", 640, 360, 730_000),
        ("540p", 960, 540, 2_000_000),
        ("720p", 1280, 720, 3_000_000),
        ("1080p", 1920, 1080, 6_000_000),
    ]
    assert all(r.maxrate == int(r.bitrate * 1.5) and r.bufsize == 2 * r.bitrate for r in ladder)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (3840, 2160, ["360p", "540p", "720p", "1080p", "2160p"]),
        (1280, 720, ["360p", "540p", "720p"]),
        (1000, 700, ["360p", "540p"]),  # 700 is under 720: never upscaled
        (720, 576, ["360p", "540p"]),
        (640, 360, ["360p"]),
    ],
)
def test_rungs_are_made_only_up_to_the_source_size(
    width: int, height: int, expected: list[str]
) -> None:
    assert names(replace(SOURCE, width=width, height=height)) == expected


def test_a_source_smaller_than_360p_gets_one_rendition_at_its_own_size() -> None:
    (only,) = choose_ladder(replace(SOURCE, width=320, height=240))
    assert (only.width, only.height) == (320, 240)
    assert only.bitrate < 730_000


def test_a_portrait_video_gets_its_rungs_on_its_short_side() -> None:
    portrait = replace(SOURCE, width=1080, height=1920, rotation=90)
    ladder = choose_ladder(portrait)
    assert [(r.width, r.height) for r in ladder] == [
        (360, 640),
        (540, 960),
        (720, 1280),
        (1080, 1920),
    ]


def test_each_rung_is_capped_at_the_source_bitrate_plus_a_margin() -> None:
    phone = replace(SOURCE, video_bitrate=2_000_000)
    ladder = {r.name: r.bitrate for r in choose_ladder(phone)}
    assert ladder["1080p"] == 2_200_000  # about 2 Mbit/s, not 6
    assert ladder["360p"] == 730_000


def test_frame_rate_is_at_most_60_and_at_most_30_below_720p() -> None:
    fast = replace(SOURCE, fps=120.0, max_fps=120.0)
    rates = {r.name: r.fps for r in choose_ladder(fast)}
    assert rates == {"360p": 30.0, "540p": 30.0, "720p": 60.0, "1080p": 60.0}
    film = {r.name: r.fps for r in choose_ladder(replace(SOURCE, fps=24.0))}
    assert set(film.values()) == {24.0}


def test_keyframes_every_two_seconds_in_every_rung() -> None:
    fast = replace(SOURCE, fps=60.0)
    intervals = {r.name: r.keyframe_interval for r in choose_ladder(fast)}
    assert intervals == {"360p": 60, "540p": 60, "720p": 120, "1080p": 120}


def plan(source: Source = SOURCE) -> EncodePlan:
    return EncodePlan.for_source(source, Path("/work/title.hls"))


def test_one_ffmpeg_process_decodes_once_and_splits_to_every_output() -> None:
    command = plan().command()
    assert command.count("-i") == 1
    graph = command[command.index("-filter_complex") + 1]
    assert "split=6[s0][s1][s2][s3][sp][ss]" in graph  # four rungs, poster, sprite
    assert "thumbnail=" in graph and "tile=" in graph
    assert command.count("libx264") == 4
    assert command.count("high") == 4
    assert command.count("-sc_threshold") == 4
    assert command.count("expr:gte(t,n_forced*2)") == 4
    assert command[command.index("-hls_time") + 1] == "4"
    assert command[command.index("-hls_playlist_type") + 1] == "vod"
    assert command.count("0:a:0") == 4  # the first audio track only
    assert command[command.index("-b:a") + 1] == "128000"
    assert command[command.index("-ac") + 1] == "2"


def test_no_audio_track_means_no_audio_options() -> None:
    command = plan(replace(SOURCE, audio_tracks=0, audio_codec=None)).command()
    assert "0:a:0" not in command and "-c:a" not in command


def test_progressive_sdr_gets_no_deinterlacing_or_tone_mapping() -> None:
    filters = ",".join(picture_filters(SOURCE))
    assert "bwdif" not in filters and "tonemap" not in filters
    assert filters.endswith("format=yuv420p")


def test_interlaced_video_is_deinterlaced() -> None:
    assert picture_filters(replace(SOURCE, interlaced=True))[0].startswith("bwdif=")


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"])
def test_hdr_is_tone_mapped_to_sdr_bt709(transfer: str) -> None:
    hdr = replace(SOURCE, transfer=transfer, primaries="bt2020", matrix="bt2020nc")
    filters = ",".join(picture_filters(hdr))
    assert f"zscale=tin={transfer}" in filters
    assert "tonemap=tonemap=hable" in filters
    assert "zscale=t=bt709:m=bt709" in filters


def test_variable_frame_rate_becomes_constant() -> None:
    vfr = replace(SOURCE, fps=29.5, max_fps=120.0)
    assert "fps=29.5" in picture_filters(vfr)


def test_the_sprite_has_a_thumbnail_per_second_up_to_a_hundred() -> None:
    short = sprite_layout(replace(SOURCE, duration=4.0))
    assert (short.count, short.columns, short.rows, short.interval) == (4, 4, 1, 1.0)
    long = sprite_layout(replace(SOURCE, duration=3600.0))
    assert (long.count, long.columns, long.rows, long.interval) == (100, 10, 10, 36.0)
    assert (long.width, long.height) == (160, 90)
    cells = list(long.cells(3600.0))
    assert cells[11] == (396.0, 432.0, 160, 90)


def test_the_master_lists_every_variant_with_its_attributes() -> None:
    renditions = choose_ladder(SOURCE)
    variants = [
        VariantStats(r, peak=int(r.bitrate * 1.3), average=r.bitrate, codecs=c, size=1)
        for r, c in zip(
            renditions,
            [
                "avc1.64001e,mp4a.40.2",
                "avc1.64001f,mp4a.40.2",
                "avc1.64001f,mp4a.40.2",
                "avc1.640028,mp4a.40.2",
            ],
            strict=True,
        )
    ]
    master = m3u8.loads(master_playlist(variants))
    assert master.is_variant
    streams = [(p.uri, p.stream_info) for p in master.playlists]
    # Lightest first: players start with the first variant listed.
    assert [uri for uri, _ in streams] == [
        "360p/index.m3u8",
        "540p/index.m3u8",
        "720p/index.m3u8",
        "1080p/index.m3u8",
    ]
    _uri, info = streams[-1]
    assert info.bandwidth == int(6_000_000 * 1.3)
    assert info.average_bandwidth == 6_000_000
    assert info.resolution == (1920, 1080)
    assert info.codecs == "avc1.640028,mp4a.40.2"


def test_codec_strings_name_profile_and_level() -> None:
    assert avc_codec("High", 31) == "avc1.64001f"
    assert avc_codec("High", 40) == "avc1.640028"
    assert avc_codec("Main", 30) == "avc1.4d001e"


def probe_json(**video: object) -> dict[str, object]:
    stream = {
        "codec_type": "video",
        "codec_name": "hevc",
        "width": 1920,
        "height": 1080,
        "avg_frame_rate": "30000/1001",
        "r_frame_rate": "30000/1001",
        "duration": "12.5",
        "field_order": "progressive",
        "pix_fmt": "yuv420p10le",
        **video,
    }
    return {"streams": [stream], "format": {"duration": "12.5", "tags": {}}}


def test_a_rotated_phone_video_is_portrait(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.MOV"
    path.write_bytes(b"x")
    data = probe_json(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    source = source_from_probe(path, data)
    assert (source.width, source.height, source.rotation) == (1080, 1920, 90)
    assert source.portrait and source.audio_tracks == 0


def test_interlaced_and_hdr_are_read_from_ffprobe(tmp_path: Path) -> None:
    path = tmp_path / "tape.mts"
    path.write_bytes(b"x")
    data = probe_json(field_order="tt", color_transfer="arib-std-b67")
    source = source_from_probe(path, data)
    assert source.interlaced and source.hdr


def test_the_recording_date_comes_from_creation_time_else_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    path.write_bytes(b"x")
    data = probe_json()
    data["format"] = {"duration": "3", "tags": {"creation_time": "2019-08-01T12:00:00.000000Z"}}
    assert source_from_probe(path, data).recorded == datetime(2019, 8, 1, 12, tzinfo=UTC)
    undated = source_from_probe(path, probe_json())
    assert undated.recorded.timestamp() == pytest.approx(path.stat().st_mtime)


def test_a_file_without_a_video_track_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "song.m4a"
    path.write_bytes(b"x")
    with pytest.raises(IngestError, match=r"^song.m4a has no video track\.$"):
        source_from_probe(path, {"streams": [{"codec_type": "audio"}], "format": {}})


def test_renditions_are_plain_data() -> None:
    rendition = Rendition("360p", 640, 360, 30.0, 730_000, 1_095_000, 1_460_000)
    assert rendition.keyframe_interval == 60
