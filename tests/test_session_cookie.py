"""The session cookie and its hand-over: signed values, one-time tickets in the backend (a
folder and the loopback OCI server through the real SDK), and the `/session/<ticket>` route's
answer: HttpOnly, SameSite=Lax, the base path, Secure behind HTTPS, never for a bad ticket."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lib.services import Services, build_services
from lib.session_cookie import (
    SESSION_COOKIE,
    SWEEP_SECONDS,
    TICKET_PREFIX,
    Session,
    SessionCookies,
    Ticket,
    TicketKind,
    Tickets,
    Via,
)
from lib.settings import Settings
from lib.storage import Storage
from lib.storage.local import LocalStorage
from lib.tokens import derive_key
from lib.web.session import SessionEndpoint, session_routes
from tests.app_client import client_for
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, FakeClock
from tests.loopback import empty_storage
from tests.threads import at_once

KEY = derive_key(COOKIE_KEY, "test session cookie")


def test_a_cookie_reads_back_as_the_session_it_was_issued_for():
    clock = FakeClock()
    cookies = SessionCookies(KEY, expiry_days=7, clock=clock)
    session = Session("alice", Via.OIDC, 1_000_000.123, "alice@example.com")
    assert cookies.read(cookies.issue(session)) == session
    assert cookies.read(cookies.issue(Session("tv", Via.TV, 999_999.5))) == Session(
        "tv", Via.TV, 999_999.5
    )


def test_a_cookie_expires_and_a_forged_or_foreign_one_is_nobody():
    clock = FakeClock()
    cookies = SessionCookies(KEY, expiry_days=1, clock=clock)
    value = cookies.issue(Session("alice", Via.PASSWORD, clock.now))
    clock.now += 86400 - 1
    assert cookies.read(value) is not None
    clock.now += 1
    assert cookies.read(value) is None
    other = SessionCookies(derive_key(COOKIE_KEY, "another purpose"), 7, clock=clock)
    assert cookies.read(other.issue(Session("alice", Via.PASSWORD, clock.now))) is None
    assert cookies.read("garbage") is None
    assert cookies.read(value[:-2] + "xx") is None


@pytest.fixture(params=["local", "oci"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return empty_storage(request, tmp_path, "tickets")


def test_a_ticket_is_taken_once_and_names_no_secret_in_the_backend(storage):
    tickets = Tickets(storage)
    session = Session("alice", Via.PASSWORD, 1_000_000.0)
    secret = tickets.mint(Ticket(TicketKind.SIGN_IN, session, "?device=abc"))
    names = [info.name for info in storage.scan(TICKET_PREFIX)]
    assert len(names) == 1 and secret not in names[0]
    assert secret.encode() not in storage.read_versioned(names[0])[0]
    assert tickets.take(secret) == Ticket(TicketKind.SIGN_IN, session, "?device=abc")
    assert tickets.take(secret) is None
    assert list(storage.scan(TICKET_PREFIX)) == []


def test_two_takers_racing_for_one_ticket_get_it_once(storage):
    tickets = Tickets(storage)
    secret = tickets.mint(Ticket(TicketKind.SIGN_OUT))
    taken = at_once(4, lambda _: tickets.take(secret))
    assert [t for t in taken if t is not None] == [Ticket(TicketKind.SIGN_OUT)]


def test_an_expired_or_unknown_ticket_is_nothing(tmp_path):
    clock = FakeClock()
    tickets = Tickets(LocalStorage(tmp_path), clock=clock, ttl=60)
    secret = tickets.mint(Ticket(TicketKind.SIGN_OUT))
    clock.now += 60
    assert tickets.take(secret) is None
    assert tickets.take("never-minted") is None


def test_a_query_that_is_not_a_query_is_not_followed(tmp_path):
    tickets = Tickets(LocalStorage(tmp_path))
    secret = tickets.mint(Ticket(TicketKind.SIGN_OUT, query="//evil.example/"))
    assert tickets.take(secret) == Ticket(TicketKind.SIGN_OUT, query="")


@pytest.fixture
def services(fixture_library) -> Services:
    settings = Settings(
        library=fixture_library.root,
        username=ADMIN,
        password=ADMIN_PASSWORD,
        cookie_key=COOKIE_KEY,
        cookie_expiry_days=2,
    )
    return build_services(settings)


def set_cookie_headers(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_a_sign_in_ticket_sets_an_httponly_lax_cookie_for_the_session(services):
    session = Session(ADMIN, Via.PASSWORD, round(services.clock(), 3))
    secret = services.tickets.mint(Ticket(TicketKind.SIGN_IN, session))
    with client_for(services) as client:
        response = client.get(f"/session/{secret}", follow_redirects=False)
        again = client.get(f"/session/{secret}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert response.headers["cache-control"] == "no-store"
    [header] = set_cookie_headers(response)
    name, value = header.split(";")[0].split("=", 1)
    assert name == SESSION_COOKIE
    assert services.session_cookies.read(value) == session
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", f"max-age={2 * 86400}"} <= flags
    assert "secure" not in flags
    # The ticket is spent: the second visit gets no cookie and is told so, not looped.
    assert again.status_code == 303 and again.headers["location"] == "/?signin=expired"
    assert set_cookie_headers(again) == []


def test_behind_an_https_load_balancer_the_cookie_is_secure(services):
    session = Session(ADMIN, Via.PASSWORD, round(services.clock(), 3))
    secret = services.tickets.mint(Ticket(TicketKind.SIGN_IN, session))
    with client_for(services) as client:
        response = client.get(
            f"/session/{secret}", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False
        )
    [header] = set_cookie_headers(response)
    assert "secure" in {part.strip().lower() for part in header.split(";")}


def test_a_sign_out_ticket_clears_the_cookie_and_streamlits_provider_cookies(services):
    secret = services.tickets.mint(Ticket(TicketKind.SIGN_OUT, query="?device=abc"))
    with client_for(services) as client:
        client.cookies.set("_streamlit_user", "claims")
        response = client.get(f"/session/{secret}", follow_redirects=False)
    assert response.headers["location"] == "/?device=abc"
    cleared = {header.split("=", 1)[0]: header for header in set_cookie_headers(response)}
    assert set(cleared) == {SESSION_COOKIE, "_streamlit_user"}
    assert all("max-age=0" in header.lower() for header in cleared.values())


def test_under_a_base_path_the_route_and_the_cookie_are_below_it(services):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    endpoint = SessionEndpoint(services.tickets, services.session_cookies, "/family")
    app = Starlette(routes=session_routes(endpoint, "/family"))
    session = Session(ADMIN, Via.TV, round(services.clock(), 3))
    secret = services.tickets.mint(Ticket(TicketKind.SIGN_IN, session))
    with TestClient(app) as client:
        response = client.get(f"/family/session/{secret}", follow_redirects=False)
    assert response.headers["location"] == "/family/"
    [header] = set_cookie_headers(response)
    assert "path=/family" in {part.strip().lower() for part in header.split(";")}


def test_tickets_nobody_came_for_are_removed_every_ten_minutes(tmp_path):
    storage = LocalStorage(tmp_path)
    clock = FakeClock(time.time())  # the sweep compares with the objects' times
    tickets = Tickets(storage, clock=clock, ttl=60)
    tickets.mint(Ticket(TicketKind.SIGN_OUT))  # never taken: a browser closed mid-way
    clock.now += 120
    assert tickets.take(tickets.mint(Ticket(TicketKind.SIGN_OUT))) is not None
    assert len(list(storage.scan(TICKET_PREFIX))) == 1  # no sweep in the first ten minutes
    clock.now += SWEEP_SECONDS
    assert tickets.take(tickets.mint(Ticket(TicketKind.SIGN_OUT))) is not None
    assert list(storage.scan(TICKET_PREFIX)) == []
