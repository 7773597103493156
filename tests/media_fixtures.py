"""Camera and phone files for the `ingest` tests, made with ffmpeg from its test sources.

    path = make_fixture("phone_hevc_portrait", folder)   # made once per folder, then reused
    info = probe(path)                                    # ffprobe's streams and format
    KINDS["phone_hevc_portrait"].rotation                 # what ffprobe should say about it

Every file is a few seconds long with a moving picture (testsrc2, mandelbrot or scrolling
smptehdbars) and, where it has sound, a sine tone. What ffmpeg 5.1 does not do directly:
- Rotation: `-metadata:s:v rotate=` is ignored when encoding, so the portrait HEVC is encoded,
  then remuxed with `-c copy -metadata:s:v:0 rotate=270`, which writes a display matrix that
  ffprobe reports as rotation -90 (as it does for an iPhone held upright). Remuxing drops
  creation_time, so it is set again.
- DV in AVI: ffprobe gives no stream field_order; the frames say interlaced, bottom
  field first (what DV is). H.264 in MPEG-TS does say "tt" at stream level.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREATION_TIME = "2023-07-14T10:20:30Z"
FFMPEG = os.environ.get("HOMEMOVIES_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("HOMEMOVIES_FFPROBE", "ffprobe")


@dataclass(frozen=True)
class FixtureSpec:
    """One kind of input file and what ffprobe should say about it.

    width and height are as stored (before rotation); rotation is the display matrix angle
    ffprobe reports, or 0 (-90: shown turned 90° clockwise, as upright iPhones). field_order is
    ffprobe's stream-level field_order (None: it leaves it out); interlaced and
    top_field_first are what the first decoded frame says.
    """

    file_name: str
    width: int | None
    height: int | None
    rotation: int
    video_codec: str | None
    pix_fmt: str | None
    interlaced: bool
    audio_streams: int
    color_transfer: str | None
    duration: float | None
    field_order: str | None = None
    top_field_first: bool | None = None
    frame_rate: str | None = None  # ffprobe's r_frame_rate
    variable_frame_rate: bool = False  # r_frame_rate differs from avg_frame_rate
    max_frame_rate: float | None = None  # fastest rate any part of the file runs at
    bit_rate: int | None = None  # about this many bits per second overall (format bit_rate)
    color_primaries: str | None = None
    color_space: str | None = None
    audio_codec: str | None = None  # the first audio stream's
    audio_languages: tuple[str, ...] = ()
    creation_time: str | None = None  # as set; ffprobe shows 2023-07-14T10:20:30.000000Z
    format_name: str | None = None  # ffprobe's format_name
    readable: bool = True  # False: ffprobe fails on it (not a video, empty, truncated)

    @property
    def display_size(self) -> tuple[int, int] | None:
        """The size players show: stored size, turned by the rotation."""
        if self.width is None or self.height is None:
            return None
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


def _video(
    file_name: str,
    width: int,
    height: int,
    codec: str = "h264",
    *,
    duration: float = 3.0,
    audio_streams: int = 1,
    **more: Any,
) -> FixtureSpec:
    more.setdefault("pix_fmt", "yuv420p")
    more.setdefault("field_order", "progressive")
    more.setdefault("audio_codec", "aac" if audio_streams else None)
    return FixtureSpec(
        file_name=file_name,
        width=width,
        height=height,
        rotation=more.pop("rotation", 0),
        video_codec=codec,
        pix_fmt=more.pop("pix_fmt"),
        interlaced=more.pop("interlaced", False),
        audio_streams=audio_streams,
        color_transfer=more.pop("color_transfer", None),
        duration=duration,
        **more,
    )


def _broken(file_name: str) -> FixtureSpec:
    return FixtureSpec(
        file_name=file_name,
        width=None,
        height=None,
        rotation=0,
        video_codec=None,
        pix_fmt=None,
        interlaced=False,
        audio_streams=0,
        color_transfer=None,
        duration=None,
        readable=False,
    )


_MOV = "mov,mp4,m4a,3gp,3g2,mj2"
_HDR = {"pix_fmt": "yuv420p10le", "color_primaries": "bt2020", "color_space": "bt2020nc"}

KINDS: dict[str, FixtureSpec] = {
    "phone_h264": _video(
        "phone_h264.mp4",
        1280,
        720,
        frame_rate="30/1",
        creation_time=CREATION_TIME,
        format_name=_MOV,
    ),
    "phone_hevc_portrait": _video(
        "phone_hevc_portrait.mov",
        1280,
        720,
        "hevc",
        rotation=-90,
        frame_rate="30/1",
        creation_time=CREATION_TIME,
        format_name=_MOV,
    ),
    "hdr_hlg": _video(
        "hdr_hlg.mov",
        1280,
        720,
        "hevc",
        color_transfer="arib-std-b67",
        frame_rate="30/1",
        creation_time=CREATION_TIME,
        format_name=_MOV,
        **_HDR,
    ),
    "hdr_pq": _video(
        "hdr_pq.mp4",
        1280,
        720,
        "hevc",
        color_transfer="smpte2084",
        frame_rate="30/1",
        format_name=_MOV,
        **_HDR,
    ),
    "interlaced_mts": _video(
        "interlaced_mts.mts",
        1920,
        1080,
        interlaced=True,
        field_order="tt",
        top_field_first=True,
        frame_rate="25/1",
        audio_codec="ac3",
        format_name="mpegts",
    ),
    "dv_avi": _video(
        "dv_avi.avi",
        720,
        576,
        "dvvideo",
        duration=2.0,
        interlaced=True,
        field_order=None,  # ffprobe leaves it out for DV in AVI; the frames say bottom first
        top_field_first=False,
        frame_rate="25/1",
        audio_codec="pcm_s16le",
        format_name="avi",
    ),
    "vfr_mp4": _video(
        "vfr_mp4.mp4",
        960,
        540,
        frame_rate="120/1",
        variable_frame_rate=True,
        max_frame_rate=120.0,
        format_name=_MOV,
    ),
    "multi_audio_mkv": _video(
        "multi_audio_mkv.mkv",
        960,
        540,
        audio_streams=2,
        audio_languages=("eng", "fre"),
        frame_rate="25/1",
        format_name="matroska,webm",
    ),
    "no_audio": _video(
        "no_audio.mp4", 1280, 720, audio_streams=0, frame_rate="30/1", format_name=_MOV
    ),
    "avi_mpeg4": _video(
        "avi_mpeg4.avi",
        640,
        480,
        "mpeg4",
        field_order=None,  # ffprobe leaves it out
        frame_rate="25/1",
        audio_codec="mp3",
        format_name="avi",
    ),
    "wmv": _video(
        "wmv.wmv",
        640,
        360,
        "wmv2",
        field_order=None,  # ffprobe leaves it out
        frame_rate="25/1",
        audio_codec="wmav2",
        format_name="asf",
    ),
    "mpg": _video(
        "mpg.mpg",
        720,
        480,
        "mpeg2video",
        frame_rate="30000/1001",
        audio_codec="mp2",
        format_name="mpeg",
    ),
    "full_hd": _video(
        "full_hd.mp4",
        1920,
        1080,
        duration=4.0,
        frame_rate="30/1",
        bit_rate=6_000_000,
        format_name=_MOV,
    ),
    "low_bitrate_1080": _video(
        "low_bitrate_1080.mp4",
        1920,
        1080,
        frame_rate="30/1",
        bit_rate=1_900_000,
        format_name=_MOV,
    ),
    # For the library indexer: the moov first (phone_h264 keeps it last), a big one to show
    # that only a part of a file is read, and MPEG-4 Part 2 in an MP4.
    "faststart_h264": _video(
        "faststart_h264.mp4",
        1280,
        720,
        frame_rate="30/1",
        creation_time=CREATION_TIME,
        format_name=_MOV,
    ),
    "big_faststart": _video(
        "big_faststart.mp4",
        640,
        360,
        duration=60.0,
        frame_rate="30/1",
        bit_rate=3_600_000,
        format_name=_MOV,
    ),
    "mpeg4_mp4": _video(
        "mpeg4_mp4.mp4",
        640,
        480,
        "mpeg4",
        field_order=None,  # ffprobe leaves it out
        frame_rate="25/1",
        creation_time=CREATION_TIME,
        format_name=_MOV,
    ),
    "not_video": _broken("not_video.mp4"),
    "zero_bytes": _broken("zero_bytes.mov"),
    "truncated": _broken("truncated.mp4"),
}


class FfmpegError(RuntimeError):
    """ffmpeg or ffprobe failed; the message carries the command and what it printed."""


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FfmpegError(f"{' '.join(command)}\nexit {done.returncode}:\n{done.stderr.strip()}")
    return done.stdout


def _ffmpeg(*args: str) -> None:
    _run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args])


def probe(path: Path | str) -> dict[str, Any]:
    """Return ffprobe's streams and format for `path` (`-show_streams -show_format`, JSON).

    Raises FfmpegError when ffprobe cannot read it (not a video, empty, truncated).
    """
    out = _run(
        [
            FFPROBE,
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-print_format",
            "json",
            str(path),
        ]
    )
    return json.loads(out)


def probe_first_frame(path: Path | str) -> dict[str, Any]:
    """Return ffprobe's description of the first decoded video frame (interlacing, field order)."""
    out = _run(
        [
            FFPROBE,
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_frames",
            "-print_format",
            "json",
            str(path),
        ]
    )
    frames = json.loads(out).get("frames", [])
    if not frames:
        raise FfmpegError(f"no video frame in {path}")
    return frames[0]


def video_stream(info: dict[str, Any]) -> dict[str, Any] | None:
    """The first video stream in probe() output, or None."""
    return next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)


def audio_streams(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The audio streams in probe() output."""
    return [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]


def rotation(stream: dict[str, Any]) -> int:
    """The display matrix rotation ffprobe reports for a stream (or the old rotate tag), or 0."""
    for side_data in stream.get("side_data_list", []):
        if "rotation" in side_data:
            return int(side_data["rotation"])
    return int(stream.get("tags", {}).get("rotate", 0))


def rate(text: str) -> float:
    """An ffprobe rate such as "30000/1001" as a number (0 for "0/0")."""
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom) if bottom and float(bottom) else float(top or 0)


# ----- the recipes -----


def _picture(source: str, size: str, fps: str | int, seconds: float) -> list[str]:
    # -t on the input: mandelbrot has no duration option.
    return ["-f", "lavfi", "-t", str(seconds), "-i", f"{source}=size={size}:rate={fps}"]


def _tone(frequency: int, seconds: float, sample_rate: int = 48000) -> list[str]:
    return [
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:sample_rate={sample_rate}:duration={seconds}",
    ]


def _x264(*more: str) -> list[str]:
    """libx264, ultrafast; at CRF 28 unless `more` sets a bit rate."""
    quality = [] if "-b:v" in more else ["-crf", "28"]
    return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *quality, *more]


def _aac(bitrate: str = "96k") -> list[str]:
    return ["-c:a", "aac", "-b:a", bitrate, "-ac", "2"]


def _phone_h264(out: Path, spec: FixtureSpec) -> None:
    # Fades in from black over the first 0.5 s, so frame 0 is black. No +faststart: the moov
    # atom is last, as many phones write it (and `truncated` relies on it).
    _ffmpeg(
        *_picture("testsrc2", "1280x720", 30, 3),
        *_tone(440, 3),
        "-vf",
        "fade=in:0:15",
        *_x264("-g", "30"),
        *_aac("128k"),
        "-metadata",
        f"creation_time={CREATION_TIME}",
        "-f",
        "mp4",
        str(out),
    )


def _hevc(
    source: str, out: Path, frequency: int, *, pix_fmt: str, x265: str = "", color: list[str]
) -> None:
    params = "log-level=error" + (f":{x265}" if x265 else "")
    _ffmpeg(
        *_picture(source, "1280x720", 30, 3),
        *_tone(frequency, 3),
        "-vf",
        f"format={pix_fmt}",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        params,
        "-tag:v",
        "hvc1",
        "-g",
        "30",
        *color,
        *_aac("128k"),
        "-metadata",
        f"creation_time={CREATION_TIME}",
        "-f",
        "mov" if out.suffix == ".mov" else "mp4",
        str(out),
    )


def _phone_hevc_portrait(out: Path, spec: FixtureSpec) -> None:
    landscape = out.with_name(out.stem + ".landscape" + out.suffix)
    _hevc("testsrc2", landscape, 523, pix_fmt="yuv420p", color=[])
    try:
        # Only stream copy turns the rotate tag into a display matrix in ffmpeg 5.1;
        # rotate=270 comes out as ffprobe rotation -90 (an upright iPhone's).
        _ffmpeg(
            "-i",
            str(landscape),
            "-map",
            "0",
            "-c",
            "copy",
            "-tag:v",
            "hvc1",
            "-metadata:s:v:0",
            "rotate=270",
            "-metadata",
            f"creation_time={CREATION_TIME}",
            "-f",
            "mov",
            str(out),
        )
    finally:
        landscape.unlink(missing_ok=True)


def _hdr(transfer: str, x265_extra: str = "") -> Callable[[Path, FixtureSpec], None]:
    def make(out: Path, spec: FixtureSpec) -> None:
        x265 = f"colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc"
        color = [
            "-color_primaries",
            "bt2020",
            "-color_trc",
            transfer,
            "-colorspace",
            "bt2020nc",
            "-color_range",
            "tv",
        ]
        extra = f":{x265_extra}" if x265_extra else ""
        _hevc("testsrc2", out, 659, pix_fmt="yuv420p10le", x265=x265 + extra, color=color)

    return make


def _interlaced_mts(out: Path, spec: FixtureSpec) -> None:
    # 50 progressive frames a second woven into 25 interlaced ones, top field first, in
    # 192-byte-packet M2TS as AVCHD camcorders write .MTS files.
    _ffmpeg(
        *_picture("testsrc2", "1920x1080", 50, 3),
        *_tone(440, 3),
        "-vf",
        "tinterlace=interleave_top,setfield=tff",
        *_x264("-flags", "+ildct+ilme", "-x264-params", "tff=1", "-b:v", "4M", "-g", "25"),
        "-c:a",
        "ac3",
        "-b:a",
        "192k",
        "-ac",
        "2",
        "-f",
        "mpegts",
        "-mpegts_m2ts_mode",
        "1",
        str(out),
    )


def _dv_avi(out: Path, spec: FixtureSpec) -> None:
    # PAL DV: 720x576 4:2:0, 4:3 (16:15 pixels), bottom field first, 48 kHz 16-bit PCM.
    _ffmpeg(
        *_picture("testsrc2", "720x576", 25, 2),
        *_tone(440, 2),
        "-vf",
        "setfield=bff,setsar=16/15",
        "-field_order",
        "bb",
        "-c:v",
        "dvvideo",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "pcm_s16le",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-f",
        "avi",
        str(out),
    )


def _vfr_mp4(out: Path, spec: FixtureSpec) -> None:
    # One second each at 24, 60 and 120 fps, timestamps kept (Apple's 600 timescale fits all).
    _ffmpeg(
        *_picture("testsrc2", "960x540", 24, 1),
        *_picture("testsrc2", "960x540", 60, 1),
        *_picture("testsrc2", "960x540", 120, 1),
        *_tone(440, 3),
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]",
        "-map",
        "[v]",
        "-map",
        "3:a",
        "-fps_mode",
        "vfr",
        *_x264(),
        *_aac(),
        "-video_track_timescale",
        "600",
        "-f",
        "mp4",
        str(out),
    )


def _multi_audio_mkv(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("testsrc2", "960x540", 25, 3),
        *_tone(440, 3),
        *_tone(880, 3),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        *_x264(),
        *_aac(),
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:0",
        "title=English",
        "-metadata:s:a:1",
        "language=fre",
        "-metadata:s:a:1",
        "title=Français",
        "-disposition:a:0",
        "default",
        "-disposition:a:1",
        "0",
        "-f",
        "matroska",
        str(out),
    )


def _no_audio(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("testsrc2", "1280x720", 30, 3),
        *_x264("-g", "30"),
        "-an",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    )


def _avi_mpeg4(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("mandelbrot", "640x480", 25, 3),
        *_tone(330, 3, 44100),
        "-c:v",
        "mpeg4",
        "-vtag",
        "XVID",
        "-q:v",
        "5",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        "avi",
        str(out),
    )


def _wmv(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("smptehdbars", "640x360", 25, 3),
        *_tone(550, 3, 44100),
        "-vf",
        "scroll=h=0.01",  # the bars slide sideways: a moving picture
        "-c:v",
        "wmv2",
        "-b:v",
        "1M",
        "-c:a",
        "wmav2",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        "asf",
        str(out),
    )


def _mpg(out: Path, spec: FixtureSpec) -> None:
    # MPEG-2 program stream (DVD-style VOB muxing), NTSC 720x480 4:3, MP2 sound.
    _ffmpeg(
        *_picture("testsrc2", "720x480", "30000/1001", 3),
        *_tone(660, 3),
        "-c:v",
        "mpeg2video",
        "-b:v",
        "4M",
        "-maxrate",
        "8M",
        "-bufsize",
        "1835k",
        "-g",
        "15",
        "-pix_fmt",
        "yuv420p",
        "-aspect",
        "4:3",
        "-c:a",
        "mp2",
        "-b:a",
        "192k",
        "-ac",
        "2",
        "-f",
        "vob",
        str(out),
    )


def _full_hd(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("testsrc2", "1920x1080", 30, 4),
        *_tone(440, 4),
        *_x264("-b:v", "5800k", "-maxrate", "6M", "-bufsize", "6M", "-g", "60"),
        *_aac("128k"),
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    )


def _low_bitrate_1080(out: Path, spec: FixtureSpec) -> None:
    # A small VBV buffer keeps the first keyframe from pushing the short clip over 2 Mbit/s.
    _ffmpeg(
        *_picture("testsrc2", "1920x1080", 30, 3),
        *_tone(440, 3),
        *_x264("-b:v", "1800k", "-maxrate", "1800k", "-bufsize", "600k"),
        *_aac("64k"),
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    )


def _faststart_mp4(out: Path, *, dated: bool = True) -> list[str]:
    """The output options of an MP4 with its moov atom first (and creation_time, if `dated`)."""
    date = ["-metadata", f"creation_time={CREATION_TIME}"] if dated else []
    return [*date, "-movflags", "+faststart", "-f", "mp4", str(out)]


def _faststart_h264(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("testsrc2", "1280x720", 30, 3),
        *_tone(440, 3),
        *_x264("-g", "30"),
        *_aac("128k"),
        *_faststart_mp4(out),
    )


def _big_faststart(out: Path, spec: FixtureSpec) -> None:
    # A minute of noisy picture at 3.5 Mbit/s: about 27 MB, made in seconds (ultrafast).
    _ffmpeg(
        *_picture("testsrc2", "640x360", 30, 60),
        *_tone(440, 60),
        "-vf",
        "noise=alls=60:allf=t",
        *_x264("-b:v", "3500k", "-maxrate", "3500k", "-bufsize", "7000k", "-g", "60"),
        *_aac("96k"),
        *_faststart_mp4(out, dated=False),
    )


def _mpeg4_mp4(out: Path, spec: FixtureSpec) -> None:
    _ffmpeg(
        *_picture("mandelbrot", "640x480", 25, 3),
        *_tone(330, 3),
        "-c:v",
        "mpeg4",
        "-q:v",
        "5",
        "-pix_fmt",
        "yuv420p",
        *_aac(),
        *_faststart_mp4(out),
    )


def _not_video(out: Path, spec: FixtureSpec) -> None:
    out.write_text("hello, not a video\n")


def _zero_bytes(out: Path, spec: FixtureSpec) -> None:
    out.write_bytes(b"")


def _truncated(out: Path, spec: FixtureSpec) -> None:
    # The first 20% of phone_h264, whose moov atom is at the end: unreadable.
    whole = make_fixture("phone_h264", out.parent).read_bytes()
    assert whole.rfind(b"moov") > len(whole) // 5, "phone_h264 must keep its moov atom last"
    out.write_bytes(whole[: len(whole) // 5])


_MAKERS: dict[str, Callable[[Path, FixtureSpec], None]] = {
    "phone_h264": _phone_h264,
    "phone_hevc_portrait": _phone_hevc_portrait,
    "hdr_hlg": _hdr("arib-std-b67"),
    "hdr_pq": _hdr(
        "smpte2084",
        "hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)"
        "WP(15635,16450)L(10000000,1):max-cll=1000,400",
    ),
    "interlaced_mts": _interlaced_mts,
    "dv_avi": _dv_avi,
    "vfr_mp4": _vfr_mp4,
    "multi_audio_mkv": _multi_audio_mkv,
    "no_audio": _no_audio,
    "avi_mpeg4": _avi_mpeg4,
    "wmv": _wmv,
    "mpg": _mpg,
    "full_hd": _full_hd,
    "low_bitrate_1080": _low_bitrate_1080,
    "faststart_h264": _faststart_h264,
    "big_faststart": _big_faststart,
    "mpeg4_mp4": _mpeg4_mp4,
    "not_video": _not_video,
    "zero_bytes": _zero_bytes,
    "truncated": _truncated,
}
assert _MAKERS.keys() == KINDS.keys()

_lock = threading.RLock()  # reentrant: truncated makes phone_h264 first


def make_fixture(kind: str, folder: Path) -> Path:
    """Make the file of this kind in `folder` (or reuse the one made there) and return its path.

    The file is written under a temporary name and renamed when complete, so a file found in
    the folder is always whole, even if another process made it.
    """
    spec = KINDS[kind]
    path = Path(folder) / spec.file_name
    with _lock:
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
        try:
            _MAKERS[kind](partial, spec)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return path


def make_clip(path: Path, size: str, seconds: float, *encode: str, tone: bool = False) -> Path:
    """Make (or reuse) a 30 fps test-pattern clip of `size` at `path`, encoded with the
    ffmpeg options `encode`, with a 440 Hz tone when `tone`; written whole, then renamed."""
    if not path.exists():
        partial = path.with_name(f".{path.name}.{os.getpid()}.part{path.suffix}")
        sound = _tone(440, seconds) if tone else []
        _ffmpeg(*_picture("testsrc2", size, 30, seconds), *sound, *encode, "-pix_fmt", "yuv420p",
                "-shortest", str(partial))  # fmt: skip
        partial.replace(path)
    return path
