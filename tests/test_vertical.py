"""Vertical (9:16) and square (1:1) deliveries framed from the camera, not cropped from the 16:9 frame.

The 36 mm gate spans the canvas's long side (plan/framing.py): a 9:16 frame is the camera turned on
its side, so at the same resolution (1080p: 1920×1080 and 1080×1920) both have the same focal length
in pixels, the vertical frame's middle is the 16:9 frame's middle columns, and it sees above and below
what a 9:16 crop of the 16:9 frame could ever show. The scene: a 12 m tower 6 m behind a character,
a camera 4 m in front of her at eye height. Geometry is read from the previz passes (which face each
pixel shows, and its depth), drawn at a quarter of the delivered size (a job's framing scales with it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small_spec, unblocked

from reelforge.backends.models import resolve_model
from reelforge.backends.previz import PrevizBackend
from reelforge.backends.runtime import Runtime
from reelforge.plan.framing import framing_span, model_size, picture_size
from reelforge.plan.jobs import ShotJob, plan
from reelforge.plan.look import DepthOfFieldJob
from reelforge.post.optics import frame_circles
from reelforge.post.pipeline import finish_frame
from reelforge.previz.camera import camera_path
from reelforge.previz.overview import shot_overview
from reelforge.previz.passes import NO_FACE, PrevizPasses, character_masks
from reelforge.previz.raster import ShotScene
from reelforge.spec.delivery import SIZES
from reelforge.spec.model import Production

QUARTER = 4  # the geometry is drawn at a quarter of the delivered size: 480×270, 270×480, 270×270


def tower_spec(aspect: str, resolution: str = "1080p", look: dict | None = None) -> dict:
    """One two-frame shot of mara, standing, in front of a tall red tower, delivered as `aspect`."""
    spec = unblocked(small_spec(2))
    episode = spec["episodes"][0]
    episode["scenes"] = episode["scenes"][:1]
    scene = episode["scenes"][0]
    scene["shots"] = scene["shots"][:1]
    shot = scene["shots"][0]
    shot["cast"] = ["mara"]
    shot["camera"] = {"move": "lock-off", "distance_m": 4.0, "height_m": 1.5, "focal_length_mm": 35}
    location = next(place for place in spec["locations"] if place["id"] == scene["location"])
    location["props"] = [{"id": "tower", "shape": "box", "position_m": [0.0, 6.0], "size_m": [1.0, 12.0, 1.0],
                          "color": "#c03030"}]
    spec["delivery"] = {"aspect_ratio": aspect, "resolution": resolution}
    if look is not None:
        spec["look"] = look
    return spec


def planned(spec: dict) -> ShotJob:
    return plan(Production.model_validate(spec))[0].jobs[0]


def smaller(job: ShotJob, factor: int = QUARTER) -> ShotJob:
    """The job drawn at 1/factor of its picture's size (the lens keeps its framing: framing_span scales)."""
    return job.model_copy(update={"width": job.width // factor, "height": job.height // factor})


@pytest.fixture(scope="module")
def frames() -> dict[str, tuple[ShotJob, np.ndarray, np.ndarray]]:
    """Shape → (job at a quarter size, face ids, depth) of frame 0."""
    found = {}
    for aspect in ("16:9", "9:16", "1:1"):
        job = smaller(planned(tower_spec(aspect)))
        passes = PrevizPasses(job)
        found[aspect] = (job, passes.face_ids(0), passes.depth(0))
    return found


def test_a_vertical_frame_shows_above_and_below_what_a_crop_of_the_16_9_frame_has(frames):
    wide, wide_ids, _ = frames["16:9"]
    tall, tall_ids, tall_depth = frames["9:16"]
    assert (wide.width, wide.height, tall.width, tall.height) == (480, 270, 270, 480)
    # The same lens: the gate spans each frame's long side, 480 px in both.
    assert framing_span(wide) == framing_span(tall) == 480
    # So the vertical frame's middle rows are the 16:9 frame's middle columns, pixel for pixel (but for
    # float rounding on a face edge or two): turning the camera adds picture, it zooms nothing.
    band = (tall.height - wide.height) // 2  # 105 rows above and below the 16:9 frame's view
    middle = (wide.width - tall.width) // 2
    assert np.mean(tall_ids[band:band + wide.height, :] == wide_ids[:, middle:middle + tall.width]) > 0.999

    # A centred 9:16 crop of the 16:9 frame: its 270 rows, 152 of its columns. Shown in the vertical frame,
    # its view covers rows [band, band + 270) and the middle 152 columns; nothing above or below them.
    crop_w = round(wide.height * 9 / 16)
    crop_cols = slice((tall.width - crop_w) // 2, (tall.width + crop_w) // 2)
    above, below = slice(0, band), slice(band + wide.height, tall.height)
    top_faces = tall_ids[above, crop_cols]
    assert np.mean(top_faces != NO_FACE) > 0.25  # the tower rises through every row above the crop...
    assert all((row != NO_FACE).any() for row in top_faces)
    assert (wide_ids[0, middle:middle + tall.width] != NO_FACE).any()  # ...which the 16:9 frame cut off at its top
    assert np.isfinite(tall_depth[below, crop_cols]).all()  # and the ground in front, in every row below it

    # Delivered pixels, not only geometry: in the rows above the crop the tower is drawn, not sky.
    (_, picture), = PrevizBackend().render(tall, [0])
    shown = tall_ids[above] != NO_FACE
    tower_rgb = picture[above][shown].astype(float).mean(axis=0)
    sky_rgb = picture[above][~shown].astype(float).mean(axis=0)
    assert tower_rgb[0] - tower_rgb[2] > 20 and np.abs(tower_rgb - sky_rgb).max() > 20  # red, not sky


def test_a_square_frame_keeps_the_16_9_width_of_view_and_sees_more_above_and_below(frames):
    wide, wide_ids, _ = frames["16:9"]
    square, square_ids, square_depth = frames["1:1"]
    assert (square.width, square.height) == (270, 270) and framing_span(square) == 270
    # The tower's edges sit at the same fraction of the frame's width in both: the same horizontal view.
    row_wide, row_square = wide_ids[wide.height // 2], square_ids[square.height // 2]
    edges = [np.flatnonzero(ids != NO_FACE)[[0, -1]] / width
             for ids, width in ((row_wide, wide.width), (row_square, square.width))]
    assert np.abs(edges[0] - edges[1]).max() < 2 / 270
    # Its top and bottom rows lie outside the 16:9 frame's view: tower above, ground below.
    outside = round((270 - 270 * 270 / 480) / 2)  # 59 rows
    assert all((row != NO_FACE).any() for row in square_ids[:outside])
    assert np.isfinite(square_depth[-outside:]).all()


def test_the_plan_view_and_the_camera_share_one_film_gate():
    """The plan view's wedge and the previz camera see through the same gate: one constant, not two copies."""
    from reelforge.previz import overview, raster

    assert overview.GATE_MM is raster.GATE_MM


def test_the_plan_view_wedge_and_depth_of_field_follow_the_vertical_frame(frames):
    wide, _, _ = frames["16:9"]
    tall, _, _ = frames["9:16"]
    # The plan view's field-of-view wedge is the picture's horizontal view: narrower for 9:16.
    half_wide, half_tall = shot_overview(wide).camera.half_fov, shot_overview(tall).camera.half_fov
    assert math.tan(half_tall) == pytest.approx(math.tan(half_wide) * 9 / 16, rel=1e-12)
    # Depth of field: the same lens and the same depth give the same circles of confusion, in pixels,
    # wherever the two frames overlap (the circle is c · span / 36, span being each frame's long side).
    circles = {}
    for job in (wide, tall):
        look = job.look.model_copy(update={"depth_of_field": DepthOfFieldJob(f_stop=1.4, focus_m=None)})
        focused = job.model_copy(update={"look": look})
        circles[job.look.aspect_ratio] = frame_circles(focused, ShotScene(focused).at(0), camera_path(focused)[0])
    band, middle = (480 - 270) // 2, (480 - 270) // 2
    shared_wide, shared_tall = circles["16:9"][:, middle:middle + 270], circles["9:16"][band:band + 270, :]
    assert float(shared_wide.max()) > 2.0  # the tower and the ground are out of focus (a quarter-size frame)
    assert np.mean(np.abs(shared_wide - shared_tall) <= 1e-3 * np.maximum(shared_wide, 1.0)) > 0.999


def test_canvas_sizes_for_every_shape_and_resolution():
    assert SIZES[("1:1", "1080p")] == (1080, 1080) and SIZES[("1:1", "4k")] == (2160, 2160)
    assert SIZES[("9:16", "1080p")] == (1080, 1920) and SIZES[("9:16", "4k")] == (2160, 3840)
    assert SIZES[("16:9", "8k")] == (7680, 4320)
    assert SIZES[("9:16", "8k")] == (4320, 7680)
    assert SIZES[("1:1", "8k")] == (4320, 4320)
    for (aspect, resolution), size in SIZES.items():
        job = planned(tower_spec(aspect, resolution))
        # An unset look fills the delivery's own shape: the picture is the whole canvas.
        assert job.look.aspect_ratio == aspect
        assert (job.width, job.height) == (job.canvas_width, job.canvas_height) == size
        assert framing_span(job) == max(size)


def test_a_wide_look_is_letterboxed_inside_the_vertical_frame():
    job = planned(tower_spec("9:16", look={"aspect_ratio": "2.39:1"}))
    assert (job.canvas_width, job.canvas_height) == (1080, 1920)
    assert (job.width, job.height) == picture_size("2.39:1", (1080, 1920)) == (1080, 452)
    assert framing_span(job) == 1920  # the strip is the middle of the vertical frame: cropped, not zoomed
    (_, picture), = PrevizBackend().render(job, [0])
    frame = finish_frame(job, 0, picture)
    assert frame.shape == (1920, 1080, 3)
    top = (1920 - 452) // 2
    assert not frame[:top].any() and not frame[top + 452:].any()  # black bars above and below
    assert (frame[top:top + 452].max(axis=2) > 0).all(axis=1).all()  # every picture row has picture


def test_style_recipe_strokes_are_as_large_on_a_vertical_or_square_frame_as_on_a_16_9_one(monkeypatch):
    from reelforge.post import styles

    def scales(job: ShotJob) -> set[float]:
        seen: list[float] = []
        record = {kind: (lambda step, picture, context: seen.append(context.scale) or picture) for kind in styles._OPS}
        with monkeypatch.context() as patch:
            patch.setattr(styles, "_OPS", record)
            styles.apply_recipe(job, 0, np.zeros((job.height, job.width, 3), dtype=np.uint8))
        assert seen
        return set(seen)

    painted = {"preset": "watercolor"}
    for aspect in ("16:9", "9:16", "1:1"):
        spec = tower_spec(aspect)
        spec["style"] = painted
        assert scales(smaller(planned(spec))) == {1 / QUARTER}, aspect  # recipe pixels are 1080p pixels
    spec = tower_spec("9:16", look={"aspect_ratio": "2.39:1"})
    spec["style"] = painted
    assert scales(planned(spec)) == {1.0}  # a letterboxed strip of a 1080p vertical frame: 1080p pixels
    assert scales(planned({**spec, "delivery": {"aspect_ratio": "9:16", "resolution": "4k"}})) == {2.0}


@pytest.fixture(scope="module")
def vertical_jobs() -> dict[str, ShotJob]:
    """The small example on a 9:16 delivery (2 s shots), nobody blocked, drawn at a quarter size."""
    spec = unblocked(small_spec(48))
    spec["delivery"] = {"aspect_ratio": "9:16"}
    return {job.shot_path: smaller(job) for episode in plan(Production.model_validate(spec)) for job in episode.jobs}


def walking(job: ShotJob, who: str, to: tuple[float, float]) -> ShotJob:
    """The job with `who` walking from their spot to `to` over the shot."""
    from reelforge.plan.blocking import ActionJob, FigureBlocking

    def blocked(figure):
        if figure.character_id != who:
            return figure
        walk = ActionJob(action="walk", start_s=0.2, end_s=1.8, easing="ease-in-out",
                         path=((figure.x_m, figure.z_m), to))
        return figure.model_copy(update={"blocking": FigureBlocking(heading_deg=0.0, actions=(walk,))})
    return job.model_copy(update={"figures": tuple(blocked(f) for f in job.figures)})


def centroid_column(job: ShotJob, who: str, index: int) -> float:
    mask = character_masks(job, index)[who]
    assert mask.any()
    return float(np.nonzero(mask)[1].mean())


@pytest.mark.parametrize("camera", [{"look_at": "theo"}, {"follow": "theo", "look_at": "theo"}])
def test_a_camera_tracking_a_walking_character_keeps_them_centred_on_a_vertical_frame(vertical_jobs, camera):
    shot = vertical_jobs["s01e01/sc01/sh02"]
    assert (shot.width, shot.height) == (270, 480)
    walk = walking(shot, "theo", (2.5, 3.0))
    tracked = walk.model_copy(update={"camera": walk.camera.model_copy(update=camera)})
    middle = (tracked.width - 1) / 2.0
    last = tracked.frames - 1
    assert abs(centroid_column(walk, "theo", last) - middle) > 40  # untracked, he walks off-centre
    for index in (0, tracked.frames // 2, last):
        assert abs(centroid_column(tracked, "theo", index) - middle) < 0.04 * tracked.width, index


# ----------------------------------------------------------------------------- generative model sizes


def test_model_size_turns_the_native_size_to_the_picture():
    assert model_size((1344, 768), (1920, 1080), 64) == (1344, 768)
    assert model_size((1344, 768), (1080, 1920), 64) == (768, 1344)
    assert model_size((1344, 768), (1080, 1080), 64) == (1024, 1024)  # ≈ the same pixel count, a multiple of 64
    assert model_size((768, 432), (1080, 1080), 64) == (576, 576)
    assert model_size((1024, 576), (2160, 2160), 64) == (768, 768)
    assert model_size((832, 480), (1080, 1080), 16) == (624, 624)  # Wan: a multiple of 16
    assert model_size((1344, 768), (1080, 452), 64) == (1344, 768)  # a 2.39:1 strip in a vertical frame: landscape


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, object]:
    """Tiny SDXL and Wan checkpoints (built offline, as the backend tests build them)."""
    from reelforge.backends.tiny import make_tiny

    root = tmp_path_factory.mktemp("checkpoints")
    return {kind: make_tiny(root / kind, kind) for kind in ("sdxl", "wan")}


def generative_job(backend: str, checkpoint, aspect: str, look: dict | None = None, **model) -> ShotJob:
    spec = tower_spec(aspect, look=look)
    spec["backend"] = backend
    spec["model"] = {"checkpoint": str(checkpoint), **model}
    production = Production.model_validate(spec)
    return plan(production, None, resolve_model(production, Runtime("cpu", 2), checkpoint.parent))[0].jobs[0]


def test_a_vertical_or_square_picture_samples_the_model_in_its_own_orientation(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path / "cache"))
    sizes = {aspect: (job.model.width, job.model.height)
             for aspect in ("16:9", "9:16", "1:1") for job in [generative_job("sdxl", tiny["sdxl"], aspect)]}
    assert sizes == {"16:9": (1344, 768), "9:16": (768, 1344), "1:1": (1024, 1024)}
    assert (generative_job("wan", tiny["wan"], "9:16").model.width,
            generative_job("wan", tiny["wan"], "9:16").model.height) == (480, 832)
    assert generative_job("wan", tiny["wan"], "1:1").model.height == 624
    # The picture decides, not the canvas: a 9:16 look pillarboxed in a 16:9 delivery is a portrait picture.
    pillarboxed = generative_job("sdxl", tiny["sdxl"], "16:9", look={"aspect_ratio": "9:16"})
    assert (pillarboxed.model.width, pillarboxed.model.height) == (768, 1344)
    # A size the spec sets is used as set, whatever the shape.
    assert (lambda job: (job.model.width, job.model.height))(
        generative_job("sdxl", tiny["sdxl"], "9:16", width=128, height=64)) == (128, 64)
    # The model size is part of the job, so of its key; the planning-only step is in neither.
    vertical = generative_job("sdxl", tiny["sdxl"], "9:16")
    recorded = vertical.model_dump(mode="json")
    assert recorded["model"]["width"] == 768 and "size_step" not in recorded["model"]
    assert ShotJob.model_validate(recorded).key == vertical.key
