"""Style families: the JSON format, user families beside the spec, inheritance, job keys, and recipes
that are deterministic (across processes and OpenCV thread counts) and do not boil."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli, small_spec, write_spec

from reelforge.backends.previz import PrevizBackend
from reelforge.errors import SpecError
from reelforge.plan.jobs import plan
from reelforge.plan.style import resolve_style
from reelforge.post.styles import apply_recipe, clear_caches, voronoi_cells
from reelforge.spec.load import load_production, production_schema, validate_file
from reelforge.spec.model import Production
from reelforge.spec.styles import (
    BUILTIN_FOLDER,
    Style,
    family_file_problems,
    load_families,
)

BUILT_INS = ["gray-box", "photorealistic", "watercolor", "stained-glass", "paper-cut", "oil-paint", "pen-and-ink"]
WITH_RECIPE = ["watercolor", "stained-glass", "paper-cut", "oil-paint", "pen-and-ink"]
SMALL = {"width": 320, "height": 180, "canvas_width": 320, "canvas_height": 180}

USER_FAMILY = {
    "format": "reelforge-style/1",
    "id": "house",
    "name": "House style",
    "prompt": "graphic novel panel",
    "negative_prompt": "photo",
    "palette": ["#102030", "#F0E0C0"],
    "previz": [{"op": "palette-map", "mix": 0.8}, {"op": "ink-edges", "width_px": 3}],
}


def write_family(folder: Path, family: dict, name: str | None = None) -> Path:
    (folder / "styles").mkdir(parents=True, exist_ok=True)
    path = folder / "styles" / f"{name or family['id']}.json"
    path.write_text(json.dumps(family, indent=2), encoding="utf-8")
    return path


def jobs_of(spec_path: Path):
    production = load_production(spec_path)
    return [job for episode in plan(production, base_dir=spec_path.parent) for job in episode.jobs]


def picture(job, index: int = 3) -> np.ndarray:
    return next(iter(PrevizBackend().render(job.model_copy(update=SMALL), [index])))[1]


def with_style(job, name: str, base_dir: Path = Path(".")):
    style, _ = resolve_style(Style.model_construct(preset=name), base_dir)  # a user family: no name check here
    return job.model_copy(update={"style": style})


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# --------------------------------------------------------------------------- the format


def test_every_builtin_family_file_is_valid() -> None:
    files = sorted(BUILTIN_FOLDER.glob("*.json"))
    assert sorted(f.stem for f in files) == sorted(BUILT_INS)
    for file in files:
        assert family_file_problems(file) == [], file
    families = load_families(None).families
    assert all(families[name].family.previz for name in WITH_RECIPE)
    assert not families["gray-box"].family.previz and not families["photorealistic"].family.previz


def test_style_schema_from_the_cli_describes_every_op() -> None:
    schema = json.loads(run_cli("schema", "--style").stdout)
    assert schema["title"] == "reelforge style family"
    ops = {d["properties"]["op"]["const"] for d in schema["$defs"].values() if "op" in d.get("properties", {})}
    assert {"voronoi", "kuwahara", "hatching", "paper-layers", "texture", "smooth"} <= ops
    # the production schema suggests the built-ins without forbidding a production's own families
    preset = production_schema()["$defs"]["Style"]["properties"]["preset"]
    assert "enum" not in preset and set(BUILT_INS) <= set(preset["examples"])


BAD_FILES = [
    ("unknown op", {"previz": [{"op": "blur"}]}, "$.previz[0].op", ["unknown op 'blur'", "kuwahara", "voronoi"]),
    ("out of range", {"previz": [{"op": "smooth"}, {"op": "kuwahara", "radius_px": 99}]},
     "$.previz[1].radius_px", ["at most 32", "got 99"]),
    ("bad colour", {"palette": ["#102030", "red"]}, "$.palette[1]", ["#rrggbb", '"red"']),
    ("bad colour in a step", {"previz": [{"op": "voronoi", "leading_color": "#12345"}]},
     "$.previz[0].leading_color", ["#rrggbb"]),
    ("id is not the file name", {"id": "houses"}, "$.id", ["'houses'", "houses.json", '"id": "house"']),
    ("unknown field", {"colour": "#000000"}, "$.colour", ["unknown field 'colour'", "palette"]),
    ("unknown step field", {"previz": [{"op": "smooth", "radius": 3}]}, "$.previz[0].radius",
     ["unknown field 'radius'", "radius_px"]),
    ("step without op", {"previz": [{"radius_px": 3}]}, "$.previz[0].op", ["'op' is missing"]),
    ("palette-map without palette", {"palette": [], "previz": [{"op": "palette-map"}]}, "$.previz[0].op",
     ["needs colours", "palette"]),
    ("lora file missing", {"lora": {"path": "loras/house.safetensors", "weight": 0.8}}, "$.lora.path",
     ["no LoRA file", "house.safetensors"]),
    ("wrong format", {"format": "reelforge-style/9"}, "$.format", ["reelforge-style/1"]),
]


@pytest.mark.parametrize("case,change,where,words", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_user_family_names_the_file_and_json_path(tmp_path: Path, case, change, where, words) -> None:
    spec = write_spec(tmp_path / "show", small_spec())
    family = {**copy.deepcopy(USER_FAMILY), **change}
    write_family(spec.parent, family, name="house")
    problems = validate_file(spec)
    assert [p.path for p in problems] == [f"styles/house.json: {where}"], problems
    for word in words:
        assert word in problems[0].message, problems[0].message


def test_bad_user_family_exits_2_from_the_cli(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "show", small_spec())
    write_family(spec.parent, {**USER_FAMILY, "previz": [{"op": "texture", "strength": 3}]})
    result = run_cli("validate", str(spec), check=False)
    assert result.returncode == 2
    assert "styles/house.json: $.previz[0].strength: must be at most 1, got 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_json_in_a_family_file(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "show", small_spec())
    (spec.parent / "styles").mkdir()
    (spec.parent / "styles" / "house.json").write_text('{"format": "reelforge-style/1",}', encoding="utf-8")
    (problem,) = validate_file(spec)
    assert problem.path == "styles/house.json: $"
    assert "line 1" in problem.message and "no comma after the last item" in problem.message


# --------------------------------------------------------------------------- using families


def test_user_family_validates_plans_and_renders(tmp_path: Path) -> None:
    spec = small_spec()
    spec["style"] = {"preset": "house"}
    path = write_spec(tmp_path / "show", spec)
    write_family(path.parent, USER_FAMILY)
    assert validate_file(path) == []
    jobs = jobs_of(path)
    job = jobs[0]
    assert job.style.id == "house" and job.style.palette == ("#102030", "#f0e0c0")
    assert job.prompt.startswith("graphic novel panel") and job.negative_prompt == "photo"
    gray = with_style(job, "gray-box")
    assert not np.array_equal(picture(job), picture(gray))
    # A spec built in code, without the production's folder, knows the built-ins only.
    with pytest.raises(ValueError, match="unknown style preset 'house'"):
        Production.model_validate(spec)
    assert Production.model_validate(small_spec()).style.preset == "gray-box"


def test_user_family_overrides_a_builtin_of_the_same_id(tmp_path: Path) -> None:
    spec = small_spec()
    spec["style"] = {"preset": "watercolor"}
    path = write_spec(tmp_path / "show", spec)
    builtin = jobs_of(path)[0]
    write_family(path.parent, {**USER_FAMILY, "id": "watercolor", "prompt": "our own watercolor"})
    ours = jobs_of(path)[0]
    assert builtin.style.prompt.startswith("watercolor painting")
    assert ours.style.prompt == "our own watercolor" and ours.style.previz != builtin.style.previz
    assert ours.key != builtin.key


def test_unknown_style_lists_the_known_families(tmp_path: Path) -> None:
    spec = small_spec()
    spec["episodes"][0]["scenes"][0]["style"] = {"preset": "watercolour"}
    path = write_spec(tmp_path / "show", spec)
    write_family(path.parent, USER_FAMILY)
    (problem,) = validate_file(path)
    assert problem.path == "$.episodes[0].scenes[0].style.preset"
    assert "unknown style preset 'watercolour'; did you mean 'watercolor'?" in problem.message
    for name in BUILT_INS + ["house"]:
        assert name in problem.message


def test_style_is_inherited_series_episode_scene_shot(tmp_path: Path) -> None:
    spec = small_spec()
    spec["style"] = {"preset": "watercolor"}
    first = spec["episodes"][0]
    first["scenes"][1]["style"] = {"preset": "oil-paint"}
    first["scenes"][0]["shots"][1]["style"] = {"preset": "pen-and-ink"}
    second = copy.deepcopy(first)
    second["id"] = "s01e02"
    second["style"] = {"preset": "paper-cut"}
    spec["episodes"].append(second)
    jobs = jobs_of(write_spec(tmp_path / "show", spec))
    styles = {job.shot_path: job.style.id for job in jobs}
    e1, e2 = first["id"], second["id"]
    sc0, sc1 = first["scenes"][0]["id"], first["scenes"][1]["id"]
    sh0, sh1 = (shot["id"] for shot in first["scenes"][0]["shots"])
    (sh2,) = (shot["id"] for shot in first["scenes"][1]["shots"])
    assert styles == {
        f"{e1}/{sc0}/{sh0}": "watercolor",  # from the series
        f"{e1}/{sc0}/{sh1}": "pen-and-ink",  # the shot's own
        f"{e1}/{sc1}/{sh2}": "oil-paint",  # the scene's
        f"{e2}/{sc0}/{sh0}": "paper-cut",  # the episode's
        f"{e2}/{sc0}/{sh1}": "pen-and-ink",
        f"{e2}/{sc1}/{sh2}": "oil-paint",  # the scene overrides its episode
    }


def test_editing_a_family_changes_exactly_the_keys_of_its_shots(tmp_path: Path) -> None:
    spec = small_spec()
    spec["episodes"][0]["scenes"][1]["style"] = {"preset": "house"}
    path = write_spec(tmp_path / "show", spec)
    family_file = write_family(path.parent, USER_FAMILY)
    before = {job.shot_path: job.key for job in jobs_of(path)}
    house = {job.shot_path for job in jobs_of(path) if job.style.id == "house"}
    assert len(house) == 1 and len(before) == 3

    # The name and description are for people: no re-render.
    family_file.write_text(json.dumps({**USER_FAMILY, "name": "Renamed", "description": "new words"}))
    assert {job.shot_path: job.key for job in jobs_of(path)} == before

    # Same byte length, one digit different: still seen (parsed families are cached by content).
    edited = {**USER_FAMILY, "previz": [{"op": "palette-map", "mix": 0.7}, {"op": "ink-edges", "width_px": 3}]}
    family_file.write_text(json.dumps(edited))
    after = {job.shot_path: job.key for job in jobs_of(path)}
    assert {shot for shot in before if before[shot] != after[shot]} == house


def test_lora_is_keyed_by_content_and_its_path_is_an_asset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(tmp_path / "cache"))
    spec = small_spec()
    spec["style"] = {"preset": "house"}
    path = write_spec(tmp_path / "show", spec)
    lora = path.parent / "styles" / "loras" / "house.safetensors"
    lora.parent.mkdir(parents=True)
    write_lora(lora, 1.0)
    write_family(path.parent, {**USER_FAMILY, "lora": {"path": "loras/house.safetensors", "weight": 0.7}})
    job = jobs_of(path)[0]
    sha = hashlib.sha256(lora.read_bytes()).hexdigest()
    assert (job.style.lora.sha256, job.style.lora.weight, job.style.lora.source) == (sha, 0.7, "style:house")
    assert Path(job.assets[sha]) == lora.absolute()
    write_lora(lora, 2.0)
    assert jobs_of(path)[0].key != job.key


def write_lora(path: Path, value: float) -> None:
    from safetensors.numpy import save_file

    save_file({"unet.down.lora_A.weight": np.full((2, 2), value, dtype=np.float32)}, str(path))


@pytest.mark.parametrize("content,words", [(b"not weights", "not a readable safetensors file"),
                                           (None, "holds no tensors")])
def test_a_family_lora_that_is_not_a_safetensors_file_is_named_by_validate(tmp_path: Path, content, words) -> None:
    """Caught when the spec is checked, as a character's LoRA is, not at the first shot sdxl renders."""
    from safetensors.numpy import save_file

    path = write_spec(tmp_path / "show", small_spec())
    lora = path.parent / "styles" / "loras" / "house.safetensors"
    lora.parent.mkdir(parents=True)
    if content is None:
        save_file({}, str(lora))
    else:
        lora.write_bytes(content)
    write_family(path.parent, {**USER_FAMILY, "lora": {"path": "loras/house.safetensors"}})
    result = run_cli("validate", str(path), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "styles/house.json: $.lora.path:" in result.stderr and words in result.stderr, result.stderr


def test_a_family_broken_after_validation_stops_planning_with_its_file(tmp_path: Path) -> None:
    spec = small_spec()
    spec["style"] = {"preset": "house"}
    path = write_spec(tmp_path / "show", spec)
    family_file = write_family(path.parent, USER_FAMILY)
    production = load_production(path)
    family_file.write_text(json.dumps({**USER_FAMILY, "previz": [{"op": "kuwahara", "radius_px": 0}]}))
    with pytest.raises(SpecError) as raised:
        plan(production, base_dir=path.parent)
    assert raised.value.file == family_file
    assert [p.path for p in raised.value.problems] == ["$.previz[0].radius_px"]


def test_style_changes_the_job_key(jobs) -> None:
    job = jobs[0]
    keys = {with_style(job, name).key for name in BUILT_INS}
    assert len(keys) == len(BUILT_INS)
    stained = with_style(job, "stained-glass")
    step = stained.style.previz[1].model_copy(update={"cell_px": 20.0})
    tweaked = stained.model_copy(update={"style": stained.style.model_copy(
        update={"previz": (stained.style.previz[0], step)})})
    assert tweaked.key != stained.key


# --------------------------------------------------------------------------- recipes


def test_each_recipe_changes_the_picture_and_the_others_leave_it(jobs) -> None:
    job = jobs[0]
    plain = picture(with_style(job, "gray-box"))
    assert np.array_equal(picture(with_style(job, "photorealistic")), plain)
    for name in WITH_RECIPE:
        styled = picture(with_style(job, name))
        assert styled.shape == plain.shape and styled.dtype == np.uint8
        assert np.abs(styled.astype(int) - plain.astype(int)).mean() > 3, name


RENDER_ALL = """
import hashlib, json, sys
sys.path.insert(0, {tests!r})
from conftest import example_spec
from reelforge.backends.previz import PrevizBackend
from reelforge.plan.jobs import plan
from reelforge.plan.style import resolve_style
from reelforge.spec.model import Production
from reelforge.spec.styles import Style
job = [j for e in plan(Production.model_validate(example_spec())) for j in e.jobs][0]
out = {{}}
for name in {names!r}:
    style, _ = resolve_style(Style(preset=name), ".")
    small = job.model_copy(update={{"style": style, **{small!r}}})
    frame = next(iter(PrevizBackend().render(small, [3])))[1]
    out[name] = hashlib.sha256(frame.tobytes()).hexdigest()
print(json.dumps(out))
"""


def test_recipes_are_deterministic_across_processes(jobs) -> None:
    code = RENDER_ALL.format(tests=str(Path(__file__).parent), names=BUILT_INS, small=SMALL)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    theirs = json.loads(result.stdout)
    ours = {name: digest(picture(with_style(jobs[0], name))) for name in BUILT_INS}
    assert ours == theirs
    assert len(set(ours.values())) == len(BUILT_INS) - 1  # gray-box and photorealistic share a picture


# The variants of ops that no built-in family uses.
OTHER_VARIANTS = {
    "format": "reelforge-style/1", "id": "variants", "name": "Variants",
    "previz": [{"op": "smooth", "method": "recursive", "work_scale": 1}, {"op": "paper-layers", "split": "tone"},
               {"op": "voronoi", "palette_mix": 0, "jitter": 0.3}, {"op": "hatching", "angles_deg": [30]}],
}


def test_recipes_do_not_depend_on_the_opencv_thread_count(jobs, tmp_path: Path) -> None:
    write_family(tmp_path, OTHER_VARIANTS)
    size = {"width": 640, "height": 360, "canvas_width": 640, "canvas_height": 360}
    base = next(iter(PrevizBackend().render(jobs[0].model_copy(update=size), [3])))[1]
    styled = {name: with_style(jobs[0], name, tmp_path) for name in WITH_RECIPE + ["variants"]}
    threads = cv2.getNumThreads()
    try:
        results = {}
        for count in (1, 3):
            cv2.setNumThreads(count)
            clear_caches()  # the shot's cells, textures and lines are built again under this thread count
            results[count] = {name: digest(apply_recipe(job, 3, base)) for name, job in styled.items()}
    finally:
        cv2.setNumThreads(threads)
    assert results[1] == results[3]
    assert digest(base) not in results[1].values()


def test_cells_and_textures_stay_put_through_a_moving_shot(jobs) -> None:
    moving = next(job for job in jobs if job.camera.move != "lock-off" and job.frames > 8)
    stained = with_style(moving, "stained-glass")
    glass = stained.style.previz[1].model_copy(update={"leading_px": 12.0})  # 2 px wide at 320 × 180
    stained = stained.model_copy(update={"style": stained.style.model_copy(
        update={"previz": (stained.style.previz[0], glass)})})
    first, later = picture(stained, 0), picture(stained, 8)
    assert not np.array_equal(picture(with_style(moving, "gray-box"), 0), picture(with_style(moving, "gray-box"), 8))
    lead = np.array([0x14, 0x12, 0x10], dtype=np.uint8)
    lines_first, lines_later = (first == lead).all(axis=-1), (later == lead).all(axis=-1)
    assert lines_first.mean() > 0.05  # the leading is there...
    assert np.array_equal(lines_first, lines_later)  # ...and the same pixels in both frames
    # Every textured family: the same flat picture gets the same texture on every frame of a shot...
    flat = np.full((180, 320, 3), 150, dtype=np.uint8)
    for name in WITH_RECIPE:
        styled = with_style(moving, name)
        assert np.array_equal(apply_recipe(styled, 0, flat), apply_recipe(styled, 41, flat)), name
    # ...and another shot (another seed) gets another paper and other cells.
    other = with_style(next(job for job in jobs if job.seed != moving.seed), "watercolor")
    assert not np.array_equal(apply_recipe(other, 0, flat), apply_recipe(with_style(moving, "watercolor"), 0, flat))
    cells = [voronoi_cells(320, 180, 12.0, 0.9, 1.0, 0.1, seed).labels for seed in (moving.seed, other.seed)]
    assert not np.array_equal(*cells)


def test_the_documented_example_family_is_valid(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "styles.md").read_text(encoding="utf-8")
    blocks = [block.split("```", 1)[0] for block in docs.split("```json\n")[1:]]
    (example,) = [json.loads(block) for block in blocks if '"format": "reelforge-style/1"' in block]
    family = write_family(tmp_path, example)
    (tmp_path / "styles" / example["lora"]["path"]).parent.mkdir(parents=True)
    write_lora(tmp_path / "styles" / example["lora"]["path"], 1.0)
    assert family_file_problems(family) == []


@pytest.mark.parametrize("damage", ["styles is a file", "dangling link"])
def test_a_styles_entry_that_cannot_be_read_is_named_not_ignored(tmp_path: Path, damage) -> None:
    spec = small_spec()
    spec["style"] = {"preset": "house"}
    path = write_spec(tmp_path / "show", spec)
    if damage == "styles is a file":
        (path.parent / "styles").write_text("house.json")
        where = "styles: $"
    else:
        (path.parent / "styles").mkdir()
        (path.parent / "styles" / "house.json").symlink_to(tmp_path / "shared" / "house.json")
        where = "styles/house.json: $"
    problems = validate_file(path)
    assert where in [p.path for p in problems], problems
    message = next(p.message for p in problems if p.path == where)
    assert ("not a folder" if damage == "styles is a file" else "broken link") in message
