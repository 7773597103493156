"""The session cookie that keeps a person signed in, and the one-time tickets that hand it over.

Whatever signs a person in (the password form, a phone approving a TV, an OpenID provider),
the page run that decided it mints a ticket and sends the browser to `<base>/session/<ticket>`
(lib/web/session.py). That route takes the ticket once and answers with the cookie, set by the
server: HttpOnly (no script in the page can read it), SameSite=Lax, scoped to the app's base
path, Secure over HTTPS. Signing out is a ticket too: its route clears the cookie, and the
sign-out recorded in lib/sessions.py refuses every copy issued before it.

Tickets live in the storage backend under `.homemovies/tickets/`, so a ticket minted on one
replica is taken on another. A ticket's object is named by the ticket's SHA-256: whoever can
list the bucket learns no ticket.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import jwt

from lib.storage import Conflict, NotFound, Storage, StorageError
from lib.storage.appstate import APP_PREFIX

SESSION_COOKIE = "homemovies_session"
TICKET_PREFIX = APP_PREFIX + "tickets/"
TICKET_SECONDS = 60.0  # a ticket is taken within a second; this is for a slow link
SWEEP_SECONDS = 600.0  # how often minting removes tickets nobody came for
JSON_TYPE = "application/json"

log = logging.getLogger("homemovies.session_cookie")


class Via(StrEnum):
    """How a session was signed in."""

    PASSWORD = "password"  # noqa: S105 - a way in, not a secret
    TV = "tv"  # a phone approved this device (lib/tv_signin.py)
    OIDC = "oidc"  # an OpenID provider vouched for an invited e-mail address


@dataclass(frozen=True)
class Session:
    """Who is signed in, how, and since when (seconds since the epoch, to the millisecond)."""

    username: str
    via: Via
    issued_at: float
    email: str | None = None  # the address an OpenID sign-in was let in with


class SessionCookies:
    """Issues and reads the session cookie's value: a JWT signed with its own key."""

    def __init__(
        self, key: bytes, expiry_days: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self.max_age = int(expiry_days * 86400)
        self._clock = clock

    def issue(self, session: Session) -> str:
        """Return the cookie value for `session`, valid `max_age` seconds from its sign-in."""
        claims: dict[str, object] = {
            "sub": session.username,
            "via": session.via.value,
            "iat_ms": round(session.issued_at * 1000),
            "exp": int(session.issued_at) + self.max_age,
        }
        if session.email:
            claims["email"] = session.email
        return jwt.encode(claims, self._key, algorithm="HS256")

    def read(self, raw: str) -> Session | None:
        """Return the session in cookie value `raw`, or None if it is not ours or expired."""
        try:
            claims = jwt.decode(
                raw,
                self._key,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"], "verify_exp": False},
            )
            if float(claims["exp"]) <= self._clock():
                return None
            email = claims.get("email")
            return Session(
                str(claims["sub"]),
                Via(claims["via"]),
                int(claims["iat_ms"]) / 1000,
                email if isinstance(email, str) else None,
            )
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return None


class TicketKind(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"


@dataclass(frozen=True)
class Ticket:
    """What taking a ticket hands over: a session to set the cookie for, or a sign-out.

    `query` is the query string the browser goes back to (``?device=...``), or "".
    """

    kind: TicketKind
    session: Session | None = None
    query: str = ""


def _name(ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{TICKET_PREFIX}{digest}.json"


class Tickets:
    """One-time, short-lived tickets in the storage backend."""

    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        ttl: float = TICKET_SECONDS,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._next_sweep = clock() + SWEEP_SECONDS  # the first, SWEEP_SECONDS after start

    def mint(self, ticket: Ticket) -> str:
        """Store `ticket`; return the secret that takes it. Raises StorageError."""
        secret = secrets.token_urlsafe(32)
        session = ticket.session
        record = {
            "kind": ticket.kind.value,
            "expires": self._clock() + self._ttl,
            "query": ticket.query,
            "session": None
            if session is None
            else {
                "username": session.username,
                "via": session.via.value,
                "issued_at": session.issued_at,
                "email": session.email,
            },
        }
        body = json.dumps(record, sort_keys=True).encode("utf-8")
        self._storage.write_if(_name(secret), body, JSON_TYPE, version=None)
        return secret

    def take(self, secret: str) -> Ticket | None:
        """Return the ticket `secret` once; None when unknown, taken, expired or unreadable."""
        name = _name(secret)
        try:
            data, version = self._storage.read_versioned(name)
            # Whoever removes the record takes the ticket: it is handed over once.
            self._storage.delete_if(name, version=version)
        except (NotFound, Conflict):
            return None
        except StorageError as error:
            log.warning("a sign-in ticket could not be taken: %s", error)
            return None
        self._sweep_if_due()
        try:
            record = json.loads(data)
            if float(record["expires"]) <= self._clock():
                return None
            raw = record["session"]
            session = (
                None
                if raw is None
                else Session(
                    str(raw["username"]),
                    Via(raw["via"]),
                    float(raw["issued_at"]),
                    raw.get("email"),
                )
            )
            query = str(record.get("query") or "")
            return Ticket(TicketKind(record["kind"]), session, query if query[:1] == "?" else "")
        except (KeyError, TypeError, ValueError) as error:
            log.warning("ignoring a sign-in ticket that is not one: %s", error)
            return None

    def _sweep_if_due(self) -> None:
        """Remove tickets nobody came for (a browser closed mid-way), every SWEEP_SECONDS.

        Done by the route that takes tickets, so a page run never lists the backend."""
        now = self._clock()
        with self._lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + SWEEP_SECONDS
        try:
            for info in self._storage.scan(TICKET_PREFIX):
                if info.modified is not None and info.modified.timestamp() < now - self._ttl:
                    with contextlib.suppress(NotFound):
                        self._storage.delete(info.name)
        except StorageError as error:
            log.warning("old sign-in tickets could not be removed: %s", error)
