"""Per-pixel passes from the previz scene: per-character masks, exact depth and the motion field.

What a backend or the post chain relies on: a character's mask is exactly the pixels that show
them in the previz frame, at whatever size the job is drawn; the motion field says where each
pixel's surface point is in another frame, so warping the other frame with it rebuilds this one;
and every pass is a pure function of (job, frames).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import shot, standing, walking

from reelforge.plan.camera import HandheldJob
from reelforge.plan.jobs import ShotJob
from reelforge.previz.camera import camera_path
from reelforge.previz.passes import (
    PrevizPasses,
    character_masks,
    exact_depth,
    motion_field,
)
from reelforge.previz.raster import DEPTH_NEAR_M, ShotScene, draw, render_depth, render_frame

RIM = np.ones((5, 5), np.uint8)  # antialiased edges: a pixel, two at a sharp corner


def still_shot(jobs, move: str) -> ShotJob:
    return standing(shot(jobs, move))


def sized(job: ShotJob, width: int, height: int) -> ShotJob:
    return job.model_copy(update={"width": width, "height": height})


def with_camera(job: ShotJob, **update) -> ShotJob:
    return job.model_copy(update={"camera": job.camera.model_copy(update=update)})


def recoloured(job: ShotJob, character_id: str) -> ShotJob:
    """The job with one character dressed all in magenta: same geometry, same camera, other colours."""
    colours = {key: "#ff00ff" for key in ("top", "bottom", "shoes", "skin", "hair")}
    figures = tuple(f.model_copy(update=colours) if f.character_id == character_id else f for f in job.figures)
    return job.model_copy(update={"figures": figures})


def grid(job: ShotJob) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(job.width, dtype=np.float32), np.arange(job.height, dtype=np.float32))
    return xs, ys


def warp(frame: np.ndarray, flow: np.ndarray, job: ShotJob) -> np.ndarray:
    """Frame `to` sampled where each pixel's point went: rebuilds frame `index` where visible."""
    xs, ys = grid(job)
    return cv2.remap(frame, xs + flow[:, :, 0], ys + flow[:, :, 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    error = (a.astype(np.float64) - b.astype(np.float64))[where]
    return 10.0 * np.log10(255.0 ** 2 / max(float(np.mean(error ** 2)), 1e-12))


# ----------------------------------------------------------------------------- masks


@pytest.mark.parametrize("size", [(1920, 1080), (1024, 576), (768, 512)])
@pytest.mark.parametrize("blocked", [False, True])
def test_a_mask_is_exactly_the_pixels_that_show_its_character(jobs, size, blocked):
    job = sized(still_shot(jobs, "lock-off"), *size)
    if blocked:  # mara walks in front of theo: she hides part of him mid-shot
        job = walking(job, 0, start_x=-1.2, end_x=1.8, z=-0.8)
    index = job.frames // 2
    pose = camera_path(job)[index]
    frame = draw(ShotScene(job).at(index), pose)
    masks = character_masks(job, index)
    assert set(masks) == {"mara", "theo"}
    mara, theo = masks["mara"], masks["theo"]
    assert mara.shape == theo.shape == (job.height, job.width) and mara.dtype == bool
    assert not (mara & theo).any()
    for me, other in (("mara", "theo"), ("theo", "mara")):
        mask = masks[me]
        assert mask.sum() > 500
        # Dressing the character in another colour changes exactly the pixels that show them.
        changed = (draw(ShotScene(recoloured(job, me)).at(index), pose) != frame).any(axis=2)
        rim = cv2.dilate(mask.astype(np.uint8), RIM).astype(bool)
        assert changed[mask].all()  # every mask pixel shows the character
        assert (changed & ~mask).sum() < 0.25 * mask.sum()  # beyond it, only its antialiased rim ...
        # ... and slivers thinner than a pixel peeking past the outline of someone in front.
        # Nothing of the other character's pixels changes, their outline aside.
        other_mask = masks[other].astype(np.uint8)
        outline = cv2.dilate(other_mask, RIM).astype(bool) & ~cv2.erode(other_mask, RIM).astype(bool)
        assert not (changed & ~rim & ~outline).any()
        assert (changed & ~rim).sum() <= 0.01 * mask.sum()
    if blocked:  # she is in front of him: his mask has a hole where she stands
        unhidden = character_masks(sized(still_shot(jobs, "lock-off"), *size), index)["theo"]
        assert theo.sum() < 0.9 * unhidden.sum()


def test_masks_from_passes_equal_character_masks_and_follow_a_walk(jobs):
    job = walking(sized(still_shot(jobs, "lock-off"), 640, 360))
    passes = PrevizPasses(job)
    first, last = passes.masks(0), passes.masks(job.frames - 1)
    for index in (0, job.frames - 1):
        alone = character_masks(job, index)
        assert all(np.array_equal(alone[c], passes.masks(index)[c]) for c in alone)
    # mara walks left to right: her mask's centre moves right, theo's stays put
    assert np.argwhere(last["mara"])[:, 1].mean() > np.argwhere(first["mara"])[:, 1].mean() + 100
    assert np.array_equal(first["theo"], last["theo"])  # he stands still (she is clear of him at both ends)


# ----------------------------------------------------------------------------- depth


def test_exact_depth_agrees_with_the_depth_image(jobs):
    job = still_shot(jobs, "push-in")
    index = job.frames // 2
    depth = exact_depth(job, index)
    assert depth.dtype == np.float32 and depth.shape == (job.height, job.width)
    image = render_depth(job, index)[:, :, 0].astype(int)
    assert np.isinf(depth[:60, :60]).all()  # open sky
    finite = np.isfinite(depth)
    assert (depth[finite] > 0).all() and finite.mean() > 0.5
    level = np.minimum(np.round(255.0 * DEPTH_NEAR_M / np.where(finite, depth, np.inf)), 255)
    # Away from edges (where the image blends two surfaces' depths) the image is within a
    # level of exact (its faces are filled flat when they span at most two levels).
    surface = PrevizPasses(job).frame(index).surface
    same = (cv2.dilate(surface.astype(np.float32), RIM) == cv2.erode(surface.astype(np.float32), RIM))
    assert same.mean() > 0.9
    assert np.abs(level - image)[same].max() <= 1


# ----------------------------------------------------------------------------- motion


def test_lock_off_static_shot_has_exactly_zero_motion(jobs):
    job = still_shot(jobs, "lock-off")
    assert all(f.blocking is None for f in job.figures)
    passes = PrevizPasses(job)
    for index, to in ((0, 1), (5, 4), (0, job.frames - 1)):
        motion = passes.motion(index, to)
        assert motion.flow.shape == (job.height, job.width, 2) and motion.flow.dtype == np.float32
        assert not motion.flow.any()
        assert motion.visible.all()


MOVES = {
    "push-in": lambda job: job,
    "pull-back": lambda job: with_camera(job, move="pull-back", travel_m=3.5),
    "orbit": lambda job: with_camera(job, move="orbit", travel_m=None, angle_deg=60.0, direction="left"),
    "dolly": lambda job: with_camera(job, move="dolly", travel_m=3.0, direction="right"),
    "zoom": lambda job: with_camera(job, move="lock-off", travel_m=None, zoom_to_mm=70.0),
    "handheld": lambda job: with_camera(job, move="lock-off", travel_m=None, handheld=HandheldJob(
        amplitude_m=0.03, rotation_deg=1.0, frequency_hz=2.0, from_s=0.0)),
}


@pytest.mark.parametrize("move", list(MOVES))
def test_warping_the_next_frame_with_the_field_rebuilds_this_one(jobs, move):
    job = MOVES[move](still_shot(jobs, "push-in"))
    passes = PrevizPasses(job)
    index = job.frames // 2
    this, after = render_frame(job, index), render_frame(job, index + 1)
    for a, b, frame_a, frame_b in ((index, index + 1, this, after), (index + 1, index, after, this)):
        motion = passes.motion(a, b)
        assert np.abs(motion.flow).max() > 1.0  # the camera really moves
        assert motion.visible.mean() > 0.9
        rebuilt = warp(frame_b, motion.flow, job)
        # Gray-box frames on valid pixels: the bound is 40 dB (measured 48-57 dB), against
        # 28-33 dB for the unwarped frame.
        assert psnr(rebuilt, frame_a, motion.visible) >= 40.0
        assert psnr(rebuilt, frame_a, motion.visible) >= psnr(frame_b, frame_a, motion.visible) + 10.0


def test_a_walking_figure_moves_and_the_set_under_a_lock_off_does_not(jobs):
    job = walking(still_shot(jobs, "lock-off"))
    passes = PrevizPasses(job)
    index = job.frames // 2
    masks = passes.masks(index)
    motion = passes.motion(index, index + 1)
    speed = np.hypot(motion.flow[:, :, 0], motion.flow[:, :, 1])
    walker, other = masks["mara"], masks["theo"]
    assert np.mean(speed[walker] > 1.0) > 0.8  # all of her but a planted foot
    assert not motion.flow[~walker].any()  # the set, the ground, the sky and theo: exactly still
    # She walks +x at 4 m over the shot: about 4 / frames metres a frame, seen rightward.
    assert np.median(motion.flow[walker, 0]) > 5.0
    # The field carries her pixels onto her pixels in the next frame.
    after = passes.masks(index + 1)["mara"]
    seen = walker & motion.visible
    assert seen.sum() > 0.8 * walker.sum()
    ys, xs = np.nonzero(seen)
    landing = np.floor(np.stack([xs + motion.flow[ys, xs, 0], ys + motion.flow[ys, xs, 1]], 1) + 0.5).astype(int)
    assert after[landing[:, 1], landing[:, 0]].all()
    # Her pixels warp correctly (the rest of the frame is still, so compare on her valid pixels).
    this, next_frame = render_frame(job, index), render_frame(job, index + 1)
    rebuilt = warp(next_frame, motion.flow, job)
    assert psnr(rebuilt, this, seen) >= 30.0
    assert psnr(rebuilt, this, seen) >= psnr(next_frame, this, seen) + 10.0
    # What she uncovers behind her is marked not visible (hidden in the next frame), not warped.
    assert not motion.visible[other & ~passes.masks(index + 1)["theo"]].any()


@pytest.mark.parametrize("move", ["orbit", "dolly", "walk"])
def test_forward_then_backward_returns_to_the_start_pixel(jobs, move):
    job = walking(still_shot(jobs, "lock-off")) if move == "walk" else MOVES[move](still_shot(jobs, "push-in"))
    passes = PrevizPasses(job)
    i = job.frames // 2
    j = i + 2
    forward = passes.motion(i, j)
    assert forward.visible.mean() > 0.9
    if move == "walk":  # most of the walker is seen two frames on
        walker = passes.masks(i)["mara"]
        assert forward.visible[walker].mean() > 0.8
    rows, cols = np.nonzero(forward.visible)
    start = np.stack([cols, rows], axis=1).astype(np.float64)
    landed = start + forward.flow[rows, cols].astype(np.float64)
    back, seen = passes.carry(j, i, landed)
    assert seen.all()  # visible there means frame j shows the point, so frame i does too
    error = np.abs(back - start).max(axis=1)
    # A point landing within half a pixel of a face edge is carried back on the neighbouring
    # face's plane (the nearest pixel's surface): off by a fraction of a pixel. Elsewhere exact.
    same = passes.frame(j).surface[np.floor(landed[:, 1] + 0.5).astype(int), np.floor(landed[:, 0] + 0.5).astype(int)]
    same = same == passes.frame(i).surface[rows, cols]
    assert same.mean() > 0.99
    assert error[same].max() < 0.01
    assert error.max() < 1.0


def test_carry_at_pixel_centres_is_the_motion_field(jobs):
    job = walking(MOVES["orbit"](sized(still_shot(jobs, "lock-off"), 640, 360)))
    passes = PrevizPasses(job)
    motion = passes.motion(3, 4)
    rows, cols = np.mgrid[0:job.height, 0:job.width]
    centres = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float64)
    points, seen = passes.carry(3, 4, centres)
    assert np.array_equal((points - centres).astype(np.float32).reshape(job.height, job.width, 2), motion.flow)
    assert np.array_equal(seen.reshape(job.height, job.width), motion.visible)


def test_points_behind_or_outside_the_other_camera_are_not_visible(jobs):
    job = MOVES["orbit"](still_shot(jobs, "push-in"))
    passes = PrevizPasses(job)
    motion = passes.motion(0, job.frames - 1)  # 60 degrees around: the left of the set leaves the frame
    xs, ys = grid(job)
    x, y = xs + motion.flow[:, :, 0], ys + motion.flow[:, :, 1]
    outside = (x < -0.5) | (x >= job.width - 0.5) | (y < -0.5) | (y >= job.height - 0.5)
    assert outside.any()
    assert not motion.visible[outside].any()
    assert np.isfinite(motion.flow).all()


# ----------------------------------------------------------------------------- purity


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_a_frames_passes_are_the_same_alone_or_in_sequence(jobs):
    job = walking(MOVES["handheld"](sized(still_shot(jobs, "lock-off"), 640, 360)))
    index = 7
    in_sequence = PrevizPasses(job)
    for i in range(index):
        in_sequence.motion(i, i + 1)
        in_sequence.masks(i)
    seq = in_sequence.motion(index, index + 1)
    alone = PrevizPasses(job).motion(index, index + 1)
    assert digest(seq.flow, seq.visible) == digest(alone.flow, alone.visible)
    assert digest(motion_field(job, index, index + 1)) == digest(seq.flow)
    assert digest(in_sequence.depth(index)) == digest(exact_depth(job, index))
    masks = character_masks(job, index)
    assert all(np.array_equal(masks[c], in_sequence.masks(index)[c]) for c in masks)


def test_passes_are_the_same_bytes_in_another_process(jobs):
    job = walking(MOVES["orbit"](sized(still_shot(jobs, "lock-off"), 640, 360)))
    passes = PrevizPasses(job)
    motion = passes.motion(4, 5)
    here = digest(motion.flow, motion.visible, passes.depth(4), *passes.masks(4).values())
    assert digest(passes.motion(4, 5).flow, motion.visible, passes.depth(4), *passes.masks(4).values()) == here
    script = (
        "import hashlib, sys\n"
        "import numpy as np\n"
        "from reelforge.plan.jobs import ShotJob\n"
        "from reelforge.previz.passes import PrevizPasses\n"
        "job = ShotJob.model_validate_json(sys.stdin.read())\n"
        "p = PrevizPasses(job)\n"
        "m = p.motion(4, 5)\n"
        "h = hashlib.sha256()\n"
        "for a in (m.flow, m.visible, p.depth(4), *p.masks(4).values()):\n"
        "    h.update(np.ascontiguousarray(a).tobytes())\n"
        "print(h.hexdigest())\n"
    )
    other = subprocess.run([sys.executable, "-c", script], input=job.model_dump_json(),
                           capture_output=True, text=True, check=True,
                           env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                                "PYTHONPATH": ":".join(sys.path)}).stdout.strip()
    assert other == here


def test_out_of_range_frames_are_an_error(jobs):
    job = still_shot(jobs, "lock-off")
    passes = PrevizPasses(job)
    with pytest.raises(IndexError):
        passes.motion(0, job.frames)
    with pytest.raises(IndexError):
        character_masks(job, -1)
