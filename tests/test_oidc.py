"""OpenID Connect settings and who a provider's answer lets in (lib/oidc.py); the sign-in
itself, through Chromium and a loopback provider, is in test_browser_oidc.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lib.accounts import Accounts, Role, User, hash_password
from lib.oidc import DEFAULT, OidcSettingsError, Provider, invited, providers, unreachable
from tests.conftest import REPO, app_env

SECRET = "s" * 32
BASE = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": SECRET}
GOOGLE = {
    "client_id": "id",
    "client_secret": "secret",
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}


def test_no_auth_table_offers_no_provider():
    assert providers(None) == [] and providers({}) == []


def test_each_provider_table_is_a_button_with_its_label():
    found = providers({**BASE, "google": GOOGLE, "family-id": {**GOOGLE, "label": "Our ID"}})
    assert [(p.name, p.label) for p in found] == [("google", "Google"), ("family-id", "Our ID")]
    assert found[0].metadata_url == GOOGLE["server_metadata_url"]
    assert not found[0].trust_email


def test_a_provider_given_in_auth_itself_is_streamlits_default():
    [provider] = providers({**BASE, **GOOGLE})
    assert provider.name == DEFAULT


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"google": GOOGLE}, "needs redirect_uri"),
        ({**BASE, "cookie_secret": "", "google": GOOGLE}, "needs cookie_secret"),
        ({**BASE, "cookie_secret": "short", "google": GOOGLE}, "at least 32 characters"),
        ({**BASE, "redirect_uri": "http://x/", "google": GOOGLE}, "followed by /oauth2callback"),
        ({**BASE, "google": {"client_id": "id"}}, "lacks client_secret, server_metadata_url"),
        ({**BASE, "my_idp": GOOGLE}, "Streamlit refuses '_'"),
        (BASE, "names no provider"),
    ],
)
def test_what_is_missing_is_said_in_one_sentence(auth, message):
    with pytest.raises(OidcSettingsError, match=message):
        providers(auth)


FAMILY = Accounts(
    {"mum": User("mum", "Mum", Role.ADMIN, hash_password("x" * 8, rounds=4), ("mum@example.org",))}
)
PLAIN = Provider("google", "Google", "https://example.org/")
ENTRA = Provider("microsoft", "Microsoft", "https://example.org/", trust_email=True)


@pytest.mark.parametrize(
    ("claims", "provider", "who"),
    [
        ({"email": "Mum@Example.org", "email_verified": True}, PLAIN, "mum"),
        ({"email": "mum@example.org", "email_verified": "true"}, PLAIN, "mum"),  # Cognito
        ({"email": "mum@example.org", "email_verified": False}, PLAIN, None),
        ({"email": "mum@example.org"}, PLAIN, None),  # not said to be verified
        ({"email": "mum@example.org"}, ENTRA, "mum"),  # a tenant the admin vouches for
        ({"email": "mum@example.org", "email_verified": False}, ENTRA, None),
        ({"email": "other@example.org", "email_verified": True}, PLAIN, None),
        ({"email_verified": True}, PLAIN, None),
    ],
)
def test_only_a_verified_invited_address_is_let_in(claims, provider, who):
    user = invited(FAMILY, claims, provider)
    assert (user.username if user else None) == who


def test_a_provider_that_does_not_answer_is_one_sentence():
    [problem] = unreachable([Provider("idp", "IdP", "http://127.0.0.1:9/.well-known/x")], 2.0)
    assert problem.startswith("the sign-in provider 'idp' cannot be reached at http://127.0.0.1:9")
    assert "\n" not in problem


def test_the_app_refuses_to_start_with_an_incomplete_auth_table_in_one_sentence(
    tmp_path, fixture_library
):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost/oauth2callback"\n[auth.g]\n')
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true", "--secrets.files", str(secrets),
        "--", "--library", str(fixture_library.root), "--username", "owner",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=app_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("homemovies:")]
    assert lines == ["homemovies: The [auth] table of .streamlit/secrets.toml needs cookie_secret "
                     "(see README, Signing in)."]  # fmt: skip
    assert "Traceback" not in done.stderr
