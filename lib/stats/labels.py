"""The words and prices the stats page uses for kinds of title and storage tiers."""

from __future__ import annotations

from collections.abc import Mapping

from lib.library import Kind

NOT_IN_A_TAB = "(not in a tab)"
DEFAULT_PRICES: Mapping[str, float] = {  # OCI list prices, USD per GB-month
    "Standard": 0.0255,
    "InfrequentAccess": 0.01,
    "Archive": 0.0026,
}
TIER_LABELS: Mapping[str, str] = {
    "Standard": "Standard",
    "InfrequentAccess": "Infrequent Access",
    "Archive": "Archive",
}
KIND_LABELS: Mapping[Kind, str] = {
    Kind.FILE: "mp4",
    Kind.HLS: "hls",
    Kind.BROKEN: "hls",
    Kind.ADDING: "hls",
    Kind.UNPLAYABLE: "other",
}
NOT_A_VIDEO = "not a video"
