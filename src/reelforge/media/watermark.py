r"""Visible watermark: a documented ffmpeg recipe (drawtext + overlay) that gives the same bytes twice.

PyAV's FFmpeg has no drawtext, so the mark is burned in by the ffmpeg binary that
imageio-ffmpeg ships (pinned: imageio-ffmpeg 0.8.1, ffmpeg n9.0.2 on Linux x86-64).
The font is named explicitly (DejaVu Sans Bold 2.37, inside this package under
`reelforge/fonts/`), so the marked pixels never depend on the fonts a system has.
Same input, same spec, same ffmpeg build, same thread count → same output bytes.

The recipe
----------
Every size is a fraction of the frame's short side (`h` for a landscape or square
frame, `w` for a vertical one), so one graph fits every resolution of a shape and a
16:9 graph is what it always was. With the defaults (font size 0.035·h, margin 0.03·h,
logo height 0.1·h, gap 0.015·h), opacity `O`, text `T`, position bottom-right and an
8-bit 4:2:0 delivery, the graph of a landscape frame is:

    sws_flags=bicubic+accurate_rnd+bitexact;
    [0:v]setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709,split=2[base][ref];
    [1:v]format=rgba,colorchannelmixer=aa=O[logo];
    [logo][ref]scale=w=-1:h=rh*0.1:out_color_matrix=bt709:out_range=tv,format=yuva420p[mark];
    [base][mark]overlay=x=W-w-H*0.03:y=H-h-H*0.03:format=yuv420[marked];
    [marked]drawtext=fontfile=FONT:expansion=none:text=T:fontsize=h*0.035:fontcolor=black@(0.6·O)
        :x=w-tw-h*0.03+(1+h/500):y=h-th-h*0.145+(1+h/500),
      drawtext=fontfile=FONT:expansion=none:text=T:fontsize=h*0.035:fontcolor=white@O
        :x=w-tw-h*0.03:y=h-th-h*0.145,
      format=yuv420p[v]

(one line in practice; `filter_graph()` gives the exact string for a spec). A vertical
frame writes `w`, `W`, `rw` where the short side is meant and keeps the mark inside the
social-app safe area: clear of the top 10 % and the bottom 15 % of the frame (the corner
positions' vertical margins become `h*0.1+w*M` and `h*0.15+w*M`; the centre is `h*0.5`
plus the short-side offsets). Another delivery's chroma and depth name the overlay's and
the final `format` (e.g. `overlay=…:format=yuv422p10`, logo `yuva422p10le`, `format=yuv422p10le`),
so the picture is never subsampled or truncated on its way to the encoder. Without a
logo, `[0:v]setparams=…,drawtext=…,drawtext=…,format=yuv420p[v]` is the whole graph.
`setparams` declares the input BT.709 limited range without converting a pixel; it is
left out for an input tagged otherwise (BT.601, full range: `labels_as_bt709()`), which
ffmpeg then converts to the BT.709 matrix and limited range (its primaries and transfer
tags are kept: `scale` converts neither). The logo's alpha is multiplied by the opacity
and it is converted to YUV with the BT.709 matrix. The first drawtext is a soft shadow
offset by `1+h/500` pixels, the second the white text; both fade with the opacity, so
opacity 0 leaves the picture as it was. Positions (margin `M`, logo height `L`, gap `G`,
all fractions of the height). The logo sits in the corner; with a logo the text moves
next to it, toward the middle of the frame (same x, the y of the last column):

    position       logo overlay x, y     text x, y                text y beside a logo
    top-left       H*M, H*M              h*M, h*M                 h*(M+L+G)
    top-right      W-w-H*M, H*M          w-tw-h*M, h*M            h*(M+L+G)
    bottom-left    H*M, H-h-H*M          h*M, h-th-h*M            h-th-h*(M+L+G)
    bottom-right   W-w-H*M, H-h-H*M      w-tw-h*M, h-th-h*M       h-th-h*(M+L+G)
    center         (W-w)/2, (H-h)/2      (w-tw)/2, (h-th)/2       h*(0.5+L/2+G)

Encoding (`apply_watermark`), for the default H.264 delivery:

    ffmpeg -nostdin -y -hide_banner -loglevel warning -threads 2 -i IN [-i LOGO.png] \
      -filter_complex GRAPH -filter_complex_threads 2 -map [v] -map 0:a? -map 0:s? -fps_mode passthrough \
      -c:v libx264 -preset faster -crf 18 -threads 2 \
      -x264-params bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709 \
      -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
      -c:a copy -c:s copy -fflags +bitexact -flags:v +bitexact -map_metadata:g -1 -map_chapters -1 \
      -movflags +faststart -f mp4 OUT

`encoder_args(settings)` gives the codec part for every delivery format, as the segments
were encoded (media/encode.py): 8K H.264 adds `-level 6.0`; HEVC is
`-c:v libx265 -preset P -crf C -x265-params <EncodeSettings.x265_params()> -tag:v hvc1`;
ProRes `-c:v prores_ks -profile:v hq|4444 -vendor apl0`; DNxHR `-c:v dnxhd -profile:v dnxhr_hqx`;
`-pix_fmt` is the delivery's (e.g. yuv422p10le) and the container `-f mov` for the masters.

Escaping. A text (and the font path) is escaped twice, innermost first: for the
filter's option parser (`\`, `'`, `:` get a backslash) and then for the filtergraph
parser (`\`, `'`, `[`, `]`, `,`, `;` get a backslash). `expansion=none` makes `%`
literal (no `%{pts}` expansion), so drawtext itself interprets nothing. Typing the
graph in a shell adds a third level (quote the whole graph in single quotes and write
a `'` as `'\''`). For example `It's 5:00` becomes `text=It\\\'s 5\\:00`.

On other ffmpeg builds: `scale` with a reference input (`rw`, `rh`) needs FFmpeg ≥ 7.1;
for older builds drop `split` and write
`[logo][0:v]scale2ref=w=oh*mdar:h=ih*0.1[sized][base];[sized]scale=out_color_matrix=bt709:out_range=tv,format=yuva420p[mark]`
(with `setparams` moved onto `[base]`). A
different build (or another platform's imageio-ffmpeg binary) gives the same picture
to the eye but not the same bytes: `recipe_record()` names what the bytes depend on.
Outside the mark the picture is only re-encoded (crf 18, or the master codec), never
colour-converted, for BT.709 or untagged input of the delivery's pix_fmt (what reelforge renders). Audio and subtitle tracks are
stream-copied untouched, with their language tags (an MKV output needs subtitles MKV can
carry: SRT, WebVTT, ASS; MP4's mov_text is not one). A signed file loses its signature
when re-encoded: watermark first, then sign.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import av
import imageio_ffmpeg
from PIL import Image, UnidentifiedImageError

from reelforge.media.encode import EncodeSettings
from reelforge.store.atomic import atomic_path
from reelforge.store.hashing import file_sha256

Position = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]
POSITIONS: tuple[str, ...] = ("top-left", "top-right", "bottom-left", "bottom-right", "center")

# Bumped whenever the graph or the encoder arguments change what comes out.
RECIPE_VERSION = "reelforge-watermark/1"
FONT_FILE = "DejaVuSans-Bold.ttf"
FONT_SHA256 = "0d977336a6d5fba34eab8e3199eb218327161b5143749f802982c2bc34df0c96"
# Colour-accurate, CPU-independent scaling for the logo (swscale's SIMD paths otherwise differ by CPU).
SWS_FLAGS = "bicubic+accurate_rnd+bitexact"
# As reelforge.media.encode: no B-frames, BT.709 VUI. (This x264 rejects `range=tv` here with only a
# warning; the range comes from `-color_range tv` instead.)
X264_PARAMS = "bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709"
# Declares the input BT.709 limited range without touching a pixel. The encoder's BT.709 tags are
# also a constraint on the graph: an input that is untagged (or tagged otherwise) would else be
# converted (ffmpeg takes untagged YUV as BT.601), shifting every pixel of the picture.
BT709, UNSPECIFIED = 1, 2  # H.273 code points (colour primaries, transfer, matrix)
SETPARAMS = "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
SHADOW_ALPHA = 0.6  # of the opacity
SHADOW_OFFSET = "(1+{s}/500)"  # pixels: 1 at tiny sizes, ~3 at 1080p ({s}: the short side)
# A vertical frame's safe area, as fractions of its height: social apps cover its top ~10 % (account, caption)
# and bottom ~15 % (buttons, description). The watermark, burned titles and subtitles keep clear of both.
SAFE_TOP, SAFE_BOTTOM = 0.1, 0.15
# The overlay filter's working format for each delivered pix_fmt (overlay=…:format=…).
OVERLAY_FORMATS = {"yuv420p": "yuv420", "yuv422p": "yuv422", "yuv444p": "yuv444", "yuv420p10le": "yuv420p10",
                   "yuv422p10le": "yuv422p10", "yuv444p10le": "yuv444p10"}
MAX_TEXT = 200
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
STDERR_LINES = 12


class WatermarkError(Exception):
    """A watermark could not be applied; the message names the file at fault."""


@dataclass(frozen=True)
class WatermarkSpec:
    """What to burn in. Sizes are fractions of the frame's short side, so one spec fits any shape and size."""

    text: str = ""
    logo: Path | None = None
    position: Position = "bottom-right"
    opacity: float = 0.6
    font_size: float = 0.035  # text height (em) as a fraction of the frame's short side
    margin: float = 0.03  # distance from the frame edges (a vertical frame's safe area), fraction of the short side
    logo_height: float = 0.1  # logo height, fraction of the short side (width keeps its aspect)
    gap: float = 0.015  # between logo and text, fraction of the short side

    def __post_init__(self) -> None:
        text = self.text.strip()
        object.__setattr__(self, "text", text)  # ffmpeg's parser drops edge whitespace anyway
        if self.logo is not None:
            object.__setattr__(self, "logo", Path(self.logo))
        problems = []
        if not text and self.logo is None:
            problems.append("give a text, a logo, or both")
        if len(text) > MAX_TEXT:
            problems.append(f"text is {len(text)} characters, at most {MAX_TEXT}")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            problems.append("text may not contain control characters (newlines, tabs)")
        if self.position not in POSITIONS:
            problems.append(f"position must be one of {', '.join(POSITIONS)}, got {self.position!r}")
        if not 0 <= self.opacity <= 1:
            problems.append(f"opacity must be between 0 and 1, got {self.opacity}")
        for name, low, high in (("font_size", 0.005, 0.5), ("margin", 0, 0.4), ("logo_height", 0.01, 0.5),
                                ("gap", 0, 0.2)):
            value = getattr(self, name)
            if not low <= value <= high:
                problems.append(f"{name} must be between {low} and {high} (a fraction of the frame's short side), got {value}")
        if problems:
            raise WatermarkError("watermark: " + "; ".join(problems))

    @classmethod
    def from_delivery(cls, watermark, base: Path) -> WatermarkSpec:
        """From a spec's `delivery.watermark` (text, logo, position, opacity); the logo is relative to `base`."""
        logo = None if watermark.logo is None else (Path(base) / watermark.logo)
        return cls(text=watermark.text, logo=logo, position=watermark.position, opacity=watermark.opacity)


def font_path() -> Path:
    """The bundled font file drawtext is given (never a system font)."""
    path = Path(str(resources.files("reelforge") / "fonts" / FONT_FILE))
    if not path.is_file():
        raise WatermarkError(f"{path}: the bundled watermark font is missing (a broken install?)")
    return path


def _escape(value: str, specials: str) -> str:
    return "".join("\\" + c if c in specials else c for c in value)


def escape_value(value: str) -> str:
    """Escape an option value for `-filter_complex`: first the option level, then the graph level."""
    return _escape(_escape(value, "\\':"), "\\'[],;")


def _num(value: float) -> str:
    """A short, stable decimal for the graph text (no float noise such as 0.30000000000000004)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _logo_xy(spec: WatermarkSpec, portrait: bool) -> tuple[str, str]:
    short = "W" if portrait else "H"  # the main frame's short side, in the overlay's names
    m = f"{short}*{_num(spec.margin)}"
    top, bottom = (f"H*{_num(SAFE_TOP)}+{m}", f"H-h-H*{_num(SAFE_BOTTOM)}-{m}") if portrait else (m, f"H-h-{m}")
    left, right = m, f"W-w-{m}"
    return {
        "top-left": (left, top), "top-right": (right, top),
        "bottom-left": (left, bottom), "bottom-right": (right, bottom),
        "center": ("(W-w)/2", "(H-h)/2"),
    }[spec.position]


def _text_xy(spec: WatermarkSpec, portrait: bool) -> tuple[str, str]:
    short = "w" if portrait else "h"  # the frame's short side, in drawtext's names
    m = _num(spec.margin)
    edge = _num(spec.margin + spec.logo_height + spec.gap) if spec.logo is not None else m
    x = {"left": f"{short}*{m}", "right": f"w-tw-{short}*{m}", "center": "(w-tw)/2"}
    if spec.position == "center":
        if spec.logo is None:
            return x["center"], "(h-th)/2"
        below = _num(spec.logo_height / 2 + spec.gap)
        return x["center"], f"h*0.5+w*{below}" if portrait else f"h*{_num(0.5 + spec.logo_height / 2 + spec.gap)}"
    vertical, horizontal = spec.position.split("-")
    if portrait:
        y = f"h*{_num(SAFE_TOP)}+w*{edge}" if vertical == "top" else f"h-th-h*{_num(SAFE_BOTTOM)}-w*{edge}"
    else:
        y = f"h*{edge}" if vertical == "top" else f"h-th-h*{edge}"
    return x[horizontal], y


def filter_graph(spec: WatermarkSpec, font: Path | str, *, label_bt709: bool = True, pix_fmt: str = "yuv420p",
                 portrait: bool = False) -> str:
    """The `-filter_complex` graph for `spec`: input 0 is the video, input 1 the logo (if any); output `[v]`.

    `label_bt709` starts the graph with `setparams` declaring the input BT.709 limited range, so its
    pixels are not converted; leave it off for an input tagged otherwise (see `labels_as_bt709`).
    `pix_fmt` is what the encoder takes (the delivery's chroma and depth); `portrait`: the frame is
    taller than wide (sizes follow its width, the text keeps to the safe area).
    """
    if pix_fmt not in OVERLAY_FORMATS:
        raise WatermarkError(f"watermark: cannot deliver {pix_fmt}; use one of {', '.join(OVERLAY_FORMATS)}")
    chains = [f"sws_flags={SWS_FLAGS}"]
    head = f"[0:v]{SETPARAMS}," if label_bt709 else "[0:v]"
    source = head
    if spec.logo is not None:
        lx, ly = _logo_xy(spec, portrait)
        overlay = OVERLAY_FORMATS[pix_fmt]
        logo_format = "yuva" + pix_fmt[3:]  # yuv422p10le → yuva422p10le: the logo at the picture's chroma
        chains += [
            f"{head}split=2[base][ref]",
            f"[1:v]format=rgba,colorchannelmixer=aa={_num(spec.opacity)}[logo]",
            (f"[logo][ref]scale=w=-1:h={'rw' if portrait else 'rh'}*{_num(spec.logo_height)}"
             f":out_color_matrix=bt709:out_range=tv,format={logo_format}[mark]"),
            f"[base][mark]overlay=x={lx}:y={ly}:format={overlay}[marked]",
        ]
        source = "[marked]"
    filters = []
    if spec.text:
        tx, ty = _text_xy(spec, portrait)
        short = "w" if portrait else "h"
        offset = SHADOW_OFFSET.format(s=short)
        common = f"fontfile={escape_value(str(font))}:expansion=none:text={escape_value(spec.text)}" \
                 f":fontsize={short}*{_num(spec.font_size)}"
        shadow = _num(SHADOW_ALPHA * spec.opacity)
        filters += [
            f"drawtext={common}:fontcolor=black@{shadow}:x={tx}+{offset}:y={ty}+{offset}",
            f"drawtext={common}:fontcolor=white@{_num(spec.opacity)}:x={tx}:y={ty}",
        ]
    filters.append(f"format={pix_fmt}")
    chains.append(source + ",".join(filters) + "[v]")
    return ";".join(chains)


def _container(dst: Path) -> str:
    try:
        return CONTAINERS[dst.suffix.lower()]
    except KeyError:
        raise WatermarkError(f"{dst}: unknown output type {dst.suffix or '(none)'!r}; "
                             f"use one of {', '.join(CONTAINERS)}") from None


def encoder_args(settings: EncodeSettings) -> list[str]:
    """Output options that fix the bitstream (besides the graph and the ffmpeg build), for the delivery's codec,
    pix_fmt and profile, as its segments are encoded (media/encode.py)."""
    codec = ["-c:v", settings.codec]
    if settings.format == "h264":
        codec += ["-preset", settings.preset, "-crf", str(settings.crf), "-threads", str(settings.threads),
                  "-x264-params", X264_PARAMS + settings.lookahead_params()]
        level = settings.h264_level()
        codec += [] if level is None else ["-level", level]
    elif settings.format == "hevc":
        codec += ["-preset", settings.preset, "-crf", str(settings.crf), "-threads", str(settings.threads),
                  "-x265-params", settings.x265_params(), "-tag:v", settings.codec_tag]
    else:  # ProRes, DNxHR: the profile (and ProRes's vendor) are all their options
        codec += ["-threads", str(settings.threads)]
        for name, value in settings.codec_options().items():
            codec += [f"-{name}:v" if name == "profile" else f"-{name}", value]
    return ["-fps_mode", "passthrough", *codec, "-pix_fmt", settings.pix_fmt,
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-c:a", "copy", "-c:s", "copy",
            # No global metadata (titles, creation times of the source); streams keep theirs (languages).
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata:g", "-1", "-map_chapters", "-1"]


def source_settings(src: Path, *, crf: int = 18, preset: str = "faster", threads: int = 2) -> EncodeSettings:
    """Default H.264 settings (8-bit 4:2:0) sized from a video file: for watermarking an arbitrary file."""
    width, height, rate = 1920, 1080, None  # a file PyAV cannot read is left for ffmpeg to report
    try:
        with av.open(str(src)) as container:
            if container.streams.video:
                stream = container.streams.video[0]
                width, height, rate = stream.width, stream.height, stream.average_rate
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    return EncodeSettings(width=width, height=height, fps=round(rate) if rate else 24, crf=crf, preset=preset,
                          threads=threads)


def ffmpeg_exe() -> str:
    """The pinned ffmpeg binary imageio-ffmpeg ships (with drawtext and overlay, which PyAV's wheel lacks)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def labels_as_bt709(src: Path) -> bool:
    """Whether `src` may be labelled BT.709 limited range as is: it says so, or says nothing.

    Untagged video is taken as BT.709 (reelforge's own renders, and HD video in general); video
    tagged with another matrix, primaries, transfer or full range is converted by ffmpeg instead.
    A file PyAV cannot read is left for ffmpeg to report.
    """
    try:
        with av.open(str(src)) as container:
            if not container.streams.video:
                return True
            context = container.streams.video[0].codec_context
            tags = (context.colorspace, context.color_primaries, context.color_trc)
            full_range = context.color_range == 2 or (context.format is not None and
                                                      context.format.name.startswith("yuvj"))
    except (av.error.FFmpegError, OSError, ValueError):
        return True
    return all(tag in (BT709, UNSPECIFIED) for tag in tags) and not full_range


def ffmpeg_command(src: Path, dst: Path, spec: WatermarkSpec, settings: EncodeSettings | None = None, *,
                   container: str | None = None, label_bt709: bool = True) -> list[str]:
    """The full ffmpeg command line `apply_watermark` runs (writing straight to `dst`).

    Without `settings`: H.264 sized from `src` (`source_settings`), the container from `dst`'s name.
    """
    settings = settings or source_settings(src)
    container = container or _container(Path(dst))
    threads = str(settings.threads)
    command = [ffmpeg_exe(), "-nostdin", "-y", "-hide_banner", "-nostats", "-loglevel", "warning",
               "-threads", threads, "-i", str(src)]
    if spec.logo is not None:
        command += ["-i", str(spec.logo)]
    graph = filter_graph(spec, font_path(), label_bt709=label_bt709, pix_fmt=settings.pix_fmt,
                         portrait=settings.height > settings.width)
    command += ["-filter_complex", graph, "-filter_complex_threads", threads,
                "-map", "[v]", "-map", "0:a?", "-map", "0:s?", *encoder_args(settings)]
    if container in ("mp4", "mov"):
        command += ["-movflags", "+faststart"]
    return command + ["-f", container, str(dst)]


def _check_logo(logo: Path) -> None:
    if not logo.is_file():
        raise WatermarkError(f"{logo}: logo not found")

    try:
        with Image.open(logo) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise WatermarkError(f"{logo}: logo is not a readable image ({exc})") from None


def apply_watermark(src: Path, dst: Path, spec: WatermarkSpec, settings: EncodeSettings | None = None) -> Path:
    """Burn `spec` into `src`, writing `dst` atomically (a reader never sees half a file). Returns `dst`.

    `settings`: the delivery's (its codec, pix_fmt and container); without them, H.264 sized from `src`
    in the container `dst`'s name says (.mp4, .mov, .mkv): what `reelforge watermark` does to any file.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise WatermarkError(f"{src}: input video not found")
    if spec.logo is not None:
        _check_logo(spec.logo)
    container = _container(dst) if settings is None else settings.container
    settings = settings or source_settings(src)
    label = labels_as_bt709(src)
    with atomic_path(dst) as tmp:
        command = ffmpeg_command(src, tmp, spec, settings, container=container, label_bt709=label)
        run_ffmpeg(command, WatermarkError, f"{src}: ffmpeg failed", f"watermarking into {dst}")
    return dst


def run_ffmpeg(command: list[str], error: type[Exception], failed: str, doing: str,
               env: dict[str, str] | None = None) -> None:
    """Run the pinned ffmpeg (in `env`, else this process's environment); on failure raise `error` with
    `failed (exit N) doing:` and its last stderr lines."""
    try:
        result = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, capture_output=True, env=env)
    except OSError as exc:
        raise error(f"{command[0]}: could not run ffmpeg ({exc})") from None
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()[-STDERR_LINES:]
        detail = "\n  ".join(lines) or "(no message)"
        raise error(f"{failed} (exit {result.returncode}) {doing}:\n  {detail}")


def recipe_record(spec: WatermarkSpec, settings: EncodeSettings, *, label_bt709: bool = True) -> dict:
    """Everything the watermarked bytes depend on besides the input, for render records and keys."""
    ffmpeg_exe()  # a clear error when imageio-ffmpeg is missing

    return {
        "recipe": RECIPE_VERSION,
        # the font by name: its install path is not part of the recipe
        "graph": filter_graph(spec, FONT_FILE, label_bt709=label_bt709, pix_fmt=settings.pix_fmt,
                              portrait=settings.height > settings.width),
        "font": {"file": FONT_FILE, "sha256": FONT_SHA256},
        "logo_sha256": None if spec.logo is None else file_sha256(spec.logo),
        "encoder": encoder_args(settings),
        "container": settings.container,
        "imageio_ffmpeg": imageio_ffmpeg.__version__,
        "ffmpeg": imageio_ffmpeg.get_ffmpeg_version(),
    }
