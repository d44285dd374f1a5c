"""Reviewing renders (reelforge.app.review): a shot's versions, what to play, stored frames and exact differences.

One production is rendered four times per module: the episode, the episode again after the
first shot's lighting changed, the second shot alone, and two frames of the last shot into a
folder outside the production. The tests read what that left.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from studio_support import small_production

from reelforge.app import review
from reelforge.app.render_request import RenderRequest, render_production
from reelforge.store.catalog import Catalog
from reelforge.store.frames import FrameStore, frame_hash
from reelforge.store.paths import ProductionPaths

FPS = 24
LIT = "s01e01/sc01/sh01"  # relit between the two episode renders
KEPT = "s01e01/sc01/sh02"  # never changed; also rendered alone at the end
LAST = "s01e01/sc02/sh01"  # never changed; third in the episode


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    spec = small_production(tmp_path_factory.mktemp("review") / "show")
    first = render_production(RenderRequest(spec, actor="ana")).results[0]
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["episodes"][0]["scenes"][0]["shots"][0]["lighting"] = {"preset": "neon-night"}
    spec.write_text(json.dumps(data, indent=2), encoding="utf-8")
    second = render_production(RenderRequest(spec, actor="bo")).results[0]
    alone = render_production(RenderRequest(spec, shot=KEPT, actor="cy")).results[0]
    outside = render_production(RenderRequest(spec, shot=LAST, frames=(0, 2), out=spec.parent.parent / "elsewhere",
                                              actor="ana")).results[0]
    catalog = Catalog(ProductionPaths.for_spec(spec).catalog)
    yield {"spec": spec, "root": spec.parent, "catalog": catalog, "first": first, "second": second, "alone": alone,
           "outside": outside, "store": FrameStore(ProductionPaths.for_spec(spec).frames)}
    catalog.engine.dispose()


def hashes_of(result, shot_path: str) -> list[str]:
    return next(s.frame_hashes for s in result.shots if s.job.shot_path == shot_path)


# --------------------------------------------------------------------------- versions


def test_a_changed_lighting_gives_two_versions_newest_first(production):
    versions = review.shot_versions(production["catalog"], LIT)
    assert [v.render_id for v in versions] == [production["second"].render_id, production["first"].render_id]
    newest, older = versions
    assert [v.number for v in versions] == [2, 1]
    assert newest.job_key != older.job_key
    assert list(newest.frame_hashes) == hashes_of(production["second"], LIT)
    assert list(older.frame_hashes) == hashes_of(production["first"], LIT)
    assert newest.frame_hashes != older.frame_hashes and len(newest.frame_hashes) == 8
    assert (newest.actor, older.actor) == ("bo", "ana")
    assert newest.commit_id is not None and older.commit_id is not None and newest.commit_id > older.commit_id
    assert newest.changed and older.changed == ()  # what moved the key, against the version before
    assert review.default_pair(versions) == (older, newest)  # A = previous, B = newest


def test_identical_re_renders_are_one_version_described_by_the_latest(production):
    versions = review.shot_versions(production["catalog"], KEPT)
    assert len(versions) == 1
    (only,) = versions
    assert only.renders == (production["alone"].render_id, production["second"].render_id,
                            production["first"].render_id)
    assert (only.render_id, only.kind, only.actor) == (production["alone"].render_id, "shot", "cy")
    assert list(only.frame_hashes) == hashes_of(production["first"], KEPT) == hashes_of(production["alone"], KEPT)
    assert review.default_pair(versions) is None


def test_an_unknown_shot_has_no_versions(production):
    assert review.shot_versions(production["catalog"], "s01e01/sc09/sh01") == []


def test_digest_at_follows_the_shot_frame_index():
    version = review.ShotVersion(number=1, job_key="k", render_id=1, kind="shot", finished_at="t", actor=None,
                                 commit_id=None, commit_reason=None, commit_actor=None, frames=5, first_frame=2,
                                 frame_hashes=("c", "d"), renders=(1,))
    assert [version.digest_at(i) for i in range(6)] == [None, None, "c", "d", None, None]
    assert version.frames_by_index() == [None, None, "c", "d", None]


# --------------------------------------------------------------------------- what to play


def test_a_shot_rendered_only_within_an_episode_plays_its_part_of_the_episode(production):
    video = review.shot_video(production["catalog"], production["root"], LAST)
    assert video is not None and video.kind == "episode"
    assert video.render_id == production["second"].render_id  # the first render's file was overwritten by it
    assert video.path == production["second"].output.resolve()
    assert (video.start_seconds, video.end_seconds) == (16 / FPS, 24 / FPS)
    assert video.fragment == "#t=0.667,1.000"
    first_shot = review.shot_video(production["catalog"], production["root"], LIT)
    assert (first_shot.start_seconds, first_shot.end_seconds) == (0.0, 8 / FPS)


def test_a_whole_shot_render_is_played_as_its_own_file(production):
    video = review.shot_video(production["catalog"], production["root"], KEPT)
    assert video.kind == "shot" and video.render_id == production["alone"].render_id
    assert video.path == production["alone"].output.resolve() and video.fragment == ""


def test_a_version_whose_file_was_overwritten_has_nothing_to_play(production):
    older = review.shot_versions(production["catalog"], LIT)[1]
    assert review.shot_video(production["catalog"], production["root"], LIT, job_key=older.job_key) is None


def test_the_episode_plays_its_newest_picture_with_each_shot_in_place(production):
    videos = review.episode_videos(production["catalog"], production["root"], "s01e01")
    assert videos.picture.render_id == production["second"].render_id and videos.languages == ()
    assert [(s.shot_path, s.start_seconds, s.end_seconds) for s in videos.picture.shots] == [
        (LIT, 0.0, 8 / FPS), (KEPT, 8 / FPS, 16 / FPS), (LAST, 16 / FPS, 24 / FPS)]
    assert review.episode_videos(production["catalog"], production["root"], "s09e09").picture is None


def test_delivered_files_are_refused_when_replaced_unknown_or_outside(production):
    catalog, root = production["catalog"], production["root"]
    assert review.delivered_file(catalog, root, production["second"].render_id) == production["second"].output.resolve()
    with pytest.raises(review.MediaUnavailable, match="replaced by render"):
        review.delivered_file(catalog, root, production["first"].render_id)
    with pytest.raises(review.UnknownRender):
        review.delivered_file(catalog, root, 9999)
    outside = production["outside"]
    assert outside.output.is_file() and not outside.output.resolve().is_relative_to(root.resolve())
    with pytest.raises(review.OutsideProduction):
        review.delivered_file(catalog, root, outside.render_id)
    assert review.shot_video(catalog, root, LAST).render_id == production["second"].render_id  # never offered


# --------------------------------------------------------------------------- frames and differences


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_a_frame_png_at_full_size_is_exactly_the_stored_pixels(production):
    digest = review.shot_versions(production["catalog"], LIT)[0].frame_hashes[3]
    pixels = decode(review.frame_png(production["store"], digest))
    assert frame_hash(pixels) == digest
    small = decode(review.frame_png(production["store"], digest, width=320))
    assert small.shape == (180, 320, 3)
    assert decode(review.frame_png(production["store"], digest, width=10**6)).shape == pixels.shape  # never scaled up
    assert decode(review.frame_png(production["store"], digest, width=1)).shape[1] == review.MIN_WIDTH


def test_bad_unknown_and_damaged_frames_are_refused(tmp_path):
    store = FrameStore(tmp_path / "frames")
    for bad in ("abc", "A" * 64, "../" + "a" * 61, "g" * 64):
        with pytest.raises(review.UnknownFrame, match="not a frame digest"):
            review.frame_png(store, bad)
    with pytest.raises(review.UnknownFrame, match="not in the frame store"):
        review.frame_png(store, "0" * 64)
    digest = store.put(np.zeros((4, 6, 3), dtype=np.uint8))
    data = bytearray(store.path(digest).read_bytes())
    data[-1] ^= 0xFF
    store.path(digest).write_bytes(bytes(data))
    with pytest.raises(review.UnknownFrame, match="render the shot again"):
        review.frame_png(store, digest)
    assert not store.has(digest)  # a damaged frame is dropped, never shown


def test_a_frame_the_store_cannot_read_is_refused_not_raised(tmp_path):
    store = FrameStore(tmp_path / "frames")
    digest = store.put(np.zeros((4, 6, 3), dtype=np.uint8))
    store.path(digest).unlink()
    store.path(digest).mkdir()  # damaged by hand: a folder where the frame file was
    with pytest.raises(review.UnknownFrame, match="cannot be read"):
        review.frame_png(store, digest)
    with pytest.raises(review.UnknownFrame, match="cannot be read"):
        review.difference_stats(store, digest, digest)


@pytest.fixture
def two_frames(tmp_path):
    """A gray frame and a copy with three pixels changed: by 1 in one channel, by 40, and by 7 in all three."""
    store = FrameStore(tmp_path / "frames")
    before = np.full((10, 16, 3), 100, dtype=np.uint8)
    after = before.copy()
    after[0, 0, 2] = 101
    after[5, 7, 0] = 60
    after[9, 15] = (107, 93, 107)
    return store, store.put(before), store.put(after), after


def test_difference_of_identical_frames_is_identical(two_frames):
    store, a, _, _ = two_frames
    png, stats = review.frame_difference(store, a, a)
    assert stats == review.DiffStats(pixels_differing=0, max_abs=0, pixels=160)
    assert stats.identical and stats.summary == "identical"
    image = decode(png)
    assert (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()  # gray: no red


def test_difference_counts_every_changed_pixel_exactly(two_frames):
    store, a, b, _ = two_frames
    png, stats = review.frame_difference(store, a, b)
    assert (stats.pixels_differing, stats.max_abs, stats.identical) == (3, 40, False)
    assert stats.summary == "3 pixels differ, max difference 40"
    assert review.difference_stats(store, b, a) == stats  # symmetric
    image = decode(png)
    red = (image[:, :, 0] >= 128) & (image[:, :, 1] == 0) & (image[:, :, 2] == 0)
    assert sorted(zip(*np.nonzero(red))) == [(0, 0), (5, 7), (9, 15)]  # exactly the changed pixels are red
    assert image[5, 7, 0] == 255 and image[0, 0, 0] == 128 + 127 // 40  # a one-level change still shows


def test_a_one_bit_difference_differs(tmp_path):
    store = FrameStore(tmp_path / "frames")
    frame = np.zeros((2, 2, 3), dtype=np.uint8)
    flipped = frame.copy()
    flipped[1, 1, 1] = 1
    stats = review.difference_stats(store, store.put(frame), store.put(flipped))
    assert (stats.pixels_differing, stats.max_abs, stats.summary) == (1, 1, "1 pixel differs, max difference 1")


def test_frames_of_different_sizes_are_not_compared(two_frames):
    store, a, _, _ = two_frames
    other = store.put(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(review.FrameSizeMismatch, match="16×10 and 4×4"):
        review.frame_difference(store, a, other)


def test_the_relit_shot_differs_from_its_previous_version_frame_by_frame(production):
    newest, older = review.shot_versions(production["catalog"], LIT)
    store = production["store"]
    stats = review.difference_stats(store, older.frame_hashes[0], newest.frame_hashes[0])
    a = store.get(older.frame_hashes[0]).astype(int)
    b = store.get(newest.frame_hashes[0]).astype(int)
    assert stats.pixels_differing == int((np.abs(a - b).max(axis=2) > 0).sum()) > 0
    assert stats.max_abs == int(np.abs(a - b).max())


def test_compare_at_says_which_version_lacks_a_frame(production):
    newest, older = review.shot_versions(production["catalog"], LIT)
    store = production["store"]
    at_zero = review.compare_at(store, older, newest, 0)
    assert (at_zero.a, at_zero.b) == (older.frame_hashes[0], newest.frame_hashes[0])
    assert at_zero.summary == review.difference_stats(store, at_zero.a, at_zero.b).summary != "identical"
    assert review.compare_at(store, newest, newest, 7).summary == "identical"
    past_the_end = review.compare_at(store, older, newest, 8)
    assert (past_the_end.a, past_the_end.b, past_the_end.summary) == (None, None, "version A has no frame 8")
