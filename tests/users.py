"""Users files for the tests: accounts with their passwords and roles, as `--users FILE` reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lib.accounts import hash_password


def write_users(path: Path, accounts: Mapping[str, tuple[str, str]]) -> Path:
    """Write a users file of `accounts` (name -> (password, role)) to `path`; return it."""
    lines = ["credentials:", "  usernames:"]
    for name, (password, role) in accounts.items():
        lines += [
            f"    {name}:",
            f"      name: {name.title()}",
            # Cost 4 keeps sign-ins quick in tests; the app takes any cost the file holds.
            f"      password: '{hash_password(password, rounds=4)}'",
            f"      roles: [{role}]",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path
