"""Deterministic H.264 segments and their stream-copy concatenation (PyAV + libx264).

Each shot is encoded as its own closed segment (starts with an IDR frame, no
B-frames), and an episode is the segments joined by stream copy. So an edit to
one shot re-encodes that shot only, and a shot's bytes do not depend on its
neighbours. The bitstream is fixed by: the frames, the settings below, the
encoder thread count, and the PyAV/FFmpeg/x264 build — all recorded.

No wall-clock time enters the file: the muxer runs with `bitexact` (no encoder
string, no creation time) and frame timestamps are frame indices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelforge.media.yuv import rgb_to_yuv420
from reelforge.spec.formats import FORMATS
from reelforge.store.atomic import atomic_path

# BT.709 primaries, transfer and matrix; limited ("tv") range. Written into the
# H.264 VUI and the MP4 'colr' box so players decode the colours we encoded.
BT709 = 1
LIMITED_RANGE = 1
CONTAINER_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}


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

    def x264_params(self) -> str:
        # bframes=0: packets decode in presentation order, so segments join by
        # plain timestamp offsets with no negative decode times at a seam.
        return "bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv"

    def record(self) -> dict:
        """The settings and library versions that fix the bitstream, for the segment key and the render record.

        The encode code's own hash joins them in the segment key (engine/shot.py: `segment_key`).
        """
        return {**asdict(self), "x264_params": self.x264_params(), "codec": "libx264", "pix_fmt": "yuv420p",
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
    """Encode RGB frames of one shot into an MP4 segment, written atomically on close."""

    def __init__(self, target: Path, settings: EncodeSettings):
        self.settings = settings
        self._atomic = atomic_path(Path(target))
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w", format="mp4", container_options=CONTAINER_OPTIONS)
        stream = self._container.add_stream("libx264", rate=settings.fps)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
        stream.time_base = Fraction(1, settings.fps)
        context = stream.codec_context
        context.thread_count = settings.threads
        context.flags |= av.codec.context.Flags.bitexact
        context.color_primaries, context.color_trc, context.colorspace = BT709, BT709, BT709
        context.color_range = LIMITED_RANGE
        stream.options = {"preset": settings.preset, "crf": str(settings.crf), "x264-params": settings.x264_params()}
        self._stream = stream
        self._count = 0

    def add_yuv(self, yuv: np.ndarray) -> None:
        """Add one frame already converted by `rgb_to_yuv420` (done off the encoder thread)."""
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._count
        frame.time_base = Fraction(1, self.settings.fps)
        frame.color_range = LIMITED_RANGE
        frame.colorspace = BT709
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def add_rgb(self, rgb: np.ndarray) -> None:
        self.add_yuv(rgb_to_yuv420(rgb))

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


def encode_frames(target: Path, frames, settings: EncodeSettings) -> None:
    """Encode an iterable of RGB frames into one MP4."""
    encoder = SegmentEncoder(target, settings)
    try:
        for frame in frames:
            encoder.add_rgb(frame)
    except BaseException:
        encoder.abort()
        raise
    encoder.close()


def concat_segments(segments: list[Path], target: Path, fps: int) -> None:
    """Join MP4 segments of identical settings into one MP4 by stream copy (no re-encode)."""
    with atomic_path(Path(target)) as tmp:
        out = av.open(str(tmp), mode="w", format="mp4", container_options=CONTAINER_OPTIONS)
        out_stream = None
        extradata = None
        frames_before = 0
        for segment in segments:
            with av.open(str(segment)) as source:
                stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = out.add_stream_from_template(stream)
                    extradata = stream.codec_context.extradata
                elif stream.codec_context.extradata != extradata:
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
