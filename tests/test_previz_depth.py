"""Previz depth images: the conditioning picture for a depth ControlNet.

Convention under test: MiDaS-style inverse depth on a fixed scale, grey level =
round(255 * near_m / z) for camera-space depth z, capped at 255; near is bright,
sky is black, and the scale does not change from frame to frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shot, standing

from reelforge.plan.jobs import ShotJob
from reelforge.previz.camera import camera_path
from reelforge.previz.raster import (
    DEPTH_NEAR_M,
    ShotScene,
    View,
    draw_depth,
    render_depth,
    render_frame,
)


def gray(image: np.ndarray) -> np.ndarray:
    """One channel of a depth image, as ints (the three channels are equal)."""
    return image[:, :, 0].astype(int)


def without(job: ShotJob, *, figures: bool = False, props: bool = False) -> ShotJob:
    """The job with its figures and/or props taken away. Render it with the original
    job's poses: the camera aims at the cast, so removing the cast would move it."""
    update: dict = {}
    if figures:
        update["figures"] = ()
    if props:
        update["set"] = job.set.model_copy(update={"props": ()})
    return job.model_copy(update=update)


def horizon_row(job: ShotJob, index: int) -> float:
    view = View(camera_path(job)[index], job.width, job.height)
    return view.cy + view.focal_px * view.forward[1] / view.up[1]


def test_shape_dtype_and_channels(jobs):
    job = shot(jobs, "push-in")
    depth = render_depth(job, 0)
    assert depth.shape == (job.height, job.width, 3) == (1080, 1920, 3)
    assert depth.dtype == np.uint8
    assert depth.flags.c_contiguous
    assert np.array_equal(depth[:, :, 0], depth[:, :, 1]) and np.array_equal(depth[:, :, 0], depth[:, :, 2])
    small = job.model_copy(update={"width": 640, "height": 360})
    assert render_depth(small, 3).shape == (360, 640, 3) == render_frame(small, 3).shape


def test_sky_is_black(jobs):
    job = shot(jobs, "push-in")
    # The example frame: its top-left corner is open sky.
    assert not render_depth(job, 0)[:60, :60].any()
    # With the set cleared, everything well above the horizon is sky, in every frame.
    bare = without(job, props=True)
    path = camera_path(job)
    for i in (0, job.frames - 1):
        top = int(horizon_row(job, i)) - 150
        assert top > 100
        assert not draw_depth(ShotScene(bare), path[i])[:top].any()


def test_ground_is_per_row_inverse_depth_brightening_toward_the_bottom(jobs):
    job = shot(jobs, "push-in")
    index = 0
    pose = camera_path(job)[index]
    empty = gray(draw_depth(ShotScene(without(job, figures=True, props=True)), pose))
    horizon = horizon_row(job, index)
    ground = empty[int(horizon) + 3:]
    assert np.all(ground == ground[:, :1])  # no roll: one depth per row
    column = ground[:, 0]
    assert np.all(np.diff(column) >= 0)  # nearer (brighter) toward the bottom
    assert column[-1] >= column[0] + 50
    # The documented scale: round(255 * near_m / z), z the ground's camera-space depth.
    view = View(pose, job.width, job.height)
    rows = np.arange(job.height, dtype=np.float64)
    world_y = view.up[1] * (view.cy - rows) / view.focal_px + view.forward[1]
    z = pose.position[1] / -world_y[-1]
    assert abs(empty[-1, 0] - round(255.0 * DEPTH_NEAR_M / z)) <= 1


def test_a_figure_is_brighter_than_what_is_behind_it(jobs):
    job = standing(shot(jobs, "lock-off"))  # the line-up: the ground shows just beside the first figure
    index = 0
    pose = camera_path(job)[index]
    depth = gray(render_depth(job, index))
    behind = gray(draw_depth(ShotScene(without(job, figures=True)), pose))
    figure = depth != behind
    # Interior only: antialiased rims blend with what is behind.
    interior = cv2.erode(figure.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert interior.sum() > 20_000
    assert np.all(depth[interior] > behind[interior])

    # Knee height of the first figure: below the horizon, so the ground shows beside it.
    rows = np.flatnonzero(interior.any(axis=1))
    feet = rows.max()
    knee = int(feet - 0.25 * (feet - rows.min()))
    assert knee > horizon_row(job, index) + 20
    columns = np.flatnonzero(interior[knee])
    leg = depth[knee, columns[0]:columns[0] + 3].min()
    beside = depth[knee, columns[0] - 40]  # the ground just behind the figure, same row
    assert beside == behind[knee, 0] == behind[knee, columns[0]]  # ...which is plain ground
    assert leg > beside + 5
    # The torso stands in front of the backdrop: brighter than the backdrop behind it.
    torso = int(rows.min() + 0.35 * (feet - rows.min()))
    assert np.all(depth[torso][interior[torso]] > behind[torso][interior[torso]] + 20)


def test_depth_edges_line_up_with_rgb_edges(jobs):
    job = standing(shot(jobs, "push-in"))  # the subject close at the end of the push-in
    index = job.frames - 1
    pose = camera_path(job)[index]
    empty = without(job, figures=True)
    rgb_changed = np.any(render_frame(job, index) != render_frame(empty, index, pose), axis=2)
    depth_changed = np.any(render_depth(job, index) != render_depth(empty, index, pose), axis=2)
    # Where the figure changes the depth, it changes the picture (the picture also
    # changes under its shadow); the few exceptions are rim pixels whose blend rounds
    # to the same colour.
    assert depth_changed.sum() > 50_000
    assert (depth_changed & ~rgb_changed).sum() < 0.005 * depth_changed.sum()


def test_deterministic(jobs):
    job = shot(jobs, "push-in")
    index = job.frames // 2
    first = render_depth(job, index)
    assert first.tobytes() == render_depth(job, index).tobytes()
    assert first.tobytes() == draw_depth(ShotScene(job).at(index), camera_path(job)[index]).tobytes()
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = render_depth(job, index)
    finally:
        cv2.setNumThreads(threads)
    assert single.tobytes() == first.tobytes()


def test_push_in_subject_gets_brighter(jobs):
    job = standing(shot(jobs, "push-in"))  # nobody walks off the centre of the frame
    first, last = gray(render_depth(job, 0)), gray(render_depth(job, job.frames - 1))
    # The camera aims at the subject, so the centre of the frame is on it throughout.
    cy, cx = job.height // 2, job.width // 2
    centre = (slice(cy - 20, cy + 21), slice(cx - 20, cx + 21))
    assert last[centre].mean() > first[centre].mean() + 20
    # A fixed scale, not per-frame normalisation: a shot whose camera holds still
    # gives the same depth image every frame.
    lock = standing(shot(jobs, "lock-off"))
    assert render_depth(lock, 0).tobytes() == render_depth(lock, lock.frames - 1).tobytes()


def test_near_m_sets_the_scale(jobs):
    job = shot(jobs, "lock-off")
    pose = camera_path(job)[0]
    scene = ShotScene(job)
    base = gray(draw_depth(scene, pose))
    half = gray(draw_depth(scene, pose, near_m=DEPTH_NEAR_M / 2))
    # Away from edges (antialiased rims blend two depths) and saturation, half the
    # scale is half the level, give or take rounding and flat-filled faces' one level.
    kernel = np.ones((3, 3), np.uint8)
    u8 = base.astype(np.uint8)
    smooth = (cv2.dilate(u8, kernel).astype(int) - cv2.erode(u8, kernel).astype(int)) <= 2
    inside = smooth & (base < 250)
    assert inside.mean() > 0.9
    assert np.all(np.abs(half[inside] - base[inside] / 2) <= 1.5)
    with pytest.raises(ValueError):
        draw_depth(scene, pose, near_m=0.0)


def test_props_behind_or_around_the_camera_do_not_crash(jobs):
    job = shot(jobs, "push-in")
    props = job.set.props + (
        {"shape": "box", "position_m": [0.0, -30.0], "size_m": [2.0, 2.0, 2.0], "color": "#ff0000"},  # behind
        {"shape": "box", "position_m": [0.0, -job.camera.distance_m], "size_m": [1.0, 3.0, 1.0],
         "color": "#00ff00"},  # the camera starts inside it
        {"shape": "cylinder", "position_m": [0.4, -job.camera.distance_m + 0.3], "size_m": [0.6, 2.0, 0.6],
         "color": "#0000ff"},  # crosses the near plane
        {"shape": "box", "position_m": [0.0, 0.0], "size_m": [500.0, 0.1, 500.0], "color": "#777777"},  # huge
    )
    crowded = job.model_copy(update={"set": job.set.model_copy(update={"props": props})})
    for index in (0, crowded.frames // 2, crowded.frames - 1):
        assert render_depth(crowded, index).shape == (job.height, job.width, 3)


def test_out_of_range_index_is_an_error(jobs):
    job = jobs[0]
    with pytest.raises(IndexError):
        render_depth(job, job.frames)
