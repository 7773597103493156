"""The title grid: cards with a poster (or a neutral placeholder), paged, for any list of titles.

Posters are plain <img> elements of signed media URLs, loaded lazily: the player's script gives
each its `src` (from `data-hm-src`) once the browser is idle after drawing the page, so the
poster requests of a screenful of cards do not compete with the page becoming usable
(bench.index_page), and a page of cards costs no storage reads beyond the listing. A playable
title's poster and name form one HTML button marked `data-hm-play` with its object name: the
player component handles clicks on those (it starts the title at once and tells Python), so
choosing a title reruns only the player, never the grid (see lib/ui/library_view.py and
lib/frontend/player.js). The buttons take clicks only once the player is there to hear them (on
a busy machine the grid can be drawn before the player's script has run), so no click is lost.

A page of cards is one HTML element (a CSS grid), not Streamlit columns and containers: the
browser drew those about a hundred elements slower than the server made them (on two cores a
signed-in library page took 1.5 s to be usable, 1.1 s as one element: bench.library_oci).
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable, Sequence

import streamlit as st

from lib.format import format_date, format_position, format_size
from lib.library import Kind, Video
from lib.media_index import IndexEntry, Status

PAGE_SIZE = 24
COLUMNS = 4

GRID_STYLE = """<style>
.hm-poster { aspect-ratio: 16 / 9; width: 100%; border-radius: 0.4rem; overflow: hidden;
             background: #262730; display: flex; align-items: center; justify-content: center; }
.hm-poster img { width: 100%; height: 100%; object-fit: cover; display: block; }
.hm-poster span { padding: 0 0.75rem; color: #b5b9c2; font-size: 1.05rem; text-align: center;
                  overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 3;
                  -webkit-box-orient: vertical; overflow: hidden; }
.hm-play { display: flex; flex-direction: column; gap: 0.75rem; width: 100%; padding: 0;
           border: 0; background: none; color: inherit; font: inherit; cursor: pointer;
           pointer-events: none; }
:root[data-hm-player=ready] .hm-play { pointer-events: auto; }
.hm-play:focus { outline: none; }
.hm-label { display: flex; align-items: center; justify-content: center; gap: 0.5rem;
            min-height: 2.5rem; padding: 0.25rem 0.75rem; border-radius: 0.5rem;
            border: 1px solid rgba(250, 250, 250, 0.2); overflow-wrap: anywhere; }
.hm-play:hover .hm-label, .hm-play:focus-visible .hm-label { border-color: #ff4b4b;
                                                             color: #ff4b4b; }
.hm-icon { font-family: "Material Symbols Rounded"; font-size: 1.25rem; line-height: 1; }
.hm-grid { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1rem; }
@media (max-width: 1024px) { .hm-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media (max-width: 640px) { .hm-grid { grid-template-columns: minmax(0, 1fr); } }
.hm-card { display: flex; flex-direction: column; gap: 0.75rem; padding: calc(1rem - 1px);
           border: 1px solid rgba(250, 250, 250, 0.2); border-radius: 0.5rem; }
.hm-card p { margin: 0; }
.hm-title { font-weight: 600; overflow-wrap: anywhere; }
.hm-caption { font-size: 0.875rem; opacity: 0.6; overflow-wrap: anywhere; }
.hm-convert summary { cursor: pointer; padding: 0.25rem 0.75rem; border-radius: 0.5rem;
                      border: 1px solid rgba(250, 250, 250, 0.2); text-align: center; }
.hm-convert[open] summary { margin-bottom: 0.5rem; }
.hm-convert-button { font: inherit; width: 100%; margin-bottom: 0.5rem; padding: 0.3rem 0.75rem;
                     border-radius: 0.5rem; border: 1px solid #ff4b4b; background: #ff4b4b;
                     color: #fff; cursor: pointer; }
.hm-convert-button:disabled { opacity: 0.6; cursor: default; }
.hm-poster { position: relative; }
.hm-duration { position: absolute; right: 0.4rem; bottom: 0.4rem; padding: 0.05rem 0.35rem;
               border-radius: 0.25rem; background: rgba(0, 0, 0, 0.75); color: #fff;
               font-size: 0.8rem; font-variant-numeric: tabular-nums; }
.hm-maynot { margin: 0; font-size: 0.875rem; color: #ffbd45; }
.hm-convert pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.8rem;
                  padding: 0.5rem; border-radius: 0.4rem; background: rgba(128, 128, 128, 0.15); }
</style>"""

PosterUrl = Callable[[Video], str | None]
EntryOf = Callable[[Video], IndexEntry | None]  # what the library index knows of a title
Offered = dict[str, Video]  # the playable titles on screen, by object name
MAY_NOT_PLAY = "May not play in this browser"


def convert_command(video: Video) -> str:
    """Return the ingest command turning an object into an HLS title beside it; a file some
    browsers play (a phone's HEVC) moves into the new title's folder as its original."""
    command = f"python -m lib.ingest --existing {shlex.quote(video.name)}"
    if video.kind is Kind.FILE:
        command += " --keep-original --delete-original"
    return command


def poster_html(url: str | None, title: str, duration: float | None = None) -> str:
    """Return a 16:9 poster from `url` (with the title's length over it, when known), or a
    neutral placeholder naming the title."""
    if url:
        length = ""
        if duration:  # a length for the eye; the button's label names the title
            length = (
                f'<span class="hm-duration" aria-hidden="true">{format_position(duration)}</span>'
            )
        return (
            f'<span class="hm-poster"><img data-hm-src="{html.escape(url)}" alt="" '
            'loading="lazy" decoding="async">'
            f"{length}</span>"
        )
    # Hidden from assistive technology: inside a play button, the button's label names it.
    return f'<span class="hm-poster" aria-hidden="true"><span>{html.escape(title)}</span></span>'


def play_button_html(
    video: Video,
    poster_url: str | None,
    label: str,
    icon: str,
    duration: float | None = None,
) -> str:
    """Return `video`'s poster and `label` (after a Material icon) as one button that plays it."""
    return (
        f'<button type="button" class="hm-play" data-hm-play="{html.escape(video.name)}">'
        f"{poster_html(poster_url, video.title, duration)}"
        f'<span class="hm-label"><span class="hm-icon" aria-hidden="true">{icon}</span>'
        f"{html.escape(label)}</span></button>"
    )


def play_button(
    video: Video, poster_url: str | None, label: str, icon: str, duration: float | None = None
) -> None:
    """Draw `video`'s play button (see play_button_html)."""
    st.html(play_button_html(video, poster_url, label, icon, duration))


def page_of(videos: Sequence[Video], key: str) -> Sequence[Video]:
    """Return the titles on the page chosen with a page number input (when more than one)."""
    pages = (len(videos) + PAGE_SIZE - 1) // PAGE_SIZE
    if pages <= 1:
        return videos
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"page:{key}")
    return videos[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def adding_status(video: Video, admin: bool) -> str:
    """Return what the card of a title being added says: how far it is, for admins only, and
    (to admins, who can run ingest) that an upload stopped."""
    if not admin:
        return "Being added"
    if video.interrupted:
        return "Upload interrupted: run ingest again"
    if video.progress is None:
        return "Being added"
    return f"Being added — {int(video.progress)} %"


def card_html(
    video: Video,
    poster_url: PosterUrl,
    download_url: Callable[[Video], str],
    caption: str,
    admin: bool = False,
    entry: IndexEntry | None = None,
) -> str:
    """Return one title's card: a button of its poster and name (or why it cannot play) and a
    caption; an unplayable file's card offers the ffmpeg command and the original.

    With what the index knows (`entry`): the length over the poster, the day it was recorded,
    and its codecs as `data-hm-mime`, for the player's script to mark the card when this
    browser cannot decode them (it unhides "May not play", and for admins the convert offer).
    """
    if video.playable:
        details = "HLS" if video.kind is Kind.HLS else format_size(video.size)
        duration = entry.duration if entry else None
        button = play_button_html(video, poster_url(video), video.title, "play_circle", duration)
        recorded = format_date(entry.recorded) if entry and entry.recorded else ""
        unreadable = "cannot be read" if entry and entry.status is Status.UNREADABLE else ""
        attributes = ""
        check = ""
        if entry and entry.mime:
            engine = "mse" if video.kind is Kind.HLS else "native"
            attributes = f' data-hm-mime="{html.escape(entry.mime)}" data-hm-engine="{engine}"'
            check = f'<p class="hm-maynot" hidden>{MAY_NOT_PLAY}</p>'
            if admin:
                check += convert_html(
                    video, download_url, "hm-maynot-admin", hidden=True, admin=True
                )
        return (
            f'<div class="hm-card"{attributes}>{button}'
            f"{caption_html(caption, recorded, details, unreadable)}{check}</div>"
        )
    title = f'<p class="hm-title">{html.escape(video.title)}</p>'
    if video.kind is Kind.UNPLAYABLE:
        return (
            f'<div class="hm-card">{poster_html(None, video.title)}{title}'
            f"{caption_html(video.extension, 'needs converting to play in a browser')}"
            f"{convert_html(video, download_url, admin=admin)}</div>"
        )
    if video.kind is Kind.ADDING:
        status = html.escape(adding_status(video, admin))
        return (
            f'<div class="hm-card">{poster_html(None, video.title)}{title}'
            f'<p class="hm-caption">{status}</p></div>'
        )
    return (
        f'<div class="hm-card">{poster_html(None, video.title)}{title}<p class="hm-caption">'
        f"⚠️ Broken: <code>{html.escape(video.name)}</code> has no output.m3u8</p></div>"
    )


def convert_html(
    video: Video,
    download_url: Callable[[Video], str],
    extra_class: str = "",
    hidden: bool = False,
    admin: bool = False,
) -> str:
    """Return the "Convert or download" offer: for admins a Convert button (the player's
    script queues a job for it), the ingest command and the original's link."""
    button = ""
    if admin:
        button = (
            f'<button type="button" class="hm-convert-button" '
            f'data-hm-convert="{html.escape(video.name)}">Convert</button>'
            "<p>Queues it on the Add videos page's jobs. Or run, with the app's settings:</p>"
        )
    else:
        button = "<p>Convert it once, with the app's library settings (--library or --bucket):</p>"
    return (
        f'<details class="hm-convert {extra_class}"{" hidden" if hidden else ""}>'
        "<summary>Convert or download</summary>"
        f"{button}"
        f"<pre><code>{html.escape(convert_command(video))}</code></pre>"
        f'<a href="{html.escape(download_url(video))}" download>Download the original</a>'
        "</details>"
    )


def caption_html(*parts: str) -> str:
    """Return the grey line under a card, its non-empty `parts` joined by a dot."""
    return f'<p class="hm-caption">{html.escape(" · ".join(part for part in parts if part))}</p>'


def grid(
    videos: Sequence[Video],
    poster_url: PosterUrl,
    download_url: Callable[[Video], str],
    key: str,
    caption: Callable[[Video], str] = lambda video: "",
    admin: bool = False,
    entry_of: EntryOf = lambda video: None,
) -> Offered:
    """Draw `videos` as a grid of cards, one page at a time; return the playable ones drawn.

    `admin`: the viewer is an admin, who is told more about titles being added and offered
    the conversion of a title this browser cannot play. `entry_of` gives a title's index entry.
    """
    shown = page_of(videos, key)
    cards = "".join(
        card_html(video, poster_url, download_url, caption(video), admin, entry_of(video))
        for video in shown
    )
    st.html(f'{GRID_STYLE}<div class="hm-grid">{cards}</div>')
    return {video.name: video for video in shown if video.playable}
