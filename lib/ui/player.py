"""The player on the library page: one Streamlit component (v2) for MP4 and HLS.

The component runs lib/frontend/player.js, the same ES module the share page imports, so
both get speed, quality, subtitles and shortcuts (lib/playback.py says what it is handed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import streamlit as st

from lib.assets import PLAYER_HTML, own_asset
from lib.playback import PlayerSource


@functools.cache
def _component() -> Any:
    module, style = own_asset("mjs"), own_asset("css")
    assert module is not None and style is not None
    return st.components.v2.component(
        "homemovies_player",
        html=PLAYER_HTML,
        css=style.body.decode("utf-8"),
        js=module.body.decode("utf-8"),
    )


def player(
    source: PlayerSource,
    key: str = "player",
    offers: Mapping[str, PlayerSource] | None = None,
    on_open: Callable[[str], None] | None = None,
    on_convert: Callable[[str], None] | None = None,
) -> Any:
    """Draw the player for `source`; switching sources tears the previous one down.

    `offers` maps object names to their sources: a click on a play button of the page
    (`data-hm-play`, see lib/ui/grid.py) starts that title at once and reaches `on_open` with
    the name, in the session's script thread. A click on an admin's Convert button
    (`data-hm-convert`) reaches `on_convert` with the object's name.
    """
    data = {**asdict(source), "offers": {k: asdict(v) for k, v in (offers or {}).items()}}
    callbacks: dict[str, Callable[[], None]] = {}
    if on_open is not None:

        def opened() -> None:
            name = st.session_state[key].get("open")
            if isinstance(name, str) and name:  # client input: only a name is acted upon
                on_open(name)

        callbacks["on_open_change"] = opened
    if on_convert is not None:

        def convert() -> None:
            name = st.session_state[key].get("convert")
            if isinstance(name, str) and name:
                on_convert(name)

        callbacks["on_convert_change"] = convert
    return _component()(data=data, key=key, **callbacks)
