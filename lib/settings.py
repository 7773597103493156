"""Settings: every option is a flag, a HOMEMOVIES_* variable and a secrets.toml key.

Precedence is flag > environment > `.streamlit/secrets.toml` (table `[homemovies]`) > default.
All parsing and validation happens here, once, at start-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lib.storage.oci_config import DEFAULT_OS_ENDPOINT, OciCredentials

ENV_PREFIX = "HOMEMOVIES_"
SECRETS_TABLE = "homemovies"
MIN_COOKIE_KEY_LENGTH = 32
DELIVERY_MODES = ("proxy", "par")
# Secret name in the Vault (--secret) -> Settings field (the original app's names).
VAULT_SECRET_FIELDS = {
    "bucket": "bucket",
    "username": "username",
    "password": "password",
    "cookie-key": "cookie_key",
}
VAULT_REQUIRED = ("bucket", "username", "password")


class SettingsError(Exception):
    """A setting is missing or wrong; the message says what to pass instead."""


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its help line, and how its text becomes a value."""

    name: str
    help: str
    kind: type = str
    default: Any = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("library", "serve this local folder (laid out like the bucket)", metavar="PATH"),
    Option("bucket", "serve this OCI Object Storage bucket", metavar="NAME"),
    Option(
        "secret",
        "read bucket, username and password from the OCI Vault secrets in this compartment",
        metavar="COMPARTMENT_OCID",
    ),
    Option("username", "the login name of the (admin) user", metavar="NAME"),
    Option(
        "password",
        "that user's password (prefer the HOMEMOVIES_PASSWORD variable)",
        metavar="TEXT",
    ),
    Option(
        "users",
        "a YAML file of users (bcrypt-hashed passwords, role admin or viewer; see README)",
        metavar="FILE",
    ),
    Option(
        "os_endpoint",
        f"Object Storage endpoint (default: the region's, else {DEFAULT_OS_ENDPOINT})",
        metavar="URL",
    ),
    Option(
        "oci_config",
        "the OCI config file holding the API key (default: ~/.oci/config)",
        metavar="FILE",
    ),
    Option("oci_profile", "the profile of that file to use (default: DEFAULT)", metavar="NAME"),
    Option(
        "instance_principal",
        "authenticate to OCI as this compute instance",
        kind=bool,
        default=False,
    ),
    Option(
        "resource_principal",
        "authenticate to OCI as this resource (container instances, functions)",
        kind=bool,
        default=False,
    ),
    Option(
        "vault_endpoint",
        "OCI Vault service endpoint for --secret (default: the region's)",
        metavar="URL",
    ),
    Option(
        "secrets_endpoint",
        "OCI Secrets service endpoint for --secret (default: the region's)",
        metavar="URL",
    ),
    Option(
        "oci_timeout",
        "seconds an OCI request may wait for an answer; its retries stop once this much time "
        "has passed",
        kind=float,
        default=30.0,
        metavar="SECONDS",
    ),
    Option(
        "delivery",
        "how videos reach an OCI viewer: 'proxy' through this app, or 'par' as a redirect "
        "to a short-lived pre-authenticated request (default: proxy)",
        default="proxy",
        metavar="MODE",
    ),
    Option(
        "cookie_key",
        "secret key signing login cookies and video links "
        f"(at least {MIN_COOKIE_KEY_LENGTH} characters; default: one made at the first start "
        "and kept in the library, .homemovies/keys/cookie.json)",
        metavar="TEXT",
    ),
    Option(
        "cookie_expiry_days",
        "days a login cookie stays valid",
        kind=float,
        default=7.0,
        metavar="DAYS",
    ),
    Option(
        "token_hours", "hours a video link stays valid", kind=float, default=6.0, metavar="HOURS"
    ),
    Option(
        "cache_ttl",
        "seconds a folder listing is cached",
        kind=float,
        default=60.0,
        metavar="SECONDS",
    ),
    Option(
        "no_index",
        "do not index the library in the background (posters, lengths and seek previews "
        "for titles that lack them)",
        kind=bool,
        default=False,
    ),
    Option(
        "staging",
        "the folder videos uploaded from the browser arrive in before they are converted "
        "(default: .homemovies/staging in a --library folder, else homemovies-staging in the "
        "system's temp folder)",
        metavar="DIR",
    ),
    Option(
        "max_upload_gb",
        "the largest video an admin may upload from the browser, in GB",
        kind=float,
        default=20.0,
        metavar="GB",
    ),
    Option(
        "workers",
        "conversions this app runs at once (0: none here; run `python -m lib.ingest --worker` "
        "on another machine instead)",
        kind=int,
        default=1,
        metavar="N",
    ),
    Option(
        "stats_ttl",
        "seconds the stats page's full scan of the library is cached",
        kind=float,
        default=3600.0,
        metavar="SECONDS",
    ),
)

_SECRET_NAMES = frozenset({"password", "cookie_key"})
# What names and reaches the library: all `python -m lib.ingest` takes from the app's settings.
SOURCE_OPTION_NAMES = frozenset(
    {
        "library",
        "bucket",
        "secret",
        "os_endpoint",
        "oci_config",
        "oci_profile",
        "instance_principal",
        "resource_principal",
        "vault_endpoint",
        "secrets_endpoint",
    }
)


@dataclass(frozen=True)
class Settings:
    """The resolved settings the app runs with."""

    library: Path | None = None
    bucket: str | None = None
    secret: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    users: Path | None = None
    os_endpoint: str | None = None
    oci_config: str | None = None
    oci_profile: str | None = None
    instance_principal: bool = False
    resource_principal: bool = False
    vault_endpoint: str | None = None
    secrets_endpoint: str | None = None
    oci_timeout: float = 30.0
    delivery: str = "proxy"
    cookie_key: str | None = field(default=None, repr=False)
    cookie_expiry_days: float = 7.0
    token_hours: float = 6.0
    cache_ttl: float = 60.0
    no_index: bool = False
    staging: Path | None = None
    max_upload_gb: float = 20.0
    workers: int = 1
    stats_ttl: float = 3600.0
    warnings: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """Which backend serves the library: 'local' or 'oci'."""
        return "local" if self.library is not None else "oci"

    @property
    def token_seconds(self) -> int:
        return int(self.token_hours * 3600)

    @property
    def staging_dir(self) -> Path:
        """Where browser uploads arrive: --staging, else a hidden folder of a local library
        (its inbox is then a rename away), else a folder in the system's temp folder."""
        if self.staging is not None:
            return self.staging
        if self.library is not None:
            return self.library / ".homemovies" / "staging"
        return Path(tempfile.gettempdir()) / "homemovies-staging"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_gb * 1e9)

    @property
    def oci_credentials(self) -> OciCredentials:
        """Which credentials sign this app's OCI requests."""
        return OciCredentials(
            instance_principal=self.instance_principal,
            resource_principal=self.resource_principal,
            config_file=self.oci_config,
            profile=self.oci_profile,
        )


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser; `--help` is the manual of every setting."""
    parser = argparse.ArgumentParser(
        prog="streamlit run streamlit_app.py --",
        description="homemovies: browse and stream a family video library. Each flag can "
        f"also be set as an environment variable ({ENV_PREFIX}NAME) or as a key in the "
        f"[{SECRETS_TABLE}] table of .streamlit/secrets.toml; flags win, then variables.",
        epilog="Signing in with Google, Microsoft, an OCI IAM Identity Domain or another "
        "OpenID Connect provider is set in the [auth] table of .streamlit/secrets.toml, as "
        "Streamlit documents it: redirect_uri (this app's address followed by "
        "/oauth2callback, registered with each provider), cookie_secret, and one "
        "[auth.NAME] table per provider with client_id, client_secret, server_metadata_url "
        "and an optional label. A provider's sign-in is let in only for a verified e-mail "
        "address that the users file gives to a user (email: or emails:). README, 'Signing "
        "in with Google, Microsoft or another provider', has each provider's steps.",
        argument_default=argparse.SUPPRESS,
    )
    add_options(parser, OPTIONS)
    return parser


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Add `options` to `parser` as flags (absent flags stay absent: SUPPRESS)."""
    for option in options:
        help_text = f"{option.help} [{option.env}]"
        if option.kind is bool:
            parser.add_argument(
                option.flag, action="store_true", help=help_text, default=argparse.SUPPRESS
            )
        else:
            parser.add_argument(
                option.flag, metavar=option.metavar, help=help_text, default=argparse.SUPPRESS
            )


def source_options() -> tuple[Option, ...]:
    """The settings that name the library and reach it (for commands other than the app)."""
    return tuple(option for option in OPTIONS if option.name in SOURCE_OPTION_NAMES)


def read_secrets_file(paths: Sequence[Path]) -> dict[str, Any]:
    """Return the `[homemovies]` table of the first readable secrets.toml among `paths`."""
    for path in paths:
        if not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                table = tomllib.load(handle).get(SECRETS_TABLE, {})
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"Cannot read {path}: {error}. Fix or remove that file.") from None
        if not isinstance(table, dict):
            raise SettingsError(f"[{SECRETS_TABLE}] in {path} must be a table of settings.")
        return table
    return {}


def default_secrets_paths() -> list[Path]:
    """The secrets files Streamlit itself would read: the project's, then the user's."""
    app_dir = Path(__file__).resolve().parent.parent
    return [
        app_dir / ".streamlit" / "secrets.toml",
        Path.cwd() / ".streamlit" / "secrets.toml",
        Path.home() / ".streamlit" / "secrets.toml",
    ]


def _convert(option: Option, raw: Any, origin: str) -> Any:
    """Turn a raw flag, variable or TOML value into the option's type."""
    if option.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"", "0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{origin} must be true or false, not {raw!r}.")
    if option.kind is int:
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise SettingsError(f"{origin} must be a whole number, not {raw!r}.") from None
        if number < 0:
            raise SettingsError(f"{origin} must be zero or more.")
        return number
    if option.kind is float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{origin} must be a number, not {raw!r}.") from None
        if value <= 0:
            raise SettingsError(f"{origin} must be greater than zero.")
        return value
    text = str(raw).strip()
    return text or None


def load_settings(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    secrets_paths: Sequence[Path] | None = None,
) -> Settings:
    """Given command-line arguments, variables and secrets files, return valid Settings.

    Raises SettingsError with one sentence when the combination cannot run.
    """
    return settings_from_flags(vars(build_parser().parse_args(list(argv))), environ, secrets_paths)


def settings_from_flags(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    secrets_paths: Sequence[Path] | None = None,
    *,
    login: bool = True,
) -> Settings:
    """Given parsed flags (absent ones left out), variables and secrets files, return valid
    Settings; `login=False` (a command other than the app) needs no sign-in settings."""
    environ = os.environ if environ is None else environ
    secrets = read_secrets_file(default_secrets_paths() if secrets_paths is None else secrets_paths)
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for option in OPTIONS:
        if option.name in flags:
            raw, origin = flags[option.name], option.flag
        elif environ.get(option.env, "") != "":
            raw, origin = environ[option.env], option.env
        elif option.name in secrets:
            raw, origin = secrets[option.name], f"{option.name} in secrets.toml"
        else:
            values[option.name] = option.default
            continue
        values[option.name] = _convert(option, raw, origin)
        if option.name in _SECRET_NAMES and origin == option.flag:
            warnings.append(
                f"{option.flag} is visible to every user of this machine in the process list; "
                f"set {option.env} instead."
            )
    unknown = set(secrets) - {option.name for option in OPTIONS}
    if unknown:
        first = sorted(unknown)[0]
        raise SettingsError(
            f"Unknown setting {first!r} in the [{SECRETS_TABLE}] table of secrets.toml."
        )
    for name in ("library", "users", "staging"):
        if values[name] is not None:
            values[name] = Path(values[name]).expanduser()
    settings = Settings(**values, warnings=tuple(warnings))
    validate(settings, login=login)
    return settings


def validate(settings: Settings, *, login: bool = True) -> None:
    """Raise SettingsError when the settings name no source, two sources or no login.

    With --secret the bucket and login may still come from the Vault: `require_login`
    checks them once the Vault has been read.
    """
    oci_source = settings.bucket or settings.secret
    if settings.library is not None and oci_source:
        raise SettingsError(
            "Pass either --library PATH for a local folder or --bucket/--secret for OCI, not both."
        )
    if settings.library is None and not oci_source:
        raise SettingsError(
            "Pass --library PATH to serve a local folder, or --bucket NAME "
            "(or --secret COMPARTMENT_OCID) to serve an OCI Object Storage bucket."
        )
    if settings.library is not None and not settings.library.is_dir():
        raise SettingsError(
            f"--library {settings.library} is not a folder; pass an existing folder."
        )
    if settings.users is not None and not settings.users.is_file():
        raise SettingsError(f"--users {settings.users} is not a file; pass the users YAML file.")
    if settings.instance_principal and settings.resource_principal:
        raise SettingsError("Pass --instance_principal or --resource_principal, not both.")
    if (settings.instance_principal or settings.resource_principal) and (
        settings.oci_config or settings.oci_profile
    ):
        raise SettingsError(
            "--oci_config and --oci_profile name an API key; drop them when you pass "
            "--instance_principal or --resource_principal."
        )
    if settings.delivery not in DELIVERY_MODES:
        raise SettingsError(f"--delivery must be proxy or par, not {settings.delivery!r}.")
    if settings.delivery == "par" and settings.library is not None:
        raise SettingsError("--delivery par needs an OCI bucket; drop it with --library.")
    if settings.cookie_key is not None and len(settings.cookie_key) < MIN_COOKIE_KEY_LENGTH:
        raise SettingsError(
            f"The cookie key must be at least {MIN_COOKIE_KEY_LENGTH} characters; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'."
        )
    if not settings.secret and login:
        require_login(settings)


def require_login(settings: Settings) -> None:
    """Raise SettingsError unless the settings name a source bucket or folder and a login:
    a users file, the single admin's username and password, or both."""
    if settings.library is None and not settings.bucket:
        raise SettingsError("Pass --bucket NAME (or a 'bucket' secret in the Vault).")
    if settings.users is None and not (settings.username and settings.password):
        raise SettingsError(
            "Set HOMEMOVIES_USERNAME and HOMEMOVIES_PASSWORD (or pass --username and --password) "
            "for the user who logs in, or pass --users FILE."
        )
    if bool(settings.username) != bool(settings.password):
        missing = "--password (HOMEMOVIES_PASSWORD)" if settings.username else "--username"
        raise SettingsError(f"Pass {missing} too: the single admin needs both.")


def with_vault_secrets(
    settings: Settings, read: Callable[[Set[str]], Mapping[str, str]], *, login: bool = True
) -> Settings:
    """Return `settings` with the values it lacks taken from the Vault (`read` returns the
    secrets of the names asked for); raise SettingsError naming each required secret that is
    in neither place. A value set as a flag, variable or secrets.toml key wins."""
    fields = VAULT_SECRET_FIELDS
    wanted = {name for name, field in fields.items() if getattr(settings, field) is None}
    if not login:
        wanted &= {"bucket"}
    found = read(wanted) if wanted else {}
    taken: dict[str, Any] = {fields[name]: value for name, value in found.items() if value}
    settings = replace(settings, **taken)
    # With a users file the Vault's single admin is optional (but still an admin if given).
    required = VAULT_REQUIRED if settings.users is None and login else ("bucket",)
    missing = [name for name in required if getattr(settings, fields[name]) is None]
    if missing:
        names = " and ".join(repr(name) for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise SettingsError(
            f"The Vault in compartment {settings.secret} has no active secret{plural} named "
            f"{names}; add {'them' if plural else 'it'}, or pass "
            + " and ".join(f"--{fields[name]}" for name in missing)
            + "."
        )
    validate(settings, login=login)
    if login:
        require_login(settings)
    return settings


def settings_or_exit(argv: Sequence[str]) -> Settings:
    """Load settings for a process; on a mistake print one line and exit with status 2."""
    try:
        settings = load_settings(argv)
    except SettingsError as error:
        print(f"homemovies: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in settings.warnings:
        print(f"homemovies: warning: {warning}", file=sys.stderr)
    return settings
