"""Lighting presets: they light the previz, grade every backend's frames and name themselves in the prompt.

The grade (post/grade.py) is white balance from the colour temperature (colour-science),
contrast and saturation, applied in finish_frame to whatever a backend drew.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shot, small_spec

from reelforge.plan.jobs import plan
from reelforge.plan.lighting import resolve_lighting, white_balance_gains
from reelforge.post.grade import contrast_curve, grade
from reelforge.post.pipeline import finish_frame
from reelforge.previz.raster import ShotScene, render_frame
from reelforge.spec import presets
from reelforge.spec.lighting import Lighting
from reelforge.spec.load import validate_file
from reelforge.spec.model import Production

PRESETS = ("magic-hour", "blue-hour", "overcast", "neon-night", "hard-noon", "practical")


def light(preset: str = "overcast", **given):
    return resolve_lighting(Lighting(preset=preset, **given))


def grey(level: int = 128, size: int = 8) -> np.ndarray:
    return np.full((size, size, 3), level, dtype=np.uint8)


def small(job, width: int = 320, height: int = 180):
    return job.model_copy(update={"width": width, "height": height, "canvas_width": width, "canvas_height": height})


def red_over_blue(picture: np.ndarray) -> float:
    r, _, b = picture.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return r / b


# ----------------------------------------------------------------------------- grade


def test_every_preset_named_in_the_issue_exists_with_its_parameters():
    assert set(PRESETS) <= set(presets.LIGHTING)
    for name in PRESETS:
        resolved = light(name)
        assert resolved.kelvin == presets.LIGHTING[name]["kelvin"]
        assert presets.LIGHTING[name]["phrase"]


def test_warmer_kelvin_raises_red_over_blue_of_grey_and_cooler_lowers_it():
    neutral = grade(light(kelvin=6500, contrast=1, saturation=1), grey())
    warm = grade(light(kelvin=3200, contrast=1, saturation=1), grey())
    cool = grade(light(kelvin=10000, contrast=1, saturation=1), grey())
    assert red_over_blue(neutral) == 1.0
    assert red_over_blue(warm) > 1.2
    assert red_over_blue(cool) < 0.9
    warmer = grade(light(kelvin=2500, contrast=1, saturation=1), grey())
    assert red_over_blue(warmer) > red_over_blue(warm)  # monotonic in kelvin


def test_white_balance_amount_scales_the_shift_and_zero_is_none():
    assert white_balance_gains(3200, 0.0) == (1.0, 1.0, 1.0)
    half, full = white_balance_gains(3200, 0.5), white_balance_gains(3200, 1.0)
    assert 1.0 < half[0] / half[2] < full[0] / full[2]
    # Grey keeps its luminance: the gains are normalised, only the colour moves.
    graded = grade(light(kelvin=3200, white_balance=1.0, contrast=1, saturation=1), grey(100))
    assert abs(float(cv2.cvtColor(graded, cv2.COLOR_RGB2GRAY).mean()) - 100) < 4


def test_neutral_grade_is_the_identity():
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    neutral = light("overcast")  # 6500 K, contrast 1, saturation 1: the default lighting grades nothing
    assert grade(neutral, picture) is picture
    for name in PRESETS:
        same = light(name, kelvin=6500, contrast=1, saturation=1)
        assert np.array_equal(grade(same, picture), picture)


def test_contrast_spreads_levels_around_mid_grey_and_keeps_black_and_white():
    ramp = np.arange(256, dtype=np.uint8).reshape(1, 256, 1).repeat(3, axis=2)
    high = grade(light(contrast=1.5, saturation=1), ramp)[0, :, 0].astype(int)
    low = grade(light(contrast=0.7, saturation=1), ramp)[0, :, 0].astype(int)
    levels = np.arange(256)
    assert high[0] == low[0] == 0 and high[255] == low[255] == 255
    assert np.all(np.diff(high) >= 0) and np.all(np.diff(low) >= 0)  # monotonic: no banding inversions
    dark, bright = levels < 100, levels > 156
    assert np.all(high[dark][1:] < levels[dark][1:]) and np.all(high[bright][:-1] > levels[bright][:-1])
    assert np.all(low[dark][1:] > levels[dark][1:]) and np.all(low[bright][:-1] < levels[bright][:-1])
    assert abs(contrast_curve(np.array([0.5]), 1.7)[0] - 0.5) < 1e-12


def test_saturation_scales_chroma_and_keeps_grey_grey():
    colour = np.tile(np.array([200, 120, 60], dtype=np.uint8), (4, 4, 1))
    spread = lambda p: int(p[0, 0].max()) - int(p[0, 0].min())
    more = grade(light(saturation=1.5, contrast=1), colour)
    less = grade(light(saturation=0.5, contrast=1), colour)
    none = grade(light(saturation=0.0, contrast=1), colour)
    assert spread(more) > spread(colour) > spread(less) > spread(none)
    assert spread(none) <= 1  # saturation 0 is grey
    for s in (0.0, 0.5, 1.5, 2.0):
        assert np.array_equal(grade(light(saturation=s, contrast=1), grey(77)), grey(77))


def test_grade_bytes_do_not_depend_on_opencv_threads():
    picture = np.random.default_rng(5).integers(0, 256, (270, 481, 3), dtype=np.uint8)
    graded = light("neon-night")
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        one = grade(graded, picture)
        cv2.setNumThreads(4)
        four = grade(graded, picture)
    finally:
        cv2.setNumThreads(threads)
    assert one.tobytes() == four.tobytes()
    assert np.array_equal(picture, np.random.default_rng(5).integers(0, 256, (270, 481, 3), dtype=np.uint8))  # untouched


# ----------------------------------------------------------------------------- presets end to end


@pytest.fixture(scope="module")
def lit_frames(jobs):
    """Frame 0 of one shot under each preset: (previz picture, finished frame), at 320×180."""
    job = small(shot(jobs, "lock-off"))
    frames = {}
    for name in PRESETS:
        relit = job.model_copy(update={"lighting": light(name)})
        picture = render_frame(relit, 0)
        frames[name] = (picture, finish_frame(relit, 0, picture))
    return frames


def test_every_preset_renders_and_differs_from_every_other(lit_frames):
    for name, (picture, frame) in lit_frames.items():
        assert frame.shape == (180, 320, 3) and frame.std() > 5, name
    for a, b in itertools.combinations(PRESETS, 2):
        changed = np.any(lit_frames[a][1] != lit_frames[b][1], axis=2).mean()
        assert changed > 0.5, (a, b, changed)


def test_presets_grade_their_frames(lit_frames):
    """Warm presets finish warmer than their previz picture, cool ones cooler; overcast is left as drawn."""
    for name in ("magic-hour", "practical"):
        picture, frame = lit_frames[name]
        assert red_over_blue(frame) > red_over_blue(picture) * 1.1, name
    for name in ("blue-hour", "neon-night"):
        picture, frame = lit_frames[name]
        assert red_over_blue(frame) < red_over_blue(picture) * 0.97, name
    picture, frame = lit_frames["overcast"]
    assert np.array_equal(picture, frame)


def test_kelvin_override_changes_the_finished_frame_not_the_previz_drawing(jobs):
    job = small(shot(jobs, "lock-off"))
    a = job.model_copy(update={"lighting": light("magic-hour")})
    b = job.model_copy(update={"lighting": light("magic-hour", kelvin=4500)})
    picture = render_frame(a, 0)
    assert np.array_equal(picture, render_frame(b, 0))  # colour temperature is the grade's job
    assert red_over_blue(finish_frame(a, 0, picture)) > red_over_blue(finish_frame(b, 0, picture))


def test_key_azimuth_lights_the_side_it_comes_from(jobs):
    job = shot(jobs, "lock-off")
    box = {"shape": "box", "position_m": [0.0, 0.0], "size_m": [1.0, 1.0, 1.0], "color": "#808080"}
    alone = job.model_copy(update={"figures": (), "set": job.set.model_copy(update={"props": (box,)})})

    def side_brightness(azimuth: float) -> tuple[float, float]:
        scene = ShotScene(alone.model_copy(update={"lighting": light("hard-noon", azimuth_deg=azimuth,
                                                                    elevation_deg=20)}))
        normals, colours = scene.face_normals, scene.face_colors.sum(axis=1)
        return float(colours[normals[:, 0] > 0.5][0]), float(colours[normals[:, 0] < -0.5][0])

    right, left = side_brightness(90.0)
    assert right > 2 * left
    right, left = side_brightness(-90.0)
    assert left > 2 * right


def test_lighting_phrase_goes_into_the_prompt():
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["lighting"] = {"preset": "practical"}
    job = plan(Production.model_validate(spec))[0].jobs[0]
    assert presets.LIGHTING["practical"]["phrase"] in job.prompt


@pytest.mark.parametrize("field, value", [("preset", "blue-hour"), ("azimuth_deg", -30.0), ("elevation_deg", 45.0),
                                          ("kelvin", 4000.0), ("white_balance", 0.9), ("contrast", 1.3),
                                          ("saturation", 0.6)])
def test_every_lighting_field_changes_the_job_key(field, value):
    spec = small_spec()
    base = plan(Production.model_validate(spec))[0].jobs[0]
    spec["episodes"][0]["scenes"][0]["lighting"] = {"preset": "magic-hour", field: value}
    changed = plan(Production.model_validate(spec))[0].jobs[0]
    assert changed.key != base.key


def test_out_of_range_grade_is_reported_at_its_json_path(tmp_path: Path):
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["lighting"] = {"preset": "magic-hour", "contrast": 5}
    path = tmp_path / "production.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    problems = validate_file(path)
    assert [p.path for p in problems] == ["$.episodes[0].scenes[0].lighting.contrast"]
    assert "at most 2" in problems[0].message
