"""Settings from OCI Vault (`--secret COMPARTMENT_OCID`): the secrets named bucket, username,
password and, when present, cookie-key, read once at start-up.

A value set as a flag, variable or secrets.toml key wins over the Vault's. Secret values
never appear in a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

import oci

from lib.oci_auth import OciAuth, call, client_options
from lib.settings import Settings, SettingsError, require_login, validate
from lib.storage import NotFound

# Secret name in the Vault -> Settings field (the original app's names).
SECRET_FIELDS = {
    "bucket": "bucket",
    "username": "username",
    "password": "password",
    "cookie-key": "cookie_key",
}
REQUIRED = ("bucket", "username", "password")
DEFAULT_VAULT_ENDPOINT = "https://vaults.us-ashburn-1.oci.oraclecloud.com"
DEFAULT_SECRETS_ENDPOINT = "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com"


def read_secrets(settings: Settings, auth: OciAuth, names: set[str]) -> dict[str, str]:
    """Return the current value of each ACTIVE secret in the compartment named in `names`.

    When several vaults hold a secret of the same name, the newest one wins.
    """
    compartment = settings.secret
    vaults = oci.vault.VaultsClient(
        **client_options(auth, settings.vault_endpoint, DEFAULT_VAULT_ENDPOINT)
    )
    bundles = oci.secrets.SecretsClient(
        **client_options(auth, settings.secrets_endpoint, DEFAULT_SECRETS_ENDPOINT)
    )
    what = f"the Vault secrets in compartment {compartment}"
    endpoint = vaults.base_client.get_endpoint()

    def list_page(**kwargs: Any) -> Any:
        # Translated here, so the pagination helper's own retries never stack on ours.
        return call(what, endpoint, lambda: vaults.list_secrets(compartment, **kwargs))

    try:
        summaries = oci.pagination.list_call_get_all_results(
            list_page, lifecycle_state="ACTIVE", sort_by="TIMECREATED", sort_order="DESC"
        ).data
    except NotFound:
        raise SettingsError(
            f"The compartment {compartment} has no Vault secrets these OCI credentials may "
            "read; check --secret and the IAM policy (see README, OCI)."
        ) from None
    ids: dict[str, str] = {}
    for summary in summaries:
        if summary.secret_name in names and summary.lifecycle_state == "ACTIVE":
            ids.setdefault(summary.secret_name, summary.id)
    values: dict[str, str] = {}
    for name, secret_id in ids.items():
        try:
            bundle = call(
                f"the Vault secret {name!r}",
                bundles.base_client.get_endpoint(),
                lambda secret_id=secret_id: bundles.get_secret_bundle(secret_id, stage="CURRENT"),
            ).data
        except NotFound:
            continue  # deleted since it was listed: reported as missing if it is required
        values[name] = _decode(name, bundle.secret_bundle_content)
    return values


def _decode(name: str, content: Any) -> str:
    """Return a secret bundle's text: base64 of UTF-8, without a trailing line break."""
    try:
        return base64.b64decode(content.content, validate=True).decode("utf-8").rstrip("\r\n")
    except (binascii.Error, UnicodeDecodeError, TypeError, AttributeError):
        raise SettingsError(
            f"The Vault secret {name!r} is not base64-encoded UTF-8 text; store it as plain text."
        ) from None


def with_vault_secrets(settings: Settings, auth: OciAuth) -> Settings:
    """Return `settings` with the values it lacks taken from the Vault; raise SettingsError
    naming each required secret that is in neither place."""
    wanted = {name for name, field in SECRET_FIELDS.items() if getattr(settings, field) is None}
    found = read_secrets(settings, auth, wanted) if wanted else {}
    settings = replace(
        settings, **{SECRET_FIELDS[name]: value for name, value in found.items() if value}
    )
    # With a users file the Vault's single admin is optional (but still an admin if given).
    required = REQUIRED if settings.users is None else ("bucket",)
    missing = [name for name in required if getattr(settings, SECRET_FIELDS[name]) is None]
    if missing:
        names = " and ".join(repr(name) for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise SettingsError(
            f"The Vault in compartment {settings.secret} has no active secret{plural} named "
            f"{names}; add {'them' if plural else 'it'}, or pass "
            + " and ".join(f"--{SECRET_FIELDS[name]}" for name in missing)
            + "."
        )
    validate(settings)
    require_login(settings)
    return settings
