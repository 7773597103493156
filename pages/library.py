"""The library: search and sort, continue watching, the player, then one tab per folder."""

import streamlit as st

from lib.services import current
from lib.ui.library_view import LibraryView
from lib.ui.site import base_path

LibraryView(current(), st.session_state["user"], st.session_state, base_path()).draw()
