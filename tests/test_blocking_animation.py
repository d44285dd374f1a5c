"""Previz blocking animation: walks arrive where and when the plan says with the feet planted
(no sliding), turns, sits, gestures and looks end where they should, and every frame is a pure
function of (job, index)."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import standing

from reelforge.plan.blocking import ActionJob, FigureBlocking
from reelforge.previz.blocking import HEAD_LIMIT_RAD, BlockingTimeline
from reelforge.previz.camera import camera_path
from reelforge.previz.figure import PART_NAMES, apply_affine, mannequin
from reelforge.previz.raster import ShotScene, draw, render_frame, render_frames
from reelforge.previz.solids import Proportions

SLIDE_BOUND = 0.02  # a planted foot moves less than this fraction of the stride (by construction: not at all)


def act(action: str, start: float, end: float, **fields) -> ActionJob:
    return ActionJob(action=action, start_s=start, end_s=end, easing=fields.pop("easing", "ease-in-out"), **fields)


def two_shot(jobs, frames: int = 96, **blocking: tuple[float, tuple[ActionJob, ...]]):
    """The example's two-hander (Mara and Theo, lock-off), `frames` long, standing in the line-up with
    blocking by hand: cast id → (start heading in degrees, actions)."""
    job = standing(next(j for j in jobs if len(j.figures) == 2 and j.camera.move == "lock-off"))
    figures = tuple(f.model_copy(update={"blocking": FigureBlocking(heading_deg=blocking[f.character_id][0],
                                                                       actions=blocking[f.character_id][1])})
                    if f.character_id in blocking else f for f in job.figures)
    return job.model_copy(update={"frames": frames, "figures": figures})


def spot_of(job, cid):
    figure = next(f for f in job.figures if f.character_id == cid)
    return figure, Proportions.of(figure)


def angle_between(a: float, b: float) -> float:
    return abs((a - b + math.pi) % (2.0 * math.pi) - math.pi)


def shoe_world(figure, pose, side: int) -> np.ndarray:
    rig = mannequin(figure)
    part = PART_NAMES.index("shoe_right" if side == 0 else "shoe_left")
    return apply_affine(rig.matrices(pose)[part], rig.solids[part].vertices)


def part_centre(figure, pose, name: str) -> np.ndarray:
    rig = mannequin(figure)
    part = PART_NAMES.index(name)
    return apply_affine(rig.matrices(pose)[part], rig.solids[part].vertices).mean(axis=0)


# ----------------------------------------------------------------------------- walking


@pytest.mark.parametrize("kind", ["walk", "run"])
def test_walk_starts_and_ends_feet_together_and_arrives_on_time(jobs, kind):
    path = ((-0.55, 0.0), (1.0, 1.5), (1.0, 3.0))
    job = two_shot(jobs, mara=(0.0, (act(kind, 0.5, 3.5, path=path),)))
    _, p = spot_of(job, "mara")
    timeline = BlockingTimeline(job)
    for seconds, (x, z) in ((0.0, path[0]), (0.5, path[0]), (3.5, path[-1]), (3.9, path[-1])):
        pose = timeline.pose("mara", seconds)
        assert (pose.x, pose.z) == (x, z)
        right, left = pose.feet
        assert right.y == left.y == p.ankle_y  # both on the ground
        assert math.dist((right.x, right.z), (left.x, left.z)) == pytest.approx(2.0 * p.leg_x)  # side by side
        assert ((right.x + left.x) / 2, (right.z + left.z) / 2) == pytest.approx((x, z))
        assert pose.hip_y == pytest.approx(p.hip_y)
    end = timeline.pose("mara", 3.5)
    assert angle_between(end.heading, math.atan2(0.0, -1.5)) < 1e-9  # the last leg's direction (+z: 180°)
    assert timeline.pose("mara", 3.9).heading == end.heading  # and keeps it after the walk
    # Frame by frame at 24 fps: the hips get there at end_s, not before.
    index_end = round(3.5 * job.fps)
    assert timeline.ground_position("mara", (index_end - 1) / job.fps) != path[-1]
    assert timeline.ground_position("mara", index_end / job.fps) == path[-1]


@pytest.mark.parametrize("kind,easing", [("walk", "ease-in-out"), ("walk", "linear"), ("run", "ease-in")])
def test_a_planted_foot_does_not_slide(jobs, kind, easing):
    path = ((-0.55, 0.0), (-0.55, 2.0), (1.5, 3.0))  # with a corner
    job = two_shot(jobs, mara=(90.0, (act(kind, 0.2, 3.4, path=path, easing=easing),)))
    mara, p = spot_of(job, "mara")
    timeline = BlockingTimeline(job)
    walk = timeline.tracks["mara"].body_actions[0]
    stride = 2.0 * walk.step
    times = np.linspace(0.0, 3.6, 1441)  # 400 samples a second
    for side in (0, 1):
        planted_at, largest, plants, swings = None, 0.0, 0, 0
        for seconds in times:
            pose = timeline.pose("mara", float(seconds))
            foot = pose.feet[side]
            shoe = shoe_world(mara, pose, side)
            if foot.y == p.ankle_y:  # on the ground
                if planted_at is None:
                    planted_at, plants = shoe, plants + 1
                largest = max(largest, float(np.abs(shoe - planted_at).max()))
            else:
                assert foot.y > p.ankle_y
                if planted_at is not None:
                    swings += 1
                planted_at = None
        assert largest < SLIDE_BOUND * stride
        assert largest == 0.0  # exactly: a planted foot's place is stored, not integrated
        assert swings >= 2 and plants >= 3  # it did walk


def test_walk_bobs_and_arms_swing_against_the_legs(jobs):
    job = two_shot(jobs, mara=(0.0, (act("walk", 0.0, 4.0, path=((-0.55, 0.0), (-0.55, 5.0)), easing="linear"),)))
    _, p = spot_of(job, "mara")
    timeline = BlockingTimeline(job)
    hips, checked = [], 0
    for seconds in np.linspace(1.0, 3.0, 97):
        pose = timeline.pose("mara", float(seconds))
        hips.append(pose.hip_y)
        facing = (math.sin(pose.heading), -math.cos(pose.heading))
        for side in (0, 1):
            ahead = (pose.feet[side].x - pose.x) * facing[0] + (pose.feet[side].z - pose.z) * facing[1]
            if abs(ahead) > 0.1:  # this leg clearly forward or back: the arm on its side goes the other way
                assert pose.arms[side].flex * ahead < 0.0
                checked += 1
    assert checked > 50
    bob = max(hips) - min(hips)
    assert 0.01 * p.height < bob < 0.06 * p.height
    assert max(hips) < p.hip_y  # knees a little bent while walking


def test_heading_turns_into_the_walk_and_round_corners_without_a_snap(jobs):
    path = ((-0.55, 0.0), (2.0, 0.0), (2.0, 2.0))  # right (+x), then away (+z)
    job = two_shot(jobs, mara=(0.0, (act("walk", 0.5, 3.5, path=path),)))
    timeline = BlockingTimeline(job)
    headings = [timeline.pose("mara", i / 24).heading for i in range(96)]
    steps = np.abs(np.diff(headings))
    assert steps.max() < math.radians(20)  # 90° never happens between two frames
    assert headings[0] == 0.0
    assert angle_between(headings[-1], math.pi) < 1e-9


# ----------------------------------------------------------------------------- turns, sits, looks, gestures


def test_turns_end_on_their_heading_the_shortest_way(jobs):
    job = two_shot(jobs, mara=(0.0, (act("turn", 0.5, 1.1, heading_deg=-170.0),
                                      act("turn", 2.0, 2.6, face_character="theo"))),
                   theo=(0.0, (act("walk", 0.0, 3.0, path=((0.55, 0.0), (2.0, 2.0))),)))
    timeline = BlockingTimeline(job)
    assert timeline.pose("mara", 0.5).heading == 0.0
    assert angle_between(timeline.pose("mara", 1.1).heading, math.radians(-170.0)) < 1e-9
    assert timeline.pose("mara", 0.8).heading < 0.0  # turned through -90°, not +190°
    end = timeline.pose("mara", 2.6)
    tx, tz = timeline.ground_position("theo", 2.6)  # where Theo is when the turn ends
    assert angle_between(end.heading, math.atan2(tx - end.x, -(tz - end.z))) < 1e-9


def test_sit_lowers_the_hips_to_the_seat_and_stand_raises_them(jobs):
    seat = 0.5
    job = two_shot(jobs, theo=(-90.0, (act("sit", 0.5, 1.5, seat_height_m=seat), act("stand", 2.5, 3.5))))
    theo, p = spot_of(job, "theo")
    timeline = BlockingTimeline(job)
    seated = timeline.pose("theo", 2.0)
    assert seated.sit == 1.0
    assert seated.hip_y == pytest.approx(seat + p.thigh_half_depth)
    thigh = part_centre(theo, seated, "thigh_right")
    assert thigh[1] == pytest.approx(seat + p.thigh_half_depth, abs=0.06)  # thighs forward, about level
    for foot in seated.feet:
        assert foot.y == p.ankle_y
    assert timeline.pose("theo", 1.0).hip_y < p.hip_y  # on the way down
    assert timeline.pose("theo", 3.5).hip_y == pytest.approx(p.hip_y) and timeline.pose("theo", 3.5).sit == 0.0
    # The stool joins the set when the sit starts (not before she comes to it), its top at the seat height.
    scene = ShotScene(job)
    no_sit = ShotScene(two_shot(jobs, theo=(-90.0, ())))
    set_faces = int((no_sit.at(0).face_part < 0).sum())
    first_sit_frame = math.ceil(0.5 * job.fps)
    for index in (0, first_sit_frame - 1):
        assert int((scene.at(index).face_part < 0).sum()) == set_faces
    frame = scene.at(first_sit_frame)
    static = np.flatnonzero(frame.face_part < 0)
    assert len(static) == set_faces + 6  # one stool: a box, of the set (owner -1)
    assert (frame.face_owner[static[-6:]] == -1).all()
    top = static[-2]  # top, then bottom, last
    stool_top = frame.face_vertices[frame.face_starts[top]:frame.face_starts[top + 1]]
    assert np.allclose(stool_top[:, 1], seat)
    under = stool_top.mean(axis=0)  # under the seated hips
    hips_x = seated.x - math.sin(seated.heading) * seated.pelvis_back
    assert abs(under[0] - hips_x) < 0.1 and abs(under[2] - seated.z) < 0.1
    assert int((scene.at(job.frames - 1).face_part < 0).sum()) == set_faces + 6  # and stays after she stands


def crate_sit_job(jobs):
    """Mara walks from [-1.5, 0.5] to the example's crates (1.0 m high, centred at [-3.0, 2.5]), sits
    on them and stands again, planned from the spec (the seat is resolved from the prop)."""
    from conftest import example_spec, unblocked

    from reelforge.plan.jobs import plan
    from reelforge.spec.model import Production

    spec = unblocked(example_spec())
    shot = spec["episodes"][0]["scenes"][0]["shots"][0]
    shot.update({"seconds": 4, "cast": ["mara"], "camera": {"move": "lock-off"}, "blocking": {"mara": {
        "mark": [-1.5, 0.5], "actions": [{"action": "walk", "at_s": 0.0, "to": "crates", "arrive_s": 1.5},
                                         {"action": "sit", "at_s": 1.6}, {"action": "stand", "at_s": 2.8}]}}})
    shot.pop("frames", None)
    job = plan(Production.model_validate(spec))[0].jobs[0]
    crates = next(p for p in spec["locations"][0]["props"] if p.get("id") == "crates")
    return job, crates


def test_sitting_on_a_prop_turns_away_from_it_and_sits_on_its_edge_without_a_stool(jobs):
    job, crates = crate_sit_job(jobs)
    mara, p = spot_of(job, "mara")
    sit = next(a for a in mara.blocking.actions if a.action == "sit")
    assert sit.seat_height_m == crates["size_m"][1] == 1.0 and sit.seat_edge is not None
    (cx, cz), (width, _, depth) = crates["position_m"], crates["size_m"]
    timeline = BlockingTimeline(job)
    arrived = timeline.pose("mara", 1.5)
    to_crate = math.atan2(cx - arrived.x, -(cz - arrived.z))
    assert angle_between(arrived.heading, to_crate) < math.radians(60)  # she walked up facing the crates
    seated = timeline.pose("mara", sit.end_s)
    assert seated.sit == 1.0
    assert angle_between(seated.heading, to_crate + math.pi) < math.radians(30)  # her back to them
    # Her hips are over the crate, inside its edge, at its top (the 40 % cap is for stools only).
    hips = (seated.x - math.sin(seated.heading) * seated.pelvis_back,
            seated.z + math.cos(seated.heading) * seated.pelvis_back)
    assert abs(hips[0] - cx) < width / 2 and abs(hips[1] - cz) < depth / 2
    assert seated.hip_y == pytest.approx(1.0 + p.thigh_half_depth) and seated.hip_y > 0.4 * p.height
    for foot in seated.feet:  # too high for the ground: the feet hang, off the floor, in front of the crate
        assert foot.y > p.ankle_y + 0.1
        assert not (abs(foot.x - cx) < width / 2 and abs(foot.z - cz) < depth / 2)
    # The turn is the shortest way, eased: the heading moves monotonically from the walk's end.
    headings = [timeline.pose("mara", sit.start_s + k * 0.05).heading for k in range(21)]
    steps = np.diff(headings)
    assert (steps >= -1e-12).all() or (steps <= 1e-12).all()
    assert abs(headings[-1] - headings[0]) <= math.pi + 1e-9
    # No stool for that sit, in any frame; the parts stay the same in number and order.
    scene = ShotScene(job)
    set_faces = [int((scene.at(i).face_part < 0).sum()) for i in range(0, job.frames, 6)]
    assert len(set(set_faces)) == 1
    assert timeline.seats("mara") == []
    shapes = {scene.at(i).part_matrices.shape for i in (0, 40, 60, job.frames - 1)}
    assert shapes == {(len(PART_NAMES), 3, 4)}
    # Standing again, she is back on her spot, feet on the ground, still facing away.
    up = timeline.pose("mara", 3.9)
    assert up.hip_y == pytest.approx(p.hip_y) and (up.x, up.z) == (arrived.x, arrived.z)
    assert all(foot.y == p.ankle_y for foot in up.feet)
    # A frame range renders alone the same.
    indices = [38, 50, 62]
    in_pass = list(render_frames(job, range(job.frames)))
    assert [render_frame(job, i).tobytes() for i in indices] == [in_pass[i].tobytes() for i in indices]


def test_a_seat_height_given_beside_a_prop_is_a_stool_and_keys_stay_without_seat_edge(jobs):
    job, _ = crate_sit_job(jobs)
    mara = job.figures[0]
    actions = tuple(a.model_copy(update={"seat_edge": None, "seat_height_m": 0.5}) if a.action == "sit" else a
                    for a in mara.blocking.actions)
    plain = job.model_copy(update={"figures": (mara.model_copy(update={
        "blocking": mara.blocking.model_copy(update={"actions": actions})}),)})
    assert len(BlockingTimeline(plain).seats("mara")) == 1
    dumped = plain.model_dump(mode="json")["figures"][0]["blocking"]["actions"]
    assert all("seat_edge" not in a for a in dumped)  # None is left out: jobs without a prop seat keep their keys
    assert "seat_edge" in job.model_dump(mode="json")["figures"][0]["blocking"]["actions"][1]


def test_wave_raises_the_hand_above_the_shoulder(jobs):
    job = two_shot(jobs, mara=(0.0, (act("gesture", 0.5, 2.5, gesture="wave", easing="linear"),)))
    mara, p = spot_of(job, "mara")
    timeline = BlockingTimeline(job)
    for seconds in (1.0, 1.3, 1.6, 2.0):
        hand = part_centre(mara, timeline.pose("mara", seconds), "hand_right")
        assert hand[1] > p.shoulder_y
    assert part_centre(mara, timeline.pose("mara", 0.5), "hand_right")[1] < p.hip_y  # blends in from the side
    assert part_centre(mara, timeline.pose("mara", 2.5), "hand_right")[1] < p.hip_y  # and back out
    forearm = [timeline.pose("mara", s).arms[0].elbow for s in np.linspace(1.0, 2.0, 21)]
    assert max(forearm) - min(forearm) > 0.5  # the forearm waves


@pytest.mark.parametrize("target", [(-3.0, -2.0), (3.0, -1.0)])
def test_point_aims_the_hand_at_the_target(jobs, target):
    job = two_shot(jobs, mara=(0.0, (act("gesture", 0.5, 2.5, gesture="point", face_point=target),)))
    mara, p = spot_of(job, "mara")
    pose = BlockingTimeline(job).pose("mara", 1.5)
    side = "left" if target[0] > mara.x_m else "right"  # facing the camera, +x is Mara's left
    hand = part_centre(mara, pose, f"hand_{side}")
    shoulder = part_centre(mara, pose, f"upper_arm_{side}")
    aim = math.atan2(hand[0] - shoulder[0], hand[2] - shoulder[2])
    want = math.atan2(target[0] - shoulder[0], target[1] - shoulder[2])
    assert angle_between(aim, want) < math.radians(12)
    assert math.dist(hand, shoulder) > 0.25 * p.height  # the arm is straight out


def test_reach_puts_the_hand_forward_and_down(jobs):
    job = two_shot(jobs, mara=(0.0, (act("gesture", 0.5, 2.5, gesture="reach"),)))
    mara, p = spot_of(job, "mara")
    pose = BlockingTimeline(job).pose("mara", 1.5)
    hand = part_centre(mara, pose, "hand_right")
    assert hand[2] < mara.z_m - 0.3 * p.height * 0.8  # in front (-z faces the camera)
    assert hand[1] < p.shoulder_y


def test_look_at_follows_a_moving_character_with_the_head_only(jobs):
    job = two_shot(jobs, theo=(0.0, (act("look-at", 0.5, 0.9, face_character="mara"),)),
                   mara=(0.0, (act("walk", 0.0, 4.0, path=((-0.55, 0.0), (-2.5, -1.0), (-2.5, 3.0))),)))
    timeline = BlockingTimeline(job)
    assert timeline.pose("theo", 0.4).head_yaw == 0.0
    for seconds in (1.0, 1.5, 2.5, 3.5):
        theo = timeline.pose("theo", seconds)
        mx, mz = timeline.ground_position("mara", seconds)
        want = math.atan2(mx - theo.x, -(mz - theo.z))
        assert theo.heading == 0.0  # the body does not turn
        if angle_between(want, 0.0) < HEAD_LIMIT_RAD:
            assert angle_between(theo.head_yaw, want) < 1e-9
        else:
            assert abs(theo.head_yaw) == pytest.approx(HEAD_LIMIT_RAD)
    assert len({round(timeline.pose("theo", s).head_yaw, 6) for s in (1.0, 1.5, 2.5)}) == 3  # it follows her


# ----------------------------------------------------------------------------- frames


def blocked_scene(jobs):
    return two_shot(jobs, frames=72,
                    mara=(0.0, (act("walk", 0.1, 2.5, path=((-0.55, 0.0), (-1.5, 1.5))),
                                act("gesture", 1.5, 2.9, gesture="wave"))),
                    theo=(0.0, (act("turn", 0.0, 0.6, face_character="mara"), act("sit", 1.0, 2.0),
                                act("look-at", 1.0, 1.4, face_character="mara"))))


def test_parts_and_faces_are_the_same_in_every_frame(jobs):
    """The figures' parts and faces never change; the set only gains Theo's stool when his sit starts."""
    job = blocked_scene(jobs)
    scene = ShotScene(job)
    first = scene.at(0)
    first_moving = first.face_part >= 0
    for index in (17, 40, 71):
        frame = scene.at(index)
        moving = frame.face_part >= 0
        assert np.array_equal(frame.face_part[moving], first.face_part[first_moving])
        assert np.array_equal(frame.face_owner[moving], first.face_owner[first_moving])
        assert np.array_equal(np.diff(frame.face_starts)[moving], np.diff(first.face_starts)[first_moving])
        assert int((~moving).sum()) == int((~first_moving).sum()) + (6 if index >= 24 else 0)
        assert frame.part_matrices.shape == first.part_matrices.shape == (2 * len(PART_NAMES), 3, 4)
    moving = first.face_part >= 0
    assert set(np.unique(first.face_owner[moving])) == {0, 1}


def test_a_blocked_figure_standing_still_looks_like_the_unblocked_mannequin(jobs):
    plain = two_shot(jobs, frames=4)
    still = two_shot(jobs, frames=4, mara=(0.0, ()), theo=(0.0, ()))
    a, b = render_frame(plain, 2).astype(np.int16), render_frame(still, 2).astype(np.int16)
    differs = np.abs(a - b).max(axis=2) > 8
    assert differs.mean() < 0.0005  # a few antialiased seams where a leg or an arm is now two parts


def test_walking_frames_change_and_a_frame_range_renders_alone_identically(jobs):
    job = blocked_scene(jobs)
    indices = [5, 30, 31, 60]
    in_pass = list(render_frames(job, range(job.frames)))
    for i in indices:
        assert render_frame(job, i).tobytes() == in_pass[i].tobytes()
    assert next(iter(render_frames(job, [31, 30]))).tobytes() == in_pass[31].tobytes()
    assert np.mean(in_pass[30] != in_pass[31]) > 0.0005  # the figures move between consecutive frames
    scene, path = ShotScene(job), camera_path(job)
    assert draw(scene.at(60), path[60]).tobytes() == in_pass[60].tobytes()


def test_blocked_frames_are_the_same_in_another_process(jobs):
    job = blocked_scene(jobs)
    indices = [0, 33, 71]
    here = [hashlib.sha256(f.tobytes()).hexdigest() for f in render_frames(job, indices)]
    script = (
        "import hashlib, sys\n"
        "from reelforge.plan.jobs import ShotJob\n"
        "from reelforge.previz.raster import render_frames\n"
        "job = ShotJob.model_validate_json(sys.stdin.read())\n"
        f"for f in render_frames(job, {indices}):\n"
        "    print(hashlib.sha256(f.tobytes()).hexdigest())\n"
    )
    other = subprocess.run([sys.executable, "-c", script], input=job.model_dump_json(),
                           capture_output=True, text=True, check=True).stdout.split()
    assert other == here
