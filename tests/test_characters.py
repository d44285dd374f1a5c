"""Characters: one identity in every shot that casts them, wardrobe changes, and the bible's files."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import example_spec, unblocked, write_spec
from PIL import Image

from reelforge.plan.cast import CastFileError
from reelforge.plan.jobs import plan
from reelforge.plan.seeds import identity_seed
from reelforge.previz.raster import render_frame
from reelforge.previz.solids import figure_solids
from reelforge.spec.load import validate_file
from reelforge.spec.model import Production
from reelforge.store.hashing import file_sha256

MARA = "Mara, a lighthouse keeper in her thirties, freckles, grey eyes, short black hair, red oilskin coat"


def image(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


def lora(path: Path, value: float) -> Path:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"unet.down.lora_A.weight": np.full((4, 4), value, dtype=np.float32)}, str(path))
    return path


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """A production folder whose character Mara has reference images, an IP-Adapter image and a LoRA."""
    root = tmp_path / "show"
    image(root / "refs" / "mara-front.png", (200, 60, 40))
    image(root / "refs" / "mara-side.png", (180, 70, 50))
    image(root / "refs" / "mara-ip.png", (190, 65, 45))
    lora(root / "loras" / "mara.safetensors", 0.5)
    return root


def spec_with_files() -> dict:
    """The bundled example (two episodes, six shots; Mara in four of them) with Mara's files given."""
    spec = copy.deepcopy(example_spec())
    mara = spec["characters"][0]
    mara["references"] = ["refs/mara-front.png", "refs/mara-side.png"]
    mara["ip_adapter_image"] = "refs/mara-ip.png"
    mara["lora"] = {"path": "loras/mara.safetensors", "weight": 0.8, "trigger": "mara_v1"}
    return spec


def keys(spec: dict, root: Path) -> dict[str, str]:
    return {job.shot_path: job.key for e in plan(Production.model_validate(spec), base_dir=root) for job in e.jobs}


def jobs_of(spec: dict, root: Path) -> dict:
    return {job.shot_path: job for e in plan(Production.model_validate(spec), base_dir=root) for job in e.jobs}


def casting(spec: dict, character_id: str, episode: str | None = None) -> set[str]:
    return {f"{e['id']}/{s['id']}/{t['id']}" for e in spec["episodes"] for s in e["scenes"] for t in s["shots"]
            if character_id in t.get("cast", []) and episode in (None, e["id"])}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {path for path in before if before[path] != after[path]}


def local_geometry(figure) -> list[tuple]:
    """A figure's solids as (colour, vertices relative to where it stands): its look, wherever it is placed."""
    origin = np.array([figure.x_m, 0.0, figure.z_m])
    return [(s.color, np.round(s.vertices - origin, 9).tobytes()) for s in figure_solids(figure)]


# ----------------------------------------------------------------------------- the two tests


def test_a_character_has_identical_conditioning_in_three_differently_filmed_shots(show):
    spec = spec_with_files()
    scene = spec["episodes"][0]["scenes"][0]
    scene.pop("lighting", None)
    scene["shots"] = [
        {"id": "sh01", "prompt": "Mara walks the quay", "frames": 4, "cast": ["mara"],
         "camera": {"move": "push-in"}, "lighting": {"preset": "magic-hour"}},
        {"id": "sh02", "prompt": "Theo and Mara meet", "frames": 4, "cast": ["theo", "mara"],
         "camera": {"move": "lock-off"}, "lighting": {"preset": "overcast"}},
        {"id": "sh03", "prompt": "Mara looks out to sea", "frames": 4, "cast": ["mara"],
         "camera": {"move": "pull-back"}, "lighting": {"preset": "hard-noon"}},
    ]
    all_jobs = jobs_of(spec, show)
    shots = [all_jobs[f"s01e01/sc01/sh0{i}"] for i in (1, 2, 3)]
    assert len({(j.camera.move, j.lighting.preset) for j in shots}) == 3  # filmed three different ways

    members = [next(m for m in j.cast if m.character_id == "mara") for j in shots]
    assert members[0] == members[1] == members[2]
    mara = members[0]
    assert mara.tokens == f"mara_v1, {MARA}"  # LoRA trigger first, then name, description, face, hair, wardrobe
    for job in shots:
        assert job.prompt.count(mara.tokens) == 1
    theo = shots[1].cast[0]
    assert shots[1].prompt.index(theo.tokens) < shots[1].prompt.index(mara.tokens)  # cast order

    refs = [file_sha256(show / "refs" / name) for name in ("mara-front.png", "mara-side.png")]
    assert mara.reference_sha256s == tuple(refs)
    assert mara.ip_adapter_image_sha256 == file_sha256(show / "refs" / "mara-ip.png")
    assert mara.lora.sha256 == file_sha256(show / "loras" / "mara.safetensors")
    assert (mara.lora.weight, mara.lora.source) == (0.8, "character:mara")
    assert mara.identity_seed == identity_seed(spec["seed"], "mara")
    for job in shots:  # each job says where its files are, and they hold exactly the hashed content
        for sha in (*refs, mara.ip_adapter_image_sha256, mara.lora.sha256):
            assert file_sha256(Path(job.assets[sha])) == sha

    figures = [next(f for f in j.figures if f.character_id == "mara") for j in shots]
    looks = [f.model_dump(exclude={"x_m", "z_m"}) for f in figures]
    assert looks[0] == looks[1] == looks[2]
    assert (figures[0].top, figures[0].bottom, figures[0].shoes) == ("#b8322a", "#2b2d3a", "#3a2a20")
    assert local_geometry(figures[0]) == local_geometry(figures[1]) == local_geometry(figures[2])


def test_changing_a_wardrobe_changes_exactly_the_shots_that_cast_the_character(show):
    spec = spec_with_files()
    before = keys(spec, show)
    assert casting(spec, "mara") and casting(spec, "mara") != set(before)

    recoloured = copy.deepcopy(spec)
    recoloured["characters"][0]["wardrobe"]["top"] = "#2f7a3a"
    assert changed(before, keys(recoloured, show)) == casting(spec, "mara")

    per_episode = copy.deepcopy(spec)
    per_episode["characters"][0]["wardrobe_changes"] = [{"episode": "s01e02", "wardrobe": {"top": "#2f7a3a"}}]
    assert changed(before, keys(per_episode, show)) == casting(spec, "mara", "s01e02") == {"s01e02/sc01/sh02"}

    per_scene = copy.deepcopy(spec)
    per_scene["characters"][0]["wardrobe_changes"] = [
        {"episode": "s01e01", "scene": "sc02", "wardrobe": {"description": "a borrowed wool coat"}}]
    assert changed(before, keys(per_scene, show)) == {"s01e01/sc02/sh01"}


# ----------------------------------------------------------------------------- wardrobe changes


def test_scene_change_beats_episode_change_beats_default_field_by_field(show):
    spec = spec_with_files()
    spec["characters"][0]["wardrobe_changes"] = [
        {"episode": "s01e01", "scene": "sc02", "wardrobe": {"top": "#e0c020"}},
        {"episode": "s01e01", "wardrobe": {"top": "#2f7a3a", "description": "green raincoat"}},
    ]
    jobs = jobs_of(spec, show)

    def mara(path):
        job = jobs[path]
        member = next(m for m in job.cast if m.character_id == "mara")
        return next(f for f in job.figures if f.character_id == "mara").top, member.wardrobe.description, member.tokens

    assert mara("s01e01/sc01/sh01")[:2] == ("#2f7a3a", "green raincoat")  # the episode's change
    assert mara("s01e01/sc02/sh01")[:2] == ("#e0c020", "green raincoat")  # the scene's top over the episode's
    assert mara("s01e02/sc01/sh02")[:2] == ("#b8322a", "red oilskin coat")  # no change: the default
    assert mara("s01e01/sc01/sh01")[2].endswith(", green raincoat")
    assert jobs["s01e01/sc01/sh02"].figures[0].bottom == "#2b2d3a"  # fields not given come from the default


def problems(tmp_path: Path, spec: dict) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in validate_file(write_spec(tmp_path / "v", spec))]


def test_wardrobe_change_naming_an_unknown_episode_or_scene_is_reported_at_its_path(tmp_path):
    spec = example_spec()
    spec["characters"][0]["wardrobe_changes"] = [
        {"episode": "s01e09", "wardrobe": {"top": "#2f7a3a"}},
        {"episode": "s01e01", "scene": "sc07", "wardrobe": {"top": "#2f7a3a"}},
        {"episode": "s01e02", "wardrobe": {"top": "#2f7a3a"}},
        {"episode": "s01e02", "wardrobe": {"top": "#e0c020"}},
        {"episode": "s01e01", "scene": "sc02", "wardrobe": {"topp": "#e0c020"}},
    ]
    found = problems(tmp_path, spec)
    at = "$.characters[0].wardrobe_changes"
    assert [path for path, _ in found] == [f"{at}[0].episode", f"{at}[1].scene", f"{at}[3]", f"{at}[4].wardrobe.topp"]
    assert "unknown episode 's01e09'" in found[0][1] and "s01e01, s01e02" in found[0][1]
    assert "unknown scene 'sc07'" in found[1][1] and "sc01, sc02" in found[1][1]
    assert "more than once" in found[2][1] and f"{at}[2]" in found[2][1]
    assert "did you mean 'top'" in found[3][1]

    valid = example_spec()
    valid["characters"][0]["wardrobe_changes"] = [{"episode": "s01e01", "scene": "sc02", "wardrobe": {}},
                                                  {"episode": "s01e01", "wardrobe": {}}]
    assert problems(tmp_path, valid) == []


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize(("field", "edit", "fragment"), [
    ("references[1]", lambda m: m["references"].__setitem__(1, "refs/missing.png"), "no such file"),
    ("references[0]", lambda m: m["references"].__setitem__(0, "notes.png"), "not an image"),
    ("references[0]", lambda m: m["references"].__setitem__(0, "refs"), "is not a file"),
    ("ip_adapter_image", lambda m: m.__setitem__("ip_adapter_image", "gone.png"), "no such file"),
    ("lora.path", lambda m: m["lora"].__setitem__("path", "loras/missing.safetensors"), "no such file"),
    ("lora.path", lambda m: m["lora"].__setitem__("path", "refs/mara-front.png"), ".safetensors"),
    ("lora.path", lambda m: m["lora"].__setitem__("path", "broken.safetensors"), "not a readable safetensors"),
])
def test_a_missing_or_unusable_character_file_names_its_spec_field_and_the_file(show, field, edit, fragment):
    (show / "notes.png").write_text("not a picture")
    (show / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    spec = spec_with_files()
    edit(spec["characters"][0])
    with pytest.raises(CastFileError) as raised:
        plan(Production.model_validate(spec), base_dir=show)
    message = str(raised.value)
    assert message.startswith(f"$.characters[0].{field}: {show}")
    assert fragment in message


def test_validate_names_every_unusable_character_file_at_once_and_keeps_no_copies(show):
    """`reelforge validate` passes only specs that plan: a missing reference must not wait for the render."""
    from conftest import run_cli

    (show / "notes.png").write_text("not a picture")
    spec = spec_with_files()
    spec["characters"][0]["references"][1] = "refs/missing.png"
    spec["characters"][0]["ip_adapter_image"] = "notes.png"
    spec["characters"][0]["lora"]["path"] = "loras/missing.safetensors"
    path = write_spec(show, spec)
    result = run_cli("validate", str(path), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for where, words in [("references[1]", "no such file"), ("ip_adapter_image", "not an image"),
                         ("lora.path", "no such file")]:
        assert f"$.characters[0].{where}: {show}" in result.stderr and words in result.stderr, result.stderr
    assert "references[0]" not in result.stderr
    assert not (show / ".reelforge").exists()  # checking a spec keeps nothing

    run_cli("validate", str(write_spec(show, spec_with_files())))  # the intact files pass


def test_each_reference_version_is_kept_so_an_old_job_still_finds_its_image(show):
    spec = spec_with_files()
    old = jobs_of(spec, show)["s01e01/sc01/sh01"]
    old_sha = old.cast[0].reference_sha256s[0]
    kept = Path(old.assets[old_sha])
    assert kept.parent == (show / ".reelforge" / "assets").resolve()

    image(show / "refs" / "mara-front.png", (10, 200, 10))  # the artist repaints the reference
    new = jobs_of(spec, show)["s01e01/sc01/sh01"]
    assert new.cast[0].reference_sha256s[0] != old_sha and new.key != old.key
    assert file_sha256(kept) == old_sha  # the version the old render used is still there
    assert file_sha256(Path(new.assets[new.cast[0].reference_sha256s[0]])) == new.cast[0].reference_sha256s[0]


def test_moving_a_reference_file_changes_no_key_and_ip_adapter_defaults_to_the_first_reference(show):
    spec = spec_with_files()
    del spec["characters"][0]["ip_adapter_image"]
    before = jobs_of(spec, show)
    member = before["s01e01/sc01/sh01"].cast[0]
    assert member.ip_adapter_image_sha256 == member.reference_sha256s[0]

    (show / "moved").mkdir()
    (show / "refs" / "mara-side.png").rename(show / "moved" / "side.png")
    spec["characters"][0]["references"][1] = str((show / "moved" / "side.png").resolve())  # absolute works too
    assert changed({p: j.key for p, j in before.items()}, keys(spec, show)) == set()


# ----------------------------------------------------------------------------- identity seed and keys


def test_identity_seed_default_follows_the_documented_derivation_not_the_cast_order(show):
    spec = spec_with_files()
    digest = hashlib.sha256(f"reelforge/identity-seed/v1|{spec['seed']}|mara".encode()).digest()
    expected = int.from_bytes(digest[:8], "big") >> 1

    def mara_seeds(s: dict) -> set[int]:
        return {m.identity_seed for j in jobs_of(s, show).values() for m in j.cast if m.character_id == "mara"}

    def mara_figures(s: dict) -> set[tuple]:
        return {(f.shoulders, f.head, f.build) for j in jobs_of(s, show).values()
                for f in j.figures if f.character_id == "mara"}

    assert mara_seeds(spec) == {expected}
    reordered = unblocked(copy.deepcopy(spec))  # a third cast member stands where the example's walks go
    reordered["characters"].reverse()  # Theo first in the bible
    reordered["characters"].insert(0, {"id": "ines", "name": "Ines", "height_m": 1.7})  # and a new character
    for episode in reordered["episodes"]:
        for scene in episode["scenes"]:
            for shot in scene["shots"]:
                shot["cast"] = ["ines", *reversed(shot.get("cast", []))]
    assert mara_seeds(reordered) == {expected}
    assert mara_figures(reordered) == mara_figures(spec) and len(mara_figures(spec)) == 1

    other_master = copy.deepcopy(spec)
    other_master["seed"] += 1
    assert mara_seeds(other_master) != {expected}

    pinned = copy.deepcopy(other_master)
    pinned["characters"][0]["identity_seed"] = expected  # a pinned identity survives a new master seed
    assert mara_seeds(pinned) == {expected} and mara_figures(pinned) == mara_figures(spec)


def test_every_character_field_changes_the_keys_of_the_shots_that_cast_them_and_no_others(show):
    image(show / "refs" / "other.png", (1, 2, 3))
    lora(show / "loras" / "other.safetensors", 0.25)
    spec = spec_with_files()
    before = keys(spec, show)
    edits = {
        "name": ("name", "Marah"),
        "description": ("description", "a retired lighthouse keeper"),
        "hair": ("hair", "long grey hair"),
        "hair_color": ("hair_color", "#777777"),
        "skin_color": ("skin_color", "#8a5a3a"),
        "face": ("face", "a scar over one eyebrow"),
        "height_m": ("height_m", 1.6),
        "identity_seed": ("identity_seed", 42),
        "references": ("references", ["refs/other.png"]),
        "ip_adapter_image": ("ip_adapter_image", "refs/other.png"),
        "ip_adapter_scale": ("ip_adapter_scale", 0.9),
        "lora": ("lora", {"path": "loras/other.safetensors", "weight": 0.8, "trigger": "mara_v1"}),
        "lora.weight": ("lora", {"path": "loras/mara.safetensors", "weight": 0.6, "trigger": "mara_v1"}),
        "lora.trigger": ("lora", {"path": "loras/mara.safetensors", "weight": 0.8, "trigger": "mara_v2"}),
        "no lora": ("lora", None),
    }
    edits |= {f"wardrobe.{name}": ("wardrobe", {**spec["characters"][0]["wardrobe"], name: value})
              for name, value in [("top", "#101010"), ("bottom", "#202020"), ("shoes", "#303030"),
                                  ("description", "yellow sou'wester")]}
    for what, (field, value) in edits.items():
        edited = copy.deepcopy(spec)
        edited["characters"][0][field] = value
        assert changed(before, keys(edited, show)) == casting(spec, "mara"), what

    translated = copy.deepcopy(spec)  # another language's name is not rendered: nothing re-renders
    translated["characters"][0]["name"] = {"en": "Mara", "fr": "Mara la gardienne"}
    assert changed(before, keys(translated, show)) == set()


def test_identity_proportions_tell_two_characters_of_one_height_apart_in_previz(show):
    spec = spec_with_files()
    spec["characters"][1]["height_m"] = spec["characters"][0]["height_m"]
    for character in spec["characters"]:
        character["wardrobe"] = {"top": "#7a7a7a", "bottom": "#4a4a4a", "shoes": "#2a2a2a"}
        character["hair_color"], character["skin_color"] = "#3a2a1a", "#c89f7e"
    job = jobs_of(spec, show)["s01e01/sc01/sh02"]  # Mara and Theo side by side, lock-off
    mara, theo = job.figures
    assert (mara.top, mara.height_m) == (theo.top, theo.height_m)
    assert local_geometry(mara) != local_geometry(theo)

    small = job.model_copy(update={"width": 320, "height": 180, "canvas_width": 320, "canvas_height": 180})
    swapped = small.model_copy(update={"figures": (mara.model_copy(update={"x_m": theo.x_m}),
                                                   theo.model_copy(update={"x_m": mara.x_m}))})
    before, after = render_frame(small, 0), render_frame(swapped, 0)
    assert np.any(before != after)  # same colours, same height: only their builds differ
    assert render_frame(small, 0).tobytes() == before.tobytes()


# ----------------------------------------------------------------------------- a production that moves


def test_loras_used_in_place_are_found_after_the_production_folder_moves(show, tmp_path):
    """LoRAs are not copied into .reelforge/assets; verify must still find them when the whole folder moves."""
    import shutil

    from reelforge.app.verify import relocate_assets
    from reelforge.spec.styles import FAMILIES_CONTEXT, load_families

    lora(show / "styles" / "loras" / "ink.safetensors", 0.25)
    (show / "styles" / "ink.json").write_text(
        '{"format": "reelforge-style/1", "id": "ink", "name": "Ink", "lora": {"path": "loras/ink.safetensors"}}')
    spec = spec_with_files()
    spec["style"] = {"preset": "ink"}
    production = Production.model_validate(spec, context={FAMILIES_CONTEXT: load_families(show).names})
    old = plan(production, base_dir=show)[0].jobs[0]
    moved = tmp_path / "elsewhere" / "show"
    shutil.move(show, moved)

    job, problem = relocate_assets(old, moved)
    assert problem is None
    for lora_job in (old.style.lora, old.cast[0].lora):
        assert Path(job.assets[lora_job.sha256]).resolve().is_relative_to(moved.resolve())
        assert file_sha256(Path(job.assets[lora_job.sha256])) == lora_job.sha256
    assert job.key == old.key

    lora(moved / "loras" / "mara.safetensors", 0.75)  # the same path now holds other bytes: not that file
    job, problem = relocate_assets(old, moved)
    assert problem is not None and "mara.safetensors" in problem


def test_a_colour_written_in_capitals_is_the_same_colour_and_re_renders_nothing(show):
    spec = spec_with_files()
    before = keys(spec, show)
    shouting = copy.deepcopy(spec)
    mara = shouting["characters"][0]
    mara["wardrobe"] = {k: v.upper() if k != "description" else v for k, v in mara["wardrobe"].items()}
    mara["hair_color"] = mara.get("hair_color", "#3a2a1a").upper()
    assert changed(before, keys(shouting, show)) == set()
