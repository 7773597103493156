"""--secret COMPARTMENT_OCID: bucket, username, password (and cookie-key) from OCI Vault,
read through the real SDK from the loopback Vault and Secrets APIs."""

from __future__ import annotations

import logging
import secrets

import pytest

from lib.services import build_services, settings_from_vault
from lib.settings import Settings, SettingsError
from lib.storage import Unavailable
from lib.storage.oci_auth import OciAuth, load_auth
from tests.conftest import OCI_BUCKET, app_env
from tests.entry import run_app_script
from tests.oci_server import Fault

VAULT_PASSWORD = "vault password 123"
VAULT_COOKIE_KEY = "vault-cookie-key-0123456789abcdefghijklmnopqrstuv"


def compartment(oci, **values: str) -> str:
    """A fresh compartment holding one ACTIVE secret per value (plus decoys)."""
    ocid = f"ocid1.compartment.oc1..{secrets.token_hex(6)}"
    oci.server.add_secret(ocid, "unrelated", "not for us")
    oci.server.add_secret(ocid, "password", "an old deleted password", "PENDING_DELETION")
    for name, value in values.items():
        oci.server.add_secret(ocid, name.replace("_", "-"), value)
    return ocid


def vault_settings(oci, ocid: str, **extra) -> Settings:
    return Settings(
        secret=ocid,
        os_endpoint=oci.url,
        vault_endpoint=oci.url,
        secrets_endpoint=oci.url,
        oci_config=str(oci.config_path),
        **extra,
    )


ALL = {"bucket": OCI_BUCKET, "username": "mum", "password": VAULT_PASSWORD}


def test_all_three_secrets_are_read_and_the_app_serves_the_bucket(oci, caplog):
    ocid = compartment(oci, **ALL, cookie_key=VAULT_COOKIE_KEY)
    mark = oci.server.mark()
    with caplog.at_level(logging.DEBUG):
        services = build_services(vault_settings(oci, ocid))
    assert services.settings.bucket == OCI_BUCKET
    assert services.settings.username == "mum"
    assert services.settings.password == VAULT_PASSWORD
    assert services.cookie_key == VAULT_COOKIE_KEY
    assert services.accounts.get("mum") is not None
    assert [tab.label for tab in services.library.tabs()] == ["Events", "Years", "Unsorted"]
    seen = oci.server.since(mark)
    lists = [s for s in seen if s.path == "/20180608/secrets"]
    # Paginated (two secrets a page here) and ACTIVE only.
    assert len(lists) == 3 and [s.query.get("page") for s in lists] == [None, "2", "4"]
    assert all(s.query["lifecycleState"] == "ACTIVE" for s in lists)
    bundles = [s for s in seen if s.path.startswith("/20190301/secretbundles/")]
    assert len(bundles) == 4 and all(s.query == {"stage": "CURRENT"} for s in bundles)
    assert VAULT_PASSWORD not in caplog.text and VAULT_COOKIE_KEY not in caplog.text
    assert VAULT_PASSWORD not in repr(services.settings)


def test_a_missing_secret_is_named(oci):
    ocid = compartment(oci, bucket=OCI_BUCKET, username="mum")
    with pytest.raises(SettingsError) as caught:
        settings_from_vault(vault_settings(oci, ocid), auth(oci))
    assert str(caught.value) == (
        f"The Vault in compartment {ocid} has no active secret named 'password'; "
        "add it, or pass --password."
    )


def test_two_missing_secrets_are_both_named(oci):
    ocid = compartment(oci, bucket=OCI_BUCKET)
    with pytest.raises(SettingsError, match="named 'username' and 'password'; add them"):
        settings_from_vault(vault_settings(oci, ocid), auth(oci))


def test_flags_and_variables_override_the_vault(oci):
    ocid = compartment(oci, **ALL)
    settings = settings_from_vault(
        vault_settings(oci, ocid, username="dad", password="flag password 456"), auth(oci)
    )
    assert settings.username == "dad"
    assert settings.password == "flag password 456"
    assert settings.bucket == OCI_BUCKET


def test_a_value_given_otherwise_needs_no_vault_secret(oci):
    ocid = compartment(oci, bucket=OCI_BUCKET, username="mum")
    settings = settings_from_vault(
        vault_settings(oci, ocid, password="from the environment"), auth(oci)
    )
    assert settings.password == "from the environment"


def test_refused_credentials_are_one_safe_sentence(oci):
    ocid = compartment(oci, **ALL)
    oci.server.inject(Fault("status", path_contains="/20180608/secrets", status=401, times=1))
    with pytest.raises(Unavailable) as caught:
        settings_from_vault(vault_settings(oci, ocid), auth(oci))
    assert str(caught.value) == (
        f"OCI refused the credentials for the Vault secrets in compartment {ocid} "
        "(401 NotAuthenticated); check the API key or the IAM policy (see README, OCI)."
    )


def test_unknown_compartment_says_so(oci):
    ocid = compartment(oci, **ALL)
    oci.server.inject(Fault("status", path_contains="/20180608/secrets", status=404, times=1))
    with pytest.raises(SettingsError, match=f"^The compartment {ocid} has no Vault secrets"):
        settings_from_vault(vault_settings(oci, ocid), auth(oci))


@pytest.fixture(autouse=True)
def no_faults_left(oci):
    oci.server.clear_faults()
    yield
    oci.server.clear_faults()


def auth(oci) -> OciAuth:
    return load_auth(Settings(oci_config=str(oci.config_path)).oci_credentials)


def test_entry_point_exits_2_naming_the_missing_secret(oci):
    ocid = compartment(oci, bucket=OCI_BUCKET, password=VAULT_PASSWORD)
    env = app_env()
    env.pop("HOMEMOVIES_PASSWORD")
    flags = ["--secret", ocid, "--oci_config", str(oci.config_path)]
    for name in ("os_endpoint", "vault_endpoint", "secrets_endpoint"):
        flags += [f"--{name}", oci.url]
    result = run_app_script(*flags, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"homemovies: The Vault in compartment {ocid} has no active secret named 'username'; "
        "add it, or pass --username."
    )
    assert VAULT_PASSWORD not in result.stderr + result.stdout
