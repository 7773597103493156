"""RFC 6381 codec strings, and the MIME type a browser is asked whether it can play a title.

From ffprobe's stream dicts: `avc1.64001f` (H.264 High 3.1), `hvc1.1.6.L93.B0` (HEVC Main),
`mp4a.40.2` (AAC-LC)... A codec without a string here is given by its ffprobe name, which
no browser claims to play: it then says it cannot, which is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import m3u8

AUDIO_CODEC = "mp4a.40.2"  # AAC-LC, what ingest makes
PROFILE_IDC = {
    "Baseline": 66,
    "Constrained Baseline": 66,
    "Main": 77,
    "Extended": 88,
    "High": 100,
    "High 10": 110,
    "High 10 Intra": 110,
    "High 4:2:2": 122,
    "High 4:2:2 Intra": 122,
    "High 4:4:4 Predictive": 244,
    "High 4:4:4 Intra": 244,
}
DEFAULT_AVC_LEVEL = 40
# HEVC: profile_idc and the profile-compatibility flags (hex) of each profile ffprobe names.
HEVC_PROFILES = {"Main": "1.6", "Main 10": "2.4", "Main Still Picture": "3.8", "Rext": "4.10"}
# MPEG-4 Part 2: profile_and_level_indication is the level for Simple (8 is Level 0),
# 0xF0 plus the level for Advanced Simple (ISO/IEC 14496-2, Table G-1).
MPEG4_SIMPLE_L0 = 8
MPEG4_ADVANCED_SIMPLE = 0xF0
AAC_PROFILES = {
    "LC": "mp4a.40.2",
    "HE-AAC": "mp4a.40.5",
    "HE-AACv2": "mp4a.40.29",
    "Main": "mp4a.40.1",
}
AUDIO_CODECS = {
    "mp3": "mp4a.6B",
    "opus": "opus",
    "vorbis": "vorbis",
    "flac": "fLaC",
    "ac3": "ac-3",
    "eac3": "ec-3",
    "alac": "alac",
}
CONTAINERS = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm"}
HLS_CONTAINER = "video/mp4"  # hls.js hands Media Source Extensions fMP4 (it transmuxes TS)


def avc_codec(profile: str, level: int, constrained: bool = False) -> str:
    """The RFC 6381 string of an H.264 stream, e.g. avc1.64001f for High at level 3.1."""
    flags = 0x40 if constrained else 0
    return f"avc1.{PROFILE_IDC.get(profile, 100):02x}{flags:02x}{level:02x}"


def _level(stream: Mapping[str, Any]) -> int | None:
    """ffprobe's level of a stream, None when unknown (it says -99)."""
    level = stream.get("level")
    return level if isinstance(level, int) and level >= 0 else None


def _bit_depth(stream: Mapping[str, Any]) -> int:
    pix_fmt = str(stream.get("pix_fmt", ""))
    return 12 if "12" in pix_fmt else 10 if "10" in pix_fmt else 8


def video_codec(stream: Mapping[str, Any]) -> str:
    """Given ffprobe's video stream, return its RFC 6381 codec string."""
    name = str(stream.get("codec_name", "unknown"))
    profile = str(stream.get("profile", ""))
    level = _level(stream)
    if name == "h264":
        constrained = profile.startswith("Constrained")
        return avc_codec(profile, DEFAULT_AVC_LEVEL if level is None else level, constrained)
    if name == "hevc":
        tag = "hev1" if stream.get("codec_tag_string") == "hev1" else "hvc1"
        return f"{tag}.{HEVC_PROFILES.get(profile, '1.6')}.L{level or 93}.B0"
    if name == "mpeg4":
        advanced = profile.startswith("Advanced Simple")
        if advanced:
            indication = MPEG4_ADVANCED_SIMPLE + (level or 0)
        else:
            indication = level if level else MPEG4_SIMPLE_L0
        return f"mp4v.20.{indication}"
    if name == "vp8":
        return "vp8"
    if name == "vp9":
        if level is None:
            return "vp9"
        digits = profile.removeprefix("Profile ")
        number = int(digits) if digits.isdigit() else 0
        return f"vp09.{number:02d}.{level:02d}.{_bit_depth(stream):02d}"
    if name == "av1":
        number = {"Main": 0, "High": 1, "Professional": 2}.get(profile, 0)
        return f"av01.{number}.{level or 0:02d}M.{_bit_depth(stream):02d}"
    return name


def audio_codec(stream: Mapping[str, Any]) -> str:
    """Given ffprobe's audio stream, return its RFC 6381 codec string."""
    name = str(stream.get("codec_name", "unknown"))
    if name == "aac":
        return AAC_PROFILES.get(str(stream.get("profile", "LC")), AUDIO_CODEC)
    return AUDIO_CODECS.get(name, name)


def codecs(video: Mapping[str, Any] | None, audio: Mapping[str, Any] | None) -> str:
    """The CODECS list of a title with these streams (either may be missing)."""
    parts = [video_codec(video)] if video is not None else []
    if audio is not None:
        parts.append(audio_codec(audio))
    return ",".join(parts)


def mime_type(container: str, codec_list: str) -> str:
    """The type the browser is asked: 'video/mp4; codecs="avc1.64001f,mp4a.40.2"'."""
    return f'{container}; codecs="{codec_list}"' if codec_list else container


def file_mime(name: str, codec_list: str) -> str:
    """The type of a file title by its extension (.mp4, .m4v and .mov play as video/mp4)."""
    extension = name[name.rfind(".") :].lower() if "." in name else ""
    return mime_type(CONTAINERS.get(extension, "video/mp4"), codec_list)


def hls_mime(codec_list: str) -> str:
    """The type of an HLS title, as hls.js feeds it to the browser."""
    return mime_type(HLS_CONTAINER, codec_list)


# What ffprobe would call the codec a CODECS entry names, by the entry's first part.
CODEC_NAMES = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "mp4v": "mpeg4",
    "vp8": "vp8",
    "vp09": "vp9",
    "vp9": "vp9",
    "av01": "av1",
    "mp4a.40": "aac",
    "mp4a.6B": "mp3",
    "mp4a.69": "mp3",
    "opus": "opus",
    "vorbis": "vorbis",
    "fLaC": "flac",
    "ac-3": "ac3",
    "ec-3": "eac3",
}
AUDIO_NAMES = frozenset({"aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3"})


def codec_names(codec_list: str) -> tuple[str | None, str | None]:
    """Given a CODECS list, return ffprobe's names of its (video, audio) codecs, if named."""
    video = audio = None
    for item in codec_list.split(","):
        item = item.strip()
        name = CODEC_NAMES.get(item.split(".", 1)[0]) or CODEC_NAMES.get(item[:7])
        if name in AUDIO_NAMES:
            audio = audio or name
        elif name is not None:
            video = video or name
    return video, audio


def master_codecs(playlist: m3u8.M3U8) -> str | None:
    """The CODECS attribute of a master playlist's heaviest variant (the one a browser must
    decode to play it all), or None when the playlist does not say."""
    variants = [v for v in playlist.playlists if v.stream_info and v.stream_info.codecs]
    if not variants:
        return None
    heaviest = max(variants, key=lambda v: v.stream_info.bandwidth or 0)
    return str(heaviest.stream_info.codecs).replace(" ", "")
