"""What the player is handed: a title's signed URLs, its subtitles and where it reports.

Plain data, the same for the library page (the Streamlit component, lib/ui/player.py) and
the share page (lib/web/share_page.py), both running lib/frontend/player.js.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lib.library import Kind, Video
from lib.sidecars import Subtitle


@dataclass(frozen=True)
class Track:
    """A subtitle track the player offers: its URL, menu label and language tag."""

    src: str
    label: str
    lang: str = ""


@dataclass(frozen=True)
class PlayerSource:
    """What the player plays: a file URL or an HLS playlist URL, and how to label it."""

    kind: str  # "file", "hls", or "idle" (nothing chosen yet: hidden, loads hls.js early)
    src: str
    title: str
    hlsScript: str = ""  # noqa: N815 - read by the JavaScript side as-is
    poster: str = ""
    start: float = 0.0
    autoplay: bool = True
    name: str = ""  # the title's object name: a renewed link to it carries on where it is
    subtitles: tuple[Track, ...] = ()
    report: str = ""  # where the player posts its position (lib/web/positions.py), or ""


def source_for(
    video: Video,
    subtitles: tuple[Subtitle, ...],
    url: Callable[[str, str], str],
    hls_script: str,
    start: float = 0.0,
    report: str = "",
) -> PlayerSource:
    """Return what the player needs for `video`; `url(scope, name)` signs each object's URL
    and `report` is the URL its position is posted to ("" for nowhere).

    Sidecars get their own scope: the `.hls` folder, or for a file title each sidecar file
    alone, so no token reaches beyond the title's own files.
    """
    return PlayerSource(
        kind="hls" if video.kind is Kind.HLS else "file",
        src=url(video.scope, video.playlist),
        title=video.title,
        hlsScript=hls_script,
        poster=url(video.sidecar_scope(video.poster), video.poster) if video.poster else "",
        start=start,
        name=video.name,
        subtitles=tuple(
            Track(url(video.sidecar_scope(track.name), track.name), track.label, track.language)
            for track in subtitles
        ),
        report=report,
    )


def idle_source(hls_script: str) -> PlayerSource:
    """Return the source of a player with nothing chosen yet: hidden, loading hls.js early."""
    return PlayerSource(kind="idle", src="", title="", hlsScript=hls_script)
