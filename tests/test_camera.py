"""Camera moves, easing, keyframes and handheld shake: what a director relies on.

Paths are checked geometrically (a push-in gets closer, an orbit keeps its radius,
a dolly keeps its viewing direction), shake statistically (bounded, band-limited,
seeded) and the spec through `validate_file`, the way a user meets its errors.
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pytest
from conftest import run_cli, small_spec, unblocked, write_spec

from reelforge.plan.camera import camera_phrase
from reelforge.plan.jobs import plan_shot
from reelforge.previz.camera import MIN_DISTANCE_M, camera_path, camera_pose, ease, pose_at, subject
from reelforge.previz.raster import render_frame
from reelforge.spec import presets
from reelforge.spec.easing import EASINGS, canonical_easing
from reelforge.spec.load import production_schema, validate_file
from reelforge.spec.model import Production

FPS = 24


def spec_with(camera: dict | None, frames: int = 48, seed: int | None = None) -> dict:
    """The small example, nobody blocked, with the first shot's camera (and length) replaced."""
    spec = unblocked(small_spec())
    shot = spec["episodes"][0]["scenes"][0]["shots"][0]
    shot["frames"] = frames
    if camera is None:
        shot.pop("camera", None)
    else:
        shot["camera"] = camera
    if seed is not None:
        spec["seed"] = seed
    return spec


def camera_job(camera: dict, frames: int = 48, seed: int | None = None):
    """The first shot's job with this camera."""
    production = Production.model_validate(spec_with(camera, frames, seed))
    episode = production.episodes[0]
    scene = episode.scenes[0]
    return plan_shot(production, episode, scene, scene.shots[0])


def horizontal(a, b) -> tuple[float, float]:
    return (a[0] - b[0], a[2] - b[2])


def horizontal_distance(pose) -> float:
    return math.hypot(*horizontal(pose.position, pose.target))


def heading(pose) -> tuple[float, float, float]:
    d = np.subtract(pose.target, pose.position)
    return tuple(d / np.linalg.norm(d))


def swept_right_deg(path) -> float:
    """Total angle the camera went round its target, positive to the camera's right (unwrapped)."""
    total = 0.0
    for a, b in itertools.pairwise(path):
        ax, az = horizontal(a.position, a.target)
        bx, bz = horizontal(b.position, b.target)
        total += math.degrees(math.atan2(ax * bz - az * bx, ax * bx + az * bz))
    return total


def problems_for(tmp_path, spec: dict) -> list[str]:
    return [str(p) for p in validate_file(write_spec(tmp_path, spec))]


# ----------------------------------------------------------------------------- easing

CSS_CURVES = [(0.25, 0.1, 0.25, 1.0), (0.68, -0.55, 0.265, 1.55), (0.0, 1.0, 1.0, 0.0), (0.1, 0.7, 1.0, 0.1)]


def reference_bezier(x1, y1, x2, y2, t: float) -> float:
    """The curve solved independently: the real root in [0, 1] of the cubic x(s) = t."""
    # x(s) = (3x1 - 3x2 + 1) s^3 + (3x2 - 6x1) s^2 + 3x1 s
    roots = np.roots([3 * x1 - 3 * x2 + 1, 3 * x2 - 6 * x1, 3 * x1, -t])
    s = min((r.real for r in roots if abs(r.imag) < 1e-9 and -1e-9 <= r.real <= 1 + 1e-9),
            key=lambda r: abs(r - t))
    u = 1 - s
    return 3 * u * u * s * y1 + 3 * u * s * s * y2 + s ** 3


@pytest.mark.parametrize("easing", sorted(EASINGS) + ["cubic-bezier(0.25, 0.1, 0.25, 1)", "cubic-bezier(0, 1, 1, 0)",
                                                       "cubic-bezier(1, 0, 0, 1)"])
def test_easing_endpoints_pinned_and_monotonic(easing):
    assert ease(easing, 0.0) == 0.0 and ease(easing, 1.0) == 1.0
    values = ease(easing, np.linspace(0.0, 1.0, 1001))
    assert np.all(np.diff(values) >= 0.0)
    assert values.min() >= 0.0 and values.max() <= 1.0


@pytest.mark.parametrize("points", CSS_CURVES)
def test_cubic_bezier_matches_an_independent_solution(points):
    easing = canonical_easing(list(points))
    for t in (0.1, 0.25, 0.5, 0.8, 0.95):
        assert ease(easing, t) == pytest.approx(reference_bezier(*points, t), abs=1e-9)


def test_named_easings_are_the_css_curves():
    # CSS: ease-in = cubic-bezier(0.42, 0, 1, 1), ease-out = (0, 0, 0.58, 1), ease-in-out = (0.42, 0, 0.58, 1).
    assert ease("ease-in", 0.5) == pytest.approx(reference_bezier(0.42, 0, 1, 1, 0.5), abs=1e-9)
    assert ease("ease-out", 0.5) == pytest.approx(reference_bezier(0, 0, 0.58, 1, 0.5), abs=1e-9)
    assert ease("ease-in-out", 0.5) == pytest.approx(0.5, abs=1e-12)
    assert ease("linear", 0.3) == 0.3
    # CSS "ease" at half time is about 0.8024 (well known from browser engines' tests).
    assert ease("cubic-bezier(0.25, 0.1, 0.25, 1)", 0.5) == pytest.approx(0.8024, abs=1e-4)
    # An overshooting curve (y outside [0, 1]) still starts and ends exactly.
    back = canonical_easing([0.68, -0.55, 0.265, 1.55])
    assert ease(back, 0.0) == 0.0 and ease(back, 1.0) == 1.0 and max(ease(back, np.linspace(0, 1, 101))) > 1.0


def test_both_bezier_spellings_mean_one_curve_and_one_key():
    as_text = camera_job({"move": "push-in", "easing": "cubic-bezier(0.25, 0.1, 0.25, 1)"})
    as_list = camera_job({"move": "push-in", "easing": [0.25, 0.1, 0.25, 1.0]})
    assert as_text.camera.easing == as_list.camera.easing == "cubic-bezier(0.25, 0.1, 0.25, 1.0)"
    assert as_text.key == as_list.key
    assert as_text.key != camera_job({"move": "push-in", "easing": "ease-in"}).key


@pytest.mark.parametrize("easing, message", [
    ("cubic-bezier(1.2, 0, 1, 1)", "x1 (a time) must lie between 0 and 1, got 1.2"),
    ([0.2, 0.0, -0.1, 1.0], "x2 (a time) must lie between 0 and 1, got -0.1"),
    ([0.2, 0.0, 1.0], "4 numbers (x1, y1, x2, y2), got 3"),
    ("bounce", "unknown easing: must be one of"),
])
def test_bad_easing_is_a_clear_error_at_its_path(tmp_path, easing, message):
    (problem,) = problems_for(tmp_path, spec_with({"move": "push-in", "easing": easing}))
    assert problem.startswith("$.episodes[0].scenes[0].shots[0].camera.easing: ")
    assert message in problem


# ----------------------------------------------------------------------------- moves


def test_lock_off_holds_still():
    path = camera_path(camera_job({"move": "lock-off"}))
    assert len(path) == 48 and all(pose == path[0] for pose in path)


def test_push_in_gets_closer_and_zooms():
    job = camera_job({"move": "push-in", "travel_m": 2.0, "zoom_to_mm": 50, "distance_m": 6.0,
                      "focal_length_mm": 30})
    path = camera_path(job)
    distances = [horizontal_distance(p) for p in path]
    assert all(b < a for a, b in itertools.pairwise(distances))
    assert distances[0] == pytest.approx(6.0) and distances[-1] == pytest.approx(4.0)
    focals = [p.focal_length_mm for p in path]
    assert focals[0] == 30.0 and focals[-1] == 50.0 and all(b > a for a, b in itertools.pairwise(focals))
    assert all(p.target == path[0].target for p in path)
    assert "while zooming in" in camera_phrase(job.camera)
    still = camera_path(camera_job({"move": "push-in"}))
    assert all(p.focal_length_mm == still[0].focal_length_mm for p in still)  # no zoom unless asked


def test_pull_back_gets_farther():
    path = camera_path(camera_job({"move": "pull-back", "travel_m": 3.0, "distance_m": 4.0}))
    distances = [horizontal_distance(p) for p in path]
    assert all(b > a for a, b in itertools.pairwise(distances))
    assert distances[-1] == pytest.approx(7.0)


@pytest.mark.parametrize("direction, sign", [("right", 1.0), ("left", -1.0)])
def test_orbit_keeps_its_radius_and_sweeps_its_angle(direction, sign):
    job = camera_job({"move": "orbit", "angle_deg": 270, "direction": direction, "distance_m": 5.0})
    path = camera_path(job)
    radii = [horizontal_distance(p) for p in path]
    assert radii == pytest.approx([5.0] * len(path), rel=1e-12)
    assert {p.position[1] for p in path} == {path[0].position[1]}  # height constant
    assert all(p.target == path[0].target for p in path)
    assert swept_right_deg(path) == pytest.approx(sign * 270.0, abs=1e-9)
    # The camera starts looking along +z, so its right is +x.
    assert sign * (path[1].position[0] - path[0].position[0]) > 0


def test_orbit_around_a_named_point_keeps_its_radius_there_and_turns_the_aim_with_it():
    pivot = (2.0, 3.0)
    job = camera_job({"move": "orbit", "angle_deg": 90, "direction": "left", "around_m": list(pivot)})
    path = camera_path(job)
    radius = [math.hypot(p.position[0] - pivot[0], p.position[2] - pivot[1]) for p in path]
    assert radius == pytest.approx([radius[0]] * len(path), rel=1e-12)
    aim = [math.hypot(p.target[0] - pivot[0], p.target[2] - pivot[1]) for p in path]
    assert aim == pytest.approx([aim[0]] * len(path), rel=1e-12) and aim[0] > 1.0  # the aim circles too
    assert path[-1].target != path[0].target
    plain = camera_path(camera_job({"move": "orbit", "angle_deg": 90, "direction": "left"}))
    assert path[0] == plain[0]  # nothing jumps when the move starts
    assert camera_job({"move": "orbit", "around_m": [2.0, 3.0]}).key != camera_job({"move": "orbit"}).key


def test_around_m_is_only_for_orbits(tmp_path):
    problems = validate_file(write_spec(tmp_path, spec_with({"move": "dolly", "around_m": [1.0, 2.0]})))
    assert [p.path for p in problems] == ["$.episodes[0].scenes[0].shots[0].camera.around_m"]
    assert "applies to: orbit" in problems[0].message


def test_orbit_speed_is_degrees_per_second():
    job = camera_job({"move": "orbit", "speed_deg_s": 20, "easing": "linear"}, frames=49)
    path = camera_path(job)
    assert swept_right_deg(path) == pytest.approx(20.0 * 48 / FPS, abs=1e-9)  # 2 s from first to last frame
    assert swept_right_deg(path[:25]) == pytest.approx(20.0, abs=1e-9)  # linear: half the time, half the angle


def test_sideways_dolly_moves_camera_and_aim_together():
    job = camera_job({"move": "dolly", "direction": "left", "travel_m": 1.5})
    path = camera_path(job)
    first, last = path[0], path[-1]
    moved = np.subtract(last.position, first.position)
    assert moved == pytest.approx([-1.5, 0.0, 0.0])  # the camera's left is -x
    assert np.subtract(last.target, first.target) == pytest.approx(moved)
    assert all(heading(p) == pytest.approx(heading(first), abs=1e-12) for p in path)  # no pan: real parallax
    forward = camera_path(camera_job({"move": "dolly", "direction": "forward", "speed_mps": 0.5}, frames=49))
    assert np.subtract(forward[-1].position, forward[0].position) == pytest.approx([0.0, 0.0, 1.0])  # 0.5 m/s × 2 s


def test_drone_rises_flies_in_and_looks_down():
    job = camera_job({"move": "drone-aerial", "rise_m": 5.0, "travel_m": 6.0, "distance_m": 15.0, "height_m": 4.0})
    path = camera_path(job)
    heights = [p.position[1] for p in path]
    assert heights[0] == 4.0 and heights[-1] == pytest.approx(9.0)
    assert all(b > a for a, b in itertools.pairwise(heights))
    assert horizontal_distance(path[-1]) == pytest.approx(9.0)
    assert all(p.target == pytest.approx(subject(job)) for p in path)  # always aimed at the subject
    look_down = [-heading(p)[1] for p in path]
    assert look_down[0] > 0 and all(b > a for a, b in itertools.pairwise(look_down))


def test_push_in_stops_short_of_the_subject():
    end = camera_path(camera_job({"move": "drone-aerial", "travel_m": 100.0}))[-1]
    assert horizontal_distance(end) == pytest.approx(MIN_DISTANCE_M)


# ----------------------------------------------------------------------------- handheld


def shake_of(job):
    """Camera offsets (frames × 3) of a handheld job from the same job held steady."""
    steady = job.model_copy(update={"camera": job.camera.model_copy(update={"handheld": None})})
    return np.array([p.position for p in camera_path(job)]) - np.array([p.position for p in camera_path(steady)])


def test_handheld_is_seeded_and_bounded():
    layer = {"amplitude_m": 0.02, "rotation_deg": 0.3, "frequency_hz": 1.5}
    job = camera_job({"move": "push-in", "handheld": layer}, frames=96)
    assert camera_path(job) == camera_path(camera_job({"move": "push-in", "handheld": layer}, frames=96))
    other = camera_job({"move": "push-in", "handheld": layer}, frames=96, seed=1)
    assert camera_path(other) != camera_path(job)
    offsets = shake_of(job)
    assert np.abs(offsets).max() <= 0.02 and np.abs(offsets).max() > 0.005  # it shakes, within its amplitude
    steady = job.model_copy(update={"camera": job.camera.model_copy(update={"handheld": None})})
    for shaken, still in zip(camera_path(job), camera_path(steady)):
        assert math.degrees(math.acos(min(1.0, float(np.dot(heading(shaken), heading(still)))))) <= 0.3 * math.sqrt(2)


def test_handheld_is_band_limited():
    job = camera_job({"move": "lock-off", "handheld": {"frequency_hz": 1.5}}, frames=20 * FPS)
    offsets = shake_of(job)
    freqs = np.fft.rfftfreq(len(offsets), 1 / FPS)
    power = np.abs(np.fft.rfft(offsets * np.hanning(len(offsets))[:, None], axis=0)) ** 2
    assert power[freqs > 2 * 1.5].sum() < 1e-4 * power.sum()
    assert power[(freqs > 0) & (freqs <= 1.5)].sum() > 0.99 * power.sum()


def test_any_frame_alone_equals_the_full_path():
    job = camera_job({"move": "lock-off", "handheld": True,
                      "keyframes": [{"at_s": 0.5, "move": "orbit", "speed_deg_s": 30},
                                    {"at_s": 1.2, "move": "push-in", "easing": [0.3, 0.1, 0.2, 1]}]})
    path = camera_path(job)
    for index in (0, 11, 12, 29, 47):
        assert camera_pose(job, index) == path[index]


def test_handheld_move_and_a_handheld_keyframe():
    shaky = camera_job({"move": "handheld"})
    assert shaky.camera.handheld is not None
    assert camera_phrase(shaky.camera) == presets.CAMERA_MOVES["handheld"]["phrase"]
    assert len({p.position for p in camera_path(shaky)}) > 40
    later = camera_job({"move": "lock-off", "keyframes": [{"at_s": 1.0, "move": "handheld"}]})
    path = camera_path(later)
    assert all(p == path[0] for p in path[:25])  # steady until the keyframe (frame 24 is at 1.0 s)
    assert path[-1] != path[0]
    assert pose_at(later, 1.0 + 1e-7).position == pytest.approx(path[0].position, abs=1e-6)  # fades in, no jump


# ----------------------------------------------------------------------------- keyframes


def test_keyframes_hand_over_without_jumps():
    job = camera_job({"move": "lock-off", "focal_length_mm": 35, "keyframes": [
        {"at_s": 0.4, "move": "push-in", "travel_m": 1.5, "zoom_to_mm": 50, "easing": "linear"},
        {"at_s": 0.8, "move": "orbit", "angle_deg": 40, "easing": "ease-in"},
        {"at_s": 1.2, "move": "dolly", "direction": "right", "speed_mps": 2.0},
        {"at_s": 1.6, "move": "drone-aerial", "rise_m": 2.0, "travel_m": 1.0, "zoom_to_mm": 24},
    ]})
    for at in (0.4, 0.8, 1.2, 1.6):
        before, after = pose_at(job, at - 1e-9), pose_at(job, at + 1e-9)
        assert after.position == pytest.approx(before.position, abs=1e-6)
        assert after.target == pytest.approx(before.target, abs=1e-6)
        assert after.focal_length_mm == pytest.approx(before.focal_length_mm, abs=1e-6)
    # Each move finished its own span: push-in 1.5 m closer and zoomed to 50 mm by 0.8 s ...
    start, handover = pose_at(job, 0.0), pose_at(job, 0.8)
    assert horizontal_distance(handover) == pytest.approx(horizontal_distance(start) - 1.5)
    assert handover.focal_length_mm == pytest.approx(50.0)
    # ... the orbit kept the radius the push-in left, and the dolly ran 2 m/s over its 0.4 s.
    assert horizontal_distance(pose_at(job, 1.0)) == pytest.approx(horizontal_distance(handover))
    dolly_start, dolly_end = pose_at(job, 1.2), pose_at(job, 1.6)
    assert math.dist(dolly_start.position, dolly_end.position) == pytest.approx(0.8)
    assert camera_path(job)[-1].focal_length_mm == pytest.approx(24.0)


def test_phrase_lists_moves_in_order():
    job = camera_job({"move": "lock-off", "handheld": True, "keyframes": [
        {"at_s": 1.0, "move": "push-in", "travel_m": 1.5, "easing": "ease-in"},
        {"at_s": 1.5, "move": "orbit", "angle_deg": 30, "direction": "left"}]})
    phrase = camera_phrase(job.camera)
    assert phrase == ("static locked-off camera, then slow push-in toward the subject, then slow arc shot orbiting "
                      "left around the subject, handheld camera")
    assert phrase in job.prompt


def test_keyframe_errors_name_their_json_paths(tmp_path):
    spec = spec_with({"move": "lock-off", "keyframes": [
        {"at_s": 1.0, "move": "push-in"}, {"at_s": 0.5, "move": "orbit"}]})
    assert problems_for(tmp_path / "order", spec) == [
        ("$.episodes[0].scenes[0].shots[0].camera.keyframes[1].at_s: keyframes must be in time order: 0.5 s is "
        "not after the keyframe before it (1 s)")]

    spec = spec_with({"move": "lock-off", "keyframes": [{"at_s": 2.0, "move": "push-in"}]})
    assert problems_for(tmp_path / "outside", spec) == [
        ("$.episodes[0].scenes[0].shots[0].camera.keyframes[0].at_s: keyframe at 2 s does not start inside shot "
        "s01e01/sc01/sh01, whose last frame is at 1.958 s (48 frames at 24 fps)")]

    spec = spec_with(None)  # the shot inherits the production's camera
    spec["camera"] = {"move": "dolly", "keyframes": [{"at_s": 1.0, "move": "orbit"}]}
    (problem,) = problems_for(tmp_path / "inherited", spec)
    assert problem.startswith("$.camera.keyframes[0].at_s: keyframe at 1 s does not start inside shot s01e01/sc01/")
    assert "inherits this camera from the production" in problem

    spec = spec_with({"move": "push-in", "keyframes": [{"at_s": 1.0, "move": "dolly", "travel_m": 1,
                                                        "speed_mps": 1, "angle_deg": 10}]})
    assert problems_for(tmp_path / "both", spec) == [
        ("$.episodes[0].scenes[0].shots[0].camera.keyframes[0].speed_mps: give either 'travel_m' (over the move) "
        "or 'speed_mps' (per second), not both"),
        ("$.episodes[0].scenes[0].shots[0].camera.keyframes[0].angle_deg: 'angle_deg' does not apply to a dolly "
        "move; it applies to: orbit")]


def test_cli_validate_reports_camera_problems_without_a_traceback(tmp_path):
    spec = spec_with({"move": "orbit", "direction": "forward", "speed_deg_s": 10, "angle_deg": 10})
    result = run_cli("validate", str(write_spec(tmp_path, spec)), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    output = result.stdout + result.stderr
    assert "camera.direction: an orbit goes 'left' or 'right', not 'forward'" in output
    assert "camera.speed_deg_s: give either 'angle_deg' (over the move) or 'speed_deg_s'" in output


# ----------------------------------------------------------------------------- keys, schema, pictures


def test_every_camera_field_changes_the_key():
    base = {"move": "push-in"}
    variants = [
        base,
        {"move": "pull-back"},
        {"move": "push-in", "distance_m": 8.0},
        {"move": "push-in", "height_m": 2.0},
        {"move": "push-in", "focal_length_mm": 50},
        {"move": "push-in", "easing": "linear"},
        {"move": "push-in", "easing": [0.3, 0.0, 0.6, 1.0]},
        {"move": "push-in", "travel_m": 1.0},
        {"move": "push-in", "speed_mps": 1.0},
        {"move": "push-in", "zoom_to_mm": 60},
        {"move": "orbit"},
        {"move": "orbit", "angle_deg": 90},
        {"move": "orbit", "speed_deg_s": 10},
        {"move": "orbit", "direction": "left"},
        {"move": "dolly", "direction": "forward"},
        {"move": "drone-aerial"},
        {"move": "drone-aerial", "rise_m": 2.0},
        {"move": "handheld"},
        {"move": "push-in", "handheld": True},
        {"move": "push-in", "handheld": {"amplitude_m": 0.05}},
        {"move": "push-in", "handheld": {"rotation_deg": 1.0}},
        {"move": "push-in", "handheld": {"frequency_hz": 3.0}},
        {"move": "push-in", "keyframes": [{"at_s": 1.0, "move": "orbit"}]},
        {"move": "push-in", "keyframes": [{"at_s": 1.5, "move": "orbit"}]},
        {"move": "push-in", "keyframes": [{"at_s": 1.0, "move": "orbit", "angle_deg": 10}]},
        {"move": "push-in", "keyframes": [{"at_s": 1.0, "move": "handheld"}]},
    ]
    keys = [camera_job(camera).key for camera in variants]
    assert len(set(keys)) == len(variants)


def test_schema_completes_every_move():
    defs = production_schema()["$defs"]
    moves = sorted(presets.CAMERA_MOVES)
    assert moves == ["dolly", "drone-aerial", "handheld", "lock-off", "orbit", "pull-back", "push-in"]
    assert defs["Camera"]["properties"]["move"]["enum"] == moves
    assert defs["CameraKeyframe"]["properties"]["move"]["enum"] == moves


def test_each_move_gives_another_picture():
    cameras = [{"move": name} for name in sorted(presets.CAMERA_MOVES)] + [{"move": "dolly", "direction": "left"}]
    digests = set()
    for camera in cameras:
        job = camera_job(camera, frames=12)
        job = job.model_copy(update={"width": 160, "height": 90, "canvas_width": 160, "canvas_height": 90})
        digests.add(hashlib.sha256(render_frame(job, job.frames - 1).tobytes()).hexdigest())
    assert len(digests) == len(cameras)
