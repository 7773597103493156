"""The master playlist and the sidecar: what a player and the library learn about a title."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import m3u8

from lib.ingest.codecs import AUDIO_CODEC, avc_codec
from lib.ingest.encode import POSTER, PREVIEW_FOLDER, SPRITE_VTT, VARIANT_PLAYLIST, EncodePlan
from lib.ingest.ladder import Rendition
from lib.ingest.probe import Source, run_ffprobe
from lib.library import PLAYLIST_NAME

MASTER = PLAYLIST_NAME  # the name the app plays
SIDECAR = "info.json"


@dataclass(frozen=True)
class VariantStats:
    """What a finished rendition measured: its peak and average bitrate and its codec."""

    rendition: Rendition
    peak: int  # bits per second of its most demanding segment (HLS BANDWIDTH)
    average: int  # over the whole rendition (HLS AVERAGE-BANDWIDTH)
    codecs: str
    size: int  # bytes of its segments


def measure_variant(folder: Path, rendition: Rendition, has_audio: bool) -> VariantStats:
    """Read a rendition's playlist and segments on disk; return its bitrates and codecs."""
    playlist = m3u8.load(str(folder / rendition.name / VARIANT_PLAYLIST))
    peak = total_bits = 0
    total_seconds = 0.0
    size = 0
    for segment in playlist.segments:
        assert segment.uri is not None and segment.duration is not None
        length = (folder / rendition.name / segment.uri).stat().st_size
        size += length
        total_bits += length * 8
        total_seconds += segment.duration
        peak = max(peak, round(length * 8 / max(segment.duration, 0.1)))
    first = playlist.segments[0].uri
    assert first is not None
    video = next(
        stream
        for stream in run_ffprobe(folder / rendition.name / first)["streams"]
        if stream.get("codec_type") == "video"
    )
    codecs = avc_codec(str(video.get("profile", "High")), int(video.get("level", 40)))
    if has_audio:
        codecs += f",{AUDIO_CODEC}"
    average = round(total_bits / total_seconds) if total_seconds else peak
    return VariantStats(rendition, peak, average, codecs, size)


def master_playlist(variants: list[VariantStats]) -> str:
    """The master playlist text, one EXT-X-STREAM-INF per rendition, lightest first.

    Players start with the first variant listed (hls.js, Safari): the lightest one shows a
    first frame soonest on any link, and the player moves up once it has measured the link.
    """
    master = m3u8.M3U8()
    master.version = "6"
    master.is_independent_segments = True
    for variant in sorted(variants, key=lambda v: v.peak):
        rendition = variant.rendition
        master.add_playlist(
            m3u8.Playlist(
                f"{rendition.name}/{VARIANT_PLAYLIST}",
                stream_info={
                    "bandwidth": variant.peak,
                    "average_bandwidth": variant.average,
                    "resolution": f"{rendition.width}x{rendition.height}",
                    "codecs": variant.codecs,
                    "frame_rate": rendition.fps,
                },
                media=m3u8.MediaList(),
                base_uri="",
            )
        )
    return master.dumps()


def write_master(plan: EncodePlan) -> list[VariantStats]:
    """Measure every rendition and write the master playlist into the plan's folder."""
    has_audio = plan.source.audio_tracks > 0
    variants = [measure_variant(plan.folder, r, has_audio) for r in plan.renditions]
    (plan.folder / MASTER).write_text(master_playlist(variants), encoding="utf-8")
    return variants


def sidecar(source: Source, variants: list[VariantStats]) -> dict[str, object]:
    """The title's sidecar: what the library shows without opening the video."""
    return {
        "duration": round(source.duration, 3),
        "width": source.width,
        "height": source.height,
        "recorded": source.recorded.isoformat(),
        "codec": source.codec,
        "audio_codec": source.audio_codec,
        "source": source.path.name,
        "renditions": [
            {
                "name": v.rendition.name,
                "width": v.rendition.width,
                "height": v.rendition.height,
                "bandwidth": v.peak,
                "codecs": v.codecs,
            }
            for v in variants
        ],
        "poster": POSTER,
        "preview": f"{PREVIEW_FOLDER}/{SPRITE_VTT}",
    }


def write_sidecar(plan: EncodePlan, variants: list[VariantStats]) -> None:
    """Write info.json into the plan's folder."""
    text = json.dumps(sidecar(plan.source, variants), indent=2, ensure_ascii=False)
    (plan.folder / SIDECAR).write_text(text + "\n", encoding="utf-8")
