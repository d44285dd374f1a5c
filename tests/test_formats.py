"""Delivery formats: every codec encodes byte-deterministically, segment by segment, and joins by stream copy.

Each format's smallest practical frame is used (64×36; DNxHR refuses anything under 256×120). What an
editor's tools read back is checked: codec, size, bit depth and chroma (the decoder's pix_fmt), profile,
sample-entry tag, BT.709 limited-range tags, container. 8-bit H.264 bytes stay what they were:
tests/test_golden.py holds them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.deliver.assemble import assemble
from reelforge.deliver.options import DeliveryOptions
from reelforge.engine.shot import in_flight
from reelforge.media.encode import EncodeSettings, SegmentEncoder, concat_segments, encode_frames
from reelforge.media.watermark import WatermarkSpec, apply_watermark, ffmpeg_command
from reelforge.media.yuv import BAND_ROWS, CB_ROW, CR_ROW, FIXED, KB, KR, Y_ROW, rgb_to_yuv, rgb_to_yuv420
from reelforge.store.frames import FrameStore
from reelforge.trust.mark import MarkKey

# (format, bit depth, chroma, width, height) → (decoder name, decoded pix_fmt, profile, sample-entry tag)
CASES = {
    ("h264", 8, "4:2:0", 64, 36): ("h264", "yuv420p", "High", "avc1"),
    ("h264", 10, "4:2:0", 64, 36): ("h264", "yuv420p10le", "High 10", "avc1"),
    ("h264", 8, "4:2:2", 64, 36): ("h264", "yuv422p", "High 4:2:2", "avc1"),
    ("h264", 10, "4:4:4", 64, 36): ("h264", "yuv444p10le", "High 4:4:4 Predictive", "avc1"),
    ("hevc", 8, "4:2:0", 64, 36): ("hevc", "yuv420p", "Main", "hvc1"),
    ("hevc", 10, "4:2:0", 64, 36): ("hevc", "yuv420p10le", "Main 10", "hvc1"),
    ("hevc", 10, "4:2:2", 64, 36): ("hevc", "yuv422p10le", "Rext", "hvc1"),
    ("prores-422-hq", 10, "4:2:2", 64, 36): ("prores", "yuv422p10le", "HQ", "apch"),
    # FFmpeg's ProRes decoder gives every 4444 frame at 12 bits: the 10-bit samples, two bits up
    ("prores-4444", 10, "4:4:4", 64, 36): ("prores", "yuv444p12le", "4444", "ap4h"),
    ("dnxhr-hqx", 10, "4:2:2", 256, 120): ("dnxhd", "yuv422p10le", "DNXHR HQX", "AVdh"),
}
IDS = [f"{f}-{d}bit-{c.replace(':', '')}" for f, d, c, _, _ in CASES]


def settings_of(case: tuple, threads: int = 2, preset: str = "faster") -> EncodeSettings:
    fmt, depth, chroma, width, height = case
    return EncodeSettings(width, height, 24, 18, preset, threads, fmt, depth, chroma)


def picture(width: int, height: int, index: int) -> np.ndarray:
    """A previz-like frame: colour gradients, a moving bright square and seeded grain."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    np.full_like(x, (index * 37) % 256)], axis=-1).astype(np.int16)
    side = max(4, height // 4)
    left = (index * 5) % max(1, width - side)
    rgb[side:2 * side, left:left + side] = 240
    rgb += np.random.default_rng(index).integers(-6, 7, size=rgb.shape, dtype=np.int16)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def encode(case: tuple, target: Path, first: int = 0, count: int = 3, **kwargs) -> Path:
    fmt, depth, chroma, width, height = case
    encode_frames(target, [picture(width, height, first + i) for i in range(count)], settings_of(case, **kwargs))
    return target


def probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        keys = [packet.is_keyframe for packet in container.demux(stream) if packet.size]
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    with open(path, "rb") as handle:
        brand = handle.read(12)[8:]
    return {"codec": context.name, "size": (stream.width, stream.height), "pix_fmt": frames[0].format.name,
            "profile": context.profile, "tag": stream.codec_tag, "brand": brand, "keys": keys,
            "pts": [frame.pts * frame.time_base * 24 for frame in frames],
            "colour": (context.color_primaries, context.color_trc, context.colorspace, context.color_range),
            "frames": frames}


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as stored, padding cut off (uint16 for 10- and 12-bit frames)."""
    plane = frame.planes[0]
    dtype = np.uint8 if frame.format.name in ("yuv420p", "yuv422p", "yuv444p") else np.dtype("<u2")
    return np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, :plane.width]


# ----------------------------------------------------------------------------- RGB → YCbCr


def exact_ycbcr(rgb: tuple[int, int, int], bit_depth: int) -> np.ndarray:
    """BT.709 limited range from the matrix's definition, in floating point (no fixed point anywhere)."""
    r, g, b = (c / 255 for c in rgb)
    y = KR * r + (1 - KR - KB) * g + KB * b
    scale = 1 << (bit_depth - 8)
    return np.array([(16 + 219 * y) * scale, (128 + 224 * (b - y) / (2 * (1 - KB))) * scale,
                     (128 + 224 * (r - y) / (2 * (1 - KR))) * scale])


@pytest.mark.parametrize("chroma", ["4:2:0", "4:2:2", "4:4:4"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_conversion_is_the_bt709_matrix_rounded(chroma: str, bit_depth: int):
    rng = np.random.default_rng(7)
    for colour in [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 0, 255), *map(tuple, rng.integers(0, 256, (40, 3)))]:
        flat = np.broadcast_to(np.array(colour, np.uint8), (4, 6, 3)).copy()
        planes = rgb_to_yuv(flat, chroma, bit_depth)
        assert planes[0].dtype == (np.uint8 if bit_depth == 8 else np.dtype("<u2"))
        found = np.array([int(p[0, 0]) for p in planes])
        assert all(np.unique(p).size == 1 for p in planes)  # a flat frame stays flat at every chroma siting
        assert np.abs(found - exact_ycbcr(colour, bit_depth)).max() <= 0.52, colour
    white, black = (rgb_to_yuv(np.full((2, 2, 3), v, np.uint8), chroma, bit_depth) for v in (255, 0))
    top = {8: (235, 128), 10: (940, 512)}[bit_depth]
    assert (int(white[0][0, 0]), int(white[1][0, 0])) == top
    assert int(black[0][0, 0]) == {8: 16, 10: 64}[bit_depth]
    shapes = [p.shape for p in rgb_to_yuv(np.zeros((4, 6, 3), np.uint8), chroma, bit_depth)]
    assert shapes == [(4, 6)] + [{"4:2:0": (2, 3), "4:2:2": (4, 3), "4:4:4": (4, 6)}[chroma]] * 2


def test_8bit_420_planes_are_the_i420_bytes_h264_always_had():
    frame = picture(64, 36, 3)
    assert np.concatenate([p.reshape(-1) for p in rgb_to_yuv(frame)]).tobytes() == rgb_to_yuv420(frame).tobytes()


def test_422_chroma_is_cosited_with_even_pixels():
    """A one-pixel-wide red line at an odd column reaches its two neighbours' chroma equally ([1 2 1])."""
    rgb = np.zeros((2, 8, 3), np.uint8)
    rgb[:, 3, 0] = 255
    cr = rgb_to_yuv(rgb, "4:2:2", 10)[2][0].astype(int) - 512
    assert cr[1] == cr[2] > 0 and cr[0] == cr[3] == 0


def whole_frame_yuv(rgb: np.ndarray, chroma: str, bit_depth: int) -> tuple[np.ndarray, ...]:
    """The conversion written plainly, the whole frame at once in int64: what every band must reproduce."""
    x = rgb.astype(np.int64)

    def code(sums: np.ndarray, row: tuple[int, int, int], base: int, weight_bits: int) -> np.ndarray:
        shift = FIXED + weight_bits - (bit_depth - 8)
        acc = sums[..., 0] * row[0] + sums[..., 1] * row[1] + sums[..., 2] * row[2]
        return (acc + (base << (FIXED + weight_bits)) + (1 << (shift - 1))) >> shift

    if chroma == "4:4:4":
        sums, weight_bits = x, 0
    elif chroma == "4:2:0":  # each 2×2 block
        sums, weight_bits = x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2], 2
    else:  # [1 2 1] around each even column, the left edge repeated
        left = np.concatenate([x[:, :1], x[:, 1::2][:, :-1]], axis=1)
        sums, weight_bits = left + 2 * x[:, 0::2] + x[:, 1::2], 2
    return code(x, Y_ROW, 16, 0), code(sums, CB_ROW, 128, weight_bits), code(sums, CR_ROW, 128, weight_bits)


@pytest.mark.parametrize("chroma", ["4:2:0", "4:2:2", "4:4:4"])
@pytest.mark.parametrize("bit_depth", [8, 10])
def test_banded_conversion_is_the_whole_frame_conversion(chroma: str, bit_depth: int):
    """Converting a band of rows at a time changes no byte: sizes around and across band edges, random pixels."""
    rng = np.random.default_rng(18)
    sizes = [(2, 2), (BAND_ROWS, 10), (BAND_ROWS + 2, 46), (3 * BAND_ROWS - 2, 102), (150, 318)]
    if chroma == "4:4:4":
        sizes += [(1, 1), (BAND_ROWS + 1, 37), (131, 35)]
    elif chroma == "4:2:2":
        sizes += [(BAND_ROWS + 1, 38), (131, 6)]
    for height, width in sizes:
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for rgb in (frame, frame[:, ::-1]):  # also a view that is not contiguous
            planes = rgb_to_yuv(rgb, chroma, bit_depth)
            for found, expected in zip(planes, whole_frame_yuv(rgb, chroma, bit_depth)):
                assert found.dtype == (np.uint8 if bit_depth == 8 else np.dtype("<u2"))
                assert found.shape == expected.shape and np.array_equal(found, expected), (height, width)
            if (chroma, bit_depth) == ("4:2:0", 8):
                assert rgb_to_yuv420(rgb).tobytes() == b"".join(p.tobytes() for p in planes)


def test_conversion_temporaries_are_bounded_by_a_band():
    """An 8K-wide frame converts with a few MiB beyond its output (whole-frame temporaries were 8× the output)."""
    import tracemalloc

    frame = np.random.default_rng(3).integers(0, 256, (1080, 7680, 3), dtype=np.uint8)
    for chroma, bit_depth in (("4:2:0", 8), ("4:2:2", 10), ("4:4:4", 10)):
        tracemalloc.start()
        try:
            planes = rgb_to_yuv(frame, chroma, bit_depth)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        output = sum(p.nbytes for p in planes)
        assert peak - output < 16 * 2**20, (chroma, bit_depth, peak - output)


# ----------------------------------------------------------------------------- every format

ENCODE_ALL = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_formats import CASES, encode, settings_of
out = Path(sys.argv[1])
for case in CASES:
    encode(case, out / ("-".join(map(str, case)).replace(":", "") + settings_of(case).suffix))
"""


def test_two_processes_encode_identical_bytes(tmp_path: Path):
    digests = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        subprocess.run([sys.executable, "-c", ENCODE_ALL.format(tests=str(Path(__file__).parent)), str(folder)],
                       check=True, capture_output=True)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()})
    assert len(digests[0]) == len(CASES)
    assert digests[0] == digests[1]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_file_declares_codec_size_depth_and_chroma(tmp_path: Path, case: tuple):
    settings = settings_of(case)
    found = probe(encode(case, tmp_path / f"clip{settings.suffix}", count=4))
    codec, pix_fmt, profile, tag = CASES[case]
    assert (found["codec"], found["size"], found["pix_fmt"], found["profile"], found["tag"]) == \
        (codec, case[3:], pix_fmt, profile, tag)
    assert found["brand"] == (b"qt  " if settings.container == "mov" else b"isom")
    assert found["colour"] == (1, 1, 1, 1)  # BT.709 primaries, transfer and matrix; limited range
    assert found["keys"] == [True, False, False, False] or all(found["keys"])  # one key frame (intra codecs: all)
    assert found["pts"] == [0, 1, 2, 3]


def test_record_states_what_fixes_every_format():
    for case in CASES:
        record = settings_of(case).record()
        assert {"codec", "container", "pix_fmt", "profile", "options", "codec_tag"} <= set(record)
        json.dumps(record)  # it goes into segment keys
    hevc = settings_of(("hevc", 10, "4:2:0", 64, 36), threads=3).record()
    assert "pools=3" in hevc["options"]["x265-params"] and hevc["threads"] == 3
    assert settings_of(("prores-4444", 10, "4:4:4", 64, 36)).record()["options"] == {"profile": "4444",
                                                                                     "vendor": "apl0"}
    # 8-bit H.264's options are what they always were (no level below 8K), so its bytes are too
    assert settings_of(("h264", 8, "4:2:0", 1920, 1080)).codec_options() == {
        "preset": "faster", "crf": "18", "x264-params": "bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv"}
    assert EncodeSettings(7680, 4320, 30, 18, "faster", 2).codec_options()["level"] == "6.0"


def test_a_masters_record_leaves_out_the_crf_and_preset_it_ignores():
    """ProRes and DNxHR take no crf or preset: changing them must not change a master's segment keys (re-encode)."""
    from dataclasses import replace

    from reelforge.engine.record import recorded_encode_settings

    for case in CASES:
        settings = settings_of(case)
        other = replace(settings, crf=settings.crf + 5, preset="slow")
        if settings.format in ("prores-422-hq", "prores-4444", "dnxhr-hqx"):
            assert other.record() == settings.record() and "crf" not in settings.record(), case
            # read back from a render record (verify re-encodes from it): the same settings, the same record
            assert recorded_encode_settings(json.dumps(settings.record())).record() == settings.record()
        else:
            assert other.record() != settings.record(), case


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_segments_join_by_stream_copy_in_order(tmp_path: Path, case: tuple):
    settings = settings_of(case)
    first = encode(case, tmp_path / f"a{settings.suffix}", first=0, count=3)
    second = encode(case, tmp_path / f"b{settings.suffix}", first=3, count=2)
    joined = tmp_path / f"joined{settings.suffix}"
    concat_segments([first, second], joined, settings.fps)
    found = probe(joined)
    codec, pix_fmt, _, tag = CASES[case]
    assert (found["codec"], found["pix_fmt"], found["tag"]) == (codec, pix_fmt, tag)
    assert found["brand"] == probe(first)["brand"]
    assert found["pts"] == [0, 1, 2, 3, 4]
    # each joined frame is the frame its segment decoded (stream copy: nothing re-encoded)
    alone = probe(first)["frames"] + probe(second)["frames"]
    assert all(np.array_equal(luma(a), luma(b)) for a, b in zip(alone, found["frames"], strict=True))
    # and the frames are the ones encoded, in order: the bright square moves right, 5 pixels a frame
    squares = []
    for frame in found["frames"]:
        row = luma(frame)[case[4] // 4 + 2].astype(float)
        bright = np.nonzero(row > 0.75 * row.max())[0]
        squares.append(bright.mean())
    assert np.allclose(np.diff(squares), 5, atol=1.5), squares


def test_segments_of_other_settings_are_refused(tmp_path: Path):
    first = encode(("hevc", 10, "4:2:0", 64, 36), tmp_path / "a.mp4")
    other = encode(("hevc", 10, "4:2:0", 64, 36), tmp_path / "b.mp4", preset="ultrafast")
    with pytest.raises(ValueError, match="other settings"):
        concat_segments([first, other], tmp_path / "joined.mp4", 24)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 10], ids=[i for c, i in zip(CASES, IDS) if c[1] == 10])
def test_10bit_decode_of_a_known_colour_gives_its_code_values(tmp_path: Path, case: tuple):
    """A steel blue (30, 140, 220) decodes to BT.709 10-bit codes Y 484, Cb 697, Cr 306 (lossy codecs: ±1)."""
    fmt, depth, chroma, width, height = case
    settings = settings_of(case)
    encode_frames(tmp_path / f"c{settings.suffix}", [np.full((height, width, 3), (30, 140, 220), np.uint8)] * 2,
                  settings)
    expected = np.round(exact_ycbcr((30, 140, 220), 10)).astype(int)
    assert list(expected) == [484, 697, 306]
    frame = probe(tmp_path / f"c{settings.suffix}")["frames"][0]
    shift = 2 if frame.format.name.endswith("12le") else 0  # ProRes 4444 decodes at 12 bits
    for plane, code in zip(frame.planes, expected, strict=True):
        samples = np.frombuffer(plane, np.dtype("<u2")).reshape(plane.height, -1)[:, :plane.width].astype(int)
        assert np.abs((samples >> shift) - code).max() <= 1, (fmt, samples.min(), samples.max(), code)
        assert shift == 0 or not (samples & 3).any()


def test_encoder_refuses_planes_of_another_format(tmp_path: Path):
    encoder = SegmentEncoder(tmp_path / "x.mov", settings_of(("prores-422-hq", 10, "4:2:2", 64, 36)))
    try:
        with pytest.raises(ValueError, match="does not fit"):
            encoder.add_yuv(rgb_to_yuv(picture(64, 36, 0)))  # 8-bit 4:2:0 planes
    finally:
        encoder.abort()
    assert not list(tmp_path.iterdir())


def test_dnxhr_below_its_smallest_frame_is_said_plainly(tmp_path: Path):
    with pytest.raises(ValueError, match="DNxHR frames are at least 256×120, not 128×72"):
        SegmentEncoder(tmp_path / "x.mov", settings_of(("dnxhr-hqx", 10, "4:2:2", 128, 72)))
    assert not list(tmp_path.iterdir())


def test_in_flight_frames_are_bounded_by_bytes():
    def job(width: int, height: int):
        return SimpleNamespace(canvas_width=width, canvas_height=height)

    assert in_flight(job(1920, 1080)) == in_flight(job(3840, 2160)) == 6  # as before
    assert in_flight(job(7680, 4320)) == 4
    assert in_flight(job(7680, 4320), settings_of(("prores-4444", 10, "4:4:4", 7680, 4320))) == 2


# ----------------------------------------------------------------------------- 8K


@pytest.mark.xdist_group("8k")  # one 8K encode at a time: each holds ~2.5 GB
@pytest.mark.parametrize("fmt, level", [("h264", 60), ("hevc", 180)])  # H.264 6.0; HEVC 6.0 (level_idc 30·6)
def test_8k_encodes_at_a_valid_level_and_decodes(tmp_path: Path, fmt: str, level: int):
    width, height = 7680, 4320
    settings = EncodeSettings(width, height, 30, 18, "ultrafast", 2, fmt)
    ramp = np.linspace(0, 255, width).astype(np.uint8)
    frame = np.empty((height, width, 3), np.uint8)
    frame[...] = ramp[None, :, None]
    frame[:, :, 2] = np.linspace(0, 255, height).astype(np.uint8)[:, None]
    encode_frames(tmp_path / "8k.mp4", [frame, frame[:, ::-1]], settings)
    with av.open(str(tmp_path / "8k.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.level) == (width, height, level)
        decoded = [f.to_ndarray(format="gray")[::1080, ::1920] for f in container.decode(stream)]
    assert len(decoded) == 2 and not np.array_equal(decoded[0], decoded[1])


@pytest.mark.parametrize("fmt", ["h264", "hevc"])
def test_lookahead_is_capped_only_above_4k(fmt: str):
    """1080p and 4K keep each preset's look-ahead (their bytes and segment keys stay); larger frames look at
    most 5 frames ahead, and a preset that looks less ahead is left alone."""
    params = {"h264": EncodeSettings.x264_params, "hevc": EncodeSettings.x265_params}[fmt]
    before = {"h264": "bframes=0:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv",
              "hevc": "log-level=none:bframes=0:keyint=-1:scenecut=0:open-gop=0:info=0:pools=2:frame-threads=1"
                      ":wpp=1:colorprim=bt709:transfer=bt709:colormatrix=bt709:range=limited"}[fmt]
    for width, height in ((1920, 1080), (3840, 2160), (2160, 3840), (2160, 2160)):
        for preset in ("ultrafast", "faster", "slow"):
            assert params(EncodeSettings(width, height, 24, 18, preset, 2, fmt)) == before
    for width, height in ((7680, 4320), (4320, 7680), (4320, 4320)):
        assert params(EncodeSettings(width, height, 24, 18, "faster", 2, fmt)) == before + ":rc-lookahead=5"
    assert params(EncodeSettings(7680, 4320, 24, 18, "ultrafast", 2, fmt)) == before  # 0 (x264) or 5 (x265)


@pytest.mark.xdist_group("8k")
def test_8k_h264_encoder_looks_five_frames_ahead(tmp_path: Path):
    """The cap reaches x264 (its options SEI names the depth), and the 8K file still decodes."""
    settings = EncodeSettings(7680, 4320, 24, 18, "faster", 2)
    frame = np.zeros((4320, 7680, 3), np.uint8)
    frame[:, :, 1] = np.linspace(0, 255, 7680).astype(np.uint8)[None, :]
    encode_frames(tmp_path / "8k.mp4", [frame, frame[::-1]], settings)
    data = (tmp_path / "8k.mp4").read_bytes()
    assert b" rc_lookahead=5 " in data and b" mbtree=1 " in data
    with av.open(str(tmp_path / "8k.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 2


# ----------------------------------------------------------------------------- watermark and assembly


@pytest.fixture(scope="module")
def logo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    Image.new("RGBA", (40, 20), (230, 230, 230, 255)).save(path)
    return path


@pytest.mark.parametrize("case", [("hevc", 10, "4:2:0", 320, 180), ("prores-422-hq", 10, "4:2:2", 320, 180),
                                  ("prores-4444", 10, "4:4:4", 320, 180), ("dnxhr-hqx", 10, "4:2:2", 256, 144),
                                  ("h264", 10, "4:2:2", 320, 180)], ids=lambda c: f"{c[0]}-{c[2]}")
def test_watermark_keeps_the_delivery_format(tmp_path: Path, logo: Path, case: tuple):
    settings = settings_of(case)
    source = encode(case, tmp_path / f"in{settings.suffix}", count=2)
    spec = WatermarkSpec(text="REVIEW", logo=logo, position="top-left", opacity=1.0)
    command = ffmpeg_command(source, tmp_path / f"cli{settings.suffix}", spec, settings, container=settings.container)
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr  # no option ignored, no colour guessed
    out = apply_watermark(source, tmp_path / f"out{settings.suffix}", spec, settings)
    again = apply_watermark(source, tmp_path / f"again{settings.suffix}", spec, settings)
    assert out.read_bytes() == again.read_bytes()
    before, after = probe(source), probe(out)
    for field in ("codec", "size", "pix_fmt", "profile", "tag", "brand", "colour", "pts"):
        assert after[field] == before[field], field
    changed = np.abs(luma(after["frames"][0]).astype(int) - luma(before["frames"][0]).astype(int))
    threshold = 40 << (2 if case[1] == 10 else 0) << (2 if after["pix_fmt"].endswith("12le") else 0)
    height, width = changed.shape
    assert (changed[: height // 3, : width // 3] > threshold).mean() > 0.02  # the mark is in its corner
    assert (changed[height // 2:, width // 2:] > threshold).mean() == 0


def test_vertical_watermark_keeps_out_of_the_app_overlays(tmp_path: Path):
    """Sizes follow the short side (the width), and the mark stays above the bottom 15 % of a 9:16 frame."""
    case = ("h264", 8, "4:2:0", 180, 320)
    black = tmp_path / "black.mp4"
    encode_frames(black, [np.zeros((320, 180, 3), np.uint8)], settings_of(case))
    out = apply_watermark(black, tmp_path / "out.mp4", WatermarkSpec(text="WWWW", opacity=1.0), settings_of(case))
    marked = luma(probe(out)["frames"][0]) > 100
    rows = np.nonzero(marked.any(axis=1))[0]
    assert rows.size and rows.max() < 320 * 0.85
    assert 0.035 * 180 * 0.5 < rows.max() - rows.min() + 1 < 0.035 * 320  # text height from the width, not the height


@pytest.mark.parametrize("case", [("prores-422-hq", 10, "4:2:2", 256, 144), ("hevc", 10, "4:2:0", 256, 144)],
                         ids=lambda c: c[0])
def test_marked_and_watermarked_assembly_in_every_format(tmp_path: Path, logo: Path, case: tuple):
    settings = settings_of(case)
    store = FrameStore(tmp_path / "frames")
    frames = [picture(case[3], case[4], i) for i in range(3)]
    hashes = [store.put(frame) for frame in frames]
    segment = tmp_path / f"seg{settings.suffix}"
    encode_frames(segment, frames, settings)
    key = MarkKey(hashlib.sha256(b"formats test key").digest())
    options = DeliveryOptions(mark_id=7, mark_key=key, watermark=WatermarkSpec(text="X", logo=logo))
    made = []
    for name in ("a", "b"):
        made.append(assemble(tmp_path / f"{name}{settings.suffix}", [segment], hashes, store, settings, options,
                             tmp_path))
    assert made[0].read_bytes() == made[1].read_bytes()
    found, plain = probe(made[0]), probe(segment)
    for field in ("codec", "size", "pix_fmt", "profile", "tag", "brand", "pts"):
        assert found[field] == plain[field], field
    assert not list(tmp_path.glob("incoming-joined*"))  # the work file is gone
    joined_only = assemble(tmp_path / f"plain{settings.suffix}", [segment], hashes, store, settings,
                           DeliveryOptions(), tmp_path)
    assert joined_only.read_bytes() != made[0].read_bytes() and probe(joined_only)["tag"] == plain["tag"]
