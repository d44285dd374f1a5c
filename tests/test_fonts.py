"""Titles in every script: a font per language, checked by `validate`, burned with exactly that font, placed
for the frame's shape.

The CJK font is made here (font_support.py: box glyphs for a few code points), never downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import run_cli, small_spec, unblocked, write_spec
from font_support import CJK, tiny_font

from reelforge.media.encode import EncodeSettings, encode_frames
from reelforge.media.subtitles import Cue, TextTrack, ass_titles, burn_record, burn_titles, mux_text
from reelforge.spec.fonts import bundled_font, font_key, missing_glyphs, read_font

SMALL = EncodeSettings(320, 180, 24, 18, "faster", 2)
GREY = 40  # the test pictures' level: lit title pixels are far brighter
TITLE = "港灯 한☕🎬"


def ja_spec(frames: int = 8) -> dict:
    """The small spec delivered in English and Japanese, its Japanese titles in Han and kana."""
    spec = unblocked(small_spec(frames))
    spec["languages"] = ["en", "ja"]
    spec["series"]["title"] = {"en": "Harbor Lights", "ja": "港の灯"}  # the container's title: never drawn
    episode = spec["episodes"][0]
    episode["title"] = {"en": "The Harbour Lamp", "ja": "港の灯"}
    first, second = episode["scenes"]
    first["title"] = {"en": "Dusk", "ja": "灯"}
    second["title"] = {"en": "The alley", "ja": "港"}
    return spec


def with_font(spec: dict, fonts: dict[str, str]) -> dict:
    spec.setdefault("delivery", {})["fonts"] = fonts
    return spec


def picture(path: Path, width: int, height: int, frames: int = 3) -> Path:
    """A small grey H.264 picture, as a render delivers (BT.709, limited range)."""
    encode_frames(path, [np.full((height, width, 3), GREY, np.uint8) for _ in range(frames)],
                  EncodeSettings(width, height, 24, 18, "faster", 2))
    return path


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)


def lit(frame: np.ndarray) -> np.ndarray:
    """Where white title text is drawn: every channel far above the grey picture."""
    return (frame > 180).all(axis=2)


# -- validate ---------------------------------------------------------------------------------


def test_validate_warns_about_title_characters_the_font_lacks_with_their_json_path(tmp_path):
    spec = write_spec(tmp_path / "show", ja_spec())
    result = run_cli("validate", str(spec), check=False)
    assert result.returncode == 0 and "OK" in result.stdout
    assert ("warning: $.episodes[0].title.ja: the font for 'ja' (DejaVu Sans Bold) has no glyphs for '港', 'の', "
            "'灯': name a font that has them in delivery.fonts.ja") in result.stderr
    assert "$.episodes[0].scenes[0].title.ja: the font for 'ja' (DejaVu Sans Bold) has no glyphs for '灯'" \
        in result.stderr
    assert "$.episodes[0].scenes[1].title.ja:" in result.stderr
    assert "'en'" not in result.stderr  # DejaVu draws every English title
    strict = run_cli("validate", str(spec), "--strict", check=False)
    assert strict.returncode == 2 and "3 problems" in strict.stderr and "Traceback" not in strict.stderr


def test_a_font_with_the_glyphs_silences_the_warning(tmp_path):
    tiny_font(tmp_path / "show" / "fonts" / "tiny.ttf", CJK + "の")
    spec = write_spec(tmp_path / "show", with_font(ja_spec(), {"ja": "fonts/tiny.ttf"}))
    result = run_cli("validate", str(spec), "--strict", check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # "*" draws every language not named: English titles in box glyphs lack Latin letters
    spec = write_spec(tmp_path / "show", with_font(ja_spec(), {"*": "fonts/tiny.ttf"}))
    result = run_cli("validate", str(spec), check=False)
    assert "$.episodes[0].title.en: the font for 'en' (Tiny Boxes Bold) has no glyphs for 'T', 'h', 'e', " \
           "'H', 'a', 'r', 'b', 'o' and 4 more: name a font that has them in delivery.fonts.en" in result.stderr
    assert ".ja:" not in result.stderr


def test_a_font_no_language_takes_is_a_warning(tmp_path):
    tiny_font(tmp_path / "show" / "fonts" / "tiny.ttf", CJK + "の")
    spec = write_spec(tmp_path / "show", with_font(ja_spec(), {"ja": "fonts/tiny.ttf", "jp": "fonts/tiny.ttf"}))
    result = run_cli("validate", str(spec), check=False)
    assert "warning: $.delivery.fonts.jp: no delivered language is drawn with this font (languages: en, ja)" \
        in result.stderr


def test_a_missing_or_unreadable_font_file_is_an_error_with_its_path(tmp_path):
    show = tmp_path / "show"
    (show / "fonts").mkdir(parents=True)
    (show / "fonts" / "notes.ttf").write_text("not a font", encoding="utf-8")
    spec = write_spec(show, with_font(ja_spec(), {"ja": "fonts/missing.otf", "*": "fonts/notes.ttf"}))
    result = run_cli("validate", str(spec), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"$.delivery.fonts.ja: font file {show / 'fonts' / 'missing.otf'} not found: give the path of a .ttf, " \
           ".otf or .ttc file, relative to the spec" in result.stderr
    assert f"$.delivery.fonts['*']: {(show / 'fonts' / 'notes.ttf').resolve()} is not a font reelforge can read" \
        in result.stderr


def test_render_burn_titles_refuses_titles_the_font_cannot_draw_before_rendering(tmp_path):
    spec = write_spec(tmp_path / "show", ja_spec())
    result = run_cli("render", str(spec), "--languages", "ja", "--burn-titles", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("$.episodes[0].title.ja: the font for 'ja' (DejaVu Sans Bold) has no glyphs for '港', 'の', '灯': "
            "name a font that has them in delivery.fonts.ja") in result.stderr
    assert not (tmp_path / "show" / "renders").exists() and not (tmp_path / "show" / ".reelforge").exists()


def test_glyph_check_skips_what_draws_nothing_and_decomposes_what_it_can(tmp_path):
    font = read_font(tiny_font(tmp_path / "latin.ttf", "ae\u0301\u1100\u1161"))
    # whitespace, zero-width joiner, variation selector, bidi mark and soft hyphen draw nothing
    assert missing_glyphs(font, "a\u200de\ufe0f\u200f\u00ad a\n\t\u3000") == []
    assert missing_glyphs(font, "é") == []  # e + combining acute: the shaper decomposes
    assert missing_glyphs(font, "가") == []  # a Hangul syllable from its jamo
    assert missing_glyphs(font, "ébé\u0301x") == ["b", "x"]  # each once, in order
    assert missing_glyphs(read_font(bundled_font()), TITLE) == ["港", "灯", "한", "🎬"]  # DejaVu has ☕
    assert font_key({"zh": "a", "*": "b"}, "zh-Hant-TW") == "zh" and font_key({"ja": "a"}, "fr") is None


# -- burning ----------------------------------------------------------------------------------


def test_the_chosen_font_draws_the_title_where_dejavu_has_no_glyphs(tmp_path):
    source = picture(tmp_path / "picture.mp4", 320, 180)
    tiny, dejavu = tmp_path / "tiny.mp4", tmp_path / "dejavu.mp4"
    burn_titles(source, tiny, [Cue(0, 1000, TITLE)], read_font(tiny_font(tmp_path / "tiny.ttf")), SMALL)
    burn_titles(source, dejavu, [Cue(0, 1000, TITLE)], read_font(bundled_font()), SMALL)
    boxes, tofu = lit(first_frame(tiny)), lit(first_frame(dejavu))
    title = slice(0, 60)  # the top third, where titles are drawn
    assert boxes[title].sum() > 4 * max(tofu[title].sum(), 1)  # five filled glyphs against outlines and a cup
    assert boxes[title].sum() == boxes.sum() and tofu[title].sum() == tofu.sum()  # nothing drawn elsewhere


BURN = """
import sys
from pathlib import Path
from reelforge.media.encode import EncodeSettings
from reelforge.media.subtitles import Cue, burn_titles
from reelforge.spec.fonts import read_font
burn_titles(Path(sys.argv[1]), Path(sys.argv[2]), [Cue(0, 1000, sys.argv[4])], read_font(Path(sys.argv[3])),
            EncodeSettings(320, 180, 24, 18, "faster", 2))
"""


def burn_in_process(source: Path, target: Path, font: Path, text: str, **env: str) -> bytes:
    subprocess.run([sys.executable, "-c", BURN, str(source), str(target), str(font), text], check=True,
                   env={**os.environ, **env})
    return target.read_bytes()


def test_burns_in_separate_processes_give_identical_bytes(tmp_path):
    source, font = picture(tmp_path / "picture.mp4", 320, 180), tiny_font(tmp_path / "tiny.ttf")
    one = burn_in_process(source, tmp_path / "one.mp4", font, TITLE)
    assert one == burn_in_process(source, tmp_path / "two.mp4", font, TITLE)


def test_fonts_the_machine_or_user_has_never_reach_the_burn(tmp_path):
    """A user font with the missing glyphs (in ~/.fonts, ~/.local/share/fonts) filled DejaVu's gaps through
    fontconfig's fallback before the burn was isolated; a FONTCONFIG_* variable would point it elsewhere."""
    source = picture(tmp_path / "picture.mp4", 320, 180)
    home = tmp_path / "home"
    for folder in (home / ".fonts", home / ".local" / "share" / "fonts"):
        tiny_font(folder / "user-cjk.ttf", family="DejaVu Sans")
    plain = burn_in_process(source, tmp_path / "plain.mp4", bundled_font(), TITLE)
    crowded = burn_in_process(source, tmp_path / "crowded.mp4", bundled_font(), TITLE, HOME=str(home),
                              XDG_DATA_HOME=str(home / ".local" / "share"), XDG_CACHE_HOME=str(home / ".cache"),
                              FONTCONFIG_PATH=str(home / ".fonts"))
    assert crowded == plain


def test_the_recorded_font_is_part_of_the_recipe(tmp_path):
    tiny = read_font(tiny_font(tmp_path / "tiny.ttf"))
    dejavu = read_font(bundled_font())
    record = burn_record(tiny, SMALL)
    assert record["font"] == {"sha256": hashlib.sha256((tmp_path / "tiny.ttf").read_bytes()).hexdigest(),
                              "family": "Tiny Boxes", "name": "Tiny Boxes Bold", "weight": 700, "italic": False}
    assert burn_record(dejavu, SMALL)["font"]["family"] == "DejaVu Sans"
    assert burn_record(dejavu, SMALL) != record and burn_record(tiny, SMALL) == record
    assert record["recipe"] == "reelforge-burned-titles/2" and record["container"] == "mp4"


def test_a_burned_delivery_records_keeps_and_verifies_its_font(tmp_path):
    show = tmp_path / "show"
    font = tiny_font(show / "fonts" / "tiny.ttf", CJK + "の")
    spec = ja_spec(frames=4)
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    episode["scenes"][0]["shots"] = episode["scenes"][0]["shots"][:1]
    path = write_spec(show, with_font(spec, {"ja": "fonts/tiny.ttf"}))
    run_cli("render", str(path), "--languages", "ja", "--burn-titles")
    renders = show / "renders"
    burned = renders / "s01e01.ja.burned.mp4"
    boxes = lit(first_frame(burned))
    assert boxes[:270].sum() > 5000 and boxes[270:].sum() == 0  # the title's box glyphs, at the top only
    sha256 = hashlib.sha256(font.read_bytes()).hexdigest()
    with sqlite3.connect(show / ".reelforge" / "catalog.sqlite") as db:
        (text_json,) = db.execute("SELECT text_json FROM localized_deliveries WHERE burned_titles").fetchone()
    recorded = json.loads(text_json)["burn"]
    assert recorded["font"]["sha256"] == sha256 and recorded["font"]["family"] == "Tiny Boxes"
    assert (show / ".reelforge" / "assets" / f"{sha256}.ttf").read_bytes() == font.read_bytes()
    font.unlink()  # the kept copy is what verify draws with
    out = run_cli("verify", str(burned)).stdout
    assert "unsigned stream: re-created byte for byte" in out and "VERIFIED" in out
    (show / ".reelforge" / "assets" / f"{sha256}.ttf").unlink()
    gone = run_cli("verify", str(burned), check=False)
    assert gone.returncode == 2 and "Traceback" not in gone.stderr
    assert f"the title font Tiny Boxes Bold (sha256 {sha256[:16]}…) is not among this production's kept files" \
        in gone.stderr


# -- placement on other shapes ----------------------------------------------------------------


def style(script: str) -> list[str]:
    return next(line for line in script.splitlines() if line.startswith("Style: Title,")).split(",")


def test_title_sizes_follow_the_short_side_and_vertical_titles_keep_below_the_top_tenth():
    dejavu = read_font(bundled_font())
    wide, tall, square = (style(ass_titles([], w, h, dejavu)) for w, h in ((1920, 1080), (1080, 1920), (1080, 1080)))
    assert wide[1:3] == ["DejaVu Sans", "81"]
    assert wide[-4:-1] == ["65", "65", "65"] and wide[7] == "700"  # 16:9: as before (81 px, 0.06·h margins)
    assert tall[2] == "81" and tall[-4:-1] == ["65", "65", "192"]  # 9:16: the same size, below the top 10 %
    assert square[2] == "81" and square[-4:-1] == ["65", "65", "65"]


def test_a_vertical_burn_draws_the_title_inside_the_safe_area(tmp_path):
    font = read_font(tiny_font(tmp_path / "tiny.ttf"))
    rows = {}
    for width, height in ((180, 320), (180, 180)):
        source = picture(tmp_path / f"{width}x{height}.mp4", width, height)
        burn_titles(source, tmp_path / f"burned-{width}x{height}.mp4", [Cue(0, 1000, "港灯")], font, SMALL)
        drawn = np.flatnonzero(lit(first_frame(tmp_path / f"burned-{width}x{height}.mp4")).any(axis=1))
        rows[height] = (drawn.min(), drawn.max())
    assert rows[320][0] >= 0.1 * 320 - 1 > rows[180][0]  # the square frame keeps its plain margin
    assert rows[320][1] < 0.25 * 320


def test_mov_text_sizes_follow_the_short_side_and_vertical_tracks_keep_to_the_safe_area(tmp_path):
    cues = (Cue(0, 100, "Hi"),)
    boxes = {}
    for width, height in ((320, 180), (180, 320)):
        muxed = tmp_path / f"{width}x{height}.mp4"
        mux_text(picture(tmp_path / f"p{width}x{height}.mp4", width, height), muxed,
                 [TextTrack("subtitles", "en", cues), TextTrack("titles", "en", cues)], [], 24)
        with av.open(str(muxed)) as container:
            for stream in container.streams.subtitles:
                extradata = bytes(stream.codec_context.extradata)
                box = tuple(int.from_bytes(extradata[i:i + 2], "big") for i in range(10, 18, 2))
                boxes[(width, height, stream.metadata["handler_name"])] = (box, extradata[25])
    # 16:9: the encoder's empty box (the whole frame) and sizes from the height, as before
    assert boxes[(320, 180, "Subtitles (en)")] == ((0, 0, 0, 0), 9)
    assert boxes[(320, 180, "Titles (en)")] == ((0, 0, 0, 0), 14)
    # 9:16: the same sizes (the short side), subtitles above the bottom 15 %, titles below the top 10 %
    assert boxes[(180, 320, "Subtitles (en)")] == ((0, 0, 272, 180), 9)
    assert boxes[(180, 320, "Titles (en)")] == ((32, 0, 320, 180), 14)


def test_a_language_delivery_takes_the_pictures_container(tmp_path):
    from reelforge.deliver.localize import language_output

    assert language_output(Path("renders/s01e01.mov"), "ja", burned_titles=True) == \
        Path("renders/s01e01.ja.burned.mov")
    assert language_output(Path("renders/s01e01.mp4"), "ja", ".vtt") == Path("renders/s01e01.ja.vtt")
    muxed = tmp_path / "muxed.mov"
    mux_text(picture(tmp_path / "p.mp4", 320, 180), muxed, [TextTrack("subtitles", "ja", (Cue(0, 100, "港"),))],
             [], 24, container="mov")
    with av.open(str(muxed)) as container:
        assert container.format.name.startswith("mov") and b"qt  " in muxed.read_bytes()[:32]
        (track,) = container.streams.subtitles
        assert track.codec_context.codec_tag == "tx3g" and track.metadata["language"] == "jpn"


@pytest.mark.parametrize("weight", [400, 700])
def test_the_style_asks_for_the_fonts_own_weight(tmp_path, weight):
    """A regular font is drawn regular: asking libass for bold would make it embolden the outlines itself."""
    font = read_font(tiny_font(tmp_path / "f.ttf", weight=weight))
    assert style(ass_titles([], 320, 180, font))[7] == str(weight)
