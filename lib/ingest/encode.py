"""The one ffmpeg run that makes a title: every rung, the poster and the seek-preview sprite
from a single decode of the source (`split`), with keyframes aligned across rungs."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ffmpeg_progress_yield import FfmpegProgress

from lib.ingest.errors import IngestError
from lib.ingest.ladder import AUDIO_BITRATE, Rendition, choose_ladder, output_fps, scaled_size
from lib.ingest.probe import Source
from lib.sidecars import HLS_POSTER

DEFAULT_PRESET = "superfast"  # the fastest giving High profile: ~1x real time for 1080p on 2 cores
# ultrafast turns off CABAC and 8x8 transforms: its output is Constrained Baseline, not High.
PRESETS = ("superfast", "veryfast", "faster", "fast", "medium")
SEGMENT_SECONDS = 4
KEYFRAME_SECONDS = 2
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
POSTER = HLS_POSTER  # where the library looks for an HLS title's poster
PREVIEW_FOLDER = "preview"
SPRITE = "sprite.jpg"
SPRITE_VTT = "thumbnails.vtt"
POSTER_SHORT_SIDE = 720
POSTER_CANDIDATES = 50  # frames the thumbnail filter compares (each held in memory)
THUMB_SHORT_SIDE = 90
SPRITE_COLUMNS = 10
MAX_THUMBS = 100


@dataclass(frozen=True)
class SpriteLayout:
    """Where each seek-preview thumbnail sits in the sprite sheet."""

    interval: float  # seconds between thumbnails
    count: int
    columns: int
    rows: int
    width: int  # of one thumbnail
    height: int

    def cells(self, duration: float) -> Iterator[tuple[float, float, int, int]]:
        """Yield (start, end, x, y) of every thumbnail."""
        for index in range(self.count):
            start = index * self.interval
            end = min((index + 1) * self.interval, duration)
            yield (
                start,
                end,
                (index % self.columns) * self.width,
                (index // self.columns) * self.height,
            )


def sprite_layout(source: Source) -> SpriteLayout:
    """One thumbnail every second, or every duration/100 s for videos over 100 s."""
    interval = max(1.0, source.duration / MAX_THUMBS)
    count = max(1, min(MAX_THUMBS, math.ceil(source.duration / interval - 1e-6)))
    columns = min(SPRITE_COLUMNS, count)
    width, height = scaled_size(source, min(THUMB_SHORT_SIDE, source.short_side))
    return SpriteLayout(interval, count, columns, math.ceil(count / columns), width, height)


def picture_filters(source: Source) -> list[str]:
    """Filters every rung shares: deinterlace, tone-map HDR to SDR BT.709, constant rate."""
    filters = []
    if source.interlaced:
        filters.append("bwdif=mode=send_frame:parity=auto:deint=all")
    if source.hdr:
        filters += [
            f"zscale=tin={source.transfer}:min={source.matrix or 'bt2020nc'}"
            f":pin={source.primaries or 'bt2020'}:t=linear:npl=100",
            "format=gbrpf32le",
            "zscale=p=bt709",
            "tonemap=tonemap=hable:desat=0",
            "zscale=t=bt709:m=bt709:r=tv",
        ]
    filters.append(f"fps={output_fps(source, 720)}")
    filters.append("format=yuv420p")
    return filters


@dataclass(frozen=True)
class EncodePlan:
    """What one encode makes, and where: `folder` becomes the title's `.hls` folder."""

    source: Source
    folder: Path
    renditions: tuple[Rendition, ...]
    preset: str = DEFAULT_PRESET
    segment_seconds: int = SEGMENT_SECONDS
    threads: int = 0  # 0: let x264 decide

    @classmethod
    def for_source(cls, source: Source, folder: Path, preset: str = DEFAULT_PRESET) -> EncodePlan:
        return cls(source, folder, tuple(choose_ladder(source)), preset)

    @property
    def sprite(self) -> SpriteLayout:
        return sprite_layout(self.source)

    def filter_graph(self) -> str:
        """The filter_complex: shared filters, split, one branch per output."""
        count = len(self.renditions)
        labels = "".join(f"[s{i}]" for i in range(count)) + "[sp][ss]"
        chains = [f"[0:v:0]{','.join(picture_filters(self.source))},split={count + 2}{labels}"]
        top_fps = output_fps(self.source, 720)
        for index, rendition in enumerate(self.renditions):
            steps = []
            if rendition.fps != top_fps:
                steps.append(f"fps={rendition.fps}")
            steps.append(f"scale={rendition.width}:{rendition.height}:flags=bicubic")
            steps.append("setsar=1")
            chains.append(f"[s{index}]{','.join(steps)}[v{index}]")
        poster_w, poster_h = scaled_size(
            self.source, min(POSTER_SHORT_SIDE, self.source.short_side)
        )
        sample_rate = min(2.0, POSTER_CANDIDATES / max(self.source.duration, 0.5))
        chains.append(
            f"[sp]fps={sample_rate:.4f},scale={poster_w}:{poster_h},"
            f"thumbnail=n={POSTER_CANDIDATES}[poster]"
        )
        sprite = self.sprite
        chains.append(
            f"[ss]fps=1/{sprite.interval:.4f},scale={sprite.width}:{sprite.height},"
            f"tile={sprite.columns}x{sprite.rows}[sprite]"
        )
        return ";".join(chains)

    def rendition_arguments(self, index: int, rendition: Rendition) -> list[str]:
        """The output options of one rung: H.264 High, AAC-LC stereo, a VOD HLS playlist."""
        folder = self.folder / rendition.name
        gop = str(rendition.keyframe_interval)
        arguments = ["-map", f"[v{index}]"]
        if self.source.audio_tracks:
            arguments += ["-map", "0:a:0"]
        arguments += [
            "-c:v", "libx264", "-preset", self.preset, "-profile:v", "high",
            "-pix_fmt", "yuv420p",
            "-b:v", str(rendition.bitrate), "-maxrate", str(rendition.maxrate),
            "-bufsize", str(rendition.bufsize),
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        ]  # fmt: skip
        if self.threads:
            arguments += ["-threads", str(self.threads)]
        if self.source.audio_tracks:
            arguments += ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", str(AUDIO_BITRATE)]
            arguments += ["-ac", "2", "-ar", "48000"]
        arguments += [
            "-f", "hls", "-hls_time", str(self.segment_seconds),
            "-hls_playlist_type", "vod", "-hls_flags", "independent_segments",
            "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(folder / SEGMENT_PATTERN),
            str(folder / VARIANT_PLAYLIST),
        ]  # fmt: skip
        return arguments

    def command(self) -> list[str]:
        """The whole ffmpeg command line."""
        arguments = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        arguments += ["-i", str(self.source.path), "-filter_complex", self.filter_graph()]
        for index, rendition in enumerate(self.renditions):
            arguments += self.rendition_arguments(index, rendition)
        arguments += ["-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-update", "1"]
        arguments += [str(self.folder / POSTER)]
        arguments += ["-map", "[sprite]", "-frames:v", "1", "-q:v", "5", "-update", "1"]
        arguments += [str(self.folder / PREVIEW_FOLDER / SPRITE)]
        return arguments

    def prepare(self) -> None:
        """Make the folders ffmpeg writes into."""
        for rendition in self.renditions:
            (self.folder / rendition.name).mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEW_FOLDER).mkdir(parents=True, exist_ok=True)

    def write_sprite_vtt(self) -> Path:
        """Write the WebVTT file mapping times to cells of the sprite sheet."""
        lines = ["WEBVTT", ""]
        for start, end, x, y in self.sprite.cells(self.source.duration):
            lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}"]
            lines += [f"{SPRITE}#xywh={x},{y},{self.sprite.width},{self.sprite.height}", ""]
        path = self.folder / PREVIEW_FOLDER / SPRITE_VTT
        path.write_text("\n".join(lines), encoding="utf-8")
        return path


def vtt_timestamp(seconds: float) -> str:
    """Return a WebVTT cue time: 75.5 -> "00:01:15.500"."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def run_encode(plan: EncodePlan, progress: Callable[[float], None] | None = None) -> None:
    """Run the plan's ffmpeg; `progress` gets the percentage done. Raise IngestError on failure."""
    plan.prepare()
    runner = FfmpegProgress(plan.command())
    try:
        for percent in runner.run_command_with_progress(duration_override=plan.source.duration):
            if progress is not None:
                progress(float(percent))
    except RuntimeError as error:
        last = str(error).strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise IngestError(
            f"{plan.source.path.name}: ffmpeg could not convert it ({last[0][:200]})."
        ) from None
    except BaseException:
        with contextlib.suppress(RuntimeError):  # already ended: nothing to stop
            runner.quit()
        raise
    plan.write_sprite_vtt()
