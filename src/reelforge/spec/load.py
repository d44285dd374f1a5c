"""Load a production spec file, reporting every problem in it at once.

A spec is written by hand, so a failed load should read like a review, not a
traceback: each problem names the JSON path of the offending value and says in
a plain sentence what is wrong. Problems come from three places, merged and
sorted into the order they appear in the file:

* the JSON text itself (duplicate keys, NaN/Infinity, which `json` accepts),
* the pydantic models in `reelforge.spec.model` (types, ranges, preset names),
* cross-references the models cannot see (duplicate ids, cast and locations
  that name nothing). These run on the raw parsed JSON and skip whatever has
  the wrong shape, so a type error and a broken reference in the same file are
  both reported.

Validation is strict: in a hand-written spec, `true` or `"24"` where a number
belongs is a mistake, not something to coerce.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reelforge.errors import Problem, SpecError
from reelforge.spec import presets
from reelforge.spec.blocking_checks import blocking_problems
from reelforge.spec.json_problems import (
    SCHEMA_DIALECT,
    FileProblem,
    Loc,
    convert_errors,
    describe,
    document_order,
    first_errors,
    indexed_objects,
    json_path,
    one_line,
    parse_json,
    read_text,
    with_json_problems,
)
from reelforge.spec.model import Production
from reelforge.spec.styles import FAMILIES_CONTEXT, Families, builtin_names, load_families

SCHEMA_TITLE = "reelforge production spec"


# --------------------------------------------------------------------------- public API


def load_production(path: str | Path) -> Production:
    """Read and validate a spec file; raise SpecError listing every problem found."""
    production, problems = _check_file(Path(path))
    if problems:
        raise SpecError(path, problems)
    assert production is not None
    return production


def validate_file(path: str | Path) -> list[Problem]:
    """Every problem in a spec file, in document order; [] when the file is valid."""
    return _check_file(Path(path))[1]


def translation_warnings(production: Production) -> list[Problem]:
    """Delivered text without a translation into a declared language (or in a language not declared).

    Titles, scene briefs and dialogue lines are what a language delivery shows; a missing
    translation falls back to the source text, so it is a warning (`validate --strict`: an
    error). A production that declares no `languages` delivers only its source: no warnings.
    """
    declared = list(production.languages)
    if not declared:
        return []
    source = production.language
    texts: list[tuple[Loc, Any]] = [(("series", "title"), production.series.title)]
    for e, episode in enumerate(production.episodes):
        texts.append((("episodes", e, "title"), episode.title))
        for s, scene in enumerate(episode.scenes):
            scene_loc: Loc = ("episodes", e, "scenes", s)
            texts += [(scene_loc + ("title",), scene.title), (scene_loc + ("brief",), scene.brief)]
            for t, shot in enumerate(scene.shots):
                texts += [(scene_loc + ("shots", t, "dialogue", d, "text"), line.text)
                          for d, line in enumerate(shot.dialogue)]
    warnings = []
    for loc, text in texts:
        given = {source: text} if isinstance(text, str) else text
        if not given.get(source):
            continue  # nothing to translate (or no source text: validation reports that)
        missing = [tag for tag in declared if not given.get(tag)]
        if missing:
            warnings.append(Problem(json_path(loc), f"no {_tags(missing)} translation; the "
                                                    f"{source} text is delivered in its place"))
        unknown = [tag for tag in given if tag not in declared]
        if unknown:
            warnings.append(Problem(json_path(loc), f"text in {_tags(unknown, 'and')}, which $.languages does not "
                                                    f"declare (declared: {', '.join(declared)})"))
    return warnings


def blocking_warnings(production: Production) -> list[Problem]:
    """Blocking that is legal but rarely meant: a walk faster than walking, anyone faster than a sprinter."""
    notes: list = []
    blocking_problems(production, notes)
    return [Problem(json_path(loc), message) for loc, _, message in notes]


def framing_warnings(production: Production) -> list[Problem]:
    """A look wider than a vertical delivery it is seen in: legal (the picture is letterboxed inside the 9:16
    frame, as asked), but a thin strip across a tall frame is rarely what a vertical cut is for. A look that
    sets no aspect_ratio fills each delivery's own shape."""
    vertical = [name for name, delivery in [("main", production.delivery), *production.deliveries.items()]
                if (delivery.aspect_ratio or production.delivery.aspect_ratio) == "9:16"]
    if not vertical:
        return []
    looks: list[tuple[Loc, Any]] = [(("look",), production.look)]
    for e, episode in enumerate(production.episodes):
        looks.append((("episodes", e, "look"), episode.look))
        for s, scene in enumerate(episode.scenes):
            looks.append((("episodes", e, "scenes", s, "look"), scene.look))
            looks += [(("episodes", e, "scenes", s, "shots", t, "look"), shot.look)
                      for t, shot in enumerate(scene.shots)]
    warnings = []
    for loc, look in looks:
        ratio = look.aspect_ratio if look is not None else None
        if ratio is None:
            continue
        across, down = (float(part) for part in ratio.split(":"))
        if across <= down:
            continue
        filled = round(100 * (9 / 16) / (across / down))
        where = " and ".join("the main delivery" if name == "main" else f"delivery '{name}'" for name in vertical)
        warnings.append(Problem(json_path(loc + ("aspect_ratio",)), (
            f"a {ratio} picture is letterboxed to {filled} % of the 9:16 frame in {where}; a look without "
            "aspect_ratio fills each delivery's own shape")))
    return warnings


def _tags(tags: list[str], conjunction: str = "or") -> str:
    quoted = [f"'{tag}'" for tag in tags]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def production_schema() -> dict[str, Any]:
    """JSON Schema for spec files, for `reelforge schema` and editors.

    Preset names and frame rates are checked by validators the schema cannot
    express, so they are added here as enums: an editor can then complete them.
    """
    schema = Production.model_json_schema()
    defs = schema.get("$defs", {})
    _add_enum(defs, "Camera", "move", sorted(presets.CAMERA_MOVES))
    _add_enum(defs, "CameraKeyframe", "move", sorted(presets.CAMERA_MOVES))
    _add_enum(defs, "Lighting", "preset", sorted(presets.LIGHTING))
    # Style families: the built-ins as suggestions, not an enum (a production adds its own in styles/).
    defs.get("Style", {}).get("properties", {}).get("preset", {})["examples"] = list(builtin_names())
    _add_enum(defs, "Delivery", "fps", [24, 25, 30])
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "title": SCHEMA_TITLE, **schema}


# --------------------------------------------------------------------------- reading the file


def _check_file(path: Path) -> tuple[Production | None, list[Problem]]:
    """Run every check on one file; each problem one line, whatever text of the file it quotes."""
    production, problems = _file_problems(path)
    return production, [Problem(one_line(problem.path), one_line(problem.message)) for problem in problems]


def _file_problems(path: Path) -> tuple[Production | None, list[Problem]]:
    """Run every check on one file; file-level failures stop early with a single problem."""
    try:
        text = read_text(path)
        raw = parse_json(text)
    except FileProblem as problem:
        return None, [Problem(problem.path, str(problem))]
    if not isinstance(raw, dict):
        return None, [Problem("$", f"a spec must be a JSON object ({{...}}) at the top level, got {describe(raw)}")]

    # The production's style families (built-ins + styles/*.json beside the spec): the Style
    # validator checks names against them; a bad family file is reported with its own path.
    families = load_families(path.parent)
    production, found = _model_problems(text, raw, {FAMILIES_CONTEXT: families.names})
    found = with_json_problems(found, raw)
    found += _reference_problems(raw)
    found += _translation_problems(raw)
    found = list(dict.fromkeys(found))  # union branches can repeat a message
    position = document_order(raw)
    found.sort(key=lambda item: position(item[0]))  # stable: ties keep check order
    problems = _style_file_problems(families, path.parent)
    problems += [Problem(json_path(loc), message) for loc, message in found]
    return (None if problems else production), problems


def _style_file_problems(families: Families, spec_dir: Path) -> list[Problem]:
    """Problems inside the production's style files, each path prefixed with its file: 'styles/x.json: $.id'."""
    problems = []
    for problem in families.problems:
        try:
            shown = problem.file.relative_to(spec_dir).as_posix()
        except ValueError:
            shown = str(problem.file)
        problems.append(Problem(f"{shown}: {problem.path}", problem.message))
    return problems


# --------------------------------------------------------------------------- model validation


def _model_problems(text: str, raw: dict,
                    context: dict | None = None) -> tuple[Production | None, list[tuple[Loc, str]]]:
    """Validate with pydantic (strict JSON mode) and turn its errors into plain sentences."""
    try:
        return Production.model_validate_json(text, strict=True, context=context), []
    except ValidationError as exc:
        errors, more = first_errors(exc)
        return None, convert_errors(errors, raw, Production) + more


# --------------------------------------------------------------------------- cross-references


def _reference_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Duplicate ids and references to characters/locations that do not exist.

    Works on the raw JSON and skips anything of the wrong shape: the model
    check reports those, and this one still finds the rest.
    """
    found: list[tuple[Loc, str]] = []
    characters = raw.get("characters", [])  # optional in the model: absent means none
    locations = raw.get("locations")
    character_ids = _unique_ids(found, "character", ("characters",), characters, where="")
    location_ids = _unique_ids(found, "location", ("locations",), locations, where="")
    _unique_ids(found, "episode", ("episodes",), raw.get("episodes"), where="")
    backend = raw.get("backend", "previz")
    if isinstance(backend, str) and backend != "previz" and "model" not in raw:
        found.append((("backend",), f"backend '{backend}' renders with a model you bring: add "
                                    f"\"model\": {{\"checkpoint\": \"path/to/checkpoint\"}}"))

    for e, episode in indexed_objects(raw.get("episodes")):
        episode_name = _label(episode, e)
        scenes_loc = ("episodes", e, "scenes")
        _unique_ids(found, "scene", scenes_loc, episode.get("scenes"), where=f" in episode {episode_name}")
        for s, scene in indexed_objects(episode.get("scenes")):
            scene_name = f"{episode_name}/{_label(scene, s)}"
            scene_loc = scenes_loc + (s,)
            location = scene.get("location")
            if isinstance(location, str) and isinstance(locations, list) and location not in location_ids:
                found.append((scene_loc + ("location",), _unknown_reference(
                    f"scene {scene_name} is set in", "location", location, location_ids)))
            shots_loc = scene_loc + ("shots",)
            _unique_ids(found, "shot", shots_loc, scene.get("shots"), where=f" in scene {scene_name}")
            for t, shot in indexed_objects(scene.get("shots")):
                shot_name = f"{scene_name}/{_label(shot, t)}"
                found += _cast_problems(shot, shots_loc + (t,), shot_name, characters, character_ids)
                found += _speaker_problems(shot, shots_loc + (t,), shot_name, characters, character_ids)
    found += _wardrobe_change_problems(raw)
    return found


TEXT_FIELDS = ("title", "name", "prompt", "description", "hair", "face", "brief", "text")


def _translation_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Per-language text must include the source language: prompts are resolved in it."""
    source = raw.get("language", "en")
    if not isinstance(source, str):
        return []
    found: list[tuple[Loc, str]] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TEXT_FIELDS and isinstance(value, dict) and value and source not in value:
                    given = ", ".join(sorted(map(str, value)))
                    found.append((loc + (key,), f"no text in the source language '{source}' (given: {given})"))
                else:
                    walk(value, loc + (key,))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, loc + (index,))

    walk(raw, ())
    return found


def _speaker_problems(shot: dict, shot_loc: Loc, shot_name: str, characters: Any,
                      character_ids: dict[str, Loc]) -> list[tuple[Loc, str]]:
    """Each dialogue line's speaker names a defined character (it need not be cast: a voice off-screen)."""
    found: list[tuple[Loc, str]] = []
    if not isinstance(characters, list):
        return found
    for d, line in indexed_objects(shot.get("dialogue")):
        speaker = line.get("speaker")
        if isinstance(speaker, str) and speaker not in character_ids:
            found.append((shot_loc + ("dialogue", d, "speaker"), _unknown_reference(
                f"a line in shot {shot_name} is spoken by", "character", speaker, character_ids)))
    return found


def _cast_problems(shot: dict, shot_loc: Loc, shot_name: str, characters: Any,
                   character_ids: dict[str, Loc]) -> list[tuple[Loc, str]]:
    """Each cast entry must name a defined character, once."""
    found: list[tuple[Loc, str]] = []
    cast = shot.get("cast")
    if not isinstance(cast, list):
        return found
    first_seen: dict[str, int] = {}
    for n, who in enumerate(cast):
        if not isinstance(who, str):
            continue
        loc = shot_loc + ("cast", n)
        if who in first_seen:
            first = json_path(shot_loc + ("cast", first_seen[who]))
            found.append((loc, f"shot {shot_name} casts '{who}' more than once (first at {first})"))
            continue
        first_seen[who] = n
        if isinstance(characters, list) and who not in character_ids:
            found.append((loc, _unknown_reference(f"shot {shot_name} casts", "character", who, character_ids)))
    return found


def _wardrobe_change_problems(raw: dict) -> list[tuple[Loc, str]]:
    """Each character's wardrobe change names an episode (and a scene of it) that exists, at most once."""
    found: list[tuple[Loc, str]] = []
    episodes = raw.get("episodes")
    if not isinstance(episodes, list):
        return found
    episode_ids: dict[str, Loc] = {}
    scene_ids: dict[str, dict[str, Loc]] = {}  # episode id → its scenes' ids (the first episode of an id)
    for e, episode in indexed_objects(episodes):
        episode_id = episode.get("id")
        if isinstance(episode_id, str) and episode_id not in episode_ids:
            episode_ids[episode_id] = ("episodes", e, "id")
            scene_ids[episode_id] = {scene["id"]: ("episodes", e, "scenes", s, "id")
                                     for s, scene in reversed(indexed_objects(episode.get("scenes")))
                                     if isinstance(scene.get("id"), str)}
    for c, character in indexed_objects(raw.get("characters")):
        name = _label(character, c)
        changes_loc = ("characters", c, "wardrobe_changes")
        first: dict[tuple[str, str | None], Loc] = {}
        for j, change in indexed_objects(character.get("wardrobe_changes")):
            episode_id, scene_id = change.get("episode"), change.get("scene")
            if not isinstance(episode_id, str) or not (scene_id is None or isinstance(scene_id, str)):
                continue  # the model check reports the wrong types
            if episode_id not in episode_ids:
                found.append((changes_loc + (j, "episode"), _unknown_reference(
                    f"character {name}'s wardrobe change names", "episode", episode_id, episode_ids)))
                continue
            if scene_id is not None and scene_id not in scene_ids[episode_id]:
                found.append((changes_loc + (j, "scene"), _unknown_reference(
                    f"character {name}'s wardrobe change for episode {episode_id} names", "scene", scene_id,
                    scene_ids[episode_id])))
                continue
            where = f"episode {episode_id}" + (f" scene {scene_id}" if scene_id is not None else "")
            if (episode_id, scene_id) in first:
                found.append((changes_loc + (j,), f"character {name} changes wardrobe for {where} more than once "
                                                  f"(first at {json_path(first[(episode_id, scene_id)])})"))
            else:
                first[(episode_id, scene_id)] = changes_loc + (j,)
    return found


def _unique_ids(found: list, kind: str, list_loc: Loc, items: Any, where: str) -> dict[str, Loc]:
    """Record duplicate ids among a list of objects; return each id's first location."""
    first: dict[str, Loc] = {}
    for index, item in indexed_objects(items):
        item_id = item.get("id")
        if not isinstance(item_id, str):
            continue
        loc = list_loc + (index, "id")
        if item_id in first:
            found.append((loc, f"duplicate {kind} id '{item_id}'{where} (first used at {json_path(first[item_id])})"))
        else:
            first[item_id] = loc
    return first


def _unknown_reference(subject: str, kind: str, name: str, known: dict[str, Loc]) -> str:
    message = f"{subject} unknown {kind} '{name}'"
    if not known:
        return f"{message}; no {kind}s are defined (add them under '{kind}s')"
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean '{close[0]}'? Known {kind}s: {', '.join(sorted(known))}"
    return f"{message}; known {kind}s: {', '.join(sorted(known))}"


def _label(item: dict, index: int) -> str:
    """An object's id for messages, or its position when the id is unusable."""
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) and item_id else f"[{index}]"


# --------------------------------------------------------------------------- small helpers


def _add_enum(defs: dict, model: str, field: str, values: list) -> None:
    prop = defs.get(model, {}).get("properties", {}).get(field)
    if prop is not None:
        prop["enum"] = values
