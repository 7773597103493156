"""The one escape for text shown through Streamlit markdown (headings, captions, messages).

File, folder and user names come from the bucket or the users file: `*stars*` would turn
italic, two dollar amounts into math and `[a](b)` into a live link. Every such name passes
through `escape` before it meets markdown; grids and the share page are HTML, escaped there.
"""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be escaped with a backslash; escaping all of it
# leaves nothing for markdown, math ($), directives (:red[...]) or links to act upon.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def escape(text: str) -> str:
    """Return `text` so that Streamlit markdown shows it exactly as it is, on one line."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))
