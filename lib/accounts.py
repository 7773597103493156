"""Accounts: who may log in, with which role. Passwords exist here only as bcrypt hashes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import bcrypt

MIN_PASSWORD_LENGTH = 8


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

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def hash_password(password: str) -> str:
    """Return the bcrypt hash of `password`."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


class Accounts:
    """The users who may log in, keyed by lower-case username."""

    def __init__(self, users: Mapping[str, User]) -> None:
        self._users = {name.lower(): user for name, user in users.items()}

    @classmethod
    def single_admin(cls, username: str, password: str) -> Accounts:
        """Return accounts holding one admin whose password is hashed right here."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountsError(
                f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
            )
        username = username.strip().lower()
        user = User(username, username, Role.ADMIN, hash_password(password))
        return cls({username: user})

    def get(self, username: str | None) -> User | None:
        """Return the user called `username` (any case), if there is one."""
        return self._users.get((username or "").lower())

    def __contains__(self, username: object) -> bool:
        return isinstance(username, str) and username.lower() in self._users

    def __len__(self) -> int:
        return len(self._users)

    def credentials(self) -> dict:
        """Return a fresh credentials mapping in streamlit-authenticator's format."""
        return copy.deepcopy(
            {
                "usernames": {
                    name: {
                        "name": user.name,
                        "password": user.password_hash,
                        "roles": [user.role.value],
                    }
                    for name, user in self._users.items()
                }
            }
        )
