"""Which credentials sign OCI requests and which endpoints they go to, as the original app
chose them: an API key from an OCI config file, an instance principal or a resource principal."""

from __future__ import annotations

import subprocess
import sys
import time

import jwt
import oci as oci_sdk
import pytest

from lib.settings import DEFAULT_OS_ENDPOINT, Settings
from lib.storage.oci import OciStorage
from lib.storage.oci_auth import AuthError, load_auth, object_storage_client
from tests.conftest import (
    ADMIN,
    OCI_BUCKET,
    OCI_REGION,
    OCI_TENANCY,
    OCI_USER,
    REPO,
    app_env,
    write_oci_config,
)
from tests.entry import run_app_script
from tests.oci_server import new_key_pair, private_pem

RP_ENV = (
    "OCI_RESOURCE_PRINCIPAL_VERSION",
    "OCI_RESOURCE_PRINCIPAL_RPST",
    "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
    "OCI_RESOURCE_PRINCIPAL_REGION",
)


def test_api_key_of_the_default_profile_signs_requests(oci):
    auth = load_auth(Settings(bucket=OCI_BUCKET, oci_config=str(oci.config_path)).oci_credentials)
    assert isinstance(auth.signer, oci_sdk.signer.Signer)
    assert auth.mode == f"the API key of profile DEFAULT in {oci.config_path}"
    assert auth.region == OCI_REGION
    mark = oci.server.mark()
    storage = OciStorage(object_storage_client(auth, oci.url), OCI_BUCKET)
    assert storage.namespace == oci.server.namespace
    assert (
        oci.server.since(mark)[0].signed_by
        == f"{OCI_TENANCY}/{OCI_USER}/" + (auth.config["fingerprint"])
    )


def test_without_os_endpoint_the_region_endpoint_is_used(oci):
    auth = load_auth(Settings(oci_config=str(oci.config_path)).oci_credentials)
    client = object_storage_client(auth)
    assert (
        client.base_client.get_endpoint() == f"https://objectstorage.{OCI_REGION}.oraclecloud.com"
    )


def test_os_endpoint_is_the_client_endpoint(oci):
    auth = load_auth(Settings(oci_config=str(oci.config_path)).oci_credentials)
    client = object_storage_client(auth, "https://objects.example.test/")
    assert client.base_client.get_endpoint() == "https://objects.example.test"


def test_another_profile_is_chosen_by_name(oci, tmp_path):
    config = write_oci_config(tmp_path / "config", oci.key_path, oci.fingerprint)
    default = config.read_text()
    travel = default.replace("[DEFAULT]", "[travel]").replace(OCI_REGION, "ap-tokyo-1")
    config.write_text(default + "\n" + travel)
    auth = load_auth(Settings(oci_config=str(config), oci_profile="travel").oci_credentials)
    assert auth.region == "ap-tokyo-1"
    assert auth.mode == f"the API key of profile travel in {config}"
    endpoint = object_storage_client(auth).base_client.get_endpoint()
    assert endpoint == "https://objectstorage.ap-tokyo-1.oraclecloud.com"


@pytest.mark.parametrize(
    ("setup", "cause"),
    [
        ("missing", "the file does not exist"),
        ("no-profile", "the file has no such profile"),
        ("no-key", "key_file is missing"),
    ],
)
def test_unusable_config_is_one_sentence_naming_the_mode(tmp_path, oci, setup, cause):
    config = tmp_path / "config"
    if setup != "missing":
        write_oci_config(config, oci.key_path, "aa:bb")
        if setup == "no-key":
            config.write_text(config.read_text().replace(f"key_file={oci.key_path}\n", ""))
    profile = "elsewhere" if setup == "no-profile" else None
    with pytest.raises(AuthError) as caught:
        load_auth(Settings(oci_config=str(config), oci_profile=profile).oci_credentials)
    message = str(caught.value)
    assert message.startswith(f"Cannot use the API key of profile {profile or 'DEFAULT'} in")
    assert cause in message
    assert "\n" not in message


@pytest.fixture
def resource_principal(oci, monkeypatch):
    """Resource principal v2.2 variables, as a container instance has them."""
    key, _ = new_key_pair()
    now = int(time.time())
    claims = {"iat": now, "exp": now + 3600, "res_tenant": OCI_TENANCY, "res_type": "ci"}
    token = jwt.encode(claims, "not-checked-by-the-client-signing-key-000000", algorithm="HS256")
    oci.server.add_key("ST$" + token, key.public_key())
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_RPST", token)
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", private_pem(key).decode())
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_REGION", "us-phoenix-1")
    return token


def test_resource_principal_signs_with_its_session_token(oci, resource_principal):
    auth = load_auth(Settings(resource_principal=True).oci_credentials)
    assert isinstance(auth.signer, oci_sdk.auth.signers.EphemeralResourcePrincipalSigner)
    assert auth.region == "us-phoenix-1"
    default = object_storage_client(auth).base_client.get_endpoint()
    assert default == "https://objectstorage.us-phoenix-1.oraclecloud.com"
    mark = oci.server.mark()
    client = object_storage_client(auth, oci.url)
    prefixes = OciStorage(client, OCI_BUCKET).list("").prefixes
    assert [p for p in prefixes if p != ".homemovies/"] == [".hidden/", "Events/", "Years/"]
    assert {s.signed_by for s in oci.server.since(mark)} == {"ST$" + resource_principal}


def test_without_any_region_ashburn_is_used(oci, resource_principal, monkeypatch):
    monkeypatch.delenv("OCI_RESOURCE_PRINCIPAL_REGION")
    auth = load_auth(Settings(resource_principal=True).oci_credentials)
    assert auth.region is None
    assert object_storage_client(auth).base_client.get_endpoint() == DEFAULT_OS_ENDPOINT


def test_resource_principal_outside_a_resource_fails_in_one_sentence(monkeypatch):
    for name in RP_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthError) as caught:
        load_auth(Settings(resource_principal=True).oci_credentials)
    assert str(caught.value).startswith("Cannot use resource principal authentication: ")
    assert "\n" not in str(caught.value)


def test_instance_principal_asks_the_metadata_service(oci, monkeypatch):
    monkeypatch.setenv("OCI_METADATA_BASE_URL", oci.url + "/opc/v2")
    mark = oci.server.mark()
    with pytest.raises(AuthError) as caught:
        load_auth(Settings(instance_principal=True).oci_credentials)
    assert str(caught.value).startswith("Cannot use instance principal authentication: ")
    asked = [s.path for s in oci.server.since(mark)]
    assert asked and all(path.startswith("/opc/v2/") for path in asked)
    assert "/opc/v2/identity/cert.pem" in asked


def test_entry_point_exits_2_naming_the_mode_when_the_signer_fails(oci):
    env = app_env(OCI_METADATA_BASE_URL=oci.url + "/opc/v2")
    result = run_app_script(
        "--bucket", OCI_BUCKET, "--instance_principal", "--username", ADMIN, env=env
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("homemovies: Cannot use instance principal authentication: ")
    assert "Traceback" not in result.stderr


def test_serving_a_local_folder_never_imports_the_oci_sdk(fixture_library):
    code = (
        "import sys; from lib.services import build_services; from lib.settings import Settings;"
        f"build_services(Settings(library=__import__('pathlib').Path({str(fixture_library.root)!r}),"
        " username='u', password='long enough password'));"
        "print(sorted(m for m in sys.modules if m == 'oci' or m.startswith('oci.'))[:1])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
