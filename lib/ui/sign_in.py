"""The login gate; nothing of the library runs before it.

Two ways in: the username/password form (throttled, see lib/throttle.py), or "Sign in with
your phone" (a QR code approved by a signed-in user, see lib/tv_signin.py). Both end in
streamlit-authenticator's session_state keys and login cookie, so reloads, sign-out and
revocation treat them alike.

Import this module from page scripts only: streamlit-authenticator registers its cookie
component on import, which needs the running Streamlit runtime.
"""

from __future__ import annotations

import threading
from datetime import datetime
from urllib.parse import urlencode

import streamlit as st
import streamlit_authenticator as stauth

from lib.accounts import Accounts, User
from lib.sessions import COOKIE_NAME, SignOuts, cookie_is_revoked
from lib.throttle import SignInResult, SignInThrottle, check_sign_in
from lib.tv_signin import DeviceSignIns, device_label, qr_png
from lib.ui.markdown import escape
from lib.ui.site import absolute_url

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
# The login cookie's value and expiry, kept until the browser has written it: the component
# writing it (streamlit-authenticator's cookie manager, key "set", which reports True once it
# has) must be drawn again on every run until then.
PENDING_COOKIE = "sign_in_cookie_pending"
COOKIE_WRITER = "set"


def _authenticator(accounts: Accounts, cookie_key: str, expiry_days: float) -> stauth.Authenticate:
    # The cookie is read from the websocket handshake (st.context.cookies), so the
    # library's default pause waiting for a cookie component is not needed.
    return stauth.Authenticate(
        accounts.credentials(),
        COOKIE_NAME,
        cookie_key,
        expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )


def _sign_in_as(authenticator: stauth.Authenticate, user: User) -> None:
    """Sign `user` in as streamlit-authenticator does: the same session_state keys and cookie."""
    st.session_state["email"] = None
    st.session_state["name"] = user.name
    st.session_state["roles"] = [user.role.value]
    st.session_state["authentication_status"] = True
    st.session_state["username"] = user.username
    controller = authenticator.cookie_controller
    controller.set_cookie()
    model = controller.cookie_model
    token = model.cookie_manager.cookies.get(COOKIE_NAME)
    if token:
        st.session_state[PENDING_COOKIE] = (token, datetime.fromtimestamp(model.exp_date))


def _keep_writing_cookie(authenticator: stauth.Authenticate) -> None:
    """Draw the cookie writer again while the browser has not confirmed the login cookie.

    A run drawn just after the sign-in (the cookie manager reporting the browser's cookies,
    say) would otherwise drop the writer before its frame had run: the person is signed in
    until the next reload, which then shows the sign-in form again.
    """
    pending = st.session_state.get(PENDING_COOKIE)
    if pending is None:
        return
    if st.session_state.get(COOKIE_WRITER) is True or not st.session_state.get(
        "authentication_status"
    ):
        del st.session_state[PENDING_COOKIE]  # written, or signed out meanwhile
        return
    token, expires = pending
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME, token, key=COOKIE_WRITER, expires_at=expires
    )


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


def require_login(
    accounts: Accounts,
    cookie_key: str,
    expiry_days: float,
    sign_outs: SignOuts,
    device_sign_ins: DeviceSignIns,
    throttle: SignInThrottle,
) -> User:
    """Return the signed-in user; otherwise draw the sign-in options and stop the script."""
    raw_cookie = st.context.cookies.get(COOKIE_NAME)
    signed_in = st.session_state.get("authentication_status")
    if (
        raw_cookie
        and not signed_in
        and cookie_is_revoked(raw_cookie, cookie_key, expiry_days, sign_outs)
    ):
        st.session_state["logout"] = True  # streamlit-authenticator then ignores the cookie
    authenticator = _authenticator(accounts, cookie_key, expiry_days)
    # Everything the gate may draw (the form, the cookie writer) goes into one placeholder, so
    # the page below keeps its place between the sign-in run and the next: otherwise every
    # element is drawn anew and what the user has typed meanwhile is lost.
    with st.empty().container():
        approved, message = _take_attempt(accounts)
        approved = approved or accounts.get(st.session_state.pop(APPROVED_USER, None))
        if approved is not None and not signed_in:
            _sign_in_as(authenticator, approved)
        else:
            _keep_writing_cookie(authenticator)
        try:
            # "unrendered": only the cookie is read here; the password form is ours.
            authenticator.login(location="unrendered")
        except stauth.LoginError:
            st.session_state["authentication_status"] = None  # a cookie for a removed user
        status = st.session_state.get("authentication_status")
        user = accounts.get(st.session_state.get("username")) if status else None
        if user is None:
            _password_form(accounts, throttle, message)
            _phone_sign_in(device_sign_ins)
            st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{escape(user.name)}**")
        authenticator.logout(
            "Sign out",
            location="sidebar",
            key="sign_out",
            callback=lambda event: sign_outs.record(event["username"]),
        )
    if not st.session_state.get("authentication_status"):
        # Let the cookie deletion reach the browser before the sign-in form comes back.
        st.info("You have signed out.")
        st.stop()
    return user


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
