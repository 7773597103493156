"""The sign-in throttle: slows password guessing without ever locking an account for good.

Failures are counted per key (a username, a client address) over a sliding window. The first
few are free; after that each attempt must wait a delay that doubles with every further
failure, up to a cap. Once the window holds no failures the key is forgotten, so an attacker
can slow the owner down to one try per `max_delay` at worst, never lock them out.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from lib.accounts import Accounts, User

FREE_FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
MAX_KEYS = 100_000  # beyond this, keys without recent failures are dropped first
KEPT_FAILURES = 64  # per key: far more than it takes to reach the longest delay

log = logging.getLogger("homemovies.sign_in")


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free within `window` seconds, and the delays after that."""

    free_failures: int = FREE_FAILURES
    window: float = WINDOW_SECONDS
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY

    def delay(self, failures: int) -> float:
        """Return the wait after the last of `failures` recent failures (0 while free)."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, self.first_delay * 2.0 ** (failures - self.free_failures))


class SignInThrottle:
    """Recent sign-in failures per key; thread-safe (every session shares one)."""

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: dict[Hashable, deque[float]] = {}

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        """The key's failures inside the window (older ones are dropped); lock held."""
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.policy.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def wait(self, keys: tuple[Hashable, ...]) -> float:
        """Return how many seconds must pass before an attempt for `keys` is allowed (0: now)."""
        now = self._clock()
        longest = 0.0
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if failures:
                    ready = failures[-1] + self.policy.delay(len(failures))
                    longest = max(longest, ready - now)
        return longest

    def failed(self, keys: tuple[Hashable, ...]) -> None:
        """Count one failed attempt against each of `keys`."""
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._forget_idle(now)
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque(maxlen=KEPT_FAILURES)).append(now)

    def succeeded(self, keys: tuple[Hashable, ...]) -> None:
        """Forget the failures of `keys`: the owner got in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def __len__(self) -> int:
        """How many keys have recent failures on record."""
        with self._lock:
            return len(self._failures)

    def _forget_idle(self, now: float) -> None:
        """Drop expired keys; if still full, the ones whose last failure is oldest."""
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self._max_keys:
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 2]:
                del self._failures[key]


def throttle_keys(username: str, address: str | None) -> tuple[Hashable, ...]:
    """The keys one sign-in attempt counts against: its username and, if known, its address.

    A connection from the machine itself (a local proxy that does not forward the client's
    address) has no address: keying every such visitor together would let one of them
    slow down all the others.
    """
    keys: tuple[Hashable, ...] = (("user", username.strip().lower()[:256]),)
    return (*keys, ("address", address)) if address else keys


WRONG_LOGIN = "Incorrect username or password."


@dataclass(frozen=True)
class SignInResult:
    """What one password attempt came to: the user, or the message to show instead."""

    user: User | None
    message: str | None = None


def throttled_message(wait: float) -> str:
    seconds = max(1, math.ceil(wait))
    return f"Too many failed sign-ins. Wait {seconds} s, then try again."


def check_sign_in(
    accounts: Accounts,
    throttle: SignInThrottle,
    username: str,
    password: str,
    address: str | None,
) -> SignInResult:
    """Given a submitted username and password from `address`, return who signed in or why not.

    A throttled attempt is refused before any password check; an unknown user and a wrong
    password get the same message after the same bcrypt work. The password is never logged.
    """
    keys = throttle_keys(username, address)
    who = f"{username.strip()[:64]!r} from {address or 'this machine'}"
    wait = throttle.wait(keys)
    if wait > 0:
        log.warning("sign-in refused for %s: throttled for %.0f s more", who, wait)
        return SignInResult(None, throttled_message(wait))
    user = accounts.authenticate(username, password)
    if user is None:
        throttle.failed(keys)
        log.warning("failed sign-in for %s", who)
        return SignInResult(None, WRONG_LOGIN)
    throttle.succeeded(keys)
    log.info("%r signed in from %s", user.username, address or "this machine")
    return SignInResult(user)
