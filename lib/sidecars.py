"""Posters and subtitles: files kept beside a title (or inside its `.hls` folder).

- Poster: `<title>.jpg` beside a file title, `poster.jpg` inside a `.hls` folder.
- Subtitles: `<title>.vtt` or `<title>.<tag>.vtt` beside a file title, any `*.vtt` inside a
  `.hls` folder. A tag that is a language code names the track (`Wedding.en.vtt` ->
  English); any other tag is the label itself (`Wedding.commentary.vtt` -> commentary).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import langcodes

HLS_POSTER = "poster.jpg"
POSTER_EXTENSIONS = (".jpg", ".jpeg")
SUBTITLE_EXTENSION = ".vtt"
DEFAULT_LABEL = "Subtitles"


@dataclass(frozen=True)
class Subtitle:
    """One subtitle track: the object holding it, its menu label and language tag ('' if none)."""

    name: str
    label: str
    language: str = ""


@functools.lru_cache(maxsize=512)
def language_of(tag: str) -> tuple[str, str] | None:
    """Return (normalised tag, display name) when `tag` names a major language, else None.

    Only languages with a two-letter code count (also when written with three letters, as
    'eng'): rarer three-letter codes collide with words used in file names, such as 'sdh'.
    """
    if not 2 <= len(tag) <= 16 or not langcodes.tag_is_valid(tag):
        return None
    language = langcodes.Language.get(tag)
    if language.language is None or len(language.language) != 2:
        return None
    return language.to_tag(), language.display_name()


def subtitle(name: str, tag: str) -> Subtitle:
    """Given a .vtt object and the tag its file name carries ('' for none), return its track."""
    if not tag:
        return Subtitle(name, DEFAULT_LABEL)
    known = language_of(tag)
    if known is None:
        return Subtitle(name, tag)
    return Subtitle(name, known[1], known[0])


def _split_extension(base: str) -> tuple[str, str]:
    dot = base.rfind(".")
    return (base[:dot], base[dot:].lower()) if dot > 0 else (base, "")


@dataclass(frozen=True)
class FolderSidecars:
    """Posters and subtitles found among the objects of one folder level, by title."""

    posters: dict[str, str]
    subtitles: dict[str, tuple[Subtitle, ...]]

    @classmethod
    def from_names(cls, names: Iterable[str]) -> FolderSidecars:
        """Index `names` (objects directly in one folder) by the title each would belong to."""
        posters: dict[str, str] = {}
        subtitles: dict[str, list[Subtitle]] = {}
        for name in names:
            stem, extension = _split_extension(name.rsplit("/", 1)[-1])
            if extension in POSTER_EXTENSIONS:
                posters.setdefault(stem, name)
            elif extension == SUBTITLE_EXTENSION:
                # 'A.b.c.vtt' may belong to title 'A.b.c' (no tag), 'A.b' (tag c), 'A' (tag b.c).
                subtitles.setdefault(stem, []).append(subtitle(name, ""))
                dot = stem.rfind(".")
                while dot > 0:
                    title, tag = stem[:dot], stem[dot + 1 :]
                    subtitles.setdefault(title, []).append(subtitle(name, tag))
                    dot = stem.rfind(".", 0, dot)
        return cls(
            posters=posters,
            subtitles={title: _ordered(tracks) for title, tracks in subtitles.items()},
        )


def _ordered(tracks: Iterable[Subtitle]) -> tuple[Subtitle, ...]:
    return tuple(sorted(tracks, key=lambda track: (track.label.casefold(), track.name)))


def hls_subtitles(names: Iterable[str]) -> tuple[Subtitle, ...]:
    """Given the objects inside one `.hls` folder, return its subtitle tracks."""
    tracks = []
    for name in names:
        stem, extension = _split_extension(name.rsplit("/", 1)[-1])
        if extension != SUBTITLE_EXTENSION:
            continue
        tag = stem.rsplit(".", 1)[-1]
        known = language_of(tag)
        tracks.append(Subtitle(name, known[1], known[0]) if known else Subtitle(name, stem))
    return _ordered(tracks)
