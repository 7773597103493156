"""The title cards are HTML the app writes itself (one element per page of cards): every name
from the bucket must arrive as text, never as markup."""

from __future__ import annotations

from lib.library import Kind, Video
from lib.ui.grid import card_html
from tests.html_parsed import Parsed

HOSTILE = "Events/<img src=x onerror=alert(1)> \"quoted\" & 'single'"


def poster(video: Video) -> str:
    return f"/video/token/{video.name}.jpg"


def download(video: Video) -> str:
    return f"/video/token/{video.name}?download=1"


def test_a_playable_card_is_a_play_button_naming_its_object():
    video = Video("Events", "Wedding", "Events/Wedding.mp4", Kind.FILE, size=3 * 1024 * 1024)
    card = Parsed(card_html(video, poster, download, "Events"))
    assert card.attribute("button", "data-hm-play") == ["Events/Wedding.mp4"]
    assert card.attribute("img", "data-hm-src") == ["/video/token/Events/Wedding.mp4.jpg"]
    assert "Events · 3 MB" in card.text


def test_names_from_the_bucket_stay_text():
    for kind in Kind:
        video = Video("Events", HOSTILE.removeprefix("Events/"), HOSTILE, kind, size=1)
        card = Parsed(card_html(video, poster, download, ""))
        assert [tag for tag, _ in card.tags if tag in ("script", "img")] in ([], ["img"])
        assert all("onerror" not in attrs for _, attrs in card.tags)
        if kind in (Kind.FILE, Kind.HLS):
            assert card.attribute("button", "data-hm-play") == [HOSTILE]
        assert any(HOSTILE.removeprefix("Events/") in text for text in card.text)


def test_an_unplayable_card_offers_the_command_and_the_original():
    video = Video("Events", "Old tape", "Events/Old tape.avi", Kind.UNPLAYABLE, size=1)
    card = Parsed(card_html(video, poster, download, ""))
    assert card.attribute("button", "data-hm-play") == []
    assert any(
        text == "python -m lib.ingest --existing 'Events/Old tape.avi'" for text in card.text
    )
    assert card.attribute("a", "href") == ["/video/token/Events/Old tape.avi?download=1"]
    assert "Convert or download" in card.text
    assert ".avi · needs converting to play in a browser" in card.text


def test_a_broken_folder_says_what_is_missing():
    video = Video("Events", "Trip", "Events/Trip.hls/", Kind.BROKEN)
    card = Parsed(card_html(video, poster, download, ""))
    assert card.attribute("button", "data-hm-play") == []
    assert "Events/Trip.hls/" in card.text
    assert any("has no output.m3u8" in text for text in card.text)
