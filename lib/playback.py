"""What the player is handed: a title's signed URLs, its subtitles and where it reports.

Plain data, the same for the library page (the Streamlit component, lib/ui/player.py) and
the share page (lib/web/share_page.py), both running lib/frontend/player.js.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lib.library import Kind, Video
from lib.media_index import IndexEntry, scope_of
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
    preview: str = ""  # the seek preview's WebVTT map (cells of a sprite sheet), or ""
    hasPicture: bool = False  # noqa: N815 - the index says it has a video stream
    convert: str = ""  # what an admin is told to run when this browser shows no picture


def source_for(
    video: Video,
    subtitles: tuple[Subtitle, ...],
    url: Callable[[str, str], str],
    hls_script: str,
    start: float = 0.0,
    report: str = "",
    entry: IndexEntry | None = None,
    convert: str = "",
) -> PlayerSource:
    """Return what the player needs for `video`; `url(scope, name)` signs each object's URL
    and `report` is the URL its position is posted to ("" for nowhere). `entry` is what the
    library index knows of it (its poster when it has no hand-made one, its seek preview);
    `convert` is what to tell an admin whose browser shows no picture.

    Sidecars get their own scope: the `.hls` folder, or for a file title each sidecar file
    alone, so no token reaches beyond the title's own files; what the indexer made is under
    a token for the title's index folder.
    """
    poster = video.poster or (entry.poster if entry else None)
    preview = entry.preview if entry else None
    return PlayerSource(
        kind="hls" if video.kind is Kind.HLS else "file",
        src=url(video.scope, video.playlist),
        title=video.title,
        hlsScript=hls_script,
        poster=url(scope_of(video, poster), poster) if poster else "",
        start=start,
        name=video.name,
        subtitles=tuple(
            Track(url(video.sidecar_scope(track.name), track.name), track.label, track.language)
            for track in subtitles
        ),
        report=report,
        preview=url(scope_of(video, preview), preview) if preview else "",
        hasPicture=entry.has_picture if entry else False,
        convert=convert,
    )


def idle_source(hls_script: str) -> PlayerSource:
    """Return the source of a player with nothing chosen yet: hidden, loading hls.js early."""
    return PlayerSource(kind="idle", src="", title="", hlsScript=hls_script)
