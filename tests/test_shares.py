"""Share links: their lifecycle in the real local backend, and the share page over HTTP."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote

import pytest

from lib.assets import player_asset_path
from lib.services import Services, build_services
from lib.settings import Settings
from lib.shares import ShareError, Shares, share_id_of
from lib.storage.local import LocalStorage
from lib.tokens import TokenSigner, derive_key
from lib.web.share_page import EXPIRED_TITLE
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, FakeClock

SHARE_KEY = derive_key(COOKIE_KEY, "homemovies share link v1")
MEDIA_KEY = derive_key(COOKIE_KEY, "homemovies media token v1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shares(tmp_path, clock) -> Shares:
    return Shares(LocalStorage(tmp_path), TokenSigner(SHARE_KEY, clock=clock), clock)


def test_share_lifecycle_create_open_list_revoke(shares, tmp_path):
    share = shares.create("Years/2024.mp4", "2024", 24, ADMIN, "  For   Grandma ")
    assert share.note == "For Grandma"
    assert share.expires - share.created == 24 * 3600
    assert (tmp_path / ".homemovies" / "state" / "shares" / f"{share.id}.json").is_file()
    token = shares.token(share)
    assert shares.open(token) == share
    assert shares.active() == [share]
    assert shares.is_live(share.id)
    shares.revoke(share.id)
    assert shares.open(token) is None
    assert shares.get(share.id) is None
    assert shares.active() == []
    assert not shares.is_live(share.id)
    shares.revoke(share.id)  # revoking twice is harmless


@pytest.mark.parametrize("hours", [0, 0.5, 168.5, 1000, -1])
def test_expiry_must_be_between_one_hour_and_seven_days(shares, hours):
    with pytest.raises(ShareError, match="between 1 hour and 7 days"):
        shares.create("Years/2024.mp4", "2024", hours, ADMIN)


@pytest.mark.parametrize("hours", [1, 168])
def test_expiry_bounds_are_accepted(shares, hours):
    assert shares.create("Years/2024.mp4", "2024", hours, ADMIN).expires > 0


def test_a_long_note_is_refused(shares):
    with pytest.raises(ShareError, match="under 200 characters"):
        shares.create("Years/2024.mp4", "2024", 1, ADMIN, "x" * 201)


def test_share_expires_and_expired_ones_are_cleaned_up(shares, clock, tmp_path):
    share = shares.create("Years/2024.mp4", "2024", 1, ADMIN)
    token = shares.token(share)
    clock.now += 3599
    assert shares.open(token) == share
    clock.now += 2
    assert shares.open(token) is None
    assert shares.active() == []
    assert not (tmp_path / ".homemovies" / "state" / "shares" / f"{share.id}.json").exists()


def test_listing_is_sorted_by_expiry(shares):
    week = shares.create("a.mp4", "a", 168, ADMIN)
    hour = shares.create("b.mp4", "b", 1, ADMIN)
    assert shares.active() == [hour, week]


def test_forged_or_foreign_tokens_open_nothing(shares):
    share = shares.create("Years/2024.mp4", "2024", 1, ADMIN)
    token = shares.token(share)
    assert shares.open(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    media_token = TokenSigner(MEDIA_KEY).issue(share.id, "share", 600)
    assert shares.open(media_token) is None  # a media token is not a share link
    assert shares.open("nonsense") is None


def test_corrupt_share_object_is_ignored_with_a_warning(shares, tmp_path, caplog):
    good = shares.create("Years/2024.mp4", "2024", 1, ADMIN)
    shares.storage.write(Shares.object_name("broken"), b"{oops")
    with caplog.at_level(logging.WARNING, logger="homemovies.shares"):
        assert shares.active() == [good]
        assert shares.get("broken") is None
    assert "is not valid JSON" in caplog.text


def test_share_object_renamed_to_another_id_does_not_count(shares, tmp_path):
    share = shares.create("Years/2024.mp4", "2024", 1, ADMIN)
    folder = tmp_path / ".homemovies" / "state" / "shares"
    (folder / f"{share.id}.json").rename(folder / "other.json")
    assert shares.get("other") is None
    assert shares.active() == []


def test_holders_of_share_tokens():
    assert share_id_of("share:abc") == "abc"
    assert share_id_of("admin") is None


# --- the share page and its media, over HTTP ---------------------------------------------


@pytest.fixture
def site(fixture_library, clock):
    """The app's routes as the factory builds them, on the fixture library, with a clock the
    tests move."""
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    services = build_services(settings, clock=clock)
    shares = services.shares
    with client_for(services) as client:
        yield client, shares
    for share in shares.active():
        shares.revoke(share.id)


def player_data(page_html: str) -> dict:
    match = re.search(r"data: (\{.*?\})\}\);</script>", page_html)
    assert match, page_html
    return json.loads(match.group(1))


def media_path(url: str) -> str:
    assert url.startswith("../video/"), url
    return url.removeprefix("..")


def test_share_page_shows_only_that_title_and_plays_it(site, fixture_library):
    client, shares = site
    share = shares.create("Events/Wedding.mp4", "Wedding", 24, ADMIN, "For Grandma <3")
    response = client.get(f"/share/{shares.token(share)}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "<h1>Wedding</h1>" in response.text
    assert "For Grandma &lt;3" in response.text
    assert f'import player from "..{player_asset_path("mjs")}"' in response.text
    for other in ("2024", "Long walk", "Years", "Events/"):
        assert other not in response.text.replace("Events/Wedding", "")
    data = player_data(response.text)
    assert data["kind"] == "file" and data["title"] == "Wedding" and data["report"] == ""
    video = client.get(media_path(data["src"]), headers={"Range": "bytes=0-9"})
    assert video.status_code == 206
    assert video.content == (fixture_library.root / "Events/Wedding.mp4").read_bytes()[:10]
    poster = client.get(media_path(data["poster"]))
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/jpeg"
    [track] = data["subtitles"]
    assert (track["label"], track["lang"]) == ("English", "en")
    vtt = client.get(media_path(track["src"]))
    assert vtt.status_code == 200
    assert vtt.text.startswith("WEBVTT")


def test_share_tokens_reach_nothing_beyond_the_title(site):
    client, shares = site
    share = shares.create("Events/Wedding.mp4", "Wedding", 24, ADMIN)
    data = player_data(client.get(f"/share/{shares.token(share)}").text)
    video_url = media_path(data["src"])
    poster_url = media_path(data["poster"])
    # The title's token does not read its neighbours; a sidecar's token reads only itself.
    assert client.get(video_url.replace("Wedding.mp4", "Long%20walk.mp4")).status_code == 404
    assert client.get(poster_url.replace("Wedding.jpg", "Wedding.mp4")).status_code == 404
    assert client.get(poster_url.replace("Wedding.jpg", "Wedding.en.vtt")).status_code == 404


def test_hls_share_covers_its_folder(site):
    client, shares = site
    share = shares.create("Years/2022.hls/", "2022", 1, ADMIN)
    data = player_data(client.get(f"/share/{shares.token(share)}").text)
    assert data["kind"] == "hls"
    assert data["hlsScript"].startswith("../assets/hls-")
    playlist = client.get(media_path(data["src"]))
    assert playlist.status_code == 200 and b"#EXTM3U" in playlist.content
    segment = media_path(data["src"]).replace("output.m3u8", "output000.ts")
    assert client.get(segment).status_code == 200
    assert [t["label"] for t in data["subtitles"]] == ["German"]
    assert client.get(media_path(data["poster"])).status_code == 200


def test_revoked_share_shows_the_expired_page_and_its_media_stops(site):
    client, shares = site
    share = shares.create("Events/Wedding.mp4", "Wedding", 24, ADMIN)
    link = f"/share/{shares.token(share)}"
    video_url = media_path(player_data(client.get(link).text)["src"])
    assert client.get(video_url).status_code == 200
    shares.revoke(share.id)
    response = client.get(link)
    assert response.status_code == 410
    assert f"<h1>{EXPIRED_TITLE}</h1>" in response.text
    assert "Wedding" not in response.text
    assert client.get(video_url).status_code == 403


def test_expired_share_shows_the_expired_page_and_its_media_stops(site, clock):
    client, shares = site
    share = shares.create("Events/Wedding.mp4", "Wedding", 1, ADMIN)
    link = f"/share/{shares.token(share)}"
    video_url = media_path(player_data(client.get(link).text)["src"])
    clock.now += 3601
    assert client.get(link).status_code == 410
    assert client.get(video_url).status_code == 403


def test_media_tokens_never_outlive_the_share(site, clock):
    client, shares = site
    share = shares.create("Events/Wedding.mp4", "Wedding", 1, ADMIN)
    data = player_data(client.get(f"/share/{shares.token(share)}").text)
    grant = TokenSigner(MEDIA_KEY, clock=clock).verify(
        unquote(media_path(data["src"]).split("/")[2])
    )
    assert grant.expires <= share.expires
    assert grant.user == share.holder


@pytest.mark.parametrize("token", ["nonsense", "a.b", "x" * 300])
def test_forged_links_show_the_expired_page(site, token):
    client, _ = site
    response = client.get(f"/share/{token}")
    assert response.status_code == 410
    assert EXPIRED_TITLE in response.text


def test_share_of_a_title_no_longer_listed(site):
    client, shares = site
    share = shares.create("Events/Gone.mp4", "Gone", 1, ADMIN)
    response = client.get(f"/share/{shares.token(share)}")
    assert response.status_code == 404
    assert "This video is no longer available" in response.text


def test_player_module_and_stylesheet_are_served_by_digest(site):
    client, _ = site
    module = client.get(player_asset_path("mjs"))
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert "export default function" in module.text
    assert client.get(player_asset_path("css")).headers["content-type"].startswith("text/css")
    assert client.get("/assets/player-000000000000.mjs").status_code == 404
    assert client.get(player_asset_path("mjs").replace(".mjs", ".exe")).status_code == 404


def test_services_tell_users_from_share_holders(fixture_library, tmp_path):
    settings = Settings(
        library=tmp_path, username=ADMIN, password="correct horse battery", cookie_key=COOKIE_KEY
    )
    services: Services = build_services(settings)
    share = services.shares.create("a.mp4", "a", 1, ADMIN)
    assert services.may_watch(ADMIN)
    assert not services.may_watch("someone else")
    assert services.may_watch(share.holder)
    services.shares.revoke(share.id)
    assert not services.may_watch(share.holder)
