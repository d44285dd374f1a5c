"""Camera motion blur (`look.shutter_deg`): each frame blurs along the previz's exact motion over
shutter/360 of a frame interval, in the post chain of every backend, before the grade.

Claims of exactness are byte equality; where a length is checked the test says how close and why.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import run_cli, shot, small_spec, standing, walking, write_spec

from reelforge.backends.previz import PrevizBackend
from reelforge.plan.jobs import ShotJob, plan
from reelforge.plan.look import merge_looks
from reelforge.post import motion_blur as blur
from reelforge.post.pipeline import finish_frame, finish_picture
from reelforge.previz.raster import render_frame
from reelforge.spec.look import Look
from reelforge.spec.model import Production


def sized(job: ShotJob, width: int, height: int, frames: int | None = None) -> ShotJob:
    """The job at a smaller 16:9 canvas (the picture fills it), optionally cut to `frames`."""
    update = {"width": width, "height": height, "canvas_width": width, "canvas_height": height}
    return job.model_copy(update={**update, **({"frames": frames} if frames else {})})


def shutter(job: ShotJob, degrees: float, **look) -> ShotJob:
    return job.model_copy(update={"look": job.look.model_copy(update={"shutter_deg": degrees, **look})})


def dolly(job: ShotJob) -> ShotJob:
    camera = job.camera.model_copy(update={"move": "dolly", "travel_m": 3.0, "direction": "right"})
    return job.model_copy(update={"camera": camera})


def gradient(picture: np.ndarray, axis: int, where: np.ndarray | None = None) -> float:
    """Total absolute difference between neighbours along `axis` (1: across columns, the energy of
    vertical edges), over `where` if given."""
    grey = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float64)
    step = np.abs(np.diff(grey, axis=axis))
    if where is not None:
        step = step[where[:, 1:] & where[:, :-1]] if axis == 1 else step[where[1:] & where[:-1]]
    return float(step.sum())


def digest(picture: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()


@pytest.fixture(autouse=True)
def cold_cache():
    blur.clear_cache()
    yield
    blur.clear_cache()


# ----------------------------------------------------------------------------- nothing moves


def test_a_still_shot_is_returned_untouched_whatever_the_shutter(jobs):
    job = sized(standing(shot(jobs, "lock-off")), 480, 270)
    for index in (0, job.frames // 2, job.frames - 1):
        picture = render_frame(job, index)
        assert blur.motion_blur(shutter(job, 180.0), index, picture) is picture  # not a re-rounded copy
        assert np.array_equal(finish_frame(shutter(job, 180.0), index, picture), finish_frame(job, index, picture))
    one_frame = shutter(walking(sized(standing(shot(jobs, "lock-off")), 480, 270, frames=1)), 360.0)
    picture = render_frame(one_frame, 0)
    assert blur.motion_blur(one_frame, 0, picture) is picture  # no next or previous frame: no motion


# ----------------------------------------------------------------------------- what blurs, and how far


def test_a_walking_figure_blurs_along_its_walk_and_the_still_set_stays_byte_identical(jobs):
    job = sized(walking(standing(shot(jobs, "lock-off"))), 960, 540)
    index = job.frames // 2
    passes = blur.shot_passes(shutter(job, 180.0))
    walker = passes.masks(index)["mara"]
    picture = render_frame(job, index)
    blurred = {deg: blur.motion_blur(shutter(job, deg), index, picture) for deg in (180.0, 360.0)}
    for result in blurred.values():
        assert np.array_equal(result[~walker], picture[~walker])  # the set, theo, the ground and sky
        assert not np.array_equal(result[walker], picture[walker])
    # She walks along +x: her vertical edges soften, more with a wider shutter.
    sharp = gradient(picture, 1, walker)
    assert gradient(blurred[360.0], 1, walker) < gradient(blurred[180.0], 1, walker) < 0.95 * sharp


def test_an_edge_on_a_walker_smears_over_the_distance_it_travels_while_the_shutter_is_open(jobs):
    """A sharp vertical edge painted across the whole picture (any backend's picture blurs with the
    previz's motion): on her torso it becomes a ramp as wide as the shutter's share of her motion L.
    The pixels strictly between black and white are the whole pixels in an open interval of length
    L + 1 (the blur, and the one pixel of a bilinear step): L to L + 2 of them. Off her it stays a step."""
    job = sized(walking(standing(shot(jobs, "lock-off"))), 960, 540)
    index = job.frames // 2
    passes = blur.shot_passes(shutter(job, 180.0))
    walker = passes.masks(index)["mara"]
    flow_x = passes.motion(index, index + 1).flow[:, :, 0]
    x0 = int(np.median(np.nonzero(walker)[1]))
    edge = np.zeros((job.height, job.width, 3), np.uint8)
    edge[:, x0:] = 255
    for degrees in (90.0, 180.0, 360.0):
        result = blur.motion_blur(shutter(job, degrees), index, edge)[:, :, 0]
        assert np.array_equal(result[~walker], edge[~walker, 0])
        lengths = []
        for row in range(job.height):
            length = degrees / 360.0 * abs(float(flow_x[row, x0]))
            half = int(np.ceil(length)) + 3
            window = slice(x0 - half, x0 + half + 1)
            if not walker[row, window].all() or np.ptp(flow_x[row, window]) > 0.5:
                continue  # not across her torso, or an arm swinging past
            ramp = int(((result[row, window] > 0) & (result[row, window] < 255)).sum())
            assert length - 0.5 <= ramp <= length + 2.0, (degrees, row, ramp, length)
            lengths.append(length)
        assert len(lengths) >= 20
        assert min(lengths) > 3.0 * degrees / 360.0  # she really moves: not a check of a sub-pixel blur


def test_a_dolly_blurs_the_whole_frame_along_x(jobs):
    job = shutter(dolly(sized(standing(shot(jobs, "push-in")), 640, 360)), 360.0)
    index = job.frames // 2  # the eased move is fastest mid-shot
    picture = render_frame(job, index)
    displacement = blur.shutter_motion(job, index)
    assert np.median(displacement[:, :, 0]) < -1.0  # the set slides left …
    assert np.abs(displacement[:, :, 1]).max() < 1e-3  # … and only sideways (up to float rounding in the sky)
    result = blur.motion_blur(job, index, picture)
    changed = (result != picture).any(axis=2)
    thirds = np.array_split(np.arange(job.width), 3)
    assert all(changed[:, columns].mean() > 0.02 for columns in thirds)  # edges everywhere, not one spot
    x_ratio = gradient(result, 1) / gradient(picture, 1)
    y_ratio = gradient(result, 0) / gradient(picture, 0)
    assert x_ratio < 0.9 and y_ratio > 0.95 and y_ratio - x_ratio > 0.05


def test_blur_comes_before_the_grade_and_grain_is_not_blurred(jobs):
    job = sized(walking(standing(shot(jobs, "lock-off"))), 480, 270)
    looks = {"grain": 0.4, "vignette": 0.3}
    index = job.frames // 2
    picture = render_frame(job, index)
    plain, blurred = shutter(job, 0.0, **looks), shutter(job, 180.0, **looks)
    expected = finish_picture(plain, index, blur.motion_blur(blurred, index, picture))
    assert np.array_equal(finish_picture(blurred, index, picture), expected)


# ----------------------------------------------------------------------------- purity


def test_a_frame_rendered_alone_equals_the_same_frame_in_a_full_render(jobs):
    job = shutter(walking(sized(standing(shot(jobs, "lock-off")), 320, 180, frames=8)), 180.0)
    backend = PrevizBackend()
    full = {i: finish_frame(job, i, picture) for i, picture in backend.render(job, range(job.frames))}
    assert not np.array_equal(full[3], finish_frame(shutter(job, 0.0), 3, render_frame(job, 3)))  # it blurs
    for index in (0, 5, job.frames - 1):  # first, middle, last (the last blurs with the motion before it)
        blur.clear_cache()
        (alone,) = [finish_frame(job, i, p) for i, p in PrevizBackend().render(job, [index])]
        assert np.array_equal(alone, full[index]), index
    blur.clear_cache()
    backwards = {i: finish_frame(job, i, p) for i, p in backend.render(job, range(job.frames - 1, -1, -1))}
    assert all(np.array_equal(backwards[i], full[i]) for i in full)


def test_the_same_bytes_with_one_thread_or_many(jobs):
    job = shutter(dolly(walking(sized(standing(shot(jobs, "push-in")), 640, 360))), 270.0)
    index = job.frames // 2
    picture = render_frame(job, index)
    threads = cv2.getNumThreads()
    try:
        many = blur.motion_blur(job, index, picture)
        blur.clear_cache()
        cv2.setNumThreads(1)
        one = blur.motion_blur(job, index, picture)
    finally:
        cv2.setNumThreads(threads)
    assert not np.array_equal(many, picture)
    assert np.array_equal(one, many)


def test_the_same_bytes_in_another_process(jobs):
    job = shutter(walking(sized(standing(shot(jobs, "lock-off")), 480, 270)), 180.0)
    index = job.frames - 1
    here = digest(blur.motion_blur(job, index, render_frame(job, index)))
    script = (
        "import hashlib, sys\n"
        "import numpy as np\n"
        "from reelforge.plan.jobs import ShotJob\n"
        "from reelforge.post.motion_blur import motion_blur\n"
        "from reelforge.previz.raster import render_frame\n"
        "job = ShotJob.model_validate_json(sys.stdin.read())\n"
        f"print(hashlib.sha256(motion_blur(job, {index}, render_frame(job, {index})).tobytes()).hexdigest())\n"
    )
    other = subprocess.run([sys.executable, "-c", script], input=job.model_dump_json(), capture_output=True,
                           text=True, check=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                                                       "PYTHONPATH": ":".join(sys.path)}).stdout.strip()
    assert other == here


# ----------------------------------------------------------------------------- spec, keys, validation


def test_the_shutter_is_inherited_and_zero_switches_it_off():
    assert merge_looks(Look(shutter_deg=180), Look(grain=0.2)).shutter_deg == 180
    assert merge_looks(Look(shutter_deg=180), Look(shutter_deg=0)).shutter_deg == 0


def test_the_shutter_changes_the_job_key_and_an_inherited_one_reaches_every_shot(tmp_path):
    spec = small_spec()
    base = plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs
    assert all(job.look.shutter_deg == 0.0 for job in base)
    spec["look"] = {"shutter_deg": 180}
    inherited = plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs
    assert all(job.look.shutter_deg == 180.0 for job in inherited)
    assert all(a.key != b.key for a, b in zip(base, inherited))
    spec["episodes"][0]["scenes"][0]["shots"][0]["look"] = {"shutter_deg": 0}
    switched_off = plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs
    assert switched_off[0].key == base[0].key  # off is off, whichever level says so
    assert switched_off[1].key == inherited[1].key


@pytest.mark.parametrize("value", [400, -10, "wide"])
def test_validate_reports_a_bad_shutter_with_its_json_path(tmp_path, value):
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["shots"][1]["look"] = {"shutter_deg": value}
    result = run_cli("validate", str(write_spec(tmp_path / "show", spec)), check=False)
    assert result.returncode == 2
    assert "$.episodes[0].scenes[0].shots[1].look.shutter_deg" in result.stderr
    assert "Traceback" not in result.stderr
