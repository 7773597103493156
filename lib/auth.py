"""The login gate, drawn with streamlit-authenticator; nothing of the library runs before it.

Import this module from page scripts only: streamlit-authenticator registers its cookie
component on import, which needs the running Streamlit runtime.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from lib.accounts import Accounts, User
from lib.sessions import SignOuts, cookie_is_revoked

COOKIE_NAME = "homemovies_auth"
LOGIN_FIELDS = {
    "Form name": "Sign in",
    "Username": "Username",
    "Password": "Password",
    "Login": "Sign in",
}
WRONG_LOGIN = "Incorrect username or password."


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


def require_login(
    accounts: Accounts, cookie_key: str, expiry_days: float, sign_outs: SignOuts
) -> User:
    """Return the signed-in user; otherwise draw the sign-in form and stop the script."""
    raw_cookie = st.context.cookies.get(COOKIE_NAME)
    signed_in = st.session_state.get("authentication_status")
    if (
        raw_cookie
        and not signed_in
        and cookie_is_revoked(raw_cookie, cookie_key, expiry_days, sign_outs)
    ):
        st.session_state["logout"] = True  # streamlit-authenticator then ignores the cookie
    authenticator = _authenticator(accounts, cookie_key, expiry_days)
    try:
        authenticator.login(location="main", fields=LOGIN_FIELDS)
    except stauth.LoginError:
        st.session_state["authentication_status"] = None  # a cookie for a removed user
    status = st.session_state.get("authentication_status")
    user = accounts.get(st.session_state.get("username")) if status else None
    if user is None:
        if status is False:
            st.error(WRONG_LOGIN)
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}**")
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
