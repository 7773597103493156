"""Where the app is served, as the browser sees it: its base path and absolute URLs."""

from __future__ import annotations

from urllib.parse import urljoin

import streamlit as st

from lib.links import base_path as normalised_base_path


def base_path() -> str:
    """Return Streamlit's `server.baseUrlPath` as the link builders take it: '' or '/base'."""
    return normalised_base_path(st.get_option("server.baseUrlPath"))


def absolute_url(path: str) -> str:
    """Return the absolute URL of `path` (below the base path) as this browser reaches the app."""
    return urljoin(st.context.url or "/", base_path() + path)
