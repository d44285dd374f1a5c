"""Deterministic segments of every delivery format and their stream-copy concatenation (PyAV).

Each shot is encoded as its own closed segment (starts with a key frame, no
B-frames; ProRes and DNxHR are intra-only), and an episode is the segments
joined by stream copy. So an edit to one shot re-encodes that shot only, and a
shot's bytes do not depend on its neighbours. The bitstream is fixed by: the
frames, the settings below, the encoder thread count, and the PyAV/FFmpeg/x264/
x265 build — all recorded (`EncodeSettings.record`).

    format          encoder     container  pix_fmt                         profile
    h264            libx264     MP4        yuv420p … yuv444p10le           high, high10, high422, high444
    hevc            libx265     MP4 hvc1   yuv420p … yuv444p10le           main, main10, main422-10, main444-8 …
    prores-422-hq   prores_ks   MOV        yuv422p10le                     hq (vendor apl0)
    prores-4444     prores_ks   MOV        yuv444p10le                     4444 (vendor apl0)
    dnxhr-hqx       dnxhd       MOV        yuv422p10le                     dnxhr_hqx

No wall-clock time enters the file: the muxer runs with `bitexact` (no encoder
string, no creation time) and frame timestamps are frame indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelforge.media.yuv import rgb_to_yuv
from reelforge.spec.formats import FORMATS
from reelforge.store.atomic import atomic_path

# BT.709 primaries, transfer and matrix; limited ("tv") range. Written into the
# bitstream's VUI and the container's 'colr' box so players decode the colours we encoded.
BT709 = 1
LIMITED_RANGE = 1
CONTAINER_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}
# H.264 levels (Rec. ITU-T H.264 Table A-1) above 5.2, x264's highest automatic choice before 6.0 existed:
# (level, max macroblocks per second, max frame size in macroblocks). 7680×4320 is 129 600 macroblocks.
H264_HIGH_LEVELS = (("6.0", 4_177_920, 139_264), ("6.1", 8_355_840, 139_264), ("6.2", 16_711_680, 139_264))
H264_LEVEL_52_MAX_FS = 36_864
# ProRes: the FourCC of the vendor that made the frames, fixed (prores_ks writes "Lavc" unless told);
# "apl0" is what Final Cut Pro and Resolve write and what some Apple tools check for.
PRORES_VENDOR = "apl0"
PRORES_PROFILES = {"prores-422-hq": "hq", "prores-4444": "4444"}
DNXHR_PROFILE = "dnxhr_hqx"
DNXHR_MIN = (256, 120)  # FFmpeg's dnxhd encoder refuses smaller DNxHR frames
# Above 4K the encoders' look-ahead is what bounds memory: x264 holds ≈ 86 MiB for each 8K frame it looks
# ahead at (its preset `faster` looks 20 frames ahead: ≈ 2.6 GiB), x265 more. The depth is capped there;
# 1080p and 4K keep each preset's own depth (and their bytes). docs/performance.md "8K" has the measurements.
UHD_PIXELS = 3840 * 2160
LOOKAHEAD_ABOVE_UHD = 5
# Each preset's own depth (x264 common/base.c, x265 common/param.cpp), so the cap never deepens one.
PRESET_LOOKAHEAD = {
    "h264": {"ultrafast": 0, "superfast": 0, "veryfast": 10, "faster": 20, "fast": 30, "medium": 40, "slow": 50},
    "hevc": {"ultrafast": 5, "superfast": 10, "veryfast": 15, "faster": 15, "fast": 15, "medium": 20, "slow": 25},
}
HEVC_TAG = "hvc1"  # parameter sets in the sample description only: what Apple players require of HEVC in MP4


@dataclass(frozen=True)
class EncodeSettings:
    width: int
    height: int
    fps: int
    crf: int
    preset: str
    threads: int
    # What is delivered (spec/delivery.py FORMATS): a render recorded before these existed was H.264 8-bit 4:2:0.
    format: str = "h264"
    bit_depth: int = 8
    chroma: str = "4:2:0"

    @property
    def codec(self) -> str:
        """The FFmpeg encoder."""
        return FORMATS[self.format].codec

    @property
    def container(self) -> str:
        """"mp4" or "mov", as the codec expects."""
        return FORMATS[self.format].container

    @property
    def suffix(self) -> str:
        return "." + self.container

    @property
    def pix_fmt(self) -> str:
        """The encoder's input: planar YUV at the delivered chroma and bit depth (e.g. yuv422p10le)."""
        return "yuv" + {"4:2:0": "420", "4:2:2": "422", "4:4:4": "444"}[self.chroma] + "p" + \
            ("10le" if self.bit_depth == 10 else "")

    @property
    def codec_tag(self) -> str | None:
        """The container's sample-entry FourCC where the muxer's default is not what players expect."""
        return HEVC_TAG if self.format == "hevc" else None

    @property
    def profile(self) -> str:
        """The codec profile the stream has: for H.264 and HEVC the encoder derives it from the pix_fmt."""
        if self.format == "h264":
            return {"4:2:0": "high10" if self.bit_depth == 10 else "high", "4:2:2": "high422",
                    "4:4:4": "high444"}[self.chroma]
        if self.format == "hevc":
            if self.chroma == "4:2:0":
                return "main10" if self.bit_depth == 10 else "main"
            return f"main{self.chroma.replace(':', '')[:3]}-{self.bit_depth}"
        return PRORES_PROFILES.get(self.format, DNXHR_PROFILE)

    def h264_level(self) -> str | None:
        """The H.264 level set explicitly: only for frames beyond level 5.2 (8K), where x264 versions differ in
        what they pick; below that x264's own choice (4.0 at 1080p, 5.1 at 4K) is kept, so those bytes stay."""
        macroblocks = math.ceil(self.width / 16) * math.ceil(self.height / 16)
        if self.format != "h264" or macroblocks <= H264_LEVEL_52_MAX_FS:
            return None
        for level, max_rate, max_size in H264_HIGH_LEVELS:
            side = math.sqrt(8 * max_size)  # Table A-1's limit on each dimension
            if macroblocks <= max_size and macroblocks * self.fps <= max_rate and \
                    max(math.ceil(self.width / 16), math.ceil(self.height / 16)) <= side:
                return level
        raise ValueError(f"H.264 has no level for {self.width}×{self.height} at {self.fps} fps; deliver HEVC")

    def lookahead_params(self) -> str:
        """":rc-lookahead=N" where the frame is larger than 4K and the preset looks further ahead than the
        cap (the encoder's memory grows with the frames it holds), else "" (the preset's own depth)."""
        if self.format not in PRESET_LOOKAHEAD or self.width * self.height <= UHD_PIXELS:
            return ""
        if PRESET_LOOKAHEAD[self.format].get(self.preset, 0) <= LOOKAHEAD_ABOVE_UHD:
            return ""
        return f":rc-lookahead={LOOKAHEAD_ABOVE_UHD}"

    def x264_params(self) -> str:
        # bframes=0: packets decode in presentation order, so segments join by
        # plain timestamp offsets with no negative decode times at a seam.
        return "bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv" + self.lookahead_params()

    def x265_params(self) -> str:
        """x265's parameters, all that its output depends on besides preset and crf.

        log-level none: x265 writes its banner to stderr itself. keyint=-1 with scenecut=0: the key frame
        is the segment's first and only one; open-gop=0 and bframes=0 keep the segment closed and in order.
        info=0: no SEI naming the x265 build. The thread pool is pinned (pools, one frame thread, wavefront
        rows inside it), so the bitstream does not depend on the machine's core count.
        """
        return (f"log-level=none:bframes=0:keyint=-1:scenecut=0:open-gop=0:info=0:pools={self.threads}"
                ":frame-threads=1:wpp=1:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=limited"
                + self.lookahead_params())

    def codec_options(self) -> dict[str, str]:
        """The encoder's private options (PyAV `stream.options`; the same names as ffmpeg's -option flags)."""
        if self.format == "h264":
            options = {"preset": self.preset, "crf": str(self.crf), "x264-params": self.x264_params()}
            level = self.h264_level()
            return options if level is None else {**options, "level": level}
        if self.format == "hevc":
            return {"preset": self.preset, "crf": str(self.crf), "x265-params": self.x265_params()}
        if self.format in PRORES_PROFILES:
            return {"profile": PRORES_PROFILES[self.format], "vendor": PRORES_VENDOR}
        return {"profile": DNXHR_PROFILE}

    def record(self) -> dict:
        """The settings and library versions that fix the bitstream, for the segment key and the render record.

        The encode code's own hash joins them in the segment key (engine/shot.py: `segment_key`).
        """
        fields = asdict(self)
        if FORMATS[self.format].master:  # ProRes and DNxHR take no crf or preset: a change to them re-encodes nothing
            del fields["crf"], fields["preset"]
        return {**fields, "codec": self.codec, "container": self.container, "pix_fmt": self.pix_fmt,
                "profile": self.profile, "codec_tag": self.codec_tag, "options": self.codec_options(),
                "av": av.__version__, "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
                "libavformat": ".".join(map(str, av.library_versions["libavformat"])),
                "rgb_to_yuv": "reelforge.media.yuv/bt709-16bit-fixed-point"}


def encode_settings(delivery) -> EncodeSettings:
    """The encode settings a spec's `delivery` (spec.model.Delivery) asks for."""
    width, height = delivery.size
    return EncodeSettings(width=width, height=height, fps=delivery.fps, crf=delivery.crf,
                          preset=delivery.preset, threads=delivery.encoder_threads, format=delivery.format,
                          bit_depth=delivery.depth, chroma=delivery.sampling)


class SegmentEncoder:
    """Encode RGB frames of one shot into a segment (`settings.container`), written atomically on close."""

    def __init__(self, target: Path, settings: EncodeSettings):
        if settings.format == "dnxhr-hqx" and (settings.width < DNXHR_MIN[0] or settings.height < DNXHR_MIN[1]):
            raise ValueError(f"DNxHR frames are at least {DNXHR_MIN[0]}×{DNXHR_MIN[1]}, "
                             f"not {settings.width}×{settings.height}")
        self.settings = settings
        self._atomic = atomic_path(Path(target))
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w", format=settings.container,
                                  container_options=CONTAINER_OPTIONS)
        stream = self._container.add_stream(settings.codec, rate=settings.fps)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, settings.pix_fmt
        stream.time_base = Fraction(1, settings.fps)
        context = stream.codec_context
        context.thread_count = settings.threads
        context.flags |= av.codec.context.Flags.bitexact
        context.color_primaries, context.color_trc, context.colorspace = BT709, BT709, BT709
        context.color_range = LIMITED_RANGE
        if settings.codec_tag is not None:
            context.codec_tag = settings.codec_tag
        stream.options = settings.codec_options()
        self._stream = stream
        self._count = 0

    def add_yuv(self, planes: Sequence[np.ndarray]) -> None:
        """Add one frame already converted by `rgb_to_yuv` at the settings' chroma and depth (done off the
        encoder thread)."""
        frame = av.VideoFrame(self.settings.width, self.settings.height, self.settings.pix_fmt)
        fill_planes(frame, planes)
        frame.pts = self._count
        frame.time_base = Fraction(1, self.settings.fps)
        frame.color_range = LIMITED_RANGE
        # ProRes writes its frame header's colour tags from the frame (the others from the stream's context)
        frame.color_primaries, frame.color_trc, frame.colorspace = BT709, BT709, BT709
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def add_rgb(self, rgb: np.ndarray) -> None:
        self.add_yuv(rgb_to_yuv(rgb, self.settings.chroma, self.settings.bit_depth))

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the partial file is discarded either way
            pass
        self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)


def fill_planes(frame: av.VideoFrame, planes: Sequence[np.ndarray]) -> None:
    """Copy (Y, Cb, Cr) arrays into a frame's planes, row by row past each plane's line padding.

    `VideoFrame.from_ndarray` takes only some of the formats delivered (not yuv422p or yuv444p10le), and
    a plane's rows are `line_size` bytes apart, which is more than its width when FFmpeg pads them.
    """
    sample = np.dtype("<u2") if frame.format.name.endswith("10le") else np.dtype(np.uint8)
    if len(planes) != len(frame.planes):
        raise ValueError(f"{len(planes)} planes do not fit a {frame.format.name} frame")
    for plane, data in zip(frame.planes, planes):
        if data.shape != (plane.height, plane.width) or data.dtype != sample:
            raise ValueError(f"a {data.shape} {data.dtype} plane does not fit a {plane.width}×{plane.height} "
                             f"{frame.format.name} plane")
        target = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        target[:, :plane.width * sample.itemsize] = np.ascontiguousarray(data).view(np.uint8)


def encode_frames(target: Path, frames, settings: EncodeSettings) -> None:
    """Encode an iterable of RGB frames into one file of the settings' format."""
    encoder = SegmentEncoder(target, settings)
    try:
        for frame in frames:
            encoder.add_rgb(frame)
    except BaseException:
        encoder.abort()
        raise
    encoder.close()


def container_of(path: Path) -> str:
    """"mov" for a QuickTime file (its 'ftyp' brand is 'qt  '), else "mp4": what a segment was muxed as,
    whatever its name (the store keeps every segment as `<key>.mp4`)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    return "mov" if head[4:8] == b"ftyp" and head[8:12] == b"qt  " else "mp4"


def concat_segments(segments: list[Path], target: Path, fps: int) -> None:
    """Join segments of identical settings into one file by stream copy (no re-encode).

    The result is muxed as the segments were (MP4 or MOV); segments whose codec setup (extradata: H.264's
    avcC, HEVC's hvcC) differs are refused, since one sample description cannot describe both.
    """
    container = container_of(segments[0]) if segments else "mp4"
    with atomic_path(Path(target)) as tmp:
        out = av.open(str(tmp), mode="w", format=container, container_options=CONTAINER_OPTIONS)
        out_stream = None
        extradata = None
        frames_before = 0
        for segment in segments:
            with av.open(str(segment)) as source:
                stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = out.add_stream_from_template(stream)
                    # the sample entry as encoded (hvc1, not the muxer's hev1; ap4h, not a guess from the profile)
                    out_stream.codec_context.codec_tag = stream.codec_context.codec_tag
                    extradata = stream.codec_context.extradata
                elif stream.codec_context.extradata != extradata or container_of(segment) != container:
                    raise ValueError(f"{segment} was encoded with other settings; segments cannot be joined")
                offset = Fraction(frames_before, fps) / stream.time_base
                if offset.denominator != 1:
                    raise ValueError(f"{segment}: time base {stream.time_base} cannot express frame {frames_before}")
                count = 0
                for packet in source.demux(stream):
                    if packet.dts is None:
                        continue
                    packet.pts += int(offset)
                    packet.dts += int(offset)
                    packet.stream = out_stream
                    out.mux(packet)
                    count += 1
                frames_before += count
        out.close()
