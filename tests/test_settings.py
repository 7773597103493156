"""Settings: flags, HOMEMOVIES_* variables and secrets.toml, in that order, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.settings import DEFAULT_OS_ENDPOINT, SettingsError, load_settings
from tests.conftest import app_env
from tests.entry import run_app_script

PASSWORD = "a long enough password"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    return tmp_path / "lib"


def write_secrets(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(body)
    return path


def load(argv, env=None, secrets=None):
    return load_settings(argv, env or {}, [secrets] if secrets else [])


def test_flag_beats_environment_beats_secrets_file(tmp_path, folder):
    secrets = write_secrets(
        tmp_path,
        f'[homemovies]\nlibrary = "{folder}"\nusername = "from-file"\npassword = "{PASSWORD}"\n'
        "token_hours = 1\ncache_ttl = 5\n",
    )
    env = {"HOMEMOVIES_USERNAME": "from-env", "HOMEMOVIES_TOKEN_HOURS": "2"}
    settings = load(["--username", "from-flag"], env, secrets)
    assert settings.username == "from-flag"
    assert settings.token_hours == 2.0
    assert settings.cache_ttl == 5.0
    assert settings.password == PASSWORD
    assert settings.library == folder
    assert settings.source == "local"

    assert load([], env, secrets).username == "from-env"
    assert load([], {}, secrets).username == "from-file"


def test_original_flags_parse(folder):
    settings = load(
        [
            "--bucket",
            "videos",
            "--username",
            "u",
            "--os_endpoint",
            "https://example.test",
            "--instance_principal",
        ],
        {"HOMEMOVIES_PASSWORD": PASSWORD},
    )
    assert settings.bucket == "videos"
    assert settings.source == "oci"
    assert settings.os_endpoint == "https://example.test"
    assert settings.instance_principal is True
    assert settings.resource_principal is False


def test_secret_alone_is_a_source_and_needs_no_password():
    settings = load(["--secret", "ocid1.compartment.oc1..x"])
    assert settings.secret == "ocid1.compartment.oc1..x"
    assert settings.source == "oci"
    assert settings.delivery == "proxy"


def test_oci_flags_and_their_variables(folder):
    env = {
        "HOMEMOVIES_PASSWORD": PASSWORD,
        "HOMEMOVIES_OCI_PROFILE": "travel",
        "HOMEMOVIES_SECRETS_ENDPOINT": "https://secrets.example.test",
    }
    settings = load(
        [
            "--bucket",
            "b",
            "--username",
            "u",
            "--oci_config",
            "/etc/oci/config",
            "--vault_endpoint",
            "https://vault.example.test",
            "--delivery",
            "par",
        ],
        env,
    )
    assert settings.oci_config == "/etc/oci/config"
    assert settings.oci_profile == "travel"
    assert settings.vault_endpoint == "https://vault.example.test"
    assert settings.secrets_endpoint == "https://secrets.example.test"
    assert settings.delivery == "par"


def test_defaults(folder):
    settings = load(
        ["--library", str(folder), "--username", "u"], {"HOMEMOVIES_PASSWORD": PASSWORD}
    )
    assert settings.token_hours == 6.0
    assert settings.token_seconds == 6 * 3600
    assert settings.cache_ttl == 60.0
    assert settings.cookie_expiry_days == 7.0
    assert settings.os_endpoint is None
    assert DEFAULT_OS_ENDPOINT == "https://objectstorage.us-ashburn-1.oraclecloud.com"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "Pass --library PATH"),
        (["--library", "{folder}", "--bucket", "b"], "not both"),
        (["--library", "/does/not/exist"], "is not a folder"),
        (["--bucket", "b", "--instance_principal", "--resource_principal"], "not both"),
        (["--library", "{folder}", "--cookie_key", "short"], "at least 32 characters"),
        (["--library", "{folder}", "--token_hours", "zero"], "must be a number"),
        (["--library", "{folder}", "--token_hours", "-1"], "greater than zero"),
        (["--bucket", "b", "--delivery", "cdn"], "--delivery must be proxy or par"),
        (["--library", "{folder}", "--delivery", "par"], "needs an OCI bucket"),
        (["--bucket", "b", "--instance_principal", "--oci_profile", "x"], "drop them"),
    ],
)
def test_errors_are_one_sentence(folder, argv, message):
    argv = [arg.replace("{folder}", str(folder)) for arg in argv]
    with pytest.raises(SettingsError, match=message) as caught:
        load(argv, {"HOMEMOVIES_USERNAME": "u", "HOMEMOVIES_PASSWORD": PASSWORD})
    assert "\n" not in str(caught.value)


def test_login_is_required_without_vault(folder):
    with pytest.raises(SettingsError, match="HOMEMOVIES_PASSWORD"):
        load(["--library", str(folder), "--username", "u"])


def test_boolean_variable_and_bad_boolean(folder):
    env = {"HOMEMOVIES_RESOURCE_PRINCIPAL": "yes", "HOMEMOVIES_PASSWORD": PASSWORD}
    assert load(["--bucket", "b", "--username", "u"], env).resource_principal is True
    with pytest.raises(SettingsError, match="true or false"):
        load(
            ["--bucket", "b", "--username", "u"], {**env, "HOMEMOVIES_RESOURCE_PRINCIPAL": "maybe"}
        )


def test_unknown_key_in_secrets_file_is_named(tmp_path, folder):
    secrets = write_secrets(tmp_path, f'[homemovies]\nlibrary = "{folder}"\npasword = "typo"\n')
    with pytest.raises(SettingsError, match="'pasword'"):
        load([], {}, secrets)


def test_password_flag_warns_without_echoing_it(folder):
    settings = load(["--library", str(folder), "--username", "u", "--password", PASSWORD])
    assert settings.warnings and "HOMEMOVIES_PASSWORD" in settings.warnings[0]
    assert PASSWORD not in " ".join(settings.warnings)
    assert PASSWORD not in repr(settings)


def test_entry_point_exits_2_with_one_sentence_on_missing_source():
    result = run_app_script()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("homemovies: Pass --library PATH")
    assert "Traceback" not in result.stderr


def test_entry_point_rejects_unknown_flag():
    result = run_app_script("--bukket", "x")
    assert result.returncode == 2
    assert "unrecognized arguments: --bukket" in result.stderr


def test_entry_point_warns_on_password_flag(fixture_library):
    env = app_env()
    env.pop("HOMEMOVIES_PASSWORD")
    result = run_app_script(
        "--library",
        str(fixture_library.root),
        "--username",
        "u",
        "--password",
        "flag-password-123",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: --password is visible" in result.stderr
    assert "flag-password-123" not in result.stderr


def test_help_lists_every_flag_with_its_variable():
    result = run_app_script("--help")
    assert result.returncode == 0
    for flag in (
        "--bucket",
        "--username",
        "--password",
        "--secret",
        "--os_endpoint",
        "--instance_principal",
        "--resource_principal",
        "--library",
        "--oci_config",
        "--oci_profile",
        "--vault_endpoint",
        "--secrets_endpoint",
        "--delivery",
    ):
        assert flag in result.stdout
        assert "HOMEMOVIES_" + flag[2:].upper() in result.stdout
