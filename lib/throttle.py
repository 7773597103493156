"""The sign-in throttle: slows password guessing without ever locking an account for good.

Failures are counted per key (a username, a client address) over a sliding window. The first
few are free; after that each attempt must wait a delay that doubles with every further
failure, up to a cap. Once the window holds no failures the key is forgotten, so an attacker
can slow the owner down to one try per `max_delay` at worst, never lock them out.

With a storage backend the counts are shared by every replica serving it: each key with
recent failures has a small record under `.homemovies/throttle/` (named by a hash, never by
the username or address), changed only by conditional writes. When storage cannot answer,
a process counts on its own for a short while (`OUTAGE_PAUSE`) rather than refuse anyone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from lib.accounts import Accounts, User
from lib.storage import Conflict, NotFound, Storage, StorageError
from lib.storage.appstate import APP_PREFIX

FREE_FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
MAX_KEYS = 100_000  # beyond this, keys without recent failures are dropped first
KEPT_FAILURES = 64  # per key: far more than it takes to reach the longest delay

THROTTLE_PREFIX = APP_PREFIX + "throttle/"
# A lost race is read and written again, at most this many tries per key and attempt: the
# writers of one key are the few attempts its own delays let through, so a third loss means
# a storm, and the failure is then left out of storage (counted in this process only).
CONFLICT_TRIES = 3
# After storage failed to answer, this process counts alone for this long: a sign-in during
# an outage must not wait for the SDK's retries on every key of every attempt.
OUTAGE_PAUSE = 10.0
# What an attempt's wait() read is reused by its failed() or succeeded() (a bcrypt check
# later) instead of reading again; older, the record is read again.
SEEN_SECONDS = 5.0
RECORD_TYPE = "application/json"

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

    def left(self, failures: Iterable[float], now: float) -> float:
        """Given a key's failure times (oldest first), return how long it must still wait.

        Never more than `max_delay`, even if another replica's clock runs ahead.
        """
        recent = self.recent(failures, now)
        if not recent:
            return 0.0
        ready = recent[-1] + self.delay(len(recent))
        return max(0.0, min(self.max_delay, ready - now))

    def recent(self, failures: Iterable[float], now: float) -> tuple[float, ...]:
        """Given failure times (oldest first), return those still inside the window."""
        return tuple(at for at in failures if at > now - self.window)


def record_name(key: Hashable) -> str:
    """Return the object holding `key`'s shared failures: a hash of its JSON encoding, so
    that no username or address appears in the bucket's listing."""
    encoded = json.dumps(key, separators=(",", ":"), ensure_ascii=False)
    return f"{THROTTLE_PREFIX}{hashlib.sha256(encoded.encode('utf-8')).hexdigest()}.json"


def encode_record(failures: tuple[float, ...]) -> bytes:
    """Return the stored form of a key's failure times."""
    return json.dumps({"failures": list(failures)}, separators=(",", ":")).encode("utf-8")


def decode_record(data: bytes) -> tuple[float, ...]:
    """Given a stored record, return its failure times, oldest first (raise ValueError if it
    is not one of ours)."""
    value = json.loads(data)
    failures = value.get("failures") if isinstance(value, dict) else None
    if not isinstance(failures, list):
        raise ValueError("not a throttle record")
    times = (
        float(at)
        for at in failures
        if isinstance(at, int | float) and not isinstance(at, bool) and math.isfinite(at)
    )
    return tuple(sorted(times)[-KEPT_FAILURES:])


@dataclass(frozen=True)
class Seen:
    """A key's shared record as last read or written: its version (None: absent), its
    failure times and when it was seen (on the throttle's clock)."""

    version: str | None
    failures: tuple[float, ...]
    at: float


class SharedFailures:
    """The failures of every key as records in storage, shared by all replicas.

    Every change is a conditional write on the version last read, so no failure is lost to a
    race. Raises StorageError when storage cannot answer; the throttle then counts alone.
    """

    def __init__(self, storage: Storage, policy: ThrottlePolicy, max_keys: int = MAX_KEYS) -> None:
        self.storage = storage
        self.policy = policy
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._seen: dict[Hashable, Seen] = {}

    def fetch(self, key: Hashable, now: float) -> tuple[float, ...]:
        """Return `key`'s recent failures as stored (one GET), remembering its version."""
        seen = self._read(record_name(key), now)
        with self._lock:
            if len(self._seen) >= self._max_keys:
                self._seen.clear()  # only a cache of versions: costs a read, never a count
            self._seen[key] = seen
        return self.policy.recent(seen.failures, now)

    def add(self, key: Hashable, now: float) -> tuple[float, ...] | None:
        """Record one failure of `key` at `now`; return its recent failures as now stored, or
        None after CONFLICT_TRIES lost races.

        Failures older than the window are dropped in the same write, so an expired record is
        replaced rather than extended.
        """
        name = record_name(key)
        seen = self._take(key, now)
        for _ in range(CONFLICT_TRIES):
            if seen is None:
                seen = self._read(name, now)
            failures = (*self.policy.recent(seen.failures, now), now)[-KEPT_FAILURES:]
            try:
                self.storage.write_if(
                    name, encode_record(failures), RECORD_TYPE, version=seen.version
                )
            except Conflict:
                seen = None
                continue
            return failures
        log.warning("a sign-in failure is not in storage: its record lost %d races", CONFLICT_TRIES)
        return None

    def clear(self, key: Hashable, now: float) -> None:
        """Remove `key`'s record (the owner got in); nothing to do if there is none."""
        name = record_name(key)
        seen = self._take(key, now)
        for _ in range(CONFLICT_TRIES):
            if seen is None:
                seen = self._read(name, now)
            if seen.version is None:
                return
            try:
                self.storage.delete_if(name, version=seen.version)
            except NotFound:
                return
            except Conflict:
                seen = None
                continue
            return
        log.warning("sign-in failures stay in storage: their record lost %d races", CONFLICT_TRIES)

    def sweep(self, now: float) -> int:
        """Remove the records whose newest failure has left the window; return how many.

        A record's modification time skips the fresh ones unread; a stale one is read and
        removed only if it is still at that version.
        """
        removed = 0
        for info in self.storage.scan(THROTTLE_PREFIX):
            if not info.name.endswith(".json"):
                continue  # a local folder's spooled temporary file
            if info.modified is not None and info.modified.timestamp() > now - self.policy.window:
                continue
            try:
                seen = self._read(info.name, now)
                if seen.version is None or self.policy.recent(seen.failures, now):
                    continue
                self.storage.delete_if(info.name, version=seen.version)
            except (NotFound, Conflict):
                continue  # removed or changed meanwhile: its owner is in charge again
            removed += 1
        return removed

    def _take(self, key: Hashable, now: float) -> Seen | None:
        """Return (and forget) what this attempt's wait() saw of `key`, if it is recent."""
        with self._lock:
            seen = self._seen.pop(key, None)
        if seen is None or seen.at < now - SEEN_SECONDS or seen.at > now:
            return None
        return seen

    def _read(self, name: str, now: float) -> Seen:
        """Read record `name` (absent: version None); a record not ours counts as empty."""
        try:
            data, version = self.storage.read_versioned(name)
        except NotFound:
            return Seen(None, (), now)
        try:
            return Seen(version, decode_record(data), now)
        except (ValueError, OverflowError):  # replaced by the next failure written
            log.warning("ignoring throttle record %s: not one this app wrote", name)
            return Seen(version, (), now)


class SignInThrottle:
    """Recent sign-in failures per key; thread-safe (every session shares one).

    Without `storage` the counts live in this process, on `clock` (default time.monotonic).
    With it they are shared through storage and `clock` must be the wall clock, alike on
    every replica (default time.time): a monotonic clock means nothing to another process.
    """

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], float] | None = None,
        max_keys: int = MAX_KEYS,
        *,
        storage: Storage | None = None,
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock or (time.monotonic if storage is None else time.time)
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: dict[Hashable, deque[float]] = {}
        self._shared = None if storage is None else SharedFailures(storage, self.policy, max_keys)
        self._paused_until = -math.inf
        self._next_sweep = -math.inf
        self._sweeper: threading.Thread | None = None

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
        """Return how many seconds must pass before an attempt for `keys` is allowed (0: now).

        With storage, each key's shared record decides (one read a key); a key storage cannot
        read is judged by this process's counts.
        """
        now = self._clock()
        shared = self._usable(now)
        if shared is not None:
            try:
                for key in keys:
                    self._mirror(key, shared.fetch(key, now), now)
            except StorageError as error:
                self._pause(now, error)
        with self._lock:
            return max((self.policy.left(self._recent(key, now), now) for key in keys), default=0.0)

    def failed(self, keys: tuple[Hashable, ...]) -> None:
        """Count one failed attempt against each of `keys` (with storage: one conditional
        write a key, plus a retry or two after a lost race)."""
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._forget_idle(now)
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque(maxlen=KEPT_FAILURES)).append(now)
        shared = self._usable(now)
        if shared is None:
            return
        try:
            for key in keys:
                stored = shared.add(key, now)
                if stored is not None:
                    self._mirror(key, stored, now)
        except StorageError as error:
            self._pause(now, error)
            return
        self._sweep_if_due(shared, now)

    def succeeded(self, keys: tuple[Hashable, ...]) -> None:
        """Forget the failures of `keys`: the owner got in (on every replica, with storage)."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
        shared = self._usable(now)
        if shared is None:
            return
        try:
            for key in keys:
                shared.clear(key, now)
        except StorageError as error:
            self._pause(now, error)

    def __len__(self) -> int:
        """How many keys have recent failures on record (in this process)."""
        with self._lock:
            return len(self._failures)

    def sweep(self) -> int:
        """Remove the shared records that have expired; return how many (0 without storage).

        `failed` starts one in the background at most once a window; raises StorageError.
        """
        return 0 if self._shared is None else self._shared.sweep(self._clock())

    @property
    def sweeping(self) -> bool:
        """Whether a background sweep is running now."""
        sweeper = self._sweeper
        return sweeper is not None and sweeper.is_alive()

    def _usable(self, now: float) -> SharedFailures | None:
        """The shared records, unless there are none or storage failed a moment ago."""
        with self._lock:
            return self._shared if now >= self._paused_until else None

    def _pause(self, now: float, error: StorageError) -> None:
        """Count in this process alone for OUTAGE_PAUSE: storage cannot answer (log it once)."""
        with self._lock:
            if now < self._paused_until:
                return
            self._paused_until = now + OUTAGE_PAUSE
        log.warning(
            "sign-in throttle counts in this process only for %.0f s: %s", OUTAGE_PAUSE, error
        )

    def _mirror(self, key: Hashable, failures: tuple[float, ...], now: float) -> None:
        """Make this process's counts of `key` what storage holds (the fallback in an outage)."""
        with self._lock:
            if not failures:
                self._failures.pop(key, None)
                return
            if key not in self._failures and len(self._failures) >= self._max_keys:
                self._forget_idle(now)
            self._failures[key] = deque(failures, maxlen=KEPT_FAILURES)

    def _sweep_if_due(self, shared: SharedFailures, now: float) -> None:
        """Start a background sweep if none ran in this process within the window."""
        with self._lock:
            if now < self._next_sweep or self.sweeping:
                return
            self._next_sweep = now + self.policy.window
            self._sweeper = threading.Thread(
                target=self._sweep_quietly, args=(shared,), name="throttle-sweep", daemon=True
            )
            self._sweeper.start()

    def _sweep_quietly(self, shared: SharedFailures) -> None:
        """The background sweep: storage failing only postpones it to the next window."""
        try:
            removed = shared.sweep(self._clock())
        except StorageError as error:
            log.warning("expired sign-in throttle records not removed: %s", error)
            return
        if removed:
            log.info("removed %d expired sign-in throttle records", removed)

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
