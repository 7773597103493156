"""Drawing share links for admins: the "Share" form under the player, and each link's URL."""

from __future__ import annotations

import streamlit as st

from lib.accounts import User
from lib.library import Video
from lib.links import share_path
from lib.shares import Share, ShareError, Shares
from lib.storage import StorageError
from lib.ui.markdown import escape
from lib.ui.site import absolute_url

EXPIRY_CHOICES = {
    "1 hour": 1,
    "6 hours": 6,
    "1 day": 24,
    "3 days": 72,
    "7 days": 168,
}
DEFAULT_EXPIRY = "1 day"


def share_url(shares: Shares, share: Share) -> str:
    """Return the absolute URL of `share`'s link, as the admin's browser reaches the app."""
    return absolute_url(share_path(shares.token(share)))


def share_form(shares: Shares, video: Video, user: User) -> None:
    """Draw the admin's form making a link to `video`; show the link once made."""
    if not user.is_admin:
        return
    with st.popover("Share", icon=":material/share:"):
        st.markdown(f"A link to **{escape(video.title)}** only, for someone without an account.")
        with st.form(key=f"share:{video.name}", border=False):
            expiry = st.select_slider("Link works for", list(EXPIRY_CHOICES), DEFAULT_EXPIRY)
            note = st.text_input("Note (optional)", max_chars=200, placeholder="For Grandma")
            made = st.form_submit_button("Create link", icon=":material/add_link:")
        if made:
            try:
                share = shares.create(
                    video.name, video.title, EXPIRY_CHOICES[expiry], user.username, note
                )
            except (ShareError, StorageError) as error:
                st.error(f"Could not create the link: {escape(str(error))}")
                return
            st.success("Link created. Copy it and send it:")
            st.code(share_url(shares, share), language=None, wrap_lines=True)
