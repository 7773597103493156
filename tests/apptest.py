"""AppTest helpers: what a user does on a page run in-process, and the text they would see."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {field.label: field for field in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def shown(markdown: str) -> str:
    """Return the text Streamlit shows for `markdown` whose names were escaped
    (lib/ui/markdown.py): the backslashes gone, the characters as they are."""
    return _ESCAPED.sub(r"\1", markdown)
