"""The page every visitor gets first: sign in, then the navigation."""

import streamlit as st

from lib.auth import require_login
from lib.services import current

st.set_page_config(page_title="Home movies", page_icon="🎞️", layout="wide")
services = current()
user = require_login(
    services.accounts, services.cookie_key, services.settings.cookie_expiry_days, services.sign_outs
)
st.session_state["user"] = user
pages = [st.Page("library.py", title="Library", icon=":material/video_library:", default=True)]
if user.is_admin:  # viewers never get the page: typing its URL finds no such page
    pages.append(st.Page("stats.py", title="Library stats", icon=":material/monitoring:"))
st.navigation(pages).run()
