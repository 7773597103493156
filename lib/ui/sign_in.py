"""The login gate; nothing of the library runs before it.

Three ways in: the username/password form (throttled, see lib/throttle.py), "Sign in with
your phone" (a QR code approved by a signed-in user, see lib/tv_signin.py), and "Sign in with
<provider>" (OpenID Connect through Streamlit's `st.login`, for an invited e-mail address, see
lib/oidc.py). All three end the same way: the run mints a one-time ticket and sends the
browser to `/session/<ticket>` (lib/web/session.py), whose answer sets the HttpOnly session
cookie (lib/session_cookie.py). Until the browser is back, this tab's session carries the
sign-in in session_state, so the page goes on working in tests and on a slow link.

Every run checks the session again: the user must still exist, must not have signed out
since (lib/sessions.py), and an OpenID sign-in's address must still be invited.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lib.accounts import Accounts, User
from lib.links import session_path
from lib.oidc import DEFAULT, OidcSettingsError, Provider, invited, providers, verified_email
from lib.services import Services
from lib.session_cookie import SESSION_COOKIE, Session, Ticket, TicketKind, Via
from lib.storage import StorageError
from lib.throttle import SignInResult, SignInThrottle, check_sign_in
from lib.tv_signin import DeviceSignIns, device_label, qr_png
from lib.ui.markdown import escape
from lib.ui.site import absolute_url, base_path

FORM_TITLE = "Sign in"
USERNAME_KEY = "sign_in_username"
PASSWORD_KEY = "sign_in_password"  # noqa: S105 - a session_state key
SIGN_IN_ATTEMPT = "sign_in_attempt"  # the password check of the last press of "Sign in"
MAX_USERNAME = 64
MAX_PASSWORD = 256
DEVICE_PARAM = "device"  # query parameter carrying a device's code to the approving phone
# Set by the waiting TV once a phone approved it.
APPROVED_USER = "device_sign_in_user"
DEVICE_REQUEST = "device_sign_in_request"  # (code, claim secret, matching code)
POLL_SECONDS = 2
SESSION_KEY = "signed_in"  # the Session this tab signed in with, or read from the cookie
EXPIRED_PARAM = "signin"  # ?signin=expired: the hand-over's ticket was gone (lib/web/session.py)

log = logging.getLogger("homemovies.sign_in")


def configured_providers() -> list[Provider]:
    """Return the OpenID providers of secrets.toml's `[auth]` (raises OidcSettingsError)."""
    if not st.secrets.load_if_toml_exists():
        return []
    auth = st.secrets.get("auth")
    return providers(auth.to_dict() if auth is not None else None)


def _providers() -> list[Provider]:
    try:
        return configured_providers()
    except OidcSettingsError:
        return []  # said at start (streamlit_app.py); the password form still works


def _go_to(path: str) -> None:
    """Send the browser to `path` as st.login does (one page load, no click)."""
    msg = ForwardMsg()
    msg.auth_redirect.url = path
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.enqueue(msg)


def _back_query() -> str:
    """The query string the browser comes back to after the hand-over (the device code)."""
    code = st.query_params.get(DEVICE_PARAM)
    return f"?{urlencode({DEVICE_PARAM: code})}" if code else ""


def _hand_over(services: Services, ticket: Ticket) -> bool:
    """Mint `ticket` and send the browser to take it; False when it could not be stored."""
    try:
        secret = services.tickets.mint(ticket)
    except StorageError as error:
        log.warning("a sign-in ticket could not be stored: %s", error)
        return False
    _go_to(session_path(secret, base_path()))
    return True


def _sign_in(services: Services, user: User, via: Via, email: str | None = None) -> None:
    """Sign `user` in: this tab at once, and the browser through the cookie's hand-over."""
    session = Session(user.username, via, round(services.clock(), 3), email)  # ms, as kept
    st.session_state[SESSION_KEY] = session
    if _hand_over(services, Ticket(TicketKind.SIGN_IN, session, _back_query())):
        st.caption("Signing in…")
        st.stop()
    st.warning("Signed in on this page only: the sign-in could not be kept. Reload to try again.")


def _still_valid(services: Services, session: Session) -> User | None:
    """Return the session's user while it may still be signed in, else None."""
    user = services.accounts.get(session.username)
    if user is None or services.sign_outs.revokes(session.username, session.issued_at):
        return None
    if session.via is Via.OIDC and services.accounts.by_email(session.email) is not user:
        return None  # the address was taken off the users file
    return user


def _current_user(services: Services) -> User | None:
    """Return who this tab is signed in as (its own sign-in, else the cookie's), or None."""
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        raw = st.context.cookies.get(SESSION_COOKIE)
        session = services.session_cookies.read(raw) if raw else None
    user = _still_valid(services, session) if session is not None else None
    if user is None:
        st.session_state.pop(SESSION_KEY, None)
    else:
        st.session_state[SESSION_KEY] = session
    return user


class SignInAttempt:
    """One press of "Sign in", checked in the form's callback; any run may take its outcome.

    The check (bcrypt) takes a moment. A rerun asked for meanwhile (the cookie component
    reporting in just after the page loads) makes Streamlit stop the callback's run at its
    next touch of session_state and start another run at once, alongside. So the attempt is
    put in session_state before the check and its outcome kept on the object, which the
    other run waits for: the press is not lost, and the password is checked once.
    """

    def __init__(self) -> None:
        self.outcome: SignInResult | None = None
        self._done = threading.Event()

    def finish(self, outcome: SignInResult | None) -> None:
        self.outcome = outcome
        self._done.set()

    def wait(self, timeout: float = 30.0) -> SignInResult | None:
        """Return the outcome once the check is done (None if it failed or took too long)."""
        self._done.wait(timeout)
        return self.outcome


def _submit(accounts: Accounts, throttle: SignInThrottle) -> None:
    """The form's callback: check the attempt (throttled), then forget the typed password."""
    username = st.session_state.get(USERNAME_KEY) or ""
    password = st.session_state.get(PASSWORD_KEY) or ""
    address = st.context.ip_address
    address = address if isinstance(address, str) else None  # a str or None when served
    attempt = SignInAttempt()
    st.session_state[SIGN_IN_ATTEMPT] = attempt
    outcome = None
    try:
        outcome = check_sign_in(accounts, throttle, username, password, address)
    finally:
        attempt.finish(outcome)
    st.session_state[PASSWORD_KEY] = ""


def _take_attempt(accounts: Accounts) -> tuple[User | None, str | None]:
    """Return the user the last press of "Sign in" signed in, or the message to show."""
    attempt = st.session_state.pop(SIGN_IN_ATTEMPT, None)
    if attempt is None:
        return None, None
    st.session_state[PASSWORD_KEY] = ""  # a run stopped mid-callback left it there
    outcome = attempt.wait()
    if outcome is None:
        return None, "Signing in did not finish. Try again."
    if outcome.user is None:
        return None, outcome.message
    return accounts.get(outcome.user.username), None


def _password_form(accounts: Accounts, throttle: SignInThrottle, message: str | None) -> None:
    """Draw the username/password form; the check runs in its callback, before the next run.

    Drawn here rather than by streamlit-authenticator's login(): its attempt counter locks
    an account for good and would let anyone lock the owner out (see lib/throttle.py).
    """
    with st.form("sign_in"):
        st.subheader(FORM_TITLE)
        st.text_input("Username", key=USERNAME_KEY, max_chars=MAX_USERNAME, autocomplete="username")
        st.text_input(
            "Password",
            key=PASSWORD_KEY,
            type="password",
            max_chars=MAX_PASSWORD,
            autocomplete="current-password",
        )
        st.form_submit_button(FORM_TITLE, on_click=_submit, args=(accounts, throttle))
    if message:
        st.error(message)


def require_login(services: Services) -> User:
    """Return the signed-in user; otherwise draw the sign-in options and stop the script."""
    user = _current_user(services)
    if user is None:
        # Everything the gate draws goes into one placeholder, so the page below keeps its
        # place between the sign-in run and the next.
        with st.empty().container():
            _gate(services)
        st.stop()
    assert user is not None
    with st.sidebar:
        st.caption(f"Signed in as **{escape(user.name)}**")
        if st.button("Sign out", key="sign_out"):
            _sign_out(services, user)
    return user


def _gate(services: Services) -> None:
    """Sign in whoever just proved who they are; else draw the ways in."""
    accounts = services.accounts
    approved, message = _take_attempt(accounts)
    if approved is not None:
        _sign_in(services, approved, Via.PASSWORD)
        return
    approved = accounts.get(st.session_state.pop(APPROVED_USER, None))
    if approved is not None:
        _sign_in(services, approved, Via.TV)
        return
    found = _providers()
    if found and st.user.get("is_logged_in") is True:  # back from a provider, until the hand-over
        _provider_answer(services, found)
        return
    if st.query_params.get(EXPIRED_PARAM) == "expired" and message is None:
        message = "Signing in did not complete. Try again."
    _password_form(accounts, services.throttle, message)
    _provider_buttons(found)
    _phone_sign_in(services.device_sign_ins)


def _provider_answer(services: Services, found: list[Provider]) -> None:
    """Let in the invited user a provider's answer names, or say why not."""
    claims: Mapping[str, Any] = st.user.to_dict()
    provider = next((p for p in found if p.name == claims.get("provider")), None)
    user = invited(services.accounts, claims, provider)
    if user is not None:
        _sign_in(services, user, Via.OIDC, verified_email(claims, provider))
        return
    email = claims.get("email")
    # As code, so markdown makes no mailto link of it; lower case, as the users file has it.
    shown = f"`{str(email).strip().lower().replace('`', '')}`" if email else "no e-mail address"
    if email and verified_email(claims, provider) is None:
        st.error(
            f"The provider has not verified {shown}, so it cannot be let in. "
            "Verify it there, or use another account."
        )
    else:
        st.error(f"This account is not invited: {shown}. Ask whoever runs this library.")
    if st.button("Use another account", key="other_account"):
        # The sign-out ticket's answer removes Streamlit's cookie from the provider.
        _hand_over(services, Ticket(TicketKind.SIGN_OUT, query=_back_query()))
        st.stop()


def _provider_buttons(found: list[Provider]) -> None:
    """Offer "Sign in with <provider>" for each configured OpenID provider."""
    for provider in found:
        if st.button(
            f"Sign in with {provider.label}",
            key=f"oidc-{provider.name}",
            icon=":material/account_circle:",
        ):
            if provider.name == DEFAULT:
                st.login()
            else:
                st.login(provider.name)


def _sign_out(services: Services, user: User) -> None:
    """Sign `user` out everywhere: refuse every cookie issued before now, clear this one."""
    services.sign_outs.record(user.username)
    st.session_state.pop(SESSION_KEY, None)
    _hand_over(services, Ticket(TicketKind.SIGN_OUT))
    st.info("You have signed out.")
    st.stop()


def approval_url(code: str) -> str:
    """Return the absolute URL a phone opens to approve request `code`.

    A query parameter on the app's root (not a page path): it survives the sign-in form,
    which a page path does not, so a phone that is not signed in yet still gets there.
    """
    return f"{absolute_url('/')}?{urlencode({DEVICE_PARAM: code})}"


def _phone_sign_in(device_sign_ins: DeviceSignIns) -> None:
    """Offer "Sign in with your phone"; once asked, show the QR code and wait for approval."""
    st.divider()
    request = st.session_state.get(DEVICE_REQUEST)
    if request is None:
        st.caption("On a TV? Sign in with a phone where you are already signed in.")
        if st.button("Sign in with your phone", icon=":material/qr_code_2:"):
            user_agent = st.context.headers.get("User-Agent")
            started, claim = device_sign_ins.start(device_label(user_agent))
            st.session_state[DEVICE_REQUEST] = (started.code, claim, started.match)
            st.rerun()
        return
    code, claim, match = request
    url = approval_url(code)
    st.subheader("Sign in with your phone")
    st.image(qr_png(url), width=280)
    st.markdown(
        f"Scan this code with a phone where you are signed in, or open [this link]({url}) "
        f"there. The phone will show the code **{match}**."
    )
    _wait_for_approval(device_sign_ins, code, claim)
    if st.button("Cancel", key="cancel_device_sign_in"):
        device_sign_ins.deny(code)
        del st.session_state[DEVICE_REQUEST]
        st.rerun()


@st.fragment(run_every=POLL_SECONDS)
def _wait_for_approval(device_sign_ins: DeviceSignIns, code: str, claim: str) -> None:
    """Poll the store every few seconds; on approval sign this session in (full rerun)."""
    username = device_sign_ins.claim(code, claim)
    if username is not None:
        st.session_state[APPROVED_USER] = username
        st.session_state.pop(DEVICE_REQUEST, None)
        st.rerun(scope="app")
    if not device_sign_ins.waiting(code):
        st.session_state.pop(DEVICE_REQUEST, None)
        st.warning("That code has expired. Ask for a new one.")
        if st.button("New code", key="new_device_code"):
            st.rerun(scope="app")
        return
    st.caption("Waiting for approval…")
