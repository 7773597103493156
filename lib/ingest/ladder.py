"""The adaptive ladder: which renditions a source gets, at which size and bitrate.

Rungs are named by the picture's short side, so a portrait phone video gets the same rungs
as a landscape one. A rung is made only when the source is at least that big (never
upscaled); a source smaller than the lowest rung gets one rendition at its own size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lib.ingest.probe import Source

AUDIO_BITRATE = 128_000
PEAK_FACTOR = 1.5  # maxrate = 1.5 x the target
BUFFER_FACTOR = 2.0  # bufsize = 2 x the target
SOURCE_MARGIN = 1.1  # a rung never gets more than the source's own bitrate plus 10 %
MIN_BITRATE = 200_000
MAX_FPS = 60.0
MAX_FPS_BELOW_720 = 30.0


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: a short side in pixels and its target video bitrate."""

    short_side: int
    bitrate: int  # bits per second

    @property
    def name(self) -> str:
        return f"{self.short_side}p"


LADDER: tuple[Rung, ...] = (
    Rung(360, 730_000),
    Rung(540, 2_000_000),
    Rung(720, 3_000_000),
    Rung(1080, 6_000_000),
    Rung(2160, 16_000_000),
)


@dataclass(frozen=True)
class Rendition:
    """One rendition to encode: its exact picture size, frame rate and rate control."""

    name: str  # folder name, e.g. "720p"
    width: int
    height: int
    fps: float
    bitrate: int
    maxrate: int
    bufsize: int

    @property
    def keyframe_interval(self) -> int:
        """Frames between keyframes: 2 s, so every rung switches at the same instants."""
        return max(1, round(2 * self.fps))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def scaled_size(source: Source, short_side: int) -> tuple[int, int]:
    """Given a short side, return (width, height) keeping the source's aspect, both even."""
    long_side = _even(short_side * max(source.width, source.height) / source.short_side)
    short = _even(short_side)
    return (short, long_side) if source.portrait else (long_side, short)


def output_fps(source: Source, short_side: int) -> float:
    """The constant frame rate of a rung: the source's, at most 60 and at most 30 below 720p."""
    fps = min(source.fps, MAX_FPS)
    if short_side < 720:
        fps = min(fps, MAX_FPS_BELOW_720)
    return round(fps, 3)


def rung_bitrate(rung: Rung, source: Source) -> int:
    """The rung's target, capped at the source's own video bitrate plus a margin."""
    bitrate = rung.bitrate
    if source.video_bitrate:
        bitrate = min(bitrate, int(source.video_bitrate * SOURCE_MARGIN))
    return max(bitrate, MIN_BITRATE)


def choose_ladder(source: Source) -> list[Rendition]:
    """Return the renditions for `source`, smallest first."""
    rungs = [rung for rung in LADDER if rung.short_side <= source.short_side]
    if not rungs:
        # Smaller than 360p: one rendition at its own size, with a bitrate scaled by area.
        area = source.short_side / LADDER[0].short_side
        rungs = [Rung(_even(source.short_side), int(LADDER[0].bitrate * area * area))]
    renditions = []
    for rung in rungs:
        width, height = scaled_size(source, rung.short_side)
        bitrate = rung_bitrate(rung, source)
        renditions.append(
            Rendition(
                name=rung.name,
                width=width,
                height=height,
                fps=output_fps(source, rung.short_side),
                bitrate=bitrate,
                maxrate=int(bitrate * PEAK_FACTOR),
                bufsize=int(bitrate * BUFFER_FACTOR),
            )
        )
    return renditions


def segment_count(duration: float, segment_seconds: int) -> int:
    """How many segments a rendition of `duration` seconds has."""
    return max(1, math.ceil(duration / segment_seconds))
