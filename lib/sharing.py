"""Drawing share links for admins: the "Share" form under the player and the list of links."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urljoin

import streamlit as st

from lib.accounts import User
from lib.library import Video
from lib.share_page import ROUTE_PREFIX
from lib.shares import Share, ShareError, Shares
from lib.storage import StorageError

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
    base = st.get_option("server.baseUrlPath").strip("/")
    path = f"/{base}{ROUTE_PREFIX}" if base else ROUTE_PREFIX
    return urljoin(st.context.url or "/", f"{path}/{shares.token(share)}")


def expiry_text(share: Share, now: float) -> str:
    """Return when `share` expires: 'in 23 hours (26 Nov 2026, 10:00 UTC)'."""
    left = share.expires - now
    if left >= 2 * 86400:
        relative = f"in {left / 86400:.0f} days"
    elif left >= 2 * 3600:
        relative = f"in {left / 3600:.0f} hours"
    else:
        relative = f"in {max(left, 0) / 60:.0f} minutes"
    absolute = datetime.fromtimestamp(share.expires, UTC).strftime("%d %b %Y, %H:%M UTC")
    return f"{relative} ({absolute})"


def share_form(shares: Shares, video: Video, user: User) -> None:
    """Draw the admin's form making a link to `video`; show the link once made."""
    if not user.is_admin:
        return
    with st.popover("Share", icon=":material/share:"):
        st.markdown(f"A link to **{video.title}** only, for someone without an account.")
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
                st.error(f"Could not create the link: {error}")
                return
            st.success("Link created. Copy it and send it:")
            st.code(share_url(shares, share), language=None, wrap_lines=True)
