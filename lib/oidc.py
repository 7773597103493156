"""Signing in with an OpenID Connect provider (Google, Microsoft, an OCI Identity Domain...).

Streamlit's own `st.login()` does the protocol (with Authlib), configured as Streamlit
documents it in `.streamlit/secrets.toml`: an `[auth]` table with `redirect_uri` and
`cookie_secret`, and one `[auth.NAME]` table per provider (`client_id`, `client_secret`,
`server_metadata_url`; homemovies adds an optional `label` for its button). This module reads
that table into the providers the sign-in page offers, says in one sentence what is missing,
and decides who a provider's answer lets in: only an e-mail address the provider says it has
verified, and that the users file gives to a user (lib/accounts.py).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.accounts import Accounts, User

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
DEFAULT = "default"  # st.login()'s name for a provider given in [auth] itself
_NAME = re.compile(r"[A-Za-z0-9-]+")  # Streamlit refuses "_" in a provider's name
KNOWN_LABELS = {
    "google": "Google",
    "microsoft": "Microsoft",
    "entra": "Microsoft",
    "oci": "Oracle Cloud",
    "oracle": "Oracle Cloud",
    "okta": "Okta",
    "auth0": "Auth0",
    "keycloak": "Keycloak",
    "authentik": "authentik",
    "github": "GitHub",
    "apple": "Apple",
}


class OidcSettingsError(Exception):
    """The `[auth]` table of secrets.toml cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Provider:
    """One OpenID provider: its name for `st.login(name)`, its button label, its discovery URL.

    `trust_email`: the provider sends no `email_verified` claim but only gives addresses
    it controls (a Microsoft Entra tenant of your own); its `email` is then taken as verified.
    """

    name: str
    label: str
    metadata_url: str
    trust_email: bool = False


def _label(name: str, table: Mapping[str, Any]) -> str:
    label = table.get("label")
    if isinstance(label, str) and label.strip():
        return label.strip()
    return KNOWN_LABELS.get(name.lower(), name.replace("-", " ").title())


def providers(auth: Mapping[str, Any] | None) -> list[Provider]:
    """Return the providers in secrets.toml's `[auth]` table (none without one).

    Raises OidcSettingsError (one sentence) when the table lacks what Streamlit needs.
    """
    if not auth:
        return []
    where = "The [auth] table of .streamlit/secrets.toml"
    tables = {name: value for name, value in auth.items() if isinstance(value, Mapping)}
    tables.pop("client_kwargs", None)
    if any(key in auth for key in PROVIDER_KEYS):
        tables = {DEFAULT: auth, **tables}
    if not tables:
        raise OidcSettingsError(
            f"{where} names no provider: add an [auth.NAME] table with "
            "client_id, client_secret and server_metadata_url (see README, Signing in)."
        )
    for key in ("redirect_uri", "cookie_secret"):
        if not isinstance(auth.get(key), str) or not auth[key].strip():
            raise OidcSettingsError(f"{where} needs {key} (see README, Signing in).")
    if not str(auth["redirect_uri"]).rstrip("/").endswith("/oauth2callback"):
        raise OidcSettingsError(
            f"{where} has redirect_uri {auth['redirect_uri']!r}; it must be the app's address "
            "followed by /oauth2callback."
        )
    if len(str(auth["cookie_secret"])) < 32:
        raise OidcSettingsError(f"{where} needs a cookie_secret of at least 32 characters.")
    found = []
    for name, table in tables.items():
        if not _NAME.fullmatch(name):
            raise OidcSettingsError(
                f"The provider name {name!r} in .streamlit/secrets.toml may hold only letters, "
                "digits and '-' (Streamlit refuses '_')."
            )
        missing = [key for key in PROVIDER_KEYS if not table.get(key)]
        if missing:
            raise OidcSettingsError(
                f"The provider {name!r} in .streamlit/secrets.toml lacks {', '.join(missing)}."
            )
        found.append(
            Provider(
                name,
                _label(name, table),
                str(table["server_metadata_url"]),
                table.get("trust_email") is True,
            )
        )
    return found


def unreachable(found: list[Provider], timeout: float = 5.0) -> list[str]:
    """Return one sentence per provider whose discovery document cannot be fetched now."""
    problems = []
    for provider in found:
        try:
            with urllib.request.urlopen(provider.metadata_url, timeout=timeout) as answer:  # noqa: S310 - the admin's own setting
                answer.read(1)
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            problems.append(
                f"the sign-in provider {provider.name!r} cannot be reached at "
                f"{provider.metadata_url} ({reason}); its button stays, and works once it answers"
            )
    return problems


def verified_email(claims: Mapping[str, Any], provider: Provider | None) -> str | None:
    """Return the lower-case e-mail address the provider vouches for, else None."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    verified = claims.get("email_verified")
    if verified is True or (isinstance(verified, str) and verified.lower() == "true"):
        return email.strip().lower()
    if verified is None and provider is not None and provider.trust_email:
        return email.strip().lower()
    return None


def invited(
    accounts: Accounts, claims: Mapping[str, Any], provider: Provider | None
) -> User | None:
    """Return the user a provider's answer `claims` signs in: its verified e-mail's, or None."""
    email = verified_email(claims, provider)
    return accounts.by_email(email) if email else None
