"""A tiny font made in the test, like the project's tiny random-weight checkpoints: never downloaded.

Each character it maps is a solid box filling most of its em square, so a title drawn with it has
plenty of lit pixels where its glyphs are, and a font without them leaves those pixels dark.
"""

from __future__ import annotations

from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

CJK = "港灯한☕🎬"  # Han (ja/zh), Hangul, a BMP symbol, an emoji beyond the BMP (a format 12 cmap)


def _box(filled: bool):
    pen = TTGlyphPen(None)
    if filled:
        for x, y in ((100, -100), (100, 700), (900, 700), (900, -100)):
            (pen.lineTo if x != 100 or y != -100 else pen.moveTo)((x, y))
        pen.closePath()
    return pen.glyph()


def tiny_font(path: Path, chars: str = CJK, family: str = "Tiny Boxes", weight: int = 700) -> Path:
    """A TrueType font at `path` mapping `chars` (and the space) to box glyphs."""
    chars = "".join(dict.fromkeys(c for c in chars if not c.isspace()))
    names = [".notdef", "space"] + [f"u{ord(c):05X}" for c in chars]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({32: "space", **{ord(c): f"u{ord(c):05X}" for c in chars}})
    builder.setupGlyf({name: _box(index >= 2) for index, name in enumerate(names)})
    builder.setupHorizontalMetrics({name: (1000, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    bold = weight >= 700
    builder.setupNameTable({"familyName": family, "styleName": "Bold" if bold else "Regular"})
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200,
                     usWeightClass=weight, fsSelection=0x20 if bold else 0x40)
    builder.updateHead(macStyle=1 if bold else 0)
    builder.setupPost()
    path.parent.mkdir(parents=True, exist_ok=True)
    builder.save(str(path))
    return path
