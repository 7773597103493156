"""The settings that serve a bucket of the loopback OCI server (conftest's `oci`)."""

from __future__ import annotations

from lib.settings import Settings
from tests.conftest import OCI_BUCKET, LoopbackOci


def settings_for(oci: LoopbackOci, bucket: str = OCI_BUCKET, **extra) -> Settings:
    """Return settings serving `bucket` of `oci` with its test API key, plus `extra` ones."""
    return Settings(bucket=bucket, os_endpoint=oci.url, oci_config=str(oci.config_path), **extra)
