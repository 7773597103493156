"""Reading OCI Vault secrets by name (`--secret COMPARTMENT_OCID`): the current value of each
ACTIVE secret of a compartment, read once at start-up. The settings decide what they are for.

Secret values never appear in a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Set
from typing import Any

import oci

from lib.storage.oci_auth import OciAuth, call, client_options
from lib.storage.oci_config import DEFAULT_SECRETS_ENDPOINT, DEFAULT_VAULT_ENDPOINT
from lib.storage.protocol import NotFound, StorageError


class SecretError(StorageError):
    """A Vault secret cannot be read as text, or the compartment holds none we may read."""


def read_secrets(
    compartment: str,
    auth: OciAuth,
    names: Set[str],
    vault_endpoint: str | None = None,
    secrets_endpoint: str | None = None,
) -> dict[str, str]:
    """Return the current value of each ACTIVE secret in `compartment` named in `names`.

    When several vaults hold a secret of the same name, the newest one wins.
    """
    vaults = oci.vault.VaultsClient(**client_options(auth, vault_endpoint, DEFAULT_VAULT_ENDPOINT))
    bundles = oci.secrets.SecretsClient(
        **client_options(auth, secrets_endpoint, DEFAULT_SECRETS_ENDPOINT)
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
        raise SecretError(
            f"The compartment {compartment} has no Vault secrets these OCI credentials may "
            "read; check --secret and the IAM policy (see README, OCI)."
        ) from None
    ids: dict[str, str] = {}
    for summary in summaries:
        if summary.secret_name in names and summary.lifecycle_state == "ACTIVE":
            ids.setdefault(summary.secret_name, summary.id)
    values: dict[str, str] = {}
    for name, secret_id in ids.items():

        def get_bundle(secret_id: str = secret_id) -> Any:
            return bundles.get_secret_bundle(secret_id, stage="CURRENT")

        try:
            bundle = call(
                f"the Vault secret {name!r}", bundles.base_client.get_endpoint(), get_bundle
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
        raise SecretError(
            f"The Vault secret {name!r} is not base64-encoded UTF-8 text; store it as plain text."
        ) from None
