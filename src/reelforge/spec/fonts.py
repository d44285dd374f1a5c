"""The font burned titles are drawn with in each language, and whether it has every glyph those titles need.

    "delivery": {"fonts": {"ja": "fonts/NotoSansJP-Bold.otf", "*": "fonts/MyTitles.ttf"}}

A language takes the font named for its own tag, else for a shorter form of it (`zh-Hant-TW`, then
`zh-Hant`, then `zh`: BCP 47 lookup), else for "*", else the bundled DejaVu Sans Bold (Latin, Greek,
Cyrillic; no CJK, no emoji). Paths are relative to the spec. The burn draws with exactly that file and
nothing else (media/fonts.py), so a character the font lacks comes out as its empty .notdef glyph, never
as some font the machine happens to have: `reelforge validate` says which title, in which language, needs
which characters (a warning, since a render may not burn titles; `render --burn-titles` refuses).

What counts as a character the font must have: everything but whitespace, control and format
characters (zero-width joiner and non-joiner, bidi marks, soft hyphen, emoji tag characters) and
variation selectors, which the shaper draws as nothing. Text is taken composed (NFC), and a
composed character the font lacks is fine when the font has each part of its decomposition (the
shaper decomposes it): é as e + U+0301, 한 as its jamo.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

from reelforge.errors import Problem
from reelforge.spec.base import LocalizedText, text_in
from reelforge.spec.json_problems import Loc, json_path

BUNDLED_FONT = "DejaVuSans-Bold.ttf"  # reelforge/fonts/, with its licence
ANY_LANGUAGE = "*"
SHOWN_MISSING = 8  # characters a message lists before "and N more"
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))


class FontError(ValueError):
    """A font file cannot be used: missing, unreadable, or not a font; the message says which."""


@dataclass(frozen=True)
class FontFile:
    """What reelforge needs of a font file: its identity, the names libass finds it by, the characters it maps."""

    path: Path
    sha256: str
    family: str  # name ID 1: what an ASS style's Fontname matches
    name: str  # the full name, for messages ("DejaVu Sans Bold")
    weight: int  # OS/2 usWeightClass: an ASS style asks for exactly this, so libass never fakes a bold
    italic: bool
    codepoints: frozenset[int]

    def record(self) -> dict:
        """The font as a delivery records it (the file itself is kept by its SHA-256)."""
        return {"sha256": self.sha256, "family": self.family, "name": self.name, "weight": self.weight,
                "italic": self.italic}


def bundled_font() -> Path:
    """The font burned titles use when the spec names none (DejaVu Sans Bold, shipped in the package)."""
    return Path(str(resources.files("reelforge") / "fonts" / BUNDLED_FONT))


def read_font(path: Path) -> FontFile:
    """The font at `path` (for a collection, .ttc/.otc, its first face); FontError saying why it cannot be used."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FontError(f"font file {path} not found") from None
    except OSError as exc:
        raise FontError(f"cannot read font file {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise FontError(f"{path} is not a file")
    return _read_font(path.resolve(), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _read_font(path: Path, size: int, mtime_ns: int) -> FontFile:  # size and time: a changed file is read again
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FontError(f"cannot read font file {path}: {exc.strerror or exc}") from None
    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        cmap = font.getBestCmap()
        names = font["name"]
        family = names.getDebugName(1) or names.getBestFamilyName()
        full = names.getBestFullName() or family
        os2 = font["OS/2"] if "OS/2" in font else None
        weight = int(os2.usWeightClass) if os2 is not None else 400
        italic = bool(font["head"].macStyle & 2)
    except (TTLibError, KeyError, AttributeError, ValueError, AssertionError, IndexError, OSError) as exc:
        raise FontError(f"{path} is not a font reelforge can read (TrueType or OpenType: .ttf, .otf, .ttc): "
                        f"{exc or type(exc).__name__}") from None
    if not cmap:
        raise FontError(f"{path} has no Unicode character map: it cannot draw text")
    if not family:
        raise FontError(f"{path} has no family name (name ID 1): libass could not select it")
    return FontFile(path=path, sha256=hashlib.sha256(data).hexdigest(), family=family, name=full,
                    weight=min(max(weight, 1), 1000), italic=italic, codepoints=frozenset(cmap))


def font_key(fonts: dict[str, str], language: str) -> str | None:
    """Which entry of `delivery.fonts` draws `language`: its tag, a shorter form of it, or "*" (None: the bundled)."""
    parts = language.split("-")
    for end in range(len(parts), 0, -1):
        tag = "-".join(parts[:end])
        if tag in fonts:
            return tag
    return ANY_LANGUAGE if ANY_LANGUAGE in fonts else None


def font_path(fonts: dict[str, str], language: str, base_dir: Path) -> Path:
    """The font file burned titles in `language` are drawn with; a relative path starts at the spec's folder."""
    key = font_key(fonts, language)
    return bundled_font() if key is None else spec_font(fonts[key], base_dir)


def spec_font(value: str, base_dir: Path) -> Path:
    """A font file named in the spec: a relative path starts at the spec's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def _needs_glyph(char: str) -> bool:
    """Whether drawing `char` takes a glyph: not whitespace, a control or format character, or a variation selector."""
    if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
        return False
    return not any(ord(char) in selectors for selectors in _VARIATION_SELECTORS)


def missing_glyphs(font: FontFile, text: str) -> list[str]:
    """The characters of `text` that `font` cannot draw, each once, in order of appearance."""
    missing: dict[str, None] = {}
    for char in unicodedata.normalize("NFC", text):
        if not _needs_glyph(char) or ord(char) in font.codepoints:
            continue
        parts = unicodedata.normalize("NFD", char)
        if len(parts) > 1 and all(ord(p) in font.codepoints or not _needs_glyph(p) for p in parts):
            continue
        missing[char] = None
    return list(missing)


def shown_characters(chars: list[str]) -> str:
    """'港', '灯' — a mark or an invisible character as U+0301; at most SHOWN_MISSING, then how many more."""
    def one(char: str) -> str:
        visible = unicodedata.category(char)[0] in "LNPS"
        return f"'{char}'" if visible else f"U+{ord(char):04X}"

    shown = ", ".join(one(c) for c in chars[:SHOWN_MISSING])
    return shown + (f" and {len(chars) - SHOWN_MISSING} more" if len(chars) > SHOWN_MISSING else "")


def burned_titles(production) -> Iterator[tuple[Loc, LocalizedText]]:
    """Every text burned titles draw (deliver/localize.py: the episode title over the first scene, each scene's
    title as it begins), with where it is in the spec."""
    for e, episode in enumerate(production.episodes):
        if episode.scenes:
            yield ("episodes", e, "title"), episode.title
        for s, scene in enumerate(episode.scenes):
            yield ("episodes", e, "scenes", s, "title"), scene.title


def _drawn(text: LocalizedText, loc: Loc, language: str, source: str) -> tuple[Loc, str]:
    """The text drawn in `language` (the source's when not translated) and the JSON location it comes from."""
    drawn = text_in(text, language, source)
    if isinstance(text, dict):
        loc = loc + ((language,) if text.get(language) else (source,) if text.get(source) else ())
    return loc, drawn


def font_file_problems(production, base_dir: Path) -> list[tuple[str, str]]:
    """(JSON path, message) for each font in `delivery.fonts` that cannot be used: for `reelforge validate`."""
    found = []
    for key, value in production.delivery.fonts.items():
        try:
            read_font(spec_font(value, base_dir))
        except FontError as exc:
            found.append((json_path(("delivery", "fonts", key)), f"{exc}: give the path of a .ttf, .otf or .ttc "
                                                                   "file, relative to the spec"))
    return found


def title_glyph_problems(production, base_dir: Path, languages: list[str] | None = None) -> list[Problem]:
    """Burned titles, in each delivered language (or `languages`), with characters the language's font lacks.

    A font that cannot be read is left to `font_file_problems`. Also: a `delivery.fonts` entry no delivered
    language takes (a typo such as "jp" draws nothing).
    """
    source = production.language
    fonts = production.delivery.fonts
    delivered = production.delivery_languages()
    found: list[Problem] = []
    for key in fonts:
        if key != ANY_LANGUAGE and languages is None and not any(font_key(fonts, tag) == key for tag in delivered):
            found.append(Problem(json_path(("delivery", "fonts", key)), f"no delivered language is drawn with this "
                                                                       f"font (languages: {', '.join(delivered)})"))
    for language in languages if languages is not None else delivered:
        try:
            font = read_font(font_path(fonts, language, base_dir))
        except FontError:
            continue
        where = json_path(("delivery", "fonts", language))[2:]
        for loc, text in burned_titles(production):
            at, drawn = _drawn(text, loc, language, source)
            missing = missing_glyphs(font, drawn)
            if missing:
                found.append(Problem(json_path(at), f"the font for '{language}' ({font.name}) has no glyphs for "
                                                    f"{shown_characters(missing)}: name a font that has them in "
                                                    f"{where}"))
    return found
