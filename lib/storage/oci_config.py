"""What selects OCI's credentials and endpoints, readable without importing the `oci` SDK
(which takes seconds): the settings describe a bucket with these before anything connects."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_OS_ENDPOINT = "https://objectstorage.us-ashburn-1.oraclecloud.com"
DEFAULT_VAULT_ENDPOINT = "https://vaults.us-ashburn-1.oci.oraclecloud.com"
DEFAULT_SECRETS_ENDPOINT = "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com"
DEFAULT_CONFIG_FILE = "~/.oci/config"
DEFAULT_PROFILE = "DEFAULT"


@dataclass(frozen=True)
class OciCredentials:
    """Which credentials sign OCI requests: an instance or resource principal, else the API
    key of a profile in an OCI config file (`~/.oci/config`, profile DEFAULT unless named)."""

    instance_principal: bool = False
    resource_principal: bool = False
    config_file: str | None = None
    profile: str | None = None
