"""A big library in a bucket of the loopback OCI server, for listing tests and bench.library_oci.

Tabs are folders `Tab 00/`, `Tab 01/`, ... of titles `Clip TT-NNNN`: mostly .mp4 files (every
tenth with a poster beside it) and some `.hls` folders of a playlist, a poster and many
segments. Media objects hold no bytes (the server makes zeros up on reading): a listing
benchmark needs names and sizes, not video. Posters are a real JPEG, drawn in the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.oci_server import OciApiServer

SEGMENT_BYTES = 1_000_000


@dataclass(frozen=True)
class Layout:
    """How many titles, tabs, HLS titles per tab and segments per HLS title."""

    titles: int
    tabs: int
    hls_per_tab: int
    segments: int

    @property
    def per_tab(self) -> int:
        return self.titles // self.tabs

    def tab_label(self, tab: int) -> str:
        return f"Tab {tab:02d}"

    def title(self, tab: int, index: int) -> str:
        return f"Clip {tab:02d}-{index:04d}"

    def is_hls(self, index: int) -> bool:
        """Whether title `index` of a tab is an HLS folder (spread evenly through the tab)."""
        if self.hls_per_tab == 0:
            return False
        step = max(1, self.per_tab // self.hls_per_tab)
        return index % step == step // 2 and index // step < self.hls_per_tab

    def object_name(self, tab: int, index: int) -> str:
        """The object (file) or prefix (HLS folder) a play button names."""
        base = f"{self.tab_label(tab)}/{self.title(tab, index)}"
        return f"{base}.hls/" if self.is_hls(index) else f"{base}.mp4"


def fill(server: OciApiServer, bucket: str, layout: Layout, poster: bytes) -> None:
    """Put `layout`'s objects into `bucket`: generated media, real `poster` bytes."""
    sizes: list[tuple[str, int]] = []
    for tab in range(layout.tabs):
        for index in range(layout.per_tab):
            name = layout.object_name(tab, index)
            if layout.is_hls(index):
                sizes.append((name + "output.m3u8", 200 + 40 * layout.segments))
                sizes += [
                    (f"{name}segment{number:05d}.ts", SEGMENT_BYTES)
                    for number in range(layout.segments)
                ]
                server.put_bytes(bucket, name + "poster.jpg", poster)
            else:
                sizes.append((name, 1_000_000 * (1 + index % 997)))
                if index % 10 == 0:
                    server.put_bytes(bucket, name.removesuffix(".mp4") + ".jpg", poster)
    server.put_generated(bucket, sizes)
