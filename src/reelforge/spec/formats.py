"""The delivery formats reelforge encodes: a codec, its container, the bit depths and chroma it allows.

A module of its own with no imports from the rest of reelforge, because the encoder (media/encode.py)
reads it: what it imports is in the encode code's hash, and rewording a spec message must not
re-encode every segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DeliveryFormat:
    """A codec as reelforge delivers it: the encoder, the container it goes in, the depths and chroma it allows."""

    codec: str  # the FFmpeg encoder (PyAV's and the pinned ffmpeg's)
    container: Literal["mp4", "mov"]
    bit_depths: tuple[int, ...]
    chromas: tuple[str, ...]
    master: bool  # a mezzanine an editor grades from (OpenTimelineIO links to it when one was delivered)
    label: str

    @property
    def default_bit_depth(self) -> int:
        return self.bit_depths[0]

    @property
    def default_chroma(self) -> str:
        return self.chromas[0]


FORMATS: dict[str, DeliveryFormat] = {
    "h264": DeliveryFormat("libx264", "mp4", (8, 10), ("4:2:0", "4:2:2", "4:4:4"), False, "H.264"),
    "hevc": DeliveryFormat("libx265", "mp4", (8, 10), ("4:2:0", "4:2:2", "4:4:4"), False, "HEVC (H.265)"),
    "prores-422-hq": DeliveryFormat("prores_ks", "mov", (10,), ("4:2:2",), True, "Apple ProRes 422 HQ"),
    "prores-4444": DeliveryFormat("prores_ks", "mov", (10,), ("4:4:4",), True, "Apple ProRes 4444"),
    "dnxhr-hqx": DeliveryFormat("dnxhd", "mov", (10,), ("4:2:2",), True, "Avid DNxHR HQX"),
}
