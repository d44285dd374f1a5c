"""The frame store's codecs: every frame comes back bit-exact, the codec is in its header, older stores
are read and reused as they are, and a damaged frame in the new format is caught like before."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import tempfile
import tracemalloc
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from conftest import run_cli, small_spec, stream_sha, write_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reelforge.engine.shot import Backends
from reelforge.plan.jobs import plan
from reelforge.post.pipeline import finish_frame
from reelforge.spec.load import load_production
from reelforge.store import frame_codec
from reelforge.store.frames import CorruptFrame, FrameStore, frame_hash

OLD_HEADER = struct.Struct(">4sII32s")  # what reelforge wrote before this release: RFF1 and zlib level 1


def old_format(frame: np.ndarray) -> bytes:
    """A frame exactly as the previous release stored it."""
    payload = zlib.compress(np.ascontiguousarray(frame).data, 1)
    return OLD_HEADER.pack(b"RFF1", *frame.shape[:2], hashlib.sha256(payload).digest()) + payload


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients under fine grain: what generative and photographic frames look like to a codec."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height) + 64], axis=-1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def hatched(height: int, width: int) -> np.ndarray:
    """One random 16×16 tile repeated: a pattern a dictionary coder finds and JPEG XL's fast mode does not."""
    tile = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return np.tile(tile, (height // 16 + 1, width // 16 + 1, 1))[:height, :width].copy()


frames = st.integers(1, 40).flatmap(lambda h: st.integers(1, 40).flatmap(
    lambda w: st.one_of(arrays(np.uint8, (h, w, 3)),  # any pixels at all
                        st.integers(0, 255).map(lambda v: np.full((h, w, 3), v, np.uint8)),  # flat
                        st.integers(0, 2**32 - 1).map(lambda s: photo_like(h, w, s)))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames)
def test_any_frame_round_trips_bit_exact(frame):
    codec, payload = frame_codec.encode(frame)
    assert np.array_equal(frame_codec.decode(codec, payload, *frame.shape[:2]), frame)


@settings(max_examples=25, deadline=None)
@given(frame=frames)
def test_any_frame_round_trips_through_the_store(frame):
    # A store of its own per example: a frame's hash covers its bytes, not its shape, so a flat 24×33 and a flat
    # 33×24 frame of one colour share a name (one production's frames all have its canvas size).
    with tempfile.TemporaryDirectory() as folder:
        store = FrameStore(Path(folder) / "frames")
        digest = store.put(frame)
        assert digest == frame_hash(frame) and store.check(digest)
        assert np.array_equal(store.get(digest), frame)


@pytest.fixture(scope="module")
def rendered_frames(tmp_path_factory) -> dict[str, np.ndarray]:
    """Real 1080p frames: the gray-box example, and the same shot in a textured style family."""
    folder = tmp_path_factory.mktemp("frames")
    found = {}
    for style in ("gray-box", "watercolor"):
        spec = small_spec(frames=4)
        spec["style"] = {"preset": style}
        job = plan(load_production(write_spec(folder / style, spec)))[0].jobs[0]
        (_, picture), = Backends().get(job.backend).render(job, [2])
        found[style] = finish_frame(job, 2, picture)
    return found


def test_rendered_frames_round_trip_and_take_the_codec_that_suits_them(rendered_frames, tmp_path):
    store = FrameStore(tmp_path / "frames")
    cases = {"gray-box": rendered_frames["gray-box"], "watercolor": rendered_frames["watercolor"],
             "photo-like": photo_like(1080, 1920), "hatched": hatched(1080, 1920)}
    codecs = {}
    for name, frame in cases.items():
        digest = store.put(frame)
        assert np.array_equal(store.get(digest), frame), name
        codecs[name] = store.codec(digest)
    assert codecs == {"gray-box": "zstd", "watercolor": "jpegxl", "photo-like": "jpegxl", "hatched": "zstd"}


def test_new_store_is_smaller_than_the_old_on_textured_frames(rendered_frames):
    """What the change is for: fewer bytes than zlib on generative-like frames, never more on previz."""
    for frame in (photo_like(1080, 1920), rendered_frames["watercolor"], rendered_frames["gray-box"]):
        _, payload = frame_codec.encode(frame)
        assert len(payload) <= len(old_format(frame)) - 40
    _, payload = frame_codec.encode(photo_like(1080, 1920))
    assert len(payload) < 0.75 * len(old_format(photo_like(1080, 1920)))


def test_a_frame_stored_by_the_previous_release_is_read_and_checked(tmp_path):
    store = FrameStore(tmp_path / "frames")
    frame = photo_like(36, 64)
    digest = frame_hash(frame)
    store.path(digest).parent.mkdir(parents=True)
    store.path(digest).write_bytes(old_format(frame))
    assert store.check(digest) and store.codec(digest) == "zlib"
    assert np.array_equal(store.get(digest), frame)
    store.put(frame)  # an intact old frame is kept as it is, not rewritten
    assert store.path(digest).read_bytes() == old_format(frame)
    flipped = bytearray(old_format(frame))
    flipped[-3] ^= 0x10
    store.path(digest).write_bytes(bytes(flipped))
    assert not store.check(digest)


def test_a_store_from_the_previous_release_is_reused_without_rendering_again(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec(frames=4))
    run_cli("render", str(spec))
    delivered = spec.parent / "renders" / "s01e01.mp4"
    before = stream_sha(delivered)
    store = FrameStore(spec.parent / ".reelforge" / "frames")
    stored = list((spec.parent / ".reelforge" / "frames").rglob("*.rff"))
    for path in stored:  # every frame rewritten as the previous release would have written it
        path.write_bytes(old_format(store.get(path.stem)))
    for segment in (spec.parent / ".reelforge" / "segments").glob("*.mp4"):
        segment.unlink()  # and the segments gone, so the shots are encoded again from those frames
    run_cli("render", str(spec))
    with sqlite3.connect(spec.parent / ".reelforge" / "catalog.sqlite") as db:
        rendered, reused = db.execute("SELECT shots_rendered, shots_reused FROM renders ORDER BY id DESC").fetchone()
    assert (rendered, reused) == (0, 3)
    assert stream_sha(delivered) == before
    assert all(store.codec(path.stem) == "zlib" for path in stored)  # reused where they lie


@pytest.mark.parametrize("damage", ["payload bit", "codec byte", "size", "cut short", "unknown header"])
def test_a_damaged_frame_in_the_new_format_is_caught_and_removed(tmp_path, damage):
    store = FrameStore(tmp_path / "frames")
    frame = photo_like(40, 48)
    digest = store.put(frame)
    data = bytearray(store.path(digest).read_bytes())
    if damage == "payload bit":
        data[-5] ^= 0x01
    elif damage == "codec byte":
        data[4] = frame_codec.ZSTD if data[4] == frame_codec.JPEGXL else frame_codec.JPEGXL
    elif damage == "size":
        data[8] ^= 0x01  # the height
    elif damage == "cut short":
        del data[len(data) // 2:]
    else:
        data[:4] = b"RFF9"
    store.path(digest).write_bytes(bytes(data))
    assert not store.check(digest)  # the cheap check already sees it: the header's hash covers codec and size
    with pytest.raises(CorruptFrame):
        store.get(digest)
    assert not store.has(digest)  # never returned, never kept


def test_a_frame_from_a_farm_worker_is_proved_before_it_is_stored(tmp_path):
    worker, driver = FrameStore(tmp_path / "worker"), FrameStore(tmp_path / "driver")
    frame = photo_like(40, 48)
    digest = worker.put(frame)
    sent = worker.read_encoded(digest)
    with pytest.raises(CorruptFrame, match="not the job's"):
        driver.put_encoded(sent, digest, (48, 40))
    other = photo_like(40, 48, seed=7)
    with pytest.raises(CorruptFrame, match="do not match"):
        driver.put_encoded(worker.read_encoded(worker.put(other)), digest, (40, 48))
    assert not driver.has(digest)
    driver.put_encoded(sent, digest, (40, 48))
    assert np.array_equal(driver.get(digest), frame)


@pytest.mark.parametrize("codec", ["zstd", "jpegxl"])
def test_a_payload_claiming_a_bigger_picture_than_its_header_is_refused_not_decoded(tmp_path, codec):
    """A worker's frame whose payload holds 4000 × 4000 pixels under a 40 × 48 header (a decompression bomb, a
    bug): refused as damaged, never decoded into memory the header did not promise."""
    big = np.zeros((4000, 4000, 3), np.uint8)
    payload = (imagecodecs.zstd_encode(big.tobytes()) if codec == "zstd"
               else imagecodecs.jpegxl_encode(big, lossless=True, effort=1))
    code = frame_codec.ZSTD if codec == "zstd" else frame_codec.JPEGXL
    sized = struct.pack(">BII", code, 40, 48)
    data = b"RFF2" + sized + hashlib.sha256(sized + payload).digest() + payload
    digest = frame_hash(big[:40, :48])
    del big
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFrame):
            FrameStore(tmp_path / "driver").put_encoded(data, digest, (40, 48))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # the 48 MB the payload holds were never allocated


def test_a_worker_frame_in_the_older_format_is_refused(tmp_path):
    """Workers render into a new scratch store, so an RFF1 frame from one is damage (an unbounded zlib stream)."""
    frame = photo_like(40, 48)
    with pytest.raises(CorruptFrame, match="this release's format"):
        FrameStore(tmp_path / "driver").put_encoded(old_format(frame), frame_hash(frame), (40, 48))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
       textured=st.booleans())
def test_a_damaged_payload_with_a_matching_header_is_only_ever_refused(tmp_path, flips, textured):
    """Bytes damaged before the header was written (a worker's bug, a forged result): whatever the decoder makes
    of them, the driver refuses them as damaged (never another error, never a wrong frame stored)."""
    frame = photo_like(24, 32) if textured else np.full((24, 32, 3), 7, np.uint8)
    codec, payload = frame_codec.encode(frame)
    damaged = bytearray(payload)
    for position, xor in flips:
        damaged[position % len(damaged)] ^= xor
    sized = struct.pack(">BII", codec, 24, 32)
    data = b"RFF2" + sized + hashlib.sha256(sized + bytes(damaged)).digest() + bytes(damaged)
    store = FrameStore(tmp_path / "driver")
    try:
        store.put_encoded(data, frame_hash(frame), (24, 32))
    except CorruptFrame:
        assert not store.has(frame_hash(frame))
    else:
        assert np.array_equal(store.get(frame_hash(frame)), frame)  # a flip the codec does not read: same pixels


def test_the_codec_of_every_stored_frame_is_in_its_header(tmp_path):
    spec = write_spec(tmp_path / "show", small_spec(frames=3))
    run_cli("render", str(spec))
    store = FrameStore(spec.parent / ".reelforge" / "frames")
    headers = {path.read_bytes()[:5] for path in (spec.parent / ".reelforge" / "frames").rglob("*.rff")}
    assert headers and headers <= {b"RFF2" + bytes([frame_codec.ZSTD]), b"RFF2" + bytes([frame_codec.JPEGXL])}
    manifest = json.loads(next((spec.parent / ".reelforge" / "jobs").rglob("manifest.json")).read_text())
    assert all(store.codec(digest) == "zstd" for digest in manifest["frames"])  # gray-box previz
