"""Share links (admins only): every live link with its title, note and expiry; revoke any."""

import time

import streamlit as st

from lib.format import format_expiry
from lib.services import current
from lib.storage import StorageError
from lib.ui.markdown import escape
from lib.ui.share_form import share_url

services = current()
user = st.session_state["user"]
if not user.is_admin:
    st.error("Only admins can manage share links.")
    st.stop()

st.header("Share links")
st.caption("Make a link with the Share button under the player. Revoking stops it at once.")
try:
    shares = services.shares.active()
except StorageError as error:
    st.error(f"The share links cannot be listed right now: {escape(str(error))}")
    st.stop()
if not shares:
    st.info("No share links are active.")
now = time.time()
for share in shares:
    with st.container(border=True, key=f"share-{share.id}"):
        st.markdown(f"**{escape(share.title)}**")
        if share.note:
            st.text(share.note)
        made_by = escape(share.created_by)
        st.caption(f"Expires {format_expiry(share.expires, now)} · made by {made_by}")
        st.code(share_url(services.shares, share), language=None, wrap_lines=True)
        if st.button("Revoke", key=f"revoke:{share.id}", icon=":material/link_off:"):
            try:
                services.shares.revoke(share.id)
            except StorageError as error:
                st.error(f"Could not revoke the link: {escape(str(error))}")
            else:
                st.rerun()
