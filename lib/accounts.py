"""Accounts: who may log in, with which role. Passwords exist here only as bcrypt hashes.

Users come from `--users FILE` (streamlit-authenticator's credentials YAML, every password a
bcrypt hash, a role per user, optionally the e-mail addresses an OpenID provider may vouch
for) and/or the single `--username/--password` admin. The file is read again when it
changes, so removing a user or an address takes effect on the next page run. Run
`python -m lib.accounts hash-password` to make a hash for that file.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import bcrypt
import yaml

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (and bcrypt 5 refuses longer input)
HASH_COMMAND = "python -m lib.accounts hash-password"
HASH_ROUNDS = 12
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(?P<cost>0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
RELOAD_SECONDS = 2.0  # how often the users file is looked at for changes

log = logging.getLogger("homemovies.accounts")


class AccountsError(Exception):
    """The accounts cannot be loaded; the message says how to fix it."""


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True)
class User:
    """One account."""

    username: str
    name: str
    role: Role
    password_hash: str = field(repr=False)
    emails: tuple[str, ...] = ()  # lower case; an OpenID sign-in with one of them is this user

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def check_password_rules(password: str) -> None:
    """Raise AccountsError unless `password` is long enough and short enough for bcrypt."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountsError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise AccountsError(f"The password must be at most {MAX_PASSWORD_BYTES} bytes long.")


def hash_password(password: str, rounds: int = HASH_ROUNDS) -> str:
    """Return the bcrypt hash of `password`."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def is_bcrypt_hash(text: object) -> bool:
    """Return whether `text` looks like a bcrypt hash ($2b$12$ and 53 more characters)."""
    return isinstance(text, str) and _BCRYPT_HASH.fullmatch(text) is not None


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    # Checked against for unknown users, so they cost the same bcrypt work as known ones.
    return hash_password("no user has this password", rounds).encode("ascii")


def _cost(password_hash: str) -> int:
    match = _BCRYPT_HASH.fullmatch(password_hash)
    return int(match["cost"]) if match else HASH_ROUNDS


class Accounts:
    """The users who may log in, keyed by lower-case username."""

    def __init__(self, users: Mapping[str, User]) -> None:
        self._users = {name.lower(): user for name, user in users.items()}
        costs = [_cost(user.password_hash) for user in self._users.values()]
        self._dummy_rounds = max(costs, default=HASH_ROUNDS)
        self._emails: dict[str, User] = {}
        for user in self._users.values():
            for email in user.emails:
                other = self._emails.setdefault(email, user)
                if other is not user:
                    raise AccountsError(
                        f"The e-mail address {email!r} is given to both {other.username!r} "
                        f"and {user.username!r}; give it to one of them."
                    )

    @classmethod
    def single_admin(cls, username: str, password: str) -> Accounts:
        """Return accounts holding one admin whose password is hashed right here."""
        check_password_rules(password)
        username = username.strip().lower()
        user = User(username, username, Role.ADMIN, hash_password(password))
        return cls({username: user})

    @classmethod
    def from_file(cls, path: Path) -> Accounts:
        """Return the users of a credentials YAML file; raise AccountsError saying what to fix."""
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise AccountsError(f"Cannot read the users file {path}: {error.strerror}.") from None
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problem = str(error).splitlines()[0]
            raise AccountsError(f"The users file {path} is not valid YAML ({problem}).") from None
        return cls({user.username: user for user in parse_users(document, str(path))})

    def merged(self, other: Accounts) -> Accounts:
        """Return these users and `other`'s; a name in both is an error."""
        for name in self._users:
            if name in other:
                raise AccountsError(
                    f"The user {name!r} is both in the users file and given by "
                    "--username (or the Vault); keep one of them."
                )
        return Accounts({**self._users, **other._users})

    def get(self, username: str | None) -> User | None:
        """Return the user called `username` (any case), if there is one."""
        return self._users.get((username or "").strip().lower())

    def by_email(self, email: str | None) -> User | None:
        """Return the user invited with e-mail address `email` (any case), if there is one."""
        return self._emails.get((email or "").strip().lower())

    def authenticate(self, username: str, password: str) -> User | None:
        """Return the user if `password` is theirs, else None.

        Always costs one bcrypt check at the users' work factor, so an unknown username
        takes as long to refuse as a wrong password.
        """
        user = self.get(username)
        secret = password.encode("utf-8")
        hashed = user.password_hash.encode("ascii") if user else _dummy_hash(self._dummy_rounds)
        if len(secret) > MAX_PASSWORD_BYTES:
            bcrypt.checkpw(secret[:MAX_PASSWORD_BYTES], hashed)  # same cost, never a match
            return None
        return user if bcrypt.checkpw(secret, hashed) and user is not None else None

    def __contains__(self, username: object) -> bool:
        return isinstance(username, str) and username.lower() in self._users

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[User]:
        return iter(self._users.values())


def parse_users(document: object, origin: str) -> list[User]:
    """Given a loaded credentials YAML document, return its users.

    Accepts streamlit-authenticator's config (`credentials: usernames: ...`) or the bare
    `usernames:` mapping; other keys (cookie, pre-authorized, emails) are ignored.
    """
    if isinstance(document, dict) and isinstance(document.get("credentials"), dict):
        document = document["credentials"]
    usernames = document.get("usernames") if isinstance(document, dict) else None
    if not isinstance(usernames, dict) or not usernames:
        raise AccountsError(
            f"The users file {origin} must hold 'credentials: usernames:' with at least one "
            "user (see README, Accounts)."
        )
    users = []
    seen: set[str] = set()
    for raw_name, entry in usernames.items():
        username = str(raw_name).strip().lower()
        if not username or username in seen:
            raise AccountsError(f"The users file {origin} names the user {raw_name!r} twice.")
        seen.add(username)
        users.append(_parse_user(username, entry, origin))
    return users


def _parse_user(username: str, entry: object, origin: str) -> User:
    where = f"user {username!r} in {origin}"
    if not isinstance(entry, dict):
        raise AccountsError(f"The {where} must be a mapping with name, password and roles.")
    password = entry.get("password")
    if not isinstance(password, str) or not is_bcrypt_hash(password):
        raise AccountsError(
            f"The password of {where} is not a bcrypt hash; plaintext passwords are refused. "
            f"Make a hash with: {HASH_COMMAND}"
        )
    return User(
        username=username,
        name=str(entry.get("name") or username),
        role=_role(entry.get("roles", entry.get("role")), where),
        password_hash=password,
        emails=_parse_emails(entry.get("emails", entry.get("email")), where),
    )


def _parse_emails(raw: object, where: str) -> tuple[str, ...]:
    """The addresses of a user: `email: a@b.example` or `emails: [a@b.example, ...]`."""
    values = [raw] if isinstance(raw, str) else raw or []
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise AccountsError(f"The e-mail of {where} must be an address or a list of addresses.")
    emails = tuple(dict.fromkeys(value.strip().lower() for value in values))
    for email in emails:
        if not _EMAIL.fullmatch(email):
            raise AccountsError(f"The {where} has {email!r}, which is not an e-mail address.")
    return emails


def _role(raw: object, where: str) -> Role:
    """The role of a user: `roles: [admin]` (the library's form) or `role: viewer`."""
    values = [raw] if isinstance(raw, str) else raw or []
    if not isinstance(values, list | tuple):
        raise AccountsError(f"The roles of {where} must be a list: [admin] or [viewer].")
    roles = set()
    for value in values:
        try:
            roles.add(Role(str(value).strip().lower()))
        except ValueError:
            raise AccountsError(
                f"The {where} has the role {value!r}; roles are admin and viewer."
            ) from None
    if not roles:
        raise AccountsError(f"The {where} has no role; give it roles: [admin] or [viewer].")
    return Role.ADMIN if Role.ADMIN in roles else Role.VIEWER


class FileAccounts(Accounts):
    """The users of a users file (and `extra` users beside them), read again when it changes.

    The file's modification time and size are looked at no more often than every
    `check_seconds`. A change that does not load (bad YAML, a plaintext password) keeps the
    users read before and says why in the log, once per change.
    """

    def __init__(
        self,
        path: Path,
        extra: Accounts | None = None,
        check_seconds: float = RELOAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._extra = extra or Accounts({})
        self._check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen = self._stamp()
        self._loaded = self._load()  # raises AccountsError: a bad file at start is fatal
        self._next_check = clock() + check_seconds

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load(self) -> Accounts:
        return Accounts.from_file(self._path).merged(self._extra)

    def _current(self) -> Accounts:
        now = self._clock()
        with self._lock:
            if now < self._next_check:
                return self._loaded
            self._next_check = now + self._check_seconds
            stamp = self._stamp()
            if stamp == self._seen:
                return self._loaded
            self._seen = stamp
            try:
                self._loaded = self._load()
                log.info("the users file %s changed: %d users", self._path, len(self._loaded))
            except AccountsError as error:
                log.warning("the changed users file is not used, the users before stay: %s", error)
            return self._loaded

    @property
    def _users(self) -> dict[str, User]:  # type: ignore[override]
        return self._current()._users

    @property
    def _emails(self) -> dict[str, User]:  # type: ignore[override]
        return self._current()._emails

    @property
    def _dummy_rounds(self) -> int:  # type: ignore[override]
        return self._current()._dummy_rounds


def build_accounts(users_file: Path | None, username: str | None, password: str | None) -> Accounts:
    """Return the users of `users_file` (followed as it changes) plus the single admin."""
    if bool(username) != bool(password):
        raise AccountsError("Pass both --username and --password, or neither with --users FILE.")
    admin = Accounts.single_admin(username or "", password or "") if username and password else None
    accounts = FileAccounts(users_file, admin) if users_file is not None else admin or Accounts({})
    if not len(accounts):
        raise AccountsError("No user may sign in: pass --users FILE, or --username and --password.")
    return accounts


def _read_new_password() -> str:
    """Ask for a password twice at a hidden prompt; raise AccountsError if unusable."""
    password = getpass.getpass("New password: ")
    check_password_rules(password)
    if getpass.getpass("Repeat it: ") != password:
        raise AccountsError("The two passwords differ; nothing was hashed.")
    return password


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lib.accounts hash-password`: print a bcrypt hash for the users file."""
    parser = argparse.ArgumentParser(prog="python -m lib.accounts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "hash-password",
        help="ask for a password (hidden, twice) and print its bcrypt hash for the users file",
    )
    parser.parse_args(argv)
    try:
        password = _read_new_password()
    except (AccountsError, EOFError, KeyboardInterrupt) as error:
        message = str(error) if isinstance(error, AccountsError) else "Cancelled."
        print(f"homemovies: {message}", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
