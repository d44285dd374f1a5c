"""Previz: camera moves, easing and the gray-box rasterizer.

These are the guarantees the rest of reelforge leans on: frames have the delivery
shape, a frame is the same bytes however it is rendered (alone, in a pass, in
another process), and the picture actually follows the spec (camera moves,
wardrobe, lighting).
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import shot, standing

from reelforge.backends.previz import PrevizBackend
from reelforge.plan.lighting import resolve_lighting
from reelforge.previz.camera import camera_path, ease
from reelforge.previz.raster import render_frame, render_frames
from reelforge.spec.easing import EASINGS
from reelforge.spec.model import Lighting


def distance_to_target(pose) -> float:
    return math.dist(pose.position, pose.target)


# ----------------------------------------------------------------------------- easing


@pytest.mark.parametrize("name", sorted(EASINGS))
def test_easing_hits_endpoints_and_is_monotonic(name):
    assert ease(name, 0.0) == 0.0
    assert ease(name, 1.0) == 1.0
    values = ease(name, np.linspace(0.0, 1.0, 501))
    assert np.all(np.diff(values) >= 0.0)
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_easing_shapes_and_types():
    assert isinstance(ease("ease-in", 0.5), float)
    assert ease("linear", 0.25) == 0.25
    assert ease("ease-in", 0.25) < 0.25 < ease("ease-out", 0.25)  # slow start vs fast start
    assert ease("ease-in-out", 0.5) == pytest.approx(0.5, abs=1e-9)  # symmetric curve
    with pytest.raises(ValueError, match="unknown easing"):
        ease("bounce", 0.5)


# ----------------------------------------------------------------------------- camera paths


def test_lock_off_pose_is_constant(jobs):
    job = shot(jobs, "lock-off")
    path = camera_path(job)
    assert len(path) == job.frames
    assert all(pose == path[0] for pose in path)
    x, y, z = path[0].position
    assert y == job.camera.height_m
    assert z == pytest.approx(path[0].target[2] - job.camera.distance_m)


def test_push_in_moves_toward_the_subject(jobs):
    job = standing(shot(jobs, "push-in"))  # the aim on the cast centre, not on a walking character
    path = camera_path(job)
    distances = [distance_to_target(p) for p in path]
    assert all(b < a for a, b in zip(distances, distances[1:]))
    assert all(p.focal_length_mm == job.camera.focal_length_mm for p in path)
    assert all(p.target == path[0].target for p in path)
    start_z, end_z = path[0].position[2], path[-1].position[2]
    assert path[0].target[2] - start_z == pytest.approx(job.camera.distance_m)
    assert path[0].target[2] - end_z == pytest.approx(job.camera.distance_m - job.camera.travel_m)


def test_push_in_never_closer_than_half_a_metre(jobs):
    job = standing(shot(jobs, "push-in"))
    job = job.model_copy(update={"camera": job.camera.model_copy(update={"travel_m": 50.0})})
    end = camera_path(job)[-1]
    assert end.target[2] - end.position[2] == pytest.approx(0.5)


def test_pull_back_moves_away_from_the_subject(jobs):
    job = shot(jobs, "pull-back")
    distances = [distance_to_target(p) for p in camera_path(job)]
    assert all(b > a for a, b in zip(distances, distances[1:]))


def test_unknown_move_and_single_frame(jobs):
    job = shot(jobs, "push-in")
    with pytest.raises(ValueError, match="camera move"):
        camera_path(job.model_copy(update={"camera": job.camera.model_copy(update={"move": "crane-up"})}))
    (only,) = camera_path(job.model_copy(update={"frames": 1}))
    assert only.target[2] - only.position[2] == pytest.approx(job.camera.distance_m)  # t = 0


# ----------------------------------------------------------------------------- frames


def test_frame_shape_and_dtype(jobs):
    job = jobs[0]
    frame = render_frame(job, 0)
    assert frame.shape == (job.height, job.width, 3) == (1080, 1920, 3)
    assert frame.dtype == np.uint8
    assert frame.flags.c_contiguous


def test_frame_alone_equals_frame_in_a_pass(jobs):
    job = shot(jobs, "push-in")
    indices = [0, 17, job.frames - 1]
    in_pass = dict(zip(indices, render_frames(job, indices)))
    backend = dict(PrevizBackend().render(job, list(reversed(indices))))
    for i in indices:
        alone = render_frame(job, i)
        assert alone.tobytes() == in_pass[i].tobytes() == backend[i].tobytes()


def test_backend_yields_in_the_order_given(jobs):
    job = jobs[0]
    backend = PrevizBackend()
    assert backend.name == "previz" and backend.frame_independent
    out = list(backend.render(job, [3, 1, 3]))
    assert [i for i, _ in out] == [3, 1, 3]
    assert out[0][1].tobytes() == out[2][1].tobytes()
    with pytest.raises(IndexError):
        backend.render(job, [job.frames])


def test_frame_is_the_same_in_another_process_and_with_one_thread(jobs):
    job = shot(jobs, "push-in")
    index = job.frames // 2
    here = hashlib.sha256(render_frame(job, index).tobytes()).hexdigest()
    script = (
        "import hashlib, sys\n"
        "from reelforge.plan.jobs import ShotJob\n"
        "from reelforge.previz.raster import render_frame\n"
        "job = ShotJob.model_validate_json(sys.stdin.read())\n"
        f"print(hashlib.sha256(render_frame(job, {index}).tobytes()).hexdigest())\n"
    )
    other = subprocess.run([sys.executable, "-c", script], input=job.model_dump_json(),
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other == here
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = hashlib.sha256(render_frame(job, index).tobytes()).hexdigest()
    finally:
        cv2.setNumThreads(threads)
    assert single == here


def test_push_in_frames_change_and_lock_off_frames_do_not(jobs):
    push = standing(shot(jobs, "push-in"))  # nobody walks: only the camera changes the picture
    first, last = render_frames(push, [0, push.frames - 1])
    assert np.mean(first != last) > 0.05

    lock = shot(jobs, "lock-off")
    first, last = render_frames(standing(lock), [0, lock.frames - 1])
    assert first.tobytes() == last.tobytes()
    first, last = render_frames(lock, [0, lock.frames - 1])  # the example blocks it: its cast moves
    assert first.tobytes() != last.tobytes()


def test_wardrobe_top_colour_changes_pixels(jobs):
    job = shot(jobs, "lock-off")
    figure = job.figures[0]
    green = job.model_copy(update={"figures": (figure.model_copy(update={"top": "#00ff00"}),) + job.figures[1:]})
    before, after = render_frame(job, 0), render_frame(green, 0)
    changed = np.any(before != after, axis=2)
    assert changed.mean() > 0.005
    # The change is the figure's torso: the changed pixels got greener.
    assert after[changed, 1].astype(int).mean() > before[changed, 1].astype(int).mean() + 40


def test_lighting_preset_changes_pixels(jobs):
    job = shot(jobs, "lock-off")
    other = "hard-noon" if job.lighting.preset != "hard-noon" else "overcast"
    relit = job.model_copy(update={"lighting": resolve_lighting(Lighting(preset=other))})
    before, after = render_frame(job, 0), render_frame(relit, 0)
    assert np.mean(np.any(before != after, axis=2)) > 0.5


def test_a_prop_casts_a_shadow_on_the_ground(jobs):
    job = shot(jobs, "lock-off")
    # Light from behind the camera; a tall pillar behind the camera throws its shadow
    # straight ahead along the ground, through the bottom centre of the picture.
    light = resolve_lighting(Lighting(preset="hard-noon", azimuth_deg=0.0, elevation_deg=35.0))
    empty = job.model_copy(update={"lighting": light, "figures": (), "set": job.set.model_copy(update={"props": ()})})
    pillar = {"shape": "box", "position_m": [0.0, -job.camera.distance_m - 1.0], "size_m": [0.6, 8.0, 0.6],
              "color": "#ffffff"}
    shaded = empty.model_copy(update={"set": empty.set.model_copy(update={"props": (pillar,)})})
    lit, dark = render_frame(empty, 0).astype(int), render_frame(shaded, 0).astype(int)
    centre = (slice(job.height - 200, job.height - 100), slice(job.width // 2 - 10, job.width // 2 + 10))
    assert np.all(dark[centre] < lit[centre] - 10)
    # ...and nothing else changes: the sky and the ground off to the side are untouched.
    assert np.array_equal(dark[:100], lit[:100])
    assert np.array_equal(dark[-100:, :200], lit[-100:, :200])


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
    for frame in render_frames(crowded, [0, crowded.frames // 2, crowded.frames - 1]):
        assert frame.shape == (job.height, job.width, 3)


def test_out_of_range_index_is_an_error(jobs):
    job = jobs[0]
    with pytest.raises(IndexError):
        render_frame(job, job.frames)
    with pytest.raises(IndexError):
        render_frames(job, [-1])
