"""Talking to OCI: which credentials sign requests, which endpoints they go to, how failures
are retried and how they are told to a user.

Imported only when an OCI bucket is served: the `oci` SDK takes seconds to import.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import oci
import urllib3
from circuitbreaker import CircuitBreakerError  # the SDK's own dependency

from lib.storage.oci_config import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_OS_ENDPOINT,
    DEFAULT_PROFILE,
    OciCredentials,
)
from lib.storage.protocol import Conflict, NotFound, StorageError, Unavailable

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
UPLOAD_RETRY_SECONDS = 300
# Instance metadata answers within a second on a real instance; a few tries, not eight.
METADATA_RETRY = oci.retry.RetryStrategyBuilder(
    max_attempts=3, total_elapsed_time_seconds=30, service_error_retry_on_any_5xx=True
).get_retry_strategy()

# What OCI answers when an if-match or if-none-match condition fails: 412 with one of these
# codes. A 409 of the same codes is taken the same way (a lost race, never retried).
PRECONDITION_CODES = frozenset({"IfMatchFailed", "IfNoneMatchFailed"})

T = TypeVar("T")
log = logging.getLogger("homemovies.oci")
# Everything that means "no usable HTTP answer": the SDK wraps requests' errors in its own
# classes (both derive from requests' RequestException); a streamed body raises urllib3's.
NETWORK_ERRORS = (
    oci.exceptions.BaseRequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


class AuthError(Unavailable):
    """The OCI credentials cannot be used; the message names the mode and the cause."""


@dataclass(frozen=True)
class OciAuth:
    """The credentials every OCI client of this process signs with."""

    mode: str  # for messages: "the API key of profile DEFAULT in ~/.oci/config", ...
    config: dict[str, Any] = field(repr=False)
    signer: Any = field(repr=False)
    region: str | None = None


def retry_strategy(max_attempts: int = 4, total_seconds: float = READ_TIMEOUT) -> Any:
    """Return the SDK retry strategy for listing and for starting a read.

    Retries timeouts, dropped connections, 429 and 5xx with jittered exponential backoff
    (full jitter, equal jitter for throttles), for at most ~30 s, so a page never hangs.
    """
    return oci.retry.RetryStrategyBuilder(
        max_attempts=max_attempts,
        total_elapsed_time_seconds=total_seconds,
        retry_max_wait_between_calls_seconds=8,
        service_error_retry_config={429: [], 409: ["IncorrectState"]},
        service_error_retry_on_any_5xx=True,
        backoff_type=oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
    ).get_retry_strategy()


def upload_retry_strategy() -> Any:
    """Return the retry strategy of one upload request (a part, a put, a create or a commit).

    As `retry_strategy`, but a try may take minutes (a part is up to 64 MiB on a slow
    uplink), so the budget is five minutes per request, not 30 s.
    """
    return retry_strategy(total_seconds=UPLOAD_RETRY_SECONDS)


def load_auth(credentials: OciCredentials) -> OciAuth:
    """Return the credentials `credentials` select, ready to sign; raise AuthError if unusable."""
    if credentials.instance_principal:
        mode = "instance principal authentication"
        signer = _build_signer(
            mode,
            lambda: oci.auth.signers.InstancePrincipalsSecurityTokenSigner(
                retry_strategy=METADATA_RETRY
            ),
        )
        return OciAuth(mode, {}, signer, getattr(signer, "region", None))
    if credentials.resource_principal:
        mode = "resource principal authentication"
        signer = _build_signer(mode, oci.auth.signers.get_resource_principals_signer)
        return OciAuth(mode, {}, signer, getattr(signer, "region", None))
    path = credentials.config_file or DEFAULT_CONFIG_FILE
    profile = credentials.profile or DEFAULT_PROFILE
    mode = f"the API key of profile {profile} in {path}"
    try:
        config = oci.config.from_file(file_location=path, profile_name=profile)
        oci.config.validate_config(config)
        signer = oci.signer.Signer.from_config(config)
    except oci.exceptions.ConfigFileNotFound:
        raise AuthError(
            f"Cannot use {mode}: the file does not exist (pass --oci_config FILE, or "
            "--instance_principal or --resource_principal)."
        ) from None
    except oci.exceptions.ProfileNotFound:
        raise AuthError(f"Cannot use {mode}: the file has no such profile.") from None
    except oci.exceptions.InvalidConfig as error:
        problems = ", ".join(f"{key} is {what}" for key, what in sorted(error.args[0].items()))
        raise AuthError(f"Cannot use {mode}: {problems}.") from None
    except (OSError, oci.exceptions.InvalidPrivateKey, ValueError) as error:
        raise AuthError(f"Cannot use {mode}: {_first_line(error)}.") from None
    return OciAuth(mode, config, signer, config.get("region"))


def _build_signer(mode: str, build: Callable[[], Any]) -> Any:
    """Build a principal signer; any failure becomes one sentence naming the mode."""
    try:
        return build()
    except Exception as error:  # the SDK raises many unrelated types here
        raise AuthError(f"Cannot use {mode}: {_first_line(error)}.") from None


def _first_line(error: BaseException) -> str:
    """The first line of an error, short, without a trailing period (for one sentence)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200].rstrip(". ")


def client_options(
    auth: OciAuth,
    endpoint: str | None,
    fallback: str | None,
    *,
    retries: bool = True,
    timeout: float = READ_TIMEOUT,
) -> dict[str, Any]:
    """Return the keyword arguments of an SDK client for `auth`.

    `endpoint` (a flag) wins; otherwise the SDK derives it from the region, and `fallback`
    (the Ashburn endpoint) is used when no region is known at all. With `retries` False the
    client never retries by itself (see `object_storage_client`). `timeout` (--oci_timeout) is
    how long a request waits for an answer, and how long its retries go on.
    """
    options: dict[str, Any] = {
        "config": auth.config,
        "signer": auth.signer,
        "timeout": (CONNECT_TIMEOUT, timeout),
        "retry_strategy": (
            retry_strategy(total_seconds=timeout) if retries else oci.retry.NoneRetryStrategy()
        ),
        # One breaker per client: the SDK's default one is shared by every client in the
        # process, so a failing test (or bucket) would trip it for all the others. It opens
        # after 40 failures in a row (ten failed calls with all their retries), not the SDK's
        # 10: one folder that keeps failing must not stop the others (lib/library.py also
        # remembers a folder's failure for a few seconds instead of re-listing it each run).
        "circuit_breaker_strategy": oci.circuit_breaker.CircuitBreakerStrategy(
            name=f"homemovies-{uuid.uuid4()}", failure_threshold=40
        ),
    }
    if endpoint:
        options["service_endpoint"] = endpoint.rstrip("/")
    elif auth.region is None and fallback:
        options["service_endpoint"] = fallback
    return options


def object_storage_client(
    auth: OciAuth,
    endpoint: str | None = None,
    *,
    retries: bool = True,
    timeout: float = READ_TIMEOUT,
) -> Any:
    """Return an Object Storage client at `endpoint` (--os_endpoint), the region's, or
    Ashburn's.

    Uploads need `retries=False`: a client-level retry rewinds a file body with seek(), after
    which the SDK's own part reader sends an empty body, so the uploader retries each request
    itself and reopens the file for every try.
    """
    return oci.object_storage.ObjectStorageClient(
        **client_options(auth, endpoint, DEFAULT_OS_ENDPOINT, retries=retries, timeout=timeout)
    )


def translate(error: BaseException, what: str, endpoint: str) -> StorageError:
    """Given an SDK or network error while reaching `what`, return the error to show.

    404s become NotFound; failed if-match/if-none-match conditions Conflict; refusals,
    throttling, outages and network failures Unavailable. Messages never carry credentials,
    headers or request bodies.
    """
    if isinstance(error, oci.exceptions.ServiceError):
        if error.status in (409, 412) and error.code in PRECONDITION_CODES:
            return Conflict(f"{what} changed since it was read; read it again.")
        if error.status == 404 and error.code == "BucketNotFound":
            return Unavailable(
                f"Bucket not found, or these OCI credentials may not read it (reading {what}); "
                "check --bucket and the IAM policy (see README, OCI)."
            )
        if error.status == 404:
            return NotFound(what)
        if error.status in (401, 403):
            return Unavailable(
                f"OCI refused the credentials for {what} ({error.status} {error.code}); "
                "check the API key or the IAM policy (see README, OCI)."
            )
        if error.status == 429:
            return Unavailable("OCI is throttling this app's requests; try again in a minute.")
        return Unavailable(
            f"OCI answered {error.status} {error.code} for {what}; try again shortly."
        )
    if isinstance(error, NETWORK_ERRORS):
        return Unavailable(
            f"The OCI endpoint {endpoint} cannot be reached for {what}; try again shortly."
        )
    if isinstance(error, CircuitBreakerError):
        return Unavailable(
            "OCI failed repeatedly, so this app pauses its requests for 30 s; try again then."
        )
    raise error


def call(what: str, endpoint: str, function: Callable[[], T]) -> T:
    """Run one SDK call (retried by the client's strategy) and translate what escapes it.

    A failure (anything but a plain 404 or a lost conditional write) is logged with its cause
    and OCI's request id, which OCI support asks for; the sentence raised is what a user reads.
    """
    try:
        return function()
    except StorageError:
        raise
    except Exception as error:
        translated = translate(error, what, endpoint)
        if not isinstance(translated, (NotFound, Conflict)):
            log.warning(
                "OCI call for %s failed (opc-request-id %s): %s",
                what,
                getattr(error, "request_id", None) or "none",
                translated,
                exc_info=error,
            )
        raise translated from error
