"""A camera that works with the blocking: `follow` carries the rig with a walking character,
`look_at` keeps the aim on one, an orbit with follow circles the character as they walk, and
the lens pulls focus with them.

Jobs are the bundled example's shots with a hand-made walk (plan/blocking.py) on a figure, so
these hold whatever the blocking spec resolves to. Screen positions are checked by projecting
the character's chest (where the camera aims: SUBJECT_HEIGHT_FRACTION of their height) with
the rasterizer's own pinhole.
"""

from __future__ import annotations

import hashlib
import math
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import small_spec, unblocked, write_spec

from reelforge.backends.previz import PrevizBackend
from reelforge.plan.blocking import ActionJob, FigureBlocking
from reelforge.plan.camera import HandheldJob, camera_phrase
from reelforge.plan.framing import framing_span
from reelforge.plan.jobs import ShotJob, plan
from reelforge.plan.look import DepthOfFieldJob
from reelforge.post.optics import IN_FOCUS_PX, frame_circles
from reelforge.previz.blocking import BlockingTimeline
from reelforge.previz.camera import SUBJECT_HEIGHT_FRACTION, camera_path, camera_pose, pose_at
from reelforge.previz.passes import character_masks
from reelforge.previz.raster import ShotScene, View
from reelforge.previz.solids import Proportions
from reelforge.spec.load import validate_file
from reelforge.spec.model import Production

FRAMES = 48
PIXEL = 1.0


@pytest.fixture(scope="module")
def jobs() -> dict[str, ShotJob]:
    """The small example's shots (2 s each) by path, nobody blocked and the camera tracking nobody:
    sh01 casts mara alone (push-in), sh02 mara and theo (lock-off)."""
    production = Production.model_validate(unblocked(small_spec(FRAMES)))
    return {job.shot_path: job for episode in plan(production) for job in episode.jobs}


def walking(job: ShotJob, who: str, to: tuple[float, float], start_s: float = 0.2, end_s: float = 1.8,
            easing: str = "ease-in-out") -> ShotJob:
    """The job with `who` walking in a straight line from their spot to `to` (ground x, z)."""
    def blocked(figure):
        if figure.character_id != who:
            return figure
        walk = ActionJob(action="walk", start_s=start_s, end_s=end_s, easing=easing,
                         path=((figure.x_m, figure.z_m), to))
        return figure.model_copy(update={"blocking": FigureBlocking(heading_deg=0.0, actions=(walk,))})
    return job.model_copy(update={"figures": tuple(blocked(f) for f in job.figures)})


def with_camera(job: ShotJob, **changes) -> ShotJob:
    return job.model_copy(update={"camera": job.camera.model_copy(update=changes)})


def chest(job: ShotJob, who: str, seconds: float) -> np.ndarray:
    pose = BlockingTimeline(job).pose(who, seconds)
    height = next(f.height_m for f in job.figures if f.character_id == who)
    return np.array([[pose.x, SUBJECT_HEIGHT_FRACTION * height, pose.z]])


def on_screen(job: ShotJob, who: str) -> np.ndarray:
    """(frames, 2) pixel position of the character's chest in every frame of the shot."""
    points = []
    for index, pose in enumerate(camera_path(job)):
        view = View(pose, job.width, job.height, framing_span(job))
        points.append(view.project(view.to_camera(chest(job, who, index / job.fps)))[0])
    return np.array(points)


def ground_distance(pose, point: np.ndarray) -> float:
    return math.hypot(pose.position[0] - point[0, 0], pose.position[2] - point[0, 2])


def pose_bits(poses) -> str:
    """A digest of every coordinate's exact bits."""
    digest = hashlib.sha256()
    for pose in poses:
        digest.update(struct.pack("<7d", *pose.position, *pose.target, pose.focal_length_mm))
    return digest.hexdigest()


# ----------------------------------------------------------------------------- follow and look_at


@pytest.mark.parametrize("move", ["lock-off", "push-in"])
def test_follow_keeps_a_walking_character_where_the_framing_put_them(jobs, move):
    still = with_camera(jobs["s01e01/sc01/sh02"], move=move, travel_m=2.0 if move == "push-in" else None)
    walk = walking(still, "mara", (-3.5, 2.5))
    unfollowed = on_screen(walk, "mara")
    assert np.abs(unfollowed - unfollowed[0]).max() > 100  # she walks well across the frame
    followed = on_screen(with_camera(walk, follow="mara"), "mara")
    # Every frame she is where she is in the same shot standing still: the follow undoes her walk exactly.
    assert np.abs(followed - on_screen(still, "mara")).max() < PIXEL
    # theo stands still, so he slides the other way: the rig moved, not just the aim.
    assert np.abs(on_screen(with_camera(walk, follow="mara"), "theo")[-1] - on_screen(walk, "theo")[-1]).max() > 100


def test_follow_moves_on_the_ground_only(jobs):
    walk = with_camera(walking(jobs["s01e01/sc01/sh02"], "theo", (3.0, 4.0)), follow="theo")
    plain = camera_path(with_camera(jobs["s01e01/sc01/sh02"], follow=None))
    for pose, before in zip(camera_path(walk), plain):
        assert pose.position[1] == before.position[1] and pose.target[1] == before.target[1]
    last = camera_path(walk)[-1]
    assert last.position[0] - plain[-1].position[0] == pytest.approx(3.0 - 0.55, abs=1e-12)
    assert last.position[2] - plain[-1].position[2] == pytest.approx(4.0, abs=1e-12)


def test_look_at_keeps_the_character_centred_while_the_move_places_the_camera(jobs):
    shot = with_camera(jobs["s01e01/sc01/sh02"], move="push-in", travel_m=2.0)
    walk = walking(shot, "theo", (3.0, 5.0))
    looking = with_camera(walk, look_at="theo")
    centre = np.array([(walk.width - 1) / 2.0, (walk.height - 1) / 2.0])
    screen = on_screen(looking, "theo")
    assert np.abs(screen - centre).max() < PIXEL
    assert np.abs(on_screen(walk, "theo") - centre).max() > 100  # without look_at he leaves the centre
    # The aim turns; the camera itself goes exactly where the push-in takes it.
    assert [p.position for p in camera_path(looking)] == [p.position for p in camera_path(walk)]


def test_look_at_lowers_its_aim_as_the_character_sits_and_not_with_a_walks_bob(jobs):
    shot = jobs["s01e01/sc01/sh02"]
    sit = ActionJob(action="sit", start_s=0.3, end_s=1.2, easing="ease-in-out", seat_height_m=0.45)
    seated = shot.model_copy(update={"figures": tuple(
        f.model_copy(update={"blocking": FigureBlocking(heading_deg=0.0, actions=(sit,))}) if f.character_id == "theo"
        else f for f in shot.figures)})
    aims = [pose.target[1] for pose in camera_path(with_camera(seated, look_at="theo"))]
    standing_chest = chest(seated, "theo", 0.0)[0, 1]
    hips = BlockingTimeline(seated).pose("theo", 1.5).hip_y
    assert aims[0] == standing_chest  # before the sit: the standing chest
    dropped = standing_chest - aims[-1]
    assert dropped > 0.3 and abs(dropped - (Proportions.of(seated.figures[1]).hip_y - hips)) < 1e-9
    assert all(later <= earlier for earlier, later in zip(aims, aims[1:]))  # down smoothly, never up
    walking_aims = {pose.target[1] for pose in camera_path(with_camera(walking(shot, "theo", (2.0, 3.0)), look_at="theo"))}
    assert walking_aims == {standing_chest}  # a walk's bob does not nod the camera


def test_follow_one_and_look_at_another(jobs):
    walk = walking(walking(jobs["s01e01/sc01/sh02"], "mara", (-2.0, 3.0)), "theo", (2.5, -1.0))
    both = with_camera(walk, follow="mara", look_at="theo")
    centre = np.array([(walk.width - 1) / 2.0, (walk.height - 1) / 2.0])
    assert np.abs(on_screen(both, "theo") - centre).max() < PIXEL
    follow_only = with_camera(walk, follow="mara")
    assert [p.position for p in camera_path(both)] == [p.position for p in camera_path(follow_only)]


def test_a_standing_character_changes_no_pose(jobs):
    """Following someone who does not move is the shot as framed, to the bit; so is looking at them
    with a move that keeps its aim on the subject (a dolly's aim slides with it, so look_at pans it back)."""
    alone = jobs["s01e01/sc01/sh01"]  # mara alone: the subject is her chest
    aimed = ({"move": "push-in", "travel_m": 2.0}, {"move": "orbit", "angle_deg": 60.0, "direction": "left"})
    dolly = {"move": "dolly", "travel_m": 2.0, "direction": "right"}
    for camera, moves in (({"follow": "mara"}, aimed + (dolly,)), ({"look_at": "mara"}, aimed),
                          ({"follow": "mara", "look_at": "mara"}, aimed)):
        for move in moves:
            plain = with_camera(alone, **move)
            tracked = with_camera(plain, **camera)
            assert pose_bits(camera_path(tracked)) == pose_bits(camera_path(plain)), (camera, move)
    plain = with_camera(alone, **dolly)
    panned = camera_path(with_camera(plain, look_at="mara"))
    assert [p.position for p in panned] == [p.position for p in camera_path(plain)]
    assert panned[-1].target != camera_path(plain)[-1].target


# ----------------------------------------------------------------------------- orbit


@pytest.mark.parametrize("path", ["s01e01/sc01/sh01", "s01e01/sc01/sh02"])
def test_orbit_with_follow_circles_the_walking_character(jobs, path):
    orbit = with_camera(jobs[path], move="orbit", angle_deg=90.0, direction="right", easing="linear")
    walk = walking(orbit, "mara", (2.0, 3.0), start_s=0.0, end_s=(FRAMES - 1) / 24)
    followed = with_camera(walk, follow="mara")
    poses = camera_path(followed)
    where = [chest(walk, "mara", i / walk.fps) for i in range(walk.frames)]
    radii = [ground_distance(pose, point) for pose, point in zip(poses, where)]
    # Circles her (not the cast centre) at a constant radius, wherever she walks ...
    assert max(radii) - min(radii) < 1e-9
    # ... and sweeps its 90° around her.
    (first, last), (at_first, at_last) = (poses[0], poses[-1]), (where[0], where[-1])
    a = math.atan2(first.position[0] - at_first[0, 0], first.position[2] - at_first[0, 2])
    b = math.atan2(last.position[0] - at_last[0, 0], last.position[2] - at_last[0, 2])
    assert abs(abs((b - a + math.pi) % (2 * math.pi) - math.pi) - math.pi / 2) < 1e-9
    if path.endswith("sh01"):  # alone in the shot, she is the subject: centred throughout
        centre = np.array([(walk.width - 1) / 2.0, (walk.height - 1) / 2.0])
        assert np.abs(on_screen(followed, "mara") - centre).max() < PIXEL
        assert np.abs(on_screen(walk, "mara") - centre).max() > 100  # an orbit that does not follow loses her


# ----------------------------------------------------------------------------- focus


def test_the_lens_pulls_focus_with_a_character_walking_away(jobs):
    shot = jobs["s01e01/sc01/sh01"]
    shallow = shot.look.model_copy(update={"depth_of_field": DepthOfFieldJob(f_stop=1.4, focus_m=None)})
    walk = walking(with_camera(shot, move="lock-off").model_copy(update={"look": shallow}), "mara", (0.0, 8.0))

    def blur_on_her(job: ShotJob, index: int) -> float:
        scene, pose = ShotScene(job), camera_path(job)[index]
        circles = frame_circles(job, scene.at(index), pose)
        mask = character_masks(job, index, scene, pose)["mara"]
        assert mask.sum() > 500  # she is in the picture
        return float(np.percentile(circles[mask], 90))  # most of her: edges blend with what is behind

    last = walk.frames - 1
    assert blur_on_her(walk, last) > 3 * IN_FOCUS_PX  # focused where she started: 8 m further off she is soft
    for pulling in (with_camera(walk, look_at="mara"), with_camera(walk, follow="mara")):
        for index in (0, walk.frames // 2, last):
            assert blur_on_her(pulling, index) < IN_FOCUS_PX  # sharp


# ----------------------------------------------------------------------------- determinism


def test_every_frame_is_a_pure_function_of_the_job_and_time(jobs):
    walk = walking(walking(jobs["s01e01/sc01/sh02"], "mara", (-2.0, 3.0)), "theo", (2.5, -1.0))
    shake = HandheldJob(amplitude_m=0.03, rotation_deg=0.6, frequency_hz=1.5, from_s=0.0)
    job = with_camera(walk, move="orbit", angle_deg=45.0, direction="right", follow="mara", look_at="theo",
                      handheld=shake)
    path = camera_path(job)
    for index in range(job.frames):
        assert camera_pose(job, index) == path[index] == pose_at(job, index / job.fps)
    # Another process, given only the job's JSON, computes the same bits.
    code = ("import sys, hashlib, struct\n"
            "from reelforge.plan.jobs import ShotJob\n"
            "from reelforge.previz.camera import camera_path\n"
            "job = ShotJob.model_validate_json(sys.stdin.read())\n"
            "d = hashlib.sha256()\n"
            "for p in camera_path(job): d.update(struct.pack('<7d', *p.position, *p.target, p.focal_length_mm))\n"
            "print(d.hexdigest())\n")
    other = subprocess.run([sys.executable, "-c", code], input=job.model_dump_json(), capture_output=True,
                           text=True, check=True)
    assert other.stdout.strip() == pose_bits(path)


def test_a_frame_range_renders_exactly_as_in_the_full_shot(jobs):
    shot = jobs["s01e01/sc01/sh02"].model_copy(update={"frames": 12})
    shallow = shot.look.model_copy(update={"depth_of_field": DepthOfFieldJob(f_stop=2.0, focus_m=None)})
    job = with_camera(walking(shot.model_copy(update={"look": shallow}), "theo", (2.0, 3.0), 0.0, 0.4),
                      move="push-in", follow="theo", look_at="mara")
    full = dict(PrevizBackend().render(job, range(job.frames)))
    for index in (7, 3, 11):
        ((_, alone),) = PrevizBackend().render(job, [index])
        assert alone.tobytes() == full[index].tobytes()


def test_follow_and_look_at_are_keyed_and_named_in_the_prompt(jobs):
    job = jobs["s01e01/sc01/sh02"]
    variants = [job, with_camera(job, follow="mara"), with_camera(job, follow="theo"),
                with_camera(job, look_at="mara"), with_camera(job, follow="mara", look_at="theo")]
    assert len({v.key for v in variants}) == len(variants)
    plain = camera_phrase(job.camera)
    assert "tracking" not in plain and "framed" not in plain
    assert camera_phrase(variants[1].camera) == plain + ", tracking shot following the subject"
    assert camera_phrase(variants[3].camera) == plain + ", camera panning to keep the subject framed"


# ----------------------------------------------------------------------------- validation


def problems_for(tmp_path, spec: dict) -> list[str]:
    return [str(p) for p in validate_file(write_spec(tmp_path, spec))]


def test_follow_and_look_at_name_a_cast_member(tmp_path):
    spec = small_spec()
    shots = spec["episodes"][0]["scenes"][0]["shots"]  # sh01 casts mara; sh02 mara and theo
    shots[0]["camera"] = {"move": "push-in", "follow": "theo", "look_at": "mara"}
    assert problems_for(tmp_path / "direct", spec) == [
        ("$.episodes[0].scenes[0].shots[0].camera.follow: the camera follows 'theo', who is not cast in shot "
         "s01e01/sc01/sh01 (cast: mara); add 'theo' to the shot's cast or name a cast member")]

    spec = small_spec()
    scene = spec["episodes"][0]["scenes"][0]
    for shot in scene["shots"]:
        shot.pop("camera", None)
    scene["camera"] = {"move": "orbit", "look_at": "theo"}
    scene["shots"].append({**scene["shots"][0], "id": "sh09"})
    (problem,) = problems_for(tmp_path / "inherited", spec)
    assert problem == ("$.episodes[0].scenes[0].camera.look_at: the camera looks at 'theo', who is not cast in "
                       "shot s01e01/sc01/sh01 (cast: mara); add 'theo' to the shot's cast or name a cast member; "
                       "the shot inherits this camera from the scene; 1 more shot using this camera does not "
                       "cast 'theo' either")

    spec = small_spec()
    spec["camera"] = {"move": "lock-off", "follow": "nobody"}
    assert any(p.startswith("$.camera.follow: the camera follows 'nobody', who is no character of this production "
                            "(characters: mara, theo)")
               and "inherits this camera from the production" in p
               for p in problems_for(tmp_path / "production", spec))

    spec = small_spec()
    shots = spec["episodes"][0]["scenes"][0]["shots"]
    shots[1]["camera"] = {"move": "lock-off", "follow": "marra"}  # a typo of a cast member
    assert problems_for(tmp_path / "typo", spec) == [
        ("$.episodes[0].scenes[0].shots[1].camera.follow: the camera follows 'marra', who is no character of this "
         "production; did you mean 'mara'?")]


def test_camera_errors_are_reported_together(tmp_path):
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["shots"][0]["camera"] = {
        "move": "lock-off", "follow": "theo", "keyframes": [{"at_s": 5.0, "move": "push-in"}]}
    paths = {p.split(":")[0] for p in problems_for(tmp_path, spec)}
    assert paths == {"$.episodes[0].scenes[0].shots[0].camera.keyframes[0].at_s",
                     "$.episodes[0].scenes[0].shots[0].camera.follow"}


def test_schema_documents_follow_and_look_at():
    properties = Production.model_json_schema()["$defs"]["Camera"]["properties"]
    assert "moves with" in properties["follow"]["description"]
    assert "aims at" in properties["look_at"]["description"]
