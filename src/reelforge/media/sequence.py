"""Frame files for a delivered frame sequence: 16-bit PNG and half (or 32-bit float) OpenEXR.

The source is always a stored frame: 8-bit RGB, BT.709 primaries and transfer, full range (the
same code values the H.264 delivery converts to limited-range YUV). Each file is an exact,
documented function of those 256 levels, never more precision than the source had:

- PNG: 16-bit RGB, each value v·257 (0 → 0, 255 → 65535: the exact expansion, so v = V // 257
  and V % 257 == 0). Written here chunk by chunk so its bytes depend on nothing but the pixels:
  IHDR, cHRM + gAMA (Rec.709/D65, encoding gamma 1/2.4, for readers that predate cICP), cICP
  1/1/0/1 (BT.709 primaries and transfer, RGB, full range: what current readers use), one IDAT
  (every row filtered "Up", zlib level 6), IEND. No tIME, no text chunks.
- EXR: linear light with Rec.709 primaries, (v/255)^2.4: the BT.1886 EOTF (gamma 2.4, black 0,
  white 1.0) of the code values, in `half` (or `float`), RGB channels, ZIP compression, scan lines
  increasing. Header: `chromaticities` Rec.709/D65 (for every reader), `colorInteropID`
  `lin_rec709_scene` (the Color Interop Forum's ID, which OpenEXR 3.5 knows) and
  `reelforgeTransfer` saying how the values were made. OpenEXR writes no date unless given one.
  The 256 levels map to 256 distinct half values, so an EXR frame reads back to exactly its 8-bit
  source (`exr_to_8bit`).

Both readers return the 8-bit frame a file holds, or raise ValueError when its pixels are not an
exact image of 8-bit levels (an edited file), which is what `verify` compares with the store.
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_ZLIB_LEVEL = 6  # level 1 and 9 were within 1 % in size on 1080p frames; 6 is zlib's own default
PNG_CICP = bytes([1, 1, 0, 1])  # ITU-T H.273: BT.709 primaries, BT.709 transfer, identity (RGB) matrix, full range
PNG_GAMMA = 41667  # gAMA: encoding gamma 1/2.4 × 100000 (the BT.1886 display's 2.4)
REC709_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06), (0.3127, 0.3290))  # red, green, blue, white (D65)
UP_FILTER = 2

EXR_INTEROP_ID = "lin_rec709_scene"
EXR_GAMMA = 2.4
EXR_TRANSFER = ("linear light = (code / 255) ^ 2.4: the BT.1886 EOTF (black 0, white 1.0) of full-range "
                "8-bit BT.709 code values; Rec.709 primaries, D65")
EXR_COMPRESSION = "zip"


@dataclass(frozen=True)
class FrameFormat:
    """A way to write one frame: its `--frames-out` name, file suffix, and what the manifest says of it."""

    name: str
    suffix: str
    pixel_type: str  # "uint16" | "half" | "float"

    def describe(self) -> dict:
        """The format and colour space, as the manifest records them."""
        if self.suffix == ".png":
            return {"file": "PNG", "channels": "RGB", "bit_depth": 16, "pixel_type": "uint16",
                    "from_8bit": "V = v * 257 (exact expansion; v = V // 257)",
                    "colour": {"primaries": "BT.709", "white": "D65", "transfer": "BT.709 (displayed with the "
                               "BT.1886 EOTF, gamma 2.4)", "range": "full", "png_cicp": list(PNG_CICP),
                               "png_gama": PNG_GAMMA},
                    "compression": f"zlib level {PNG_ZLIB_LEVEL}, filter Up",
                    "zlib": zlib.ZLIB_RUNTIME_VERSION}  # the bytes depend on it (the pixels do not)
        return {"file": "OpenEXR", "channels": "RGB", "pixel_type": self.pixel_type,
                "from_8bit": f"linear = (v / 255) ^ {EXR_GAMMA}, rounded to {self.pixel_type}",
                "colour": {"primaries": "BT.709", "white": "D65", "transfer": EXR_TRANSFER,
                           "color_interop_id": EXR_INTEROP_ID, "chromaticities": [c for xy in REC709_XY for c in xy]},
                "compression": EXR_COMPRESSION, "openexr": OpenEXR.__version__}  # the bytes depend on it


FRAME_FORMATS = {f.name: f for f in (FrameFormat("png", ".png", "uint16"), FrameFormat("exr", ".exr", "half"),
                                     FrameFormat("exr-float", ".exr", "float"))}


def write_frame(fmt: FrameFormat, frame: np.ndarray, path: Path) -> None:
    """Write an 8-bit RGB frame (height × width × 3) as `fmt` to `path` (the caller makes it atomic)."""
    if fmt.suffix == ".png":
        Path(path).write_bytes(png_bytes(frame))
    else:
        write_exr(frame, path, fmt.pixel_type)


def read_8bit(fmt: FrameFormat, path: Path) -> np.ndarray:
    """The 8-bit RGB frame a file of `fmt` holds; ValueError if it is not one this module writes."""
    return png_to_8bit(path) if fmt.suffix == ".png" else exr_to_8bit(path, fmt.pixel_type)


# --- PNG ------------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(frame: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of an 8-bit frame (v·257), byte for byte the same for the same pixels."""
    height, width, _ = frame.shape
    wide = (np.asarray(frame, np.uint16) * 257).astype(">u2").view(np.uint8).reshape(height, width * 6)
    rows = np.empty((height, width * 6 + 1), np.uint8)
    rows[:, 0] = UP_FILTER
    rows[0, 1:] = wide[0]
    np.subtract(wide[1:], wide[:-1], out=rows[1:, 1:])  # bytewise, modulo 256, as the PNG filter is
    chrm = struct.pack(">8I", *(round(c * 100000) for xy in (REC709_XY[3], *REC709_XY[:3]) for c in xy))
    return (PNG_SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + _chunk(b"cHRM", chrm) + _chunk(b"gAMA", struct.pack(">I", PNG_GAMMA)) + _chunk(b"cICP", PNG_CICP)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_ZLIB_LEVEL)) + _chunk(b"IEND", b""))


def read_png16(path: Path) -> np.ndarray:
    """A 16-bit RGB PNG's pixels (height × width × 3, uint16, RGB order); ValueError if it is not one."""
    data = np.fromfile(path, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("not a 16-bit RGB PNG")
    return np.ascontiguousarray(image[..., ::-1])


def png_to_8bit(path: Path) -> np.ndarray:
    """The 8-bit frame a 16-bit PNG expands (V // 257); ValueError when some value is no exact v·257."""
    wide = read_png16(path)
    if np.any(wide % 257):
        raise ValueError("holds 16-bit values that are not an 8-bit level × 257 (edited)")
    return (wide // 257).astype(np.uint8)


# --- OpenEXR --------------------------------------------------------------------------------------

def _linear_levels(pixel_type: str) -> np.ndarray:
    """The 256 linear values the 8-bit levels become, in the file's pixel type."""
    dtype = np.float16 if pixel_type == "half" else np.float32
    return ((np.arange(256, dtype=np.float64) / 255.0) ** EXR_GAMMA).astype(dtype)


def exr_header() -> dict:
    """The attributes every frame's header carries (besides the ones OpenEXR sets itself)."""
    return {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
            "lineOrder": OpenEXR.INCREASING_Y,
            "chromaticities": OpenEXR.colorInteropIDToChromaticities(EXR_INTEROP_ID),
            "colorInteropID": EXR_INTEROP_ID, "reelforgeTransfer": EXR_TRANSFER}


def write_exr(frame: np.ndarray, path: Path, pixel_type: str = "half") -> None:
    """An EXR of an 8-bit frame: linear Rec.709 light ((v/255)^2.4) as RGB `half` or `float`, ZIP."""
    pixels = _linear_levels(pixel_type)[np.asarray(frame, np.uint8)]
    try:
        with OpenEXR.File(exr_header(), {"RGB": pixels}) as out:
            out.write(str(path))
    except RuntimeError as exc:  # OpenEXR says a failed write in words: an OSError, as every other write failure
        text = str(exc)
        code = errno.ENOSPC if "No space left" in text else errno.EIO
        raise OSError(code, os.strerror(code), str(path)) from exc


def read_exr(path: Path) -> tuple[dict, np.ndarray]:
    """An EXR's header and its RGB pixels (height × width × 3); ValueError when it cannot be read as one."""
    try:
        with OpenEXR.File(str(path)) as file:
            header = dict(file.header())
            channels = file.channels()
            if "RGB" in channels:
                pixels = channels["RGB"].pixels
            else:
                pixels = np.stack([channels[c].pixels for c in "RGB"], axis=-1)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise ValueError(f"not a readable RGB OpenEXR file ({exc})") from None
    return header, np.asarray(pixels)


def exr_to_8bit(path: Path, pixel_type: str = "half") -> np.ndarray:
    """The 8-bit frame an EXR of ours holds (each value one of the 256 levels); ValueError otherwise."""
    _, pixels = read_exr(path)
    levels = _linear_levels(pixel_type)
    if pixels.dtype != levels.dtype:
        raise ValueError(f"holds {pixels.dtype} pixels, not {pixel_type}")
    codes = np.searchsorted(levels, pixels).clip(0, 255).astype(np.uint8)
    if not np.array_equal(levels[codes], pixels):
        raise ValueError("holds values that are not one of the 256 linear levels of an 8-bit frame (edited)")
    return codes
