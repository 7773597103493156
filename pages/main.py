"""The page every visitor gets first: sign in, then the navigation."""

import streamlit as st

from lib.services import current
from lib.ui.sign_in import DEVICE_PARAM, require_login

st.set_page_config(page_title="Home movies", page_icon="🎞️", layout="wide")
services = current()
user = require_login(services)
st.session_state["user"] = user
if DEVICE_PARAM in st.query_params:  # a phone approving a TV's sign-in (lib/tv_signin.py)
    st.navigation([st.Page("device.py", title="Sign in a device")], position="hidden").run()
    st.stop()
pages = [st.Page("library.py", title="Library", icon=":material/video_library:", default=True)]
if user.is_admin:  # viewers never get these pages: typing their URL finds no such page
    pages.append(st.Page("add.py", title="Add videos", icon=":material/upload:"))
    pages.append(st.Page("stats.py", title="Library stats", icon=":material/monitoring:"))
    pages.append(st.Page("shares.py", title="Share links", icon=":material/share:"))
st.navigation(pages).run()
