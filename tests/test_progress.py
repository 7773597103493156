"""Position reports over HTTP: the route a playing title posts to (lib/web/positions.py).

The app's routes, as the factory builds them, are driven with Starlette's (httpx) client over
the real local backend; what the route keeps is read back from the saved-positions object a
new process would read.
"""

from __future__ import annotations

import pytest

from lib.links import report_url
from lib.positions import Positions
from lib.services import build_services
from lib.settings import Settings
from lib.storage import Unavailable
from lib.storage.local import LocalStorage
from lib.tokens import TokenSigner, derive_key
from lib.web.positions import MAX_BODY_BYTES, Progress
from tests.app_client import client_for
from tests.conftest import COOKIE_KEY
from tests.media_tokens import SIGNER as MEDIA_SIGNER
from tests.users import write_users

NAME = "Events/Long walk.mp4"
HLS_NAME = "Events/Wedding.hls/"
# `services.report_signer` of an app with COOKIE_KEY: position reports have a key of their own.
SIGNER = TokenSigner(derive_key(COOKIE_KEY, "homemovies position report v1"))


class Switchable(LocalStorage):
    """The real local backend, which can be made to stop answering listings."""

    down = False

    def list(self, prefix: str):
        if self.down:
            raise Unavailable("The storage is not answering.")
        return super().list(prefix)


@pytest.fixture
def storage(tmp_path):
    for name in (NAME, HLS_NAME + "output.m3u8", "Events/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return Switchable(tmp_path)


@pytest.fixture
def client(storage, tmp_path_factory):
    """The app's routes on `storage` for the accounts mum and dad, listing afresh each time."""
    users = write_users(
        tmp_path_factory.mktemp("users") / "users.yaml",
        {"mum": ("mum's passphrase", "admin"), "dad": ("dad's passphrase", "viewer")},
    )
    settings = Settings(library=storage.root, users=users, cookie_key=COOKIE_KEY, cache_ttl=0)
    services = build_services(settings, storage=storage)
    with client_for(services) as client:
        client.positions = services.positions
        yield client


def url(name: str = NAME, user: str = "mum", signer: TokenSigner = SIGNER, ttl: int = 60) -> str:
    return report_url(signer.issue(name, user, ttl))


def test_a_report_is_kept_for_the_user_and_title_the_token_names(client):
    response = client.post(url(), json={"position": 20.5, "duration": 40})
    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    assert client.positions.get("mum", NAME).position == 20.5
    assert client.positions.get("dad", NAME) is None


def test_a_report_on_an_hls_title_is_kept_under_its_folder(client):
    assert client.post(url(HLS_NAME), json={"position": 30, "duration": 60}).status_code == 204
    assert client.positions.get("mum", HLS_NAME).position == 30


def test_the_kept_position_reaches_storage_for_the_next_process(client, storage):
    client.post(url(), json={"position": 20, "duration": 40})
    client.positions.close()
    assert Positions(storage).get("mum", NAME).position == 20


def test_a_name_in_the_body_cannot_redirect_the_report(client):
    body = {"name": "Events/Other.mp4", "position": 20, "duration": 40}
    assert client.post(url(), json=body).status_code == 204
    assert client.positions.resume_list("mum")[0].name == NAME


@pytest.mark.parametrize(
    "make_url",
    [
        lambda: url(signer=MEDIA_SIGNER),  # a media token does not write positions
        lambda: url(ttl=-1),  # expired
        lambda: url(user="stranger"),  # a removed account, or a share link's holder
        lambda: url() + "x",  # forged
        lambda: report_url("not-a-token"),
    ],
)
def test_a_report_without_a_valid_token_is_refused(client, make_url):
    response = client.post(make_url(), json={"position": 20, "duration": 40})
    assert response.status_code == 403
    assert response.text == "This report link is invalid or has expired."
    assert client.positions.resume_list("mum") == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"position": "12", "duration": 40}',
        b'{"position": true, "duration": 40}',
        b'{"position": 12}',
        b"[12, 40]",
        b"not json",
        b"",
    ],
)
def test_a_malformed_report_gets_400_and_changes_nothing(client, body):
    response = client.post(url(), content=body)
    assert response.status_code == 400
    assert "position" in response.text
    assert client.positions.resume_list("mum") == []


def test_an_oversized_report_gets_413(client):
    body = b'{"position": 20, "duration": 40, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert client.post(url(), content=body).status_code == 413
    assert client.positions.resume_list("mum") == []


def test_a_report_for_a_title_the_library_does_not_list_gets_404(client):
    for name in ("Events/notes.txt", "Events/Gone.mp4", ".homemovies/state/x.mp4"):
        response = client.post(url(name), json={"position": 20, "duration": 40})
        assert response.status_code == 404
    assert client.positions.resume_list("mum") == []


def test_a_report_while_storage_is_down_gets_503_without_a_trace(client, storage, caplog):
    storage.down = True
    response = client.post(url(), json={"position": 20, "duration": 40})
    assert response.status_code == 503
    assert response.text == "The video storage is not answering."
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_is_allowed(client, method):
    response = client.request(method, url())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"position": 12.5, "duration": 40}', Progress(NAME, 12.5, 40.0)),
        (b'{"position": 12, "duration": 40.5, "extra": 1}', Progress(NAME, 12.0, 40.5)),
        (b'{"position": null, "duration": 40}', None),
        (b'"12"', None),
    ],
)
def test_report_bodies_are_checked(body, expected):
    assert Progress.from_body(NAME, body) == expected
