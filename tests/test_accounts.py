"""Accounts: the users file, roles, the single admin, password checks and the hash helper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

from lib.accounts import (
    Accounts,
    AccountsError,
    FileAccounts,
    Role,
    build_accounts,
    hash_password,
    is_bcrypt_hash,
)
from lib.services import build_services
from lib.settings import Settings, SettingsError, load_settings
from tests.conftest import REPO

# Cost 4 keeps the tests quick; the app accepts any cost the file holds.
GRANDPA_HASH = hash_password("grandpa password", rounds=4)
MUM_HASH = hash_password("mum's long passphrase", rounds=4)


def users_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    return path


def test_users_file_in_streamlit_authenticator_format(tmp_path):
    path = users_file(
        tmp_path,
        f"""
cookie: {{name: ignored, key: ignored, expiry_days: 30}}
credentials:
  usernames:
    Mum:
      name: Mum
      email: mum@example.org
      password: "{MUM_HASH}"
      roles: [admin]
      failed_login_attempts: 0
    grandpa:
      name: Grandpa Joe
      password: "{GRANDPA_HASH}"
      roles: [viewer]
""",
    )
    accounts = Accounts.from_file(path)
    assert len(accounts) == 2
    mum, grandpa = accounts.get("MUM"), accounts.get("grandpa")
    assert (mum.username, mum.name, mum.role, mum.is_admin) == ("mum", "Mum", Role.ADMIN, True)
    assert (grandpa.name, grandpa.role, grandpa.is_admin) == ("Grandpa Joe", Role.VIEWER, False)


def test_bare_usernames_mapping_and_a_single_role_string(tmp_path):
    path = users_file(
        tmp_path,
        f"usernames:\n  grandpa:\n    password: '{GRANDPA_HASH}'\n    role: viewer\n",
    )
    grandpa = Accounts.from_file(path).get("grandpa")
    assert (grandpa.name, grandpa.role) == ("grandpa", Role.VIEWER)


def test_a_plaintext_password_is_refused_naming_the_helper(tmp_path):
    path = users_file(
        tmp_path, "usernames:\n  grandpa:\n    password: hunter2hunter2\n    roles: [viewer]\n"
    )
    with pytest.raises(AccountsError) as caught:
        Accounts.from_file(path)
    assert str(caught.value) == (
        f"The password of user 'grandpa' in {path} is not a bcrypt hash; plaintext passwords "
        "are refused. Make a hash with: python -m lib.accounts hash-password"
    )
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("roles: [editor]", "has the role 'editor'; roles are admin and viewer"),
        ("roles: []", "has no role; give it roles: [admin] or [viewer]"),
        ("roles: {admin: true}", "must be a list: [admin] or [viewer]"),
    ],
)
def test_unknown_or_missing_roles_are_refused(tmp_path, entry, message):
    path = users_file(tmp_path, f"usernames:\n  a:\n    password: '{GRANDPA_HASH}'\n    {entry}\n")
    with pytest.raises(AccountsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Accounts.from_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just text", "must hold 'credentials: usernames:'"),
        ("usernames: {}", "must hold 'credentials: usernames:'"),
        ("usernames: [", "is not valid YAML"),
        ("usernames:\n  a: plain\n", "must be a mapping with name, password and roles"),
    ],
)
def test_malformed_users_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(AccountsError, match=message):
        Accounts.from_file(users_file(tmp_path, text))


def test_the_single_admin_joins_the_users_file(tmp_path):
    path = users_file(tmp_path, f"usernames:\n  grandpa:\n    password: '{GRANDPA_HASH}'\n")
    path.write_text(path.read_text() + "    roles: [viewer]\n")
    accounts = build_accounts(path, "Owner", "owner password")
    assert {user.username: user.role for user in accounts} == {
        "grandpa": Role.VIEWER,
        "owner": Role.ADMIN,
    }
    with pytest.raises(AccountsError, match="'grandpa' is both in the users file"):
        build_accounts(path, "grandpa", "owner password")


def test_short_passwords_are_refused_for_the_single_admin():
    with pytest.raises(AccountsError, match="at least 8 characters"):
        build_accounts(None, "owner", "seven77")


def test_authenticate_checks_the_hash_and_refuses_unknown_users_alike():
    accounts = Accounts.single_admin("owner", "owner password")
    assert accounts.authenticate("OWNER", "owner password").username == "owner"
    assert accounts.authenticate("owner", "wrong password") is None
    assert accounts.authenticate("nobody", "owner password") is None
    assert accounts.authenticate("owner", "x" * 100) is None  # longer than bcrypt reads


def test_unknown_users_cost_a_bcrypt_check_at_the_users_cost(monkeypatch):
    accounts = Accounts({"a": Accounts.single_admin("a", "password 1").get("a")})
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    # Observed, not replaced: the real check still runs.
    monkeypatch.setattr(bcrypt, "checkpw", spy)
    accounts.authenticate("nobody", "password 1")
    accounts.authenticate("a", "wrong one")
    assert len(checked) == 2
    assert checked[0].startswith(b"$2b$12$") and checked[1].startswith(b"$2b$12$")


def test_is_bcrypt_hash():
    assert is_bcrypt_hash(GRANDPA_HASH)
    assert not is_bcrypt_hash("grandpa password")
    assert not is_bcrypt_hash(GRANDPA_HASH[:-1])
    assert not is_bcrypt_hash(None)


def test_users_flag_env_and_validation(tmp_path, fixture_library):
    path = users_file(tmp_path, f"usernames:\n  g:\n    password: '{GRANDPA_HASH}'\n")
    settings = load_settings(
        ["--library", str(fixture_library.root)], {"HOMEMOVIES_USERS": str(path)}, []
    )
    assert settings.users == path and settings.username is None
    with pytest.raises(SettingsError, match="is not a file; pass the users YAML file"):
        load_settings(["--library", str(fixture_library.root), "--users", str(tmp_path)], {}, [])
    with pytest.raises(SettingsError, match="or pass --users FILE"):
        load_settings(["--library", str(fixture_library.root)], {}, [])
    with pytest.raises(SettingsError, match=r"Pass --password \(HOMEMOVIES_PASSWORD\) too"):
        load_settings(
            ["--library", str(fixture_library.root), "--users", str(path), "--username", "x"],
            {},
            [],
        )


def test_services_refuse_a_plaintext_users_file_at_start_up(tmp_path, fixture_library):
    path = users_file(tmp_path, "usernames:\n  g:\n    password: plaintext!\n    roles: [viewer]\n")
    with pytest.raises(AccountsError, match="hash-password"):
        build_services(Settings(library=fixture_library.root, users=path))


def hash_helper(stdin: str) -> subprocess.CompletedProcess:
    """Run the helper as a user would, with no terminal (getpass then reads stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "lib.accounts", "hash-password"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
    )


def test_hash_password_helper_prints_a_hash_of_the_typed_password():
    done = hash_helper("a good passphrase\na good passphrase\n")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert is_bcrypt_hash(printed)
    assert bcrypt.checkpw(b"a good passphrase", printed.encode())
    assert "a good passphrase" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("short\n", "homemovies: The password must be at least 8 characters long."),
        ("first password\nsecond password\n", "homemovies: The two passwords differ"),
        ("", "homemovies: Cancelled."),
    ],
)
def test_hash_password_helper_refuses_short_or_mismatched_passwords(stdin, message):
    done = hash_helper(stdin)
    assert done.returncode == 1
    assert done.stdout == ""
    assert message in done.stderr


def family_file(tmp_path: Path, mum_emails: str = "email: Mum@Example.org") -> Path:
    return users_file(
        tmp_path,
        f"""
usernames:
  mum: {{password: "{MUM_HASH}", roles: [admin], {mum_emails}}}
  grandpa: {{password: "{GRANDPA_HASH}", roles: [viewer], emails: [gp@example.org, g@x.example]}}
""",
    )


def test_an_email_or_a_list_of_them_names_a_user_in_any_case(tmp_path):
    accounts = Accounts.from_file(family_file(tmp_path))
    assert accounts.get("mum").emails == ("mum@example.org",)
    assert accounts.by_email("MUM@example.ORG").username == "mum"
    assert accounts.by_email(" g@x.example ").username == "grandpa"
    assert accounts.by_email("nobody@example.org") is None
    assert accounts.by_email(None) is None and accounts.by_email("") is None


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        ("email: gp@example.org", "'gp@example.org' is given to both 'mum' and 'grandpa'"),
        ("email: not-an-address", "which is not an e-mail address"),
        ("email: {a: b}", "must be an address or a list of addresses"),
    ],
)
def test_a_doubled_or_malformed_email_is_refused(tmp_path, emails, message):
    with pytest.raises(AccountsError, match=message):
        Accounts.from_file(family_file(tmp_path, emails))


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_users_file_is_read_again_when_it_changes_and_a_bad_change_is_not_used(
    tmp_path, caplog
):
    path = family_file(tmp_path)
    clock = Ticking()
    accounts = FileAccounts(path, Accounts.single_admin("owner", "owner password"), 2.0, clock)
    assert accounts.by_email("mum@example.org").username == "mum"
    family_file(tmp_path, "email: mum@new.example")
    assert accounts.by_email("mum@example.org") is not None  # not looked at before 2 s
    clock.now += 2
    assert accounts.by_email("mum@example.org") is None
    assert accounts.by_email("mum@new.example").username == "mum"
    assert accounts.get("owner").is_admin  # the single admin stays beside the file's users
    path.write_text("usernames: [")
    clock.now += 2
    assert accounts.get("mum") is not None  # the users before the bad change stay
    assert "the changed users file is not used" in caplog.text
    path.unlink()
    clock.now += 2
    assert accounts.get("grandpa") is not None


def test_build_accounts_follows_the_users_file(tmp_path):
    assert isinstance(build_accounts(family_file(tmp_path), None, None), FileAccounts)
