"""What the stats library (conftest's `stats_library`: the fixture library plus planted
faults) holds: its titles, its HLS durations, a title's sidecars, its sizes without app state."""

from __future__ import annotations

from tests.conftest import ODD_HLS, ODD_MP4, StatsLibrary

APP_STATE = ".homemovies/"
HLS_SECONDS = {  # what the fixture encoded (2 s segments) or wrote by hand
    "Years/2022.hls/": 6.0,
    "Years/Gap.hls/": 6.0,
    f"Events/{ODD_HLS}/": 4.0,
    "Hostile/Elsewhere.hls/": 6.0,
    "Years/Variants.hls/": 6.0,  # two 6 s variants of one title: the title lasts 6 s
}
TITLES = [  # (tab, title) of every title the stats library holds
    ("Events", "Empty"),
    ("Events", ODD_HLS.removesuffix(".hls")),
    ("Events", "Long walk"),
    ("Events", ODD_MP4.removesuffix(".mp4")),
    ("Events", "Old tape"),
    ("Events", "Wedding"),
    ("Hostile", "Binary"),
    ("Hostile", "Elsewhere"),
    ("Hostile", "Garbage"),
    ("Hostile", "Huge"),
    ("Unsorted", "Root clip"),
    ("Years", "2022"),
    ("Years", "2024"),
    ("Years", "Broken"),
    ("Years", "Gap"),
    ("Years", "Variants"),
]
WEDDING = ["Events/Wedding.mp4", "Events/Wedding.jpg", "Events/Wedding.en.vtt"]  # with sidecars


def library_sizes(stats_library: StatsLibrary) -> dict[str, int]:
    """Return the size of every object of the library, its app state left out."""
    return {n: s for n, s in stats_library.sizes.items() if not n.startswith(APP_STATE)}
