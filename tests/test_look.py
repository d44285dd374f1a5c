"""Camera looks: aspect ratio (letterbox/pillarbox as a crop of the canvas framing), depth of field,
seeded grain, vignette, .cube LUTs, and 4K delivery.

Every step is a pure function of (job, frame index, picture); claims of exactness below are
byte equality, and where a result is only close the test says how close and why.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli, shorten, shot, small_spec, standing, write_spec

from reelforge.backends.diffusion import fit_to_delivery
from reelforge.plan.framing import framing_span, picture_size
from reelforge.plan.jobs import plan
from reelforge.plan.lighting import resolve_lighting
from reelforge.plan.look import LookJob, LutJob, merge_looks, resolve_look
from reelforge.plan.lut import LutError
from reelforge.post.look import apply_grain, apply_lut, apply_vignette
from reelforge.post.optics import depth_of_field, frame_circles
from reelforge.post.pipeline import finish_frame, finish_picture
from reelforge.previz.camera import camera_path
from reelforge.previz.raster import ShotScene, draw, render_frame
from reelforge.spec.lighting import Lighting
from reelforge.spec.look import Look
from reelforge.spec.model import Production

NEUTRAL = resolve_lighting(Lighting(preset="overcast"))  # grades nothing: isolates the look's own steps


def with_look(job, width: int = 320, height: int = 180, **look):
    """A job at a small 16:9 canvas with these look fields and a neutral grade."""
    ratio = look.get("aspect_ratio", "16:9")
    pic_w, pic_h = picture_size(ratio, (width, height))
    return job.model_copy(update={"width": pic_w, "height": pic_h, "canvas_width": width, "canvas_height": height,
                                  "lighting": NEUTRAL, "look": LookJob(**{"aspect_ratio": ratio, **look})})


def write_cube(path: Path, size: int, function, one_d: bool = False) -> Path:
    """A .cube file of `function` (RGB in [0, 1] → RGB) sampled on the lattice, red fastest."""
    lines = ['TITLE "test"', f"LUT_{'1' if one_d else '3'}D_SIZE {size}"]
    steps = np.arange(size) / (size - 1)
    if one_d:
        rows = [function(np.array([v, v, v])) for v in steps]
    else:
        rows = [function(np.array([r, g, b])) for b in steps for g in steps for r in steps]
    lines += [" ".join(f"{c:.6f}" for c in row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lut_job(tmp_path: Path, cube: Path, strength: float = 1.0) -> tuple[LutJob, str]:
    job, assets = resolve_look(Look(lut=str(cube), lut_strength=strength), tmp_path, (1920, 1080))
    return job.lut, assets[job.lut.sha256]


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A busy test picture: every colour region has edges and gradients."""
    y, x = np.mgrid[0:90, 0:160]
    return np.stack([x * 255 // 159, y * 255 // 89, ((x // 8 + y // 8) % 2) * 200 + 20], axis=-1).astype(np.uint8)


# ----------------------------------------------------------------------------- aspect ratio


@pytest.mark.parametrize("ratio, hd, uhd", [("16:9", (1920, 1080), (3840, 2160)), ("1.85:1", (1920, 1038), (3840, 2076)),
                                            ("2.39:1", (1920, 804), (3840, 1606)), ("4:3", (1440, 1080), (2880, 2160)),
                                            ("1:1", (1080, 1080), (2160, 2160)), ("9:16", (608, 1080), (1216, 2160))])
def test_aspect_ratio_gives_the_picture_size_at_1080p_and_4k(ratio, hd, uhd):
    assert picture_size(ratio, (1920, 1080)) == hd
    assert picture_size(ratio, (3840, 2160)) == uhd


@pytest.mark.parametrize("ratio", ["1.85:1", "2.39:1", "4:3", "1:1", "9:16"])
def test_previz_picture_is_a_centre_crop_of_the_16_9_framing_with_black_bars(jobs, ratio):
    job = shot(jobs, "push-in")
    full_job = with_look(job, 640, 360)
    cropped_job = with_look(job, 640, 360, aspect_ratio=ratio)
    full = render_frame(full_job, 5)
    picture = render_frame(cropped_job, 5)
    w, h = picture.shape[1], picture.shape[0]
    top, left = (360 - h) // 2, (640 - w) // 2
    # The same lens, the same centre: pixel for pixel the middle of the 16:9 frame, except a few
    # antialiased grid-line pixels where OpenCV clips a line at the picture's edge differently.
    differs = np.any(picture != full[top:top + h, left:left + w], axis=2)
    assert differs.mean() < 0.002, differs.mean()
    frame = finish_frame(cropped_job, 5, picture)
    assert frame.shape == (360, 640, 3)
    assert np.array_equal(frame[top:top + h, left:left + w], picture)
    bars = np.ones((360, 640), dtype=bool)
    bars[top:top + h, left:left + w] = False
    assert bars.any() and not frame[bars].any()  # letterbox / pillarbox bars are pure black


def test_model_conditioning_at_native_size_frames_like_the_previz_picture(jobs):
    """A generative backend draws its previz conditioning at the model's size and its output is
    cover-scaled into the picture: the framing must survive that round trip for every ratio."""
    job = shot(jobs, "lock-off")
    for ratio in ("16:9", "2.39:1", "9:16"):
        pictured = with_look(job, 640, 360, aspect_ratio=ratio)
        for native_size in ((256, 256), (384, 224)):
            native = pictured.model_copy(update={"width": native_size[0], "height": native_size[1]})
            scaled = fit_to_delivery(render_frame(native, 2), pictured.width, pictured.height).astype(int)
            error = np.abs(scaled - render_frame(pictured, 2).astype(int)).mean()
            assert error < 3.0, (ratio, native_size, error)  # resampling only; a wrong framing gives > 15
        assert framing_span(pictured) == 640


def test_aspect_ratio_is_inherited_field_by_field():
    merged = merge_looks(Look(aspect_ratio="2.39:1", grain=0.2, vignette=0.3), Look(grain=0.5),
                         Look(depth_of_field={"f_stop": 2.0}), Look(vignette=0.0, depth_of_field=False))
    assert merged.aspect_ratio == "2.39:1" and merged.grain == 0.5 and merged.vignette == 0.0
    job, _ = resolve_look(merged, Path("."), (1920, 1080))
    assert job.depth_of_field is None and job.vignette == 0.0 and job.grain == 0.5


def test_depth_of_field_is_inherited_field_by_field():
    """A shot that pulls focus keeps the scene's aperture; false still switches it off."""
    scene = Look(depth_of_field={"f_stop": 1.4})
    merged = merge_looks(scene, Look(depth_of_field={"focus_m": 2.0}))
    job, _ = resolve_look(merged, Path("."), (1920, 1080))
    assert (job.depth_of_field.f_stop, job.depth_of_field.focus_m) == (1.4, 2.0)
    off_then_on = merge_looks(scene, Look(depth_of_field=False), Look(depth_of_field={"focus_m": 3.0}))
    assert (off_then_on.depth_of_field.f_stop, off_then_on.depth_of_field.focus_m) == (2.8, 3.0)


# ----------------------------------------------------------------------------- LUT


def test_identity_cube_leaves_every_byte_unchanged(tmp_path, picture):
    """Exact: the identity lattice interpolates to x within ~1e-6, far under half an 8-bit level."""
    lut, path = lut_job(tmp_path, write_cube(tmp_path / "identity.cube", 17, lambda x: x))
    everything = np.arange(1 << 24, dtype=np.uint32).view(np.uint8).reshape(4096, 4096, 4)[:, :, :3]
    assert np.array_equal(apply_lut(lut, path, np.ascontiguousarray(everything)), everything)  # all 2^24 colours
    assert np.array_equal(apply_lut(lut, path, picture), picture)


def test_channel_swap_cube_swaps_channels_and_strength_mixes(tmp_path, picture):
    cube = write_cube(tmp_path / "swap.cube", 9, lambda x: x[::-1])
    lut, path = lut_job(tmp_path, cube)
    assert np.array_equal(apply_lut(lut, path, picture), picture[:, :, ::-1])
    half, path = lut_job(tmp_path, cube, strength=0.5)
    mixed = apply_lut(half, path, picture).astype(float)
    assert np.abs(mixed - (picture.astype(float) + picture[:, :, ::-1]) / 2).max() <= 0.5


def test_1d_cube_applies_per_channel(tmp_path, picture):
    lut, path = lut_job(tmp_path, write_cube(tmp_path / "invert.cube", 33, lambda x: 1 - x, one_d=True))
    assert np.array_equal(apply_lut(lut, path, picture), 255 - picture)


@pytest.mark.parametrize("text, words", [
    (None, "not found"),
    ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\nhello there\n", "line 4"),
    ("LUT_3D_SIZE 3\n0 0 0\n1 1 1\n", "needs 27 rows"),
    ("0 0 0\n1 1 1\n", "no LUT_3D_SIZE"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file"),
])
def test_bad_cube_file_is_an_error_naming_the_field_and_the_file(tmp_path, text, words):
    cube = tmp_path / "grade.cube"
    if isinstance(text, bytes):
        cube.write_bytes(text)
    elif text is not None:
        cube.write_text(text)
    with pytest.raises(LutError) as raised:
        resolve_look(Look(lut="grade.cube"), tmp_path, (1920, 1080))
    assert str(raised.value).startswith("look.lut: ")
    assert str(cube) in str(raised.value) and words in str(raised.value)


def test_validate_and_render_with_a_bad_lut_exit_2_naming_the_json_path_and_file(tmp_path):
    spec = small_spec()
    spec["episodes"][0]["scenes"][1]["shots"][0]["look"] = {"lut": "luts/missing.cube"}
    path = write_spec(tmp_path / "show", spec)
    for command in ("validate", "render"):
        result = run_cli(command, str(path), check=False)
        assert result.returncode == 2, command
        assert "$.episodes[0].scenes[1].shots[0].look.lut" in result.stderr
        assert str(tmp_path / "show" / "luts" / "missing.cube") in result.stderr
        assert "Traceback" not in result.stderr


def test_lut_is_keyed_by_content_and_kept_in_the_production(tmp_path, picture):
    show = tmp_path / "show"
    cube = write_cube(show / "luts" / "look.cube", 5, lambda x: x[::-1])
    spec = small_spec()
    spec["look"] = {"lut": "luts/look.cube"}
    job = plan(Production.model_validate(spec), base_dir=show)[0].jobs[0]
    kept = Path(job.assets[job.look.lut.sha256])
    assert kept.parent == show / ".reelforge" / "assets" and kept.read_bytes() == cube.read_bytes()
    # Moved: same key. Edited: another key, and the old job still applies the LUT it was planned with.
    moved = write_cube(tmp_path / "elsewhere" / "moved.cube", 5, lambda x: x[::-1])
    spec["look"] = {"lut": str(moved)}
    assert plan(Production.model_validate(spec), base_dir=show)[0].jobs[0].key == job.key
    write_cube(cube, 5, lambda x: x)
    spec["look"] = {"lut": "luts/look.cube"}
    assert plan(Production.model_validate(spec), base_dir=show)[0].jobs[0].key != job.key
    small = with_look(job, 160, 90, lut=job.look.lut).model_copy(update={"assets": job.assets})
    assert np.array_equal(finish_picture(small, 0, picture), picture[:, :, ::-1])


# ----------------------------------------------------------------------------- vignette, grain, order


def test_vignette_darkens_the_corners_and_leaves_the_centre(picture):
    flat = np.full((90, 160, 3), 180, dtype=np.uint8)
    out = apply_vignette(0.6, flat)
    assert np.array_equal(out[30:60, 55:105], flat[30:60, 55:105])
    for corner in (out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]):
        assert corner.max() < 180 * 0.6
    assert out[0, 0, 0] < out[0, 40, 0] < 180  # falls off gradually toward the corner


def test_finish_order_grade_then_lut_then_vignette(jobs, tmp_path):
    """The vignette comes after the LUT: an inverting LUT does not turn dark corners bright."""
    lut, path = lut_job(tmp_path, write_cube(tmp_path / "invert.cube", 9, lambda x: 1 - x))
    job = with_look(shot(jobs, "lock-off"), 160, 90, lut=lut, vignette=0.8).model_copy(update={"assets": {lut.sha256: path}})
    flat = np.full((90, 160, 3), 100, dtype=np.uint8)
    out = finish_picture(job, 0, flat)
    assert out[45, 80, 0] == 155 and out[0, 0, 0] < 155 * 0.5


def test_grain_is_seeded_per_shot_and_frame(jobs):
    job = with_look(shot(jobs, "lock-off"), grain=0.5)
    flat = np.full((180, 320, 3), 128, dtype=np.uint8)
    frame_3 = finish_picture(job, 3, flat)
    assert frame_3.tobytes() == finish_picture(job, 3, flat).tobytes()
    assert 3 < frame_3.astype(float).std() < 12
    assert np.any(frame_3 != finish_picture(job, 4, flat), axis=2).mean() > 0.5
    other_shot = job.model_copy(update={"seed": job.seed + 1})
    assert np.any(frame_3 != finish_picture(other_shot, 3, flat), axis=2).mean() > 0.5
    assert np.all(frame_3[:, :, 0] == frame_3[:, :, 1])  # monochrome grain: it does not tint


def test_grain_is_strongest_in_the_midtones():
    levels = {level: apply_grain(0.6, 99, 0, 1080, np.full((200, 200, 3), level, dtype=np.uint8)).astype(float).std()
              for level in (8, 128, 247)}
    assert levels[128] > 2 * levels[8] and levels[128] > 2 * levels[247]


def test_grain_is_the_same_in_another_process():
    code = ("import hashlib, numpy as np; from reelforge.post.look import apply_grain; "
            "p = np.arange(270 * 480 * 3, dtype=np.uint32).astype(np.uint8).reshape(270, 480, 3); "
            "print(hashlib.sha256(apply_grain(0.7, 12345, 17, 2160, p).tobytes()).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    p = np.arange(270 * 480 * 3, dtype=np.uint32).astype(np.uint8).reshape(270, 480, 3)
    assert other == hashlib.sha256(apply_grain(0.7, 12345, 17, 2160, p).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- depth of field


def sized(job, width: int, height: int):
    return job.model_copy(update={"width": width, "height": height, "canvas_width": width, "canvas_height": height})


@pytest.fixture(scope="module")
def dof_shot(jobs):
    return sized(standing(shot(jobs, "lock-off")), 480, 270)  # drawn from ShotScene(job): static figures


def test_depth_of_field_keeps_the_focus_plane_sharp_and_blurs_the_rest(dof_shot):
    from reelforge.plan.look import DepthOfFieldJob

    job = sized(dof_shot, 960, 540).model_copy(update={"look": LookJob(
        aspect_ratio="16:9", depth_of_field=DepthOfFieldJob(f_stop=1.0, focus_m=None))})  # focus on the subject
    scene, pose = ShotScene(job), camera_path(job)[0]
    sharp = draw(scene, pose)
    blurred = depth_of_field(job, scene, pose, sharp)
    coc = frame_circles(job, scene, pose)
    in_focus = coc <= 1.0
    cast = np.any(draw(ShotScene(job.model_copy(update={"figures": ()})), pose) != sharp, axis=2)
    assert in_focus[cast].mean() > 0.8  # the cast (where the subject is) is on the focus plane...
    assert np.array_equal(blurred[in_focus], sharp[in_focus])  # ...and kept byte for byte
    far = coc > 2.0  # the set behind them and the sky
    assert far.mean() > 0.3
    assert np.abs(blurred[far].astype(int) - sharp[far]).max() > 20
    assert sharpness(blurred) < 0.7 * sharpness(sharp)
    assert blurred.tobytes() == depth_of_field(job, scene, pose, sharp).tobytes()


def test_focusing_near_blurs_the_subject_and_no_depth_of_field_changes_nothing(dof_shot):
    from reelforge.plan.look import DepthOfFieldJob

    scene, pose = ShotScene(dof_shot), camera_path(dof_shot)[0]
    sharp = draw(scene, pose)
    assert depth_of_field(dof_shot, scene, pose, sharp) is sharp
    near = dof_shot.model_copy(update={"look": LookJob(aspect_ratio="16:9",
                                                       depth_of_field=DepthOfFieldJob(f_stop=2.0, focus_m=1.0))})
    middle = (slice(90, 200), slice(200, 280))  # the cast, in the middle of the frame
    soft = depth_of_field(near, scene, pose, sharp)
    assert sharpness(soft[middle]) < 0.5 * sharpness(sharp[middle])
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        assert depth_of_field(near, scene, pose, sharp).tobytes() == soft.tobytes()
    finally:
        cv2.setNumThreads(threads)


# ----------------------------------------------------------------------------- keys and delivery


BASE_LOOK = {"aspect_ratio": "16:9", "depth_of_field": {"f_stop": 2.8}, "grain": 0.1, "vignette": 0.1,
             "lut": "a.cube", "lut_strength": 1.0}


@pytest.mark.parametrize("change", [{"aspect_ratio": "2.39:1"}, {"depth_of_field": {"f_stop": 4}},
                                    {"depth_of_field": {"f_stop": 2.8, "focus_m": 3.0}}, {"depth_of_field": False},
                                    {"grain": 0.2}, {"vignette": 0.4}, {"lut": "b.cube"}, {"lut_strength": 0.5}])
def test_every_look_field_changes_the_job_key(tmp_path, change):
    write_cube(tmp_path / "a.cube", 3, lambda x: x ** 2)
    write_cube(tmp_path / "b.cube", 3, lambda x: x ** 3)
    spec = small_spec()
    spec["look"] = BASE_LOOK
    base = plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs[0]
    spec["episodes"][0]["scenes"][0]["shots"][0]["look"] = change
    changed = plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs[0]
    assert changed.key != base.key
    spec["episodes"][0]["scenes"][0]["shots"][0]["look"] = {k: BASE_LOOK[k] for k in change}
    assert plan(Production.model_validate(spec), base_dir=tmp_path)[0].jobs[0].key == base.key  # same values, same key


def test_4k_render_delivers_a_3840x2160_h264_stream_with_a_readable_mark(tmp_path):
    import av

    spec = small_spec()
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    episode["scenes"][0]["shots"] = [shorten(episode["scenes"][0]["shots"][0], 2)]
    spec["delivery"] = {**spec.get("delivery", {}), "resolution": "4k"}
    spec["look"] = {"aspect_ratio": "2.39:1", "grain": 0.3, "vignette": 0.3}
    path = write_spec(tmp_path / "show", spec)
    run_cli("render", str(path), "--mark")
    video = tmp_path / "show" / "renders" / "s01e01.mp4"
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 3840, 2160)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 2
    top = (2160 - 1606) // 2
    assert frames[0][:top - 8].max() < 24 and frames[0][top + 8:top + 1606 - 8].mean() > 40  # letterboxed picture
    traced = run_cli("trace", str(video))
    assert "render #1" in traced.stdout and "s01e01" in traced.stdout
