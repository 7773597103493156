"""What ffprobe says about a source file, reduced to what the encoder needs."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from lib.ingest.errors import IngestError

PROBE_TIMEOUT = 60.0
INTERLACED_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@dataclass(frozen=True)
class Source:
    """One input video: its picture as shown (rotation applied), its timing and its tracks."""

    path: Path
    duration: float  # seconds
    width: int  # as displayed, after rotation
    height: int
    codec: str  # ffprobe's codec name of the video track, e.g. "hevc"
    pix_fmt: str
    fps: float  # average frame rate
    max_fps: float  # the frame rate the stream declares (r_frame_rate), >= fps for VFR
    video_bitrate: int | None  # bits per second, when known
    interlaced: bool
    transfer: str | None  # color_trc, e.g. "arib-std-b67" (HLG) or "smpte2084" (PQ)
    primaries: str | None
    matrix: str | None
    rotation: int  # degrees the player turns the picture, 0/90/180/270
    audio_tracks: int
    audio_codec: str | None
    recorded: datetime  # creation_time from the metadata, else the file's modification time

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def hdr(self) -> bool:
        return self.transfer in HDR_TRANSFERS


def run_ffprobe(path: Path) -> dict[str, Any]:
    """Return ffprobe's JSON for `path`; raise IngestError if it cannot read the file."""
    try:
        result = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(path),
            ],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise IngestError(
            "ffprobe is not installed; install ffmpeg (apt install ffmpeg)."
        ) from None
    except subprocess.TimeoutExpired:
        raise IngestError(f"{path.name}: ffprobe took too long to read it.") from None
    if result.returncode != 0:
        raise IngestError(f"{path.name} is not a video ffmpeg can read (damaged or not a video).")
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise IngestError(f"{path.name}: ffprobe gave an answer that is not JSON.") from None
    return data


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _rotation(stream: dict[str, Any]) -> int:
    """Degrees the player rotates the stored picture (display matrix or the old tag)."""
    degrees = 0.0
    for side in stream.get("side_data_list", ()):
        if "rotation" in side:
            degrees = float(side["rotation"])
    tag = stream.get("tags", {}).get("rotate")
    if tag not in (None, ""):
        degrees = -float(tag)
    return round(-degrees) % 360


def _recorded(data: dict[str, Any], video: dict[str, Any], path: Path) -> datetime:
    tags = {**video.get("tags", {}), **data.get("format", {}).get("tags", {})}
    for key in ("com.apple.quicktime.creationdate", "creation_time"):
        text = tags.get(key)
        if text:
            try:
                moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            except ValueError:
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def source_from_probe(path: Path, data: dict[str, Any]) -> Source:
    """Given ffprobe's JSON for `path`, return the Source; raise IngestError if no video."""
    streams = data.get("streams", [])
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not videos:
        raise IngestError(f"{path.name} has no video track.")
    video = videos[0]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    duration = _rate(video.get("duration")) or _rate(data.get("format", {}).get("duration"))
    width, height = _int(video.get("width")), _int(video.get("height"))
    if not duration or width is None or height is None:
        raise IngestError(f"{path.name} is damaged: ffprobe finds no picture size or length.")
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width
    avg, declared = _rate(video.get("avg_frame_rate")), _rate(video.get("r_frame_rate"))
    fps = avg or declared or 30.0
    bitrate = _int(video.get("bit_rate"))
    if bitrate is None:
        total = _int(data.get("format", {}).get("bit_rate"))
        audio_bits = sum(_int(a.get("bit_rate")) or 128_000 for a in audios)
        bitrate = total - audio_bits if total and total > audio_bits else total
    return Source(
        path=path,
        duration=duration,
        width=width,
        height=height,
        codec=str(video.get("codec_name", "unknown")),
        pix_fmt=str(video.get("pix_fmt", "")),
        fps=fps,
        max_fps=max(fps, declared if declared < 1000 else fps),
        video_bitrate=bitrate,
        interlaced=video.get("field_order") in INTERLACED_ORDERS,
        transfer=video.get("color_transfer"),
        primaries=video.get("color_primaries"),
        matrix=video.get("color_space"),
        rotation=rotation,
        audio_tracks=len(audios),
        audio_codec=audios[0].get("codec_name") if audios else None,
        recorded=_recorded(data, video, path),
    )


def first_frame_interlaced(path: Path) -> bool:
    """Whether the first decoded frame is interlaced (DV in AVI says so only in its frames)."""
    try:
        result = subprocess.run(
            [
                "ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                "-show_entries", "frame=interlaced_frame", "-print_format", "json", str(path),
            ],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )  # fmt: skip
        frames = json.loads(result.stdout or "{}").get("frames", [])
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return False
    return bool(frames and frames[0].get("interlaced_frame"))


def probe(path: Path) -> Source:
    """Return what the encoder needs to know about `path`; raise IngestError if unusable."""
    if not path.is_file():
        raise IngestError(f"{path} is not a file.")
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name} is empty (zero bytes).")
    data = run_ffprobe(path)
    source = source_from_probe(path, data)
    video = next(s for s in data["streams"] if s.get("codec_type") == "video")
    if video.get("field_order") in (None, "unknown") and first_frame_interlaced(path):
        source = replace(source, interlaced=True)
    return source
