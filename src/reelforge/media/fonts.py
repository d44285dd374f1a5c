"""One font file given to libass alone: a burn draws with that file and never with a font of the machine's.

libass (the pinned ffmpeg's `subtitles` filter) finds fonts in two places: the files in the filter's
`fontsdir`, and fontconfig, which it also asks for a fallback whenever the chosen font lacks a glyph.
fontconfig reads the machine's configuration (/etc/fonts, ~/.fonts, ~/.local/share/fonts), so a
title with a character the font lacked was drawn with whatever font the machine had installed, and
the burned bytes depended on the machine. Here the font is copied alone into a folder that is both
the `fontsdir` and the only `<dir>` of a generated fonts.conf (FONTCONFIG_FILE; its cache beside it,
in the burn's temporary folder): a character the font lacks is drawn as the font's own .notdef glyph
(DejaVu's is an empty box), the same on every machine — and `reelforge validate` says so first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""
# Variables that would point fontconfig elsewhere than the generated file.
_FONTCONFIG_VARIABLES = ("FONTCONFIG_FILE", "FONTCONFIG_PATH", "FONTCONFIG_SYSROOT")


def font_alone(font: Path, folder: Path) -> tuple[Path, dict[str, str]]:
    """Set up `folder` (empty, temporary) so that `font` is the only font ffmpeg's libass can find.

    Returns the fonts folder to give the `subtitles` filter as `fontsdir`, and the environment to run
    ffmpeg in (this process's, with FONTCONFIG_FILE naming the generated configuration).
    """
    fonts = Path(folder) / "fonts"
    fonts.mkdir(parents=True)
    shutil.copyfile(font, fonts / f"font{Path(font).suffix.lower()}")
    config = Path(folder) / "fonts.conf"
    config.write_text(FONTS_CONF.format(fonts=escape(str(fonts)), cache=escape(str(Path(folder) / "font-cache"))),
                      encoding="utf-8")
    environment = {name: value for name, value in os.environ.items() if name not in _FONTCONFIG_VARIABLES}
    environment["FONTCONFIG_FILE"] = str(config)
    return fonts, environment
