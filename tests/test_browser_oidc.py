"""Signing in with an OpenID provider, end to end: Chromium, the real app with its `[auth]`
in a secrets.toml, and a loopback OpenID provider (oidc-provider-mock) whose users click to
sign in. An invited, verified e-mail address gets in with its user's role and an HttpOnly
session cookie; an address not invited, or not verified, is refused and sees nothing of the
library; an address taken off the users file is refused on the next page load."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Page, expect

from lib.accounts import hash_password
from tests.conftest import ADMIN, RunningApp, app_env, new_page, start_app, stop_app
from tests.ui import private_session_cookie, sign_out_ends_it, wait_for_cookie

pytestmark = pytest.mark.browser

LABEL = "Family ID"  # the provider's button: "Sign in with Family ID"
PROVIDER_USERS = [
    ProviderUser(
        sub="alice",
        claims={"email": "Alice@Example.com", "email_verified": True, "name": "Alice A"},
    ),
    ProviderUser(sub="bob", claims={"email": "bob@example.com", "email_verified": False}),
    ProviderUser(sub="mallory", claims={"email": "mallory@evil.example", "email_verified": True}),
]
STREAMLIT_USER = "_streamlit_user"


def users_yaml(alice_invited: bool = True) -> str:
    """Mum (an admin) is invited as alice@example.com; Bob (a viewer) as bob@example.com."""
    lines = ["credentials:", "  usernames:"]
    for name, role, email in (
        ("mum", "admin", "alice@example.com" if alice_invited else None),
        ("bob", "viewer", "bob@example.com"),
    ):
        lines += [
            f"    {name}:",
            f"      name: {name.title()}",
            f"      password: '{hash_password('a password nobody types', rounds=4)}'",
            f"      roles: [{role}]",
        ]
        if email:
            lines.append(f"      email: {email}")
    return "\n".join(lines) + "\n"


@dataclass
class OidcApp:
    app: RunningApp
    users: Path


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with run_server_in_thread(port=0, require_nonce=True, user_claims=PROVIDER_USERS) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_app(provider, fixture_library, tmp_path_factory) -> Iterator[OidcApp]:
    folder = tmp_path_factory.mktemp("oidc")
    users = folder / "users.yaml"
    users.write_text(users_yaml())
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-32-characters-or-more"\n'
        "[auth.family]\n"
        f'label = "{LABEL}"\n'
        'client_id = "homemovies"\n'
        'client_secret = "homemovies-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    flags = ["--library", str(fixture_library.root), "--users", str(users), "--username", ADMIN]
    app = start_app(flags, app_env(), "oidc", options=["--secrets.files", str(secrets)])
    yield OidcApp(app, users)
    stop_app(app)


def sign_in_at_provider(page: Page, url: str, who: str) -> None:
    """Press "Sign in with Family ID", then choose `who` on the provider's page."""
    page.goto(url)
    page.get_by_role("button", name=f"Sign in with {LABEL}").click()
    page.get_by_role("button", name=who, exact=True).click()  # the provider's own page


def no_streamlit_user_cookie(page: Page) -> None:
    wait_for_cookie(page, STREAMLIT_USER, present=False)


def test_the_sign_in_page_offers_the_provider_beside_the_password_form(browser, oidc_app):
    with new_page(browser, "oidc-offer") as page:
        page.goto(oidc_app.app.url)
        expect(page.get_by_role("button", name=f"Sign in with {LABEL}")).to_be_visible()
        expect(page.get_by_label("Username", exact=True)).to_be_visible()


def test_an_invited_address_gets_its_users_role_and_a_cookie_scripts_cannot_read(browser, oidc_app):
    with new_page(browser, "oidc-invited") as page:
        sign_in_at_provider(page, oidc_app.app.url, "alice")
        expect(page.get_by_role("tab", name="Years")).to_be_visible()
        expect(page.get_by_text("Signed in as Mum")).to_be_visible()
        expect(page.get_by_role("link", name="Library stats")).to_be_visible()  # an admin
        cookie = private_session_cookie(page)
        no_streamlit_user_cookie(page)  # the provider's 30-day cookie is gone
        page.reload()
        expect(page.get_by_role("tab", name="Years")).to_be_visible()
        sign_out_ends_it(page, cookie)


@pytest.mark.parametrize(
    ("who", "said"),
    [
        ("mallory", "This account is not invited: mallory@evil.example."),
        ("bob", "The provider has not verified bob@example.com"),
    ],
)
def test_an_address_not_invited_or_not_verified_sees_nothing_of_the_library(
    browser, oidc_app, who, said
):
    with new_page(browser, f"oidc-refused-{who}") as page:
        sign_in_at_provider(page, oidc_app.app.url, who)
        expect(page.get_by_text(said)).to_be_visible()
        expect(page.get_by_role("tab")).to_have_count(0)
        expect(page.get_by_role("button", name="Play")).to_have_count(0)
        page.reload()
        expect(page.get_by_text(said)).to_be_visible()
        expect(page.get_by_role("tab")).to_have_count(0)
        page.get_by_role("button", name="Use another account").click()
        expect(page.get_by_role("button", name=f"Sign in with {LABEL}")).to_be_visible()
        no_streamlit_user_cookie(page)


def test_an_address_taken_off_the_users_file_is_refused_on_the_next_page_load(browser, oidc_app):
    with new_page(browser, "oidc-removed") as page:
        sign_in_at_provider(page, oidc_app.app.url, "alice")
        expect(page.get_by_role("tab", name="Years")).to_be_visible()
        private_session_cookie(page)
        oidc_app.users.write_text(users_yaml(alice_invited=False))
        try:
            # The file is looked at every 2 s: reload as a user would until it is seen.
            deadline = time.monotonic() + 20
            while True:
                page.reload()
                form = page.get_by_label("Username", exact=True)
                try:
                    expect(form).to_be_visible(timeout=3_000)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
            expect(page.get_by_role("tab")).to_have_count(0)
            # Signing in again is refused too: the address is no longer invited.
            sign_in_at_provider(page, oidc_app.app.url, "alice")
            expect(page.get_by_text(re.compile("not invited: alice@example.com"))).to_be_visible()
        finally:
            oidc_app.users.write_text(users_yaml())
