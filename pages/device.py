"""Approve a device: the page a phone opens from a TV's QR code (lib/tv_signin.py)."""

import streamlit as st

from lib.services import current
from lib.ui.sign_in import DEVICE_PARAM

services = current()
user = st.session_state["user"]
code = st.query_params.get(DEVICE_PARAM, "")
done = st.session_state.setdefault("device_decisions", {})


def leave() -> None:
    del st.query_params[DEVICE_PARAM]


st.header("Sign in a device")
if code in done:
    approved, message = done[code]
    (st.success if approved else st.warning)(message)
    st.button("Go to the library", on_click=leave)
    st.stop()
request = services.device_sign_ins.pending(code)
if request is None:
    st.error("This sign-in code has expired or was already used. Ask the TV for a new one.")
    st.button("Go to the library", on_click=leave)
    st.stop()

st.markdown("This device asks to sign in with your account:")
st.text(request.device)  # plain text: the label comes from the device's own user agent
st.markdown(f"Approve only if that screen shows the code **{request.match}**.")
approve, deny = st.columns(2)
if approve.button("Approve", type="primary", icon=":material/check:", width="stretch"):
    if services.device_sign_ins.approve(code, user.username):
        done[code] = (True, "Approved. The device signs in within a few seconds.")
    else:
        done[code] = (False, "This code was already used or has expired; nothing was approved.")
    st.rerun()
if deny.button("Deny", icon=":material/close:", width="stretch"):
    services.device_sign_ins.deny(code)
    done[code] = (True, "Denied. That device was not signed in.")
    st.rerun()
