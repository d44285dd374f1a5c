"""Style families: the JSON format of a family, where families come from, and which one a shot uses.

A style family is a JSON file (format "reelforge-style/1", documented in docs/styles.md):
prompt fragments, an optional LoRA, steps/guidance hints, a palette and a `previz` recipe
of post-process steps. The built-in families are files in `reelforge/styles/`; a
production adds its own (or replaces a built-in of the same id) by dropping a file into
the `styles/` folder beside its spec. The file name is the family's id, so a spec's
`"style": {"preset": "my-family"}` names a file a person can find.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from safetensors import SafetensorError, safe_open

from reelforge.spec import json_problems
from reelforge.spec.base import Colour, Id, Strict
from reelforge.spec.recipe import OPS, PaletteMap, PaperLayers, Step, Voronoi

STYLE_FORMAT = "reelforge-style/1"
STYLES_FOLDER = "styles"  # beside the spec
BUILTIN_FOLDER = Path(__file__).resolve().parent.parent / "styles"
# Key of the pydantic validation context that lists the style ids a spec may name (see Style).
FAMILIES_CONTEXT = "style_families"


# --------------------------------------------------------------------------- the family file


class LoraFile(Strict):
    path: str = Field(min_length=1, description="LoRA weights (.safetensors), relative to this style file's folder")
    weight: float = Field(1.0, ge=0, le=2, description="adapter weight")


class StyleFamily(Strict):
    """One style family file."""

    format: Literal["reelforge-style/1"] = Field(description="style file format version")
    id: Id = Field(description="must equal the file name without .json")
    name: str = Field(min_length=1, max_length=80, description="shown to people; not part of any job key")
    description: str = Field("", max_length=2000, description="shown to people; not part of any job key")
    prompt: str = Field("", max_length=2000, description="prompt fragment, put first in every shot's prompt")
    negative_prompt: str = Field("", max_length=2000, description="negative prompt of every shot")
    lora: LoraFile | None = None
    steps: int | None = Field(None, ge=1, le=200, description="denoising steps where the spec's model sets none")
    guidance_scale: float | None = Field(None, ge=0, le=30, description="guidance where the spec's model sets none")
    palette: tuple[Colour, ...] = Field((), max_length=32, description="the family's colours, #rrggbb")
    previz: tuple[Step, ...] = Field((), max_length=16, description="post-process steps for the previz picture, "
                                                                    "in order")


def recipe_problems(family: StyleFamily) -> list[tuple[tuple, str]]:
    """Checks across fields that one step's model cannot see: steps that need the family's palette."""
    found = []
    if family.palette:
        return found
    for i, step in enumerate(family.previz):
        if isinstance(step, PaletteMap):
            found.append((("previz", i, "op"), "'palette-map' needs colours: give the family a 'palette'"))
        elif isinstance(step, PaperLayers) and step.split == "colour":
            why = "split by 'colour' needs colours: give the family a 'palette' (or split by 'tone')"
            found.append((("previz", i, "split"), why))
        elif isinstance(step, Voronoi) and step.palette_mix > 0:
            why = "a palette_mix above 0 needs colours: give the family a 'palette' (or set palette_mix to 0)"
            found.append((("previz", i, "palette_mix"), why))
    return found


# --------------------------------------------------------------------------- loading families


@dataclass(frozen=True)
class StyleFileProblem:
    """A problem inside one style file: the file, the JSON path in it and a sentence."""

    file: Path
    path: str
    message: str

    def __post_init__(self) -> None:  # a message may quote the file's text: one line, whatever it holds
        object.__setattr__(self, "message", json_problems.one_line(self.message))


@dataclass(frozen=True)
class LoadedFamily:
    family: StyleFamily
    file: Path
    builtin: bool


@dataclass(frozen=True)
class Families:
    """The families a production can use: built-ins, then its own `styles/*.json` (which win on the same id)."""

    families: dict[str, LoadedFamily] = field(default_factory=dict)
    broken: dict[str, Path] = field(default_factory=dict)  # id (file name) → a user file with problems
    problems: tuple[StyleFileProblem, ...] = ()

    @property
    def names(self) -> list[str]:
        """Every id a spec may name (a broken file's id too: its own problems are reported instead)."""
        return sorted(set(self.families) | set(self.broken))


_cache: dict[tuple[str, str], tuple[StyleFamily | None, tuple[StyleFileProblem, ...]]] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def load_families(spec_dir: str | Path | None = None) -> Families:
    """Built-in families plus those in `<spec_dir>/styles/` (read each call; parsed once per file content).

    Files are re-read every time (they are small), so an edited family is never served stale; the
    parse is cached by path and content hash.
    """
    families: dict[str, LoadedFamily] = {}
    broken: dict[str, Path] = {}
    problems: list[StyleFileProblem] = []
    for file in sorted(BUILTIN_FOLDER.glob("*.json")):
        family, found = _load_file(file)
        if found:  # a packaging error, not the user's: fail loudly
            listed = "; ".join(f"{p.path}: {p.message}" for p in found)
            raise RuntimeError(f"built-in style family {file.name} is invalid: {listed}")
        families[family.id] = LoadedFamily(family, file, builtin=True)
    folder = Path(spec_dir) / STYLES_FOLDER if spec_dir is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        why = (f"this is a file, not a folder: a production's own style families are *.json files in a folder "
               f"named {STYLES_FOLDER}/ beside the spec; rename or remove it")
        problems.append(StyleFileProblem(folder, "$", why))
    if folder is not None and folder.is_dir():
        for file in sorted(folder.glob("*.json")):
            if file.is_dir():
                continue  # a folder named like a family is not one (docs: subfolders are ignored)
            if not file.is_file():  # a broken link, a socket: the user meant a family and it cannot be read
                broken[file.stem] = file
                families.pop(file.stem, None)
                problems.append(StyleFileProblem(file, "$", "cannot read the file: it is a broken link or not a "
                                                            "regular file"))
                continue
            family, found = _load_file(file)
            if found:
                broken[file.stem] = file
                families.pop(file.stem, None)  # a broken override must not fall back to the built-in silently
                problems += found
            else:
                families[family.id] = LoadedFamily(family, file, builtin=False)
    return Families(families, broken, tuple(problems))


def family_file_problems(path: str | Path) -> list[StyleFileProblem]:
    """Every problem in one style file ([] when it is a valid family)."""
    return list(_load_file(Path(path))[1])


def _load_file(file: Path) -> tuple[StyleFamily | None, tuple[StyleFileProblem, ...]]:
    try:
        json_problems.check_size(file.stat().st_size)  # before reading: a family is a few kilobytes
        data = file.read_bytes()
    except OSError as exc:
        return None, (StyleFileProblem(file, "$", f"cannot read the file: {exc.strerror or exc}"),)
    except json_problems.FileProblem as problem:
        return None, (StyleFileProblem(file, problem.path, str(problem)),)
    key = (str(file.absolute()), hashlib.sha256(data).hexdigest())
    with _cache_lock:
        parsed = _cache.get(key)
    if parsed is None:
        parsed = _parse_family(file, data)
        with _cache_lock:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[key] = parsed
    family, problems = parsed
    if family is not None and family.lora is not None:  # the file system is checked each time, not cached
        missing = _lora_problems(file, family)
        if missing:
            return None, missing
    return family, problems


def lora_path(file: Path, lora: LoraFile) -> Path:
    """A family's LoRA file: absolute, or relative to the folder of the style file that names it."""
    path = Path(lora.path).expanduser()
    return path if path.is_absolute() else file.parent / path


def _lora_problems(file: Path, family: StyleFamily) -> tuple[StyleFileProblem, ...]:
    path = lora_path(file, family.lora)
    if not path.is_file():
        return (StyleFileProblem(file, "$.lora.path", f"no LoRA file at {path} (paths are relative to the style "
                                                      f"file's folder, {file.parent})"),)
    # The same checks a character's LoRA gets (plan.cast.hashed_lora): a broken file fails here,
    # not at the first shot a generative backend renders. Reads the header only.

    why = None
    if path.suffix.lower() != ".safetensors":
        why = "a LoRA is loaded from a .safetensors file"
    else:
        try:
            with safe_open(str(path), framework="numpy") as weights:
                if not list(weights.keys()):
                    why = "this safetensors file holds no tensors"
        except (SafetensorError, ValueError) as exc:
            why = f"not a readable safetensors file ({exc})"
        except OSError as exc:
            why = f"cannot read it ({exc.strerror or exc})"
    return (StyleFileProblem(file, "$.lora.path", f"{path}: {why}"),) if why else ()


def _parse_family(file: Path, data: bytes) -> tuple[StyleFamily | None, tuple[StyleFileProblem, ...]]:
    """Validate one file with the spec's sentences (JSON paths, plain words: spec/json_problems.py)."""
    try:
        text = _decode(data)
        raw = json_problems.parse_json(text)
    except json_problems.FileProblem as problem:
        return None, (StyleFileProblem(file, problem.path, str(problem)),)
    if not isinstance(raw, dict):
        message = f"a style family must be a JSON object ({{...}}) at the top level, got {json_problems.describe(raw)}"
        return None, (StyleFileProblem(file, "$", message),)
    family = None
    try:
        family = StyleFamily.model_validate_json(text, strict=True)
        found = recipe_problems(family)
    except ValidationError as exc:
        errors, more = json_problems.first_errors(exc)
        found = _convert(errors, raw) + more
    found = json_problems.with_json_problems(found, raw)
    if isinstance(raw.get("id"), str) and raw["id"] != file.stem:
        why = (f"the id '{raw['id']}' must be the file name without .json ('{file.stem}'): "
               f"rename the file to {raw['id']}.json or set \"id\": \"{file.stem}\"")
        found.append((("id",), why))
    found = list(dict.fromkeys(found))
    position = json_problems.document_order(raw)
    found.sort(key=lambda item: position(item[0]))
    problems = tuple(StyleFileProblem(file, json_problems.json_path(loc), message) for loc, message in found)
    return (None if problems else family), problems


def _decode(data: bytes) -> str:

    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise json_problems.FileProblem(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line} cannot "
                                "be decoded); save it as UTF-8") from None


def _convert(errors: list[dict], raw: dict) -> list[tuple[tuple, str]]:
    """pydantic errors as (location, sentence): unknown ops and fields here, the rest as in a spec."""

    found, rest = [], []
    for error in errors:
        loc = _without_tags(tuple(error["loc"]), raw)
        error = {**error, "loc": loc}
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            known = ", ".join(sorted(OPS))
            if error["type"] == "union_tag_not_found":
                found.append((loc + ("op",), f"required field 'op' is missing; ops: {known}"))
            else:
                found.append((loc + ("op",), _unknown_name("op", error["ctx"]["tag"], sorted(OPS))))
        elif error["type"] == "extra_forbidden":
            found.append((loc, _unknown_field(loc, raw)))
        else:
            rest.append(error)
    return found + json_problems.convert_errors(rest, raw, StyleFamily)


def _without_tags(loc: tuple, raw: dict) -> tuple:
    """pydantic puts a step's op name in the error location ('previz', 0, 'smooth', 'radius_px'): drop it."""
    if len(loc) >= 3 and loc[0] == "previz" and isinstance(loc[1], int):
        step = raw.get("previz")[loc[1]] if isinstance(raw.get("previz"), list) else None
        if isinstance(step, dict) and step.get("op") == loc[2] and loc[2] not in step:
            return loc[:2] + loc[3:]
    return loc


def _unknown_name(kind: str, name: Any, known: list[str]) -> str:
    message = f"unknown {kind} '{name}'"
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return f"{message}; known {kind}s: {', '.join(known)}"


def _unknown_field(loc: tuple, raw: dict) -> str:
    """Name the fields the object at `loc` may have (a family, a LoRA, or one step's op)."""

    parent, name = loc[:-1], str(loc[-1])
    model: type[Strict] | None = StyleFamily
    if parent == ("lora",):
        model = LoraFile
    elif parent[:1] == ("previz",) and len(parent) == 2:
        node = json_problems.value_at(raw, parent)
        model = OPS.get(node.get("op")) if isinstance(node, dict) else None
    elif parent:
        model = None
    if model is None:
        return f"unknown field '{name}'"
    return json_problems.unknown_field_text(name, list(model.model_fields), cutoff=0.7)


def family_schema() -> dict[str, Any]:
    """JSON Schema of a style family file, for `reelforge schema --style` and editors."""
    schema = StyleFamily.model_json_schema()
    schema.pop("title", None)
    return {"$schema": json_problems.SCHEMA_DIALECT, "title": "reelforge style family", **schema}


# --------------------------------------------------------------------------- the spec's choice


@functools.cache
def builtin_names() -> tuple[str, ...]:
    """Ids of the families shipped in the package (its files do not change while running)."""
    return tuple(sorted(path.stem for path in BUILTIN_FOLDER.glob("*.json")))


class Style(Strict):
    """Which style family a series, episode, scene or shot uses (inherited downward unless overridden)."""

    preset: str = Field(description="a built-in family or a file in the production's styles/ folder (its name "
                                    "without .json)")

    @field_validator("preset")
    @classmethod
    def _known_family(cls, v: str, info: ValidationInfo) -> str:
        # While a spec file is validated, the loader passes the production's families in the context;
        # a Production built in code without a context knows the built-ins.
        names = (info.context or {}).get(FAMILIES_CONTEXT)
        if names is None:
            names = builtin_names()
        if v not in names:
            close = difflib.get_close_matches(v, list(names), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'? Known" if close else "; known"
            raise ValueError(f"unknown style preset '{v}'{hint}: {', '.join(sorted(names))} "
                             f"(or add the family as {STYLES_FOLDER}/{v}.json beside the spec)")
        return v
