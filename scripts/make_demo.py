"""Encode small test videos with ffmpeg's test sources: the demo library and test fixtures.

python -m scripts.make_demo demo              # (re)build the bundled demo library
python -m scripts.make_demo --sidecars demo   # only (re)make its posters and subtitles
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SIZE = "320x180"
SOURCES = ("testsrc2", "smptehdbars", "mandelbrot", "rgbtestsrc", "testsrc", "yuvtestsrc")


def _ffmpeg(*args: str) -> None:
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(command, check=True)


def _inputs(seconds: float, source: str, frequency: int, size: str = SIZE) -> list[str]:
    return [
        "-f",
        "lavfi",
        "-i",
        f"{source}=size={size}:rate=24",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:sample_rate=44100",
        "-t",
        str(seconds),
    ]


def _h264_aac() -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "32",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "48",
        "-c:a",
        "aac",
        "-b:a",
        "48k",
        "-ac",
        "1",
    ]


def encode_mp4(
    path: Path, seconds: float = 4, source: str = "testsrc2", frequency: int = 440
) -> Path:
    """Write an H.264/AAC MP4 with the index up front (+faststart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        *_inputs(seconds, source, frequency), *_h264_aac(), "-movflags", "+faststart", str(path)
    )
    return path


def encode_hls(
    folder: Path,
    seconds: float = 6,
    source: str = "smptehdbars",
    frequency: int = 660,
    segment_seconds: int = 2,
) -> Path:
    """Write an HLS VOD folder: output.m3u8 and outputNNN.ts segments (the original's recipe)."""
    folder.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        *_inputs(seconds, source, frequency),
        *_h264_aac(),
        "-f",
        "hls",
        "-hls_time",
        str(segment_seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        str(folder / "output%03d.ts"),
        str(folder / "output.m3u8"),
    )
    return folder


def encode_hls_variants(
    folder: Path, seconds: float = 6, source: str = "testsrc2", frequency: int = 440
) -> Path:
    """Write an HLS folder with two variants (360p, 180p) behind a master output.m3u8."""
    folder.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        *_inputs(seconds, source, frequency, "640x360"),
        "-filter_complex",
        "[0:v]split=2[high][low];[low]scale=320:180[small]",
        "-map",
        "[high]",
        "-map",
        "[small]",
        "-map",
        "1:a",
        "-map",
        "1:a",
        *_h264_aac(),
        "-b:v:0",  # bitrates (over the crf) so the master playlist's BANDWIDTH tells them apart
        "600k",
        "-b:v:1",
        "150k",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "output.m3u8",
        "-var_stream_map",
        "v:0,a:0 v:1,a:1",
        "-hls_segment_filename",
        str(folder / "stream_%v_%03d.ts"),
        str(folder / "stream_%v.m3u8"),
    )
    return folder


def encode_poster(path: Path, source: str = "testsrc2") -> Path:
    """Write a one-frame JPEG poster."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-f", "lavfi", "-i", f"{source}=size={SIZE}:rate=1", "-frames:v", "1", str(path))
    return path


def write_vtt(path: Path, seconds: float, text: str) -> Path:
    """Write a WebVTT subtitle file showing `text` for the first `seconds` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    end = f"00:00:{min(seconds, 59):06.3f}"
    path.write_text(f"WEBVTT\n\n1\n00:00:00.000 --> {end}\n{text}\n", encoding="utf-8")
    return path


def encode_avi(path: Path, seconds: float = 2, source: str = "rgbtestsrc") -> Path:
    """Write an MPEG-4 Part 2 AVI: a file browsers cannot play."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        *_inputs(seconds, source, 330),
        "-c:v",
        "mpeg4",
        "-q:v",
        "12",
        "-c:a",
        "mp3",
        "-b:a",
        "32k",
        str(path),
    )
    return path


def build_demo(root: Path) -> None:
    """Build the demo library in the bucket layout the README describes."""
    for child in ("Years", "Events", "Welcome.mp4"):
        target = root / child
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    encode_mp4(root / "Years" / "2024.mp4", 4, "testsrc2", 440)
    encode_mp4(root / "Years" / "2023.mp4", 4, "mandelbrot", 523)
    encode_hls(root / "Years" / "2022.hls", 6, "smptehdbars", 660)
    encode_mp4(root / "Events" / "Wedding.mp4", 4, "testsrc", 587)
    encode_mp4(root / "Events" / "Grand-mère's 90th – été 2021.mp4", 3, "yuvtestsrc", 349)
    encode_avi(root / "Events" / "Old camcorder tape.avi")
    encode_mp4(root / "Welcome.mp4", 3, "rgbtestsrc", 392)
    add_sidecars(root)


def add_sidecars(root: Path) -> None:
    """Add the demo's posters and subtitles (python -m scripts.make_demo --sidecars demo)."""
    encode_poster(root / "Events" / "Wedding.jpg", "testsrc")
    write_vtt(root / "Events" / "Wedding.en.vtt", 4, "Here comes the bride")
    write_vtt(root / "Events" / "Wedding.fr.vtt", 4, "Voici la mariée")
    encode_poster(root / "Years" / "2022.hls" / "poster.jpg", "smptehdbars")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sidecars"]:
        add_sidecars(Path(sys.argv[2] if len(sys.argv) > 2 else "demo"))
    else:
        build_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
