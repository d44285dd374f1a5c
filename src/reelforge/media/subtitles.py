"""Text beside the picture: mov_text tracks and chapters muxed into an MP4, and WebVTT / SRT files.

A language delivery never touches the picture. `mux_text` copies the picture's packets as they
are (stream copy) and adds, with PyAV: a mov_text subtitle track, a styled mov_text title track,
chapters (Nero `chpl` and a QuickTime chapter track, both written by FFmpeg's MP4 muxer) and the
language of each track. The muxer runs `bitexact`, so the same picture and text give the same
bytes; text is encoded by FFmpeg's mov_text encoder, which reads its default style (font size,
bold, alignment, colours) from an ASS header into the track's `tx3g` sample description.

MP4 stores a track's language as an ISO 639-2/T code (three letters); the full BCP 47 tag
(`fr-CA`) is kept in the track's name (`hdlr`), in the side files' names and in the catalog.

Text is sized by the frame's short side (its height at 16:9, its width at 9:16), so a vertical or
square delivery shows titles and subtitles as large as the 16:9 master does; on a vertical frame they
keep to the safe area social apps leave uncovered (`SAFE_TOP`, `SAFE_BOTTOM`).

WebVTT and SRT are written here rather than by FFmpeg's muxers, which copy text unescaped
(a `<` or `&` in a line would break a WebVTT file).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import imageio_ffmpeg
import langcodes
from av.stream import Disposition
from av.subtitles.subtitle import SubtitleSet

from reelforge.media.encode import CONTAINER_OPTIONS, EncodeSettings
from reelforge.media.fonts import font_alone
from reelforge.media.watermark import (
    SAFE_BOTTOM,
    SAFE_TOP,
    SETPARAMS,
    WatermarkError,
    encoder_args,
    escape_value,
    ffmpeg_exe,
    run_ffmpeg,
)
from reelforge.spec.fonts import FontFile
from reelforge.store.atomic import atomic_path

MS = Fraction(1, 1000)  # text tracks are timed in milliseconds, like WebVTT and SRT


@dataclass(frozen=True)
class Cue:
    """Text shown from start_ms (inclusive) to end_ms (exclusive) of the episode; lines split by '\\n'."""

    start_ms: int
    end_ms: int
    text: str
    voice: str = ""  # who speaks, for WebVTT's <v> tag; "" for none


@dataclass(frozen=True)
class TextTrack:
    kind: str  # "subtitles" | "titles"
    language: str  # BCP 47
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class Chapter:
    """A chapter from frame `start` to frame `end` (exclusive), named in the delivery's language."""

    start: int
    end: int
    title: str


# --------------------------------------------------------------------------- side files


def _timestamp(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _lines(text: str) -> list[str]:
    """A cue's non-blank lines: a blank line would end the cue in both WebVTT and SRT."""
    return [line for line in text.splitlines() if line.strip()]


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(cues: Sequence[Cue], language: str) -> str:
    """A WebVTT file: the cues in order, each speaker as a voice span (<v Mara>)."""
    blocks = [f"WEBVTT\nLanguage: {language}"]
    for cue in cues:
        lines = [_vtt_escape(line) for line in _lines(cue.text)]
        if not lines:
            continue
        if cue.voice:
            lines[0] = f"<v {_vtt_escape(cue.voice)}>{lines[0]}"
        blocks.append(f"{_timestamp(cue.start_ms, '.')} --> {_timestamp(cue.end_ms, '.')}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def srt(cues: Sequence[Cue]) -> str:
    """A SubRip file: numbered cues, times with a decimal comma."""
    blocks = []
    for cue in cues:
        lines = _lines(cue.text)
        if lines:
            blocks.append(f"{len(blocks) + 1}\n{_timestamp(cue.start_ms, ',')} --> {_timestamp(cue.end_ms, ',')}\n"
                          + "\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# --------------------------------------------------------------------------- mov_text


def iso639_2(tag: str) -> str:
    """The ISO 639-2/T code MP4 stores for a BCP 47 tag ('fr-CA' → 'fra'); 'und' if it names no language."""
    try:
        return langcodes.Language.get(tag).to_alpha3()
    except (LookupError, ValueError):
        return "und"


def flatten(cues: Sequence[Cue]) -> list[Cue]:
    """Overlapping cues as consecutive ones (a mov_text track shows one sample at a time).

    The timeline is cut at every cue boundary; each piece shows the lines of every cue active
    in it, in cue order. Cues that do not overlap pass through unchanged.
    """
    cuts = sorted({t for cue in cues for t in (cue.start_ms, cue.end_ms)})
    pieces: list[Cue] = []
    for start, end in pairwise(cuts):
        active = [cue for cue in cues if cue.start_ms <= start and end <= cue.end_ms]
        if not active:
            continue
        text = "\n".join(cue.text for cue in active)
        if pieces and pieces[-1].end_ms == start and pieces[-1].text == text:
            pieces[-1] = Cue(pieces[-1].start_ms, end, text)
        else:
            pieces.append(Cue(start, end, text))
    return pieces


def _ass_text(text: str) -> str:
    """Plain text as the ASS dialogue text the mov_text encoder parses.

    Line breaks become ASS's `\\N`. The encoder reads only `\\n`, `\\N` and `{\\` as markup, so a
    zero-width space goes after each backslash the user wrote: their text stays as typed.
    """
    return "\\N".join(line.replace("\\", "\\\u200b") for line in text.splitlines())


# Default text styles: size as a fraction of the frame's short side (its height at 16:9), bold (ASS: -1), and
# the tx3g vertical justification (-1 bottom, 0 top). White text on a half-transparent black box; tx3g
# has no outline. FFmpeg's mov_text encoder takes size, weight and colours from the ASS
# header's Default style but always writes bottom-centre justification (it ignores ASS
# alignment and {\an8}), so `_place` sets the titles' field in the sample description.
_STYLES = {"subtitles": (0.05, 0, -1), "titles": (0.075, -1, 0)}
_VERTICAL_JUSTIFICATION = 5  # byte offset in the tx3g sample entry: displayFlags (4), horizontal (1), vertical (1)
_TEXT_BOX = 10  # the default text box (top, left, bottom, right: 16-bit each), after the background colour (4)
# A vertical frame's safe area (media/watermark.py's, where the watermark keeps to it too): titles start
# below its top edge, subtitles end above its bottom edge.


def vertical(width: int, height: int) -> bool:
    """A frame taller than wide (9:16): text keeps to its safe area."""
    return height > width


def _place(context, kind: str, width: int, height: int) -> None:
    """Put the track's text at the top or bottom of the picture (the encoder's own choice is bottom); on a
    vertical frame, inside the safe area (the sample description's default text box; 16:9 and 1:1 keep the
    encoder's empty box, which players take as the whole frame)."""
    extradata = bytearray(context.extradata)
    extradata[_VERTICAL_JUSTIFICATION] = _STYLES[kind][2] & 0xFF
    if vertical(width, height):
        top, bottom = (round(SAFE_TOP * height), height) if kind == "titles" else (0, round((1 - SAFE_BOTTOM) * height))
        extradata[_TEXT_BOX:_TEXT_BOX + 8] = b"".join(v.to_bytes(2, "big") for v in (top, 0, bottom, width))
    context.extradata = bytes(extradata)


def _ass_header(kind: str, width: int, height: int) -> bytes:
    size, bold, _ = _STYLES[kind]
    font_size = min(255, round(size * min(width, height)))  # tx3g stores the size in one byte
    return (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,DejaVu Sans,{font_size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,{bold},0,0,0,"
        "100,100,0,0,3,0,0,2,10,10,10,1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, Text\n\n"
    ).encode()


def _text_packets(stream, track: TextTrack, width: int, height: int) -> list:
    context = stream.codec_context
    context.time_base = MS
    context.subtitle_header = _ass_header(track.kind, width, height)
    packets = []
    for order, cue in enumerate(flatten(track.cues)):
        if cue.end_ms <= cue.start_ms or not cue.text.strip():
            continue
        event = f"{order},0,Default,,0,0,0,,{_ass_text(cue.text)}".encode()
        packet = context.encode_subtitle(SubtitleSet.create(event, 0, cue.end_ms - cue.start_ms, cue.start_ms))
        packet.stream, packet.time_base = stream, MS
        packets.append(packet)
    if packets:  # the encoder writes its sample description when it opens, on the first cue
        _place(context, track.kind, width, height)
    return packets


def mux_text(picture: Path, target: Path, tracks: Sequence[TextTrack], chapters: Sequence[Chapter], fps: int,
             title: str = "", container: str = "mp4") -> None:
    """`picture`'s packets, copied as they are, plus text tracks and chapters, written to `target`.

    A track without cues is left out. The subtitle track is the default one; the title track is
    marked forced (shown even with subtitles off), as on-screen text usually is. `container` is the
    picture's: "mp4", or "mov" for a master (QuickTime carries the same tx3g text tracks and chapters).
    """
    with atomic_path(Path(target)) as tmp, av.open(str(picture)) as source:
        out = av.open(str(tmp), mode="w", format=container, container_options=CONTAINER_OPTIONS)
        try:
            copied = {}
            for stream in source.streams:
                if stream.type in ("video", "audio"):
                    copied[stream.index] = out.add_stream_from_template(stream)
            video = source.streams.video[0]
            pending = []  # (start in ms, track order, packet): text packets, muxed in time order
            for order, track in enumerate(tracks):
                if not any(cue.text.strip() for cue in track.cues):
                    continue
                stream = out.add_stream("mov_text")
                stream.codec_context.codec_tag = "tx3g"  # in a MOV too (FFmpeg would tag it QuickTime 'text')
                stream.time_base = MS
                stream.metadata["language"] = iso639_2(track.language)
                stream.metadata["handler_name"] = f"{track.kind.capitalize()} ({track.language})"
                stream.disposition = Disposition.default if track.kind == "subtitles" else Disposition.forced
                # every text packet is encoded before the first mux: muxing opens all codecs at once
                pending += [(packet.pts, order, packet) for packet in _text_packets(stream, track, video.width,
                                                                                    video.height)]
            pending.sort(key=lambda item: (item[0], item[1]))
            if title:
                out.metadata["title"] = title
            out.set_chapters([{"id": i + 1, "start": c.start, "end": c.end, "time_base": Fraction(1, fps),
                               "metadata": {"title": c.title}} for i, c in enumerate(chapters)])
            queue = iter(pending)
            upcoming = next(queue, None)
            for packet in source.demux(*[source.streams[i] for i in copied]):
                if packet.dts is None:
                    continue
                at_ms = packet.dts * packet.time_base / MS
                while upcoming is not None and upcoming[0] <= at_ms:
                    out.mux(upcoming[2])
                    upcoming = next(queue, None)
                packet.stream = copied[packet.stream.index]
                out.mux(packet)
            while upcoming is not None:
                out.mux(upcoming[2])
                upcoming = next(queue, None)
        finally:
            out.close()


# --------------------------------------------------------------------------- burned-in titles


class TitleBurnError(Exception):
    """ffmpeg could not burn titles in (it is missing, or failed): the message says why."""


# The burned title style, as fractions of the frame's short side `s` (its height at 16:9): as the title
# track (bold, top centre), with a black outline instead of a box; on a vertical frame, below its safe top.
# Bumped whenever the style or the recipe changes bytes.
BURN_RECIPE = "reelforge-burned-titles/2"
_BURN_SIZE, _BURN_OUTLINE, _BURN_MARGIN = 0.075, 0.004, 0.06


def _ass_time(ms: int) -> str:
    """ASS times are centiseconds; rounding down keeps a cue off the frame after it ends."""
    cs = ms // 10
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def _ass_burn_text(text: str) -> str:
    """Plain text as libass dialogue: backslashes kept as typed (see _ass_text), braces escaped (libass: \\{ \\})."""
    lines = [line.replace("\\", "\\\u200b").replace("{", "\\{").replace("}", "\\}") for line in text.splitlines()]
    return "\\N".join(lines)


def ass_titles(cues: Sequence[Cue], width: int, height: int, font: FontFile) -> str:
    """An ASS script that draws the title cues at the top of a `width`×`height` picture in `font`.

    The style names the font's family and asks for exactly its weight and slant, so libass draws the
    file as it is (never a synthesized bold or italic).
    """
    short = min(width, height)
    size, outline, margin = (max(1, round(f * short)) for f in (_BURN_SIZE, _BURN_OUTLINE, _BURN_MARGIN))
    top = max(margin, round(SAFE_TOP * height)) if vertical(width, height) else margin
    events = [f"Dialogue: 0,{_ass_time(c.start_ms)},{_ass_time(c.end_ms)},Title,,0,0,0,,{_ass_burn_text(c.text)}"
              for c in cues if c.text.strip() and c.end_ms // 10 > c.start_ms // 10]
    family = font.family.replace(",", " ")  # a comma would end the style's field
    return (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\nScaledBorderAndShadow: yes\nWrapStyle: 0\nYCbCr Matrix: TV.709\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Title,{family},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,{font.weight},"
        f"{-1 if font.italic else 0},0,0,100,100,0,0,1,{outline},0,8,{margin},{margin},{top},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        + "".join(event + "\n" for event in events)
    )


def _burn_output(settings: EncodeSettings) -> list[str]:
    """The encoder options of a burned delivery: the picture's codec, as the watermark recipe encodes it."""
    return encoder_args(settings)


def burn_record(font: FontFile, settings: EncodeSettings) -> dict:
    """Everything burned titles' bytes depend on besides the picture and the cues: recorded with the delivery.

    The font is named by its SHA-256 (its kept copy in `.reelforge/assets/` is what `verify` draws with).
    """
    return {"recipe": BURN_RECIPE, "font": font.record(), "encoder": _burn_output(settings),
            "container": settings.container, "imageio_ffmpeg": imageio_ffmpeg.__version__,
            "ffmpeg": imageio_ffmpeg.get_ffmpeg_version()}


def burn_titles(picture: Path, target: Path, cues: Sequence[Cue], font: FontFile, settings: EncodeSettings) -> None:
    """`picture` re-encoded with the title cues drawn in `font` (an extra delivery for platforms that need it).

    The recipe is the visible watermark's (media/watermark.py: the pinned imageio-ffmpeg build,
    the picture's encoder arguments, the picture declared BT.709) with libass's `subtitles` filter in
    place of drawtext. libass sees `font` and no other font (media/fonts.py): a character the font
    lacks is drawn as its .notdef glyph on every machine, never with a font fontconfig picks.
    """
    with av.open(str(picture)) as source:
        width, height = source.streams.video[0].width, source.streams.video[0].height
    try:
        exe = ffmpeg_exe()
    except WatermarkError as exc:
        raise TitleBurnError(str(exc)) from None
    threads = settings.threads
    with tempfile.TemporaryDirectory(prefix="reelforge-titles-") as folder, atomic_path(Path(target)) as tmp:
        fonts, environment = font_alone(font.path, Path(folder))
        script = Path(folder) / "titles.ass"
        script.write_text(ass_titles(cues, width, height, font), encoding="utf-8")
        graph = f"{SETPARAMS},subtitles=filename={escape_value(str(script))}:fontsdir={escape_value(str(fonts))}"
        command = [exe, "-nostdin", "-y", "-hide_banner", "-nostats", "-loglevel", "error", "-threads", str(threads),
                   "-i", str(picture), "-filter_complex", f"[0:v]{graph},format={settings.pix_fmt}[v]",
                   "-filter_complex_threads", str(threads), "-map", "[v]", *_burn_output(settings),
                   "-movflags", "+faststart", "-f", settings.container, str(tmp)]
        run_ffmpeg(command, TitleBurnError, "ffmpeg failed", f"burning titles into {target}", env=environment)
