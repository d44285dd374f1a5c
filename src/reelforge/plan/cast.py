"""Casting: each cast character's identity conditioning, and their gray-box stand-in in the shot.

The identity conditioning of a character (prompt tokens, wardrobe, reference images,
LoRA, IP-Adapter image, identity seed) depends only on the character and on the
episode/scene (wardrobe changes), never on the shot's camera or lighting: every shot
that casts them gets the same inputs.

Files are keyed by content. Reference and IP-Adapter images are checked (Pillow must
decode them) and each version is kept under `.reelforge/assets/<sha256><suffix>` in the
production, so the record of an old render still names a file that holds exactly the
image it was conditioned on after the original is edited. A LoRA is hashed like a
checkpoint (cached by size and mtime) and used where it lies: LoRAs are large, and the
hash in the key already tells a changed file apart.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from safetensors import SafetensorError, safe_open

from reelforge.plan.base import Frozen, LoraJob
from reelforge.plan.blocking import FigureBlocking, FigureStart
from reelforge.plan.seeds import figure_draws, identity_seed
from reelforge.spec.base import text_in
from reelforge.spec.character import Character, Wardrobe
from reelforge.spec.model import Production
from reelforge.spec.staging import LINEUP_SPACING_M, lineup
from reelforge.store.assets import keep_asset
from reelforge.store.hashing import cached_file_sha256
from reelforge.store.paths import ProductionPaths

FIGURE_SPACING_M = LINEUP_SPACING_M  # the unblocked line-up (spec/staging.py `lineup`)
# How far a character's mannequin may depart from the neutral proportions (multipliers), drawn
# from the identity seed: enough that two characters of one height read apart, small enough
# that every figure still reads as a person.
SHOULDERS_RANGE = (0.9, 1.1)  # torso width and where the arms hang
HEAD_RANGE = (0.88, 1.12)  # head and hair size
BUILD_RANGE = (0.85, 1.15)  # girth: torso depth, leg and arm thickness


class CastFileError(Exception):
    """A character's reference image, IP-Adapter image or LoRA file is missing or unusable.

    The message names the spec field (`$.characters[i].references[j]`) and the file; the CLI
    prints it like a missing checkpoint (exit 2, no traceback).
    """


class Figure(Frozen):
    """A cast character's gray-box stand-in: where it stands, what it wears and how it is built."""

    character_id: str
    x_m: float
    z_m: float
    height_m: float
    top: str
    bottom: str
    shoes: str
    skin: str
    hair: str
    shoulders: float = 1.0  # identity proportions (multipliers of the neutral mannequin), from the identity seed
    head: float = 1.0
    build: float = 1.0
    # What the figure does in the shot (plan/blocking.py); None: it stands on its spot facing the camera.
    blocking: FigureBlocking | None = None


class WardrobeJob(Frozen):
    """The wardrobe worn in this scene, resolved (character default, then episode, then scene change)."""

    top: str
    bottom: str
    shoes: str
    description: str  # in the render language


class CastMember(Frozen):
    """One cast character's identity conditioning: identical in every shot that casts them
    (within an episode/scene whose wardrobe is the same)."""

    character_id: str
    tokens: str  # the character's prompt phrase: LoRA trigger, name, description, face, hair, wardrobe
    identity_seed: int = 0  # from the spec, or derived from the production seed and the id (plan.seeds)
    reference_sha256s: tuple[str, ...] = ()  # reference images, by content (paths in ShotJob.assets)
    ip_adapter_image_sha256: str | None = None  # the image IP-Adapter encodes (path in ShotJob.assets)
    ip_adapter_scale: float | None = None  # the spec's per-character scale; None: the model's ip_adapter_scale
    lora: LoraJob | None = None
    wardrobe: WardrobeJob | None = None


def character_identity_seed(production: Production, character: Character) -> int:
    """The spec's identity_seed, else one derived from the master seed and the character's id."""
    if character.identity_seed is not None:
        return character.identity_seed
    return identity_seed(production.seed, character.id)


def figure_proportions(seed_of_identity: int) -> dict[str, float]:
    """Shoulders, head and build multipliers of a character's mannequin, fixed by the identity seed."""
    draws = figure_draws(seed_of_identity, 3)
    ranges = {"shoulders": SHOULDERS_RANGE, "head": HEAD_RANGE, "build": BUILD_RANGE}
    return {name: round(low + (high - low) * u, 6) for (name, (low, high)), u in zip(ranges.items(), draws)}


def resolve_wardrobe(production: Production, character: Character, episode_id: str, scene_id: str) -> WardrobeJob:
    wardrobe: Wardrobe = character.wardrobe_for(episode_id, scene_id)
    lang = production.language
    return WardrobeJob(top=wardrobe.top, bottom=wardrobe.bottom, shoes=wardrobe.shoes,
                       description=text_in(wardrobe.description, lang, lang))


def character_tokens(production: Production, character: Character, wardrobe: WardrobeJob) -> str:
    """The character's prompt phrase, always in this order: LoRA trigger, name, description, face, hair, wardrobe."""
    lang = production.language
    parts = [character.lora.trigger if character.lora is not None else None,
             text_in(character.name, lang, lang), text_in(character.description, lang, lang),
             text_in(character.face, lang, lang), text_in(character.hair, lang, lang), wardrobe.description]
    return ", ".join(p.strip() for p in parts if p and p.strip())


# ----------------------------------------------------------------------------- files


def _spec_path(value: str, base_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _stat_or_fail(path: Path, where: str, what: str):
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CastFileError(f"{where}: {path}: no such file") from None
    except OSError as exc:
        raise CastFileError(f"{where}: {path}: cannot read it ({exc.strerror or exc})") from None
    if not path.is_file():
        raise CastFileError(f"{where}: {path} is not a file; give {what}")
    return stat


# (kind, file, its size/mtime/inode/ctime, production root) → (sha256, path to record). A plan casts a
# character in many shots: each file is read, checked and hashed once while it stays unchanged.
_checked: dict[tuple, tuple[str, str]] = {}
_checked_lock = threading.Lock()


def _stamp(stat) -> tuple[int, int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns


def _check_image(path: Path, where: str) -> None:
    """Pillow decodes the whole file (a truncated file fails here, not halfway through a render)."""
    _stat_or_fail(path, where, "an image file")
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise CastFileError(f"{where}: {path}: not an image Pillow can read ({exc})") from None
    except OSError as exc:
        raise CastFileError(f"{where}: {path}: cannot read it as an image ({exc.strerror or exc})") from None


def kept_image(value: str, where: str, base_dir: Path) -> tuple[str, str]:
    """Check that a spec's image file decodes, keep this version in the production; (sha256, kept path)."""
    path = _spec_path(value, base_dir)
    memo = ("image", str(path.resolve()), _stamp(_stat_or_fail(path, where, "an image file")), str(base_dir.resolve()))
    with _checked_lock:
        if memo in _checked and Path(_checked[memo][1]).is_file():
            return _checked[memo]
    _check_image(path, where)
    try:
        kept = keep_asset(path, base_dir.resolve())
    except OSError as exc:
        raise CastFileError(f"{where}: {path}: cannot keep a copy under {ProductionPaths.for_root(base_dir).state} "
                            f"({exc.strerror or exc})") from None
    result = (kept.stem, str(kept))  # keep_asset names the copy by the file's SHA-256
    with _checked_lock:
        _checked[memo] = result
    return result


def hashed_lora(value: str, where: str, base_dir: Path) -> tuple[str, str]:
    """Check that a LoRA is a readable .safetensors file; (sha256, path)."""
    path = _spec_path(value, base_dir)
    memo = ("lora", str(path.resolve()), _stamp(_stat_or_fail(path, where, "a .safetensors LoRA file")), "")
    with _checked_lock:
        if memo in _checked:
            return _checked[memo]
    if path.suffix.lower() != ".safetensors":
        raise CastFileError(f"{where}: {path}: a LoRA is loaded from a .safetensors file")
    try:
        with safe_open(str(path), framework="numpy") as weights:
            if not list(weights.keys()):
                raise CastFileError(f"{where}: {path}: this safetensors file holds no tensors")
        sha = cached_file_sha256(path)
    except (SafetensorError, ValueError) as exc:
        raise CastFileError(f"{where}: {path}: not a readable safetensors file ({exc})") from None
    except OSError as exc:
        raise CastFileError(f"{where}: {path}: cannot read it ({exc.strerror or exc})") from None
    result = (sha, str(path.resolve()))
    with _checked_lock:
        _checked[memo] = result
    return result


def character_files(production: Production, character_id: str,
                    base_dir: Path) -> tuple[tuple[str, ...], str | None, LoraJob | None, dict[str, str]]:
    """A character's reference images, IP-Adapter image (default: the first reference) and LoRA,
    by content hash, and where the files are (sha256 → path). Raises CastFileError naming the field."""
    index = next(i for i, c in enumerate(production.characters) if c.id == character_id)
    character = production.characters[index]
    at = f"$.characters[{index}]"
    assets: dict[str, str] = {}
    references = []
    for j, value in enumerate(character.references):
        sha, kept = kept_image(value, f"{at}.references[{j}]", base_dir)
        references.append(sha)
        assets[sha] = kept
    ip_image = None
    if character.ip_adapter_image is not None:
        ip_image, kept = kept_image(character.ip_adapter_image, f"{at}.ip_adapter_image", base_dir)
        assets[ip_image] = kept
    elif references:
        ip_image = references[0]
    lora = None
    if character.lora is not None:
        sha, path = hashed_lora(character.lora.path, f"{at}.lora.path", base_dir)
        lora = LoraJob(sha256=sha, weight=float(character.lora.weight), source=f"character:{character.id}")
        assets[sha] = path
    return tuple(references), ip_image, lora, assets


def cast_file_problems(production: Production, base_dir) -> list[tuple[str, str]]:
    """(JSON path, message) for every character file that cannot be used, in spec order.

    For `reelforge validate`: the same checks planning makes (images decode, LoRAs are readable
    .safetensors), but all of them at once, and read only (checking a spec keeps no copies).
    """
    base_dir = Path(base_dir)
    found = []
    for i, character in enumerate(production.characters):
        at = f"$.characters[{i}]"
        images = [(f"{at}.references[{j}]", value) for j, value in enumerate(character.references)]
        if character.ip_adapter_image is not None:
            images.append((f"{at}.ip_adapter_image", character.ip_adapter_image))
        loras = [(f"{at}.lora.path", character.lora.path)] if character.lora is not None else []
        for where, value in images + loras:
            try:
                if where.endswith(".lora.path"):
                    hashed_lora(value, where, base_dir)
                else:
                    _check_image(_spec_path(value, base_dir), where)
            except CastFileError as exc:
                found.append((where, str(exc).removeprefix(f"{where}: ")))
    return found


# ----------------------------------------------------------------------------- casting


def cast_member(production: Production, character_id: str, episode_id: str, scene_id: str,
                base_dir: Path) -> tuple[CastMember, dict[str, str]]:
    """One character's identity conditioning in one scene, and the files it needs (sha256 → path)."""
    character = production.character(character_id)
    wardrobe = resolve_wardrobe(production, character, episode_id, scene_id)
    references, ip_image, lora, assets = character_files(production, character_id, base_dir)
    member = CastMember(character_id=character.id, tokens=character_tokens(production, character, wardrobe),
                        identity_seed=character_identity_seed(production, character), reference_sha256s=references,
                        ip_adapter_image_sha256=ip_image, ip_adapter_scale=character.ip_adapter_scale, lora=lora,
                        wardrobe=wardrobe)
    return member, assets


def place_figures(production: Production, cast: list[str], episode_id: str | None = None,
                  scene_id: str | None = None, blocking: dict[str, FigureStart] | None = None) -> tuple[Figure, ...]:
    """Cast stands where the shot's blocking starts them (plan/blocking.py `resolve_blocking`), else left
    to right in spec order, centred on the subject, in the scene's wardrobe (the default wardrobe when
    no episode/scene is given), built by each identity seed."""
    figures = []
    for (x, z), character_id in zip(lineup(len(cast)), cast):
        c = production.character(character_id)
        wardrobe = c.wardrobe_for(episode_id, scene_id) if episode_id is not None else c.wardrobe
        start = (blocking or {}).get(character_id)
        if start is not None:
            x, z = start.x_m, start.z_m
        figures.append(Figure(
            character_id=c.id, x_m=x, z_m=z,
            height_m=c.height_m, top=wardrobe.top, bottom=wardrobe.bottom, shoes=wardrobe.shoes,
            skin=c.skin_color, hair=c.hair_color, **figure_proportions(character_identity_seed(production, c)),
            blocking=start.blocking if start is not None else None,
        ))
    return tuple(figures)


def resolve_cast(production: Production, episode, scene, cast: list[str], base_dir,
                 blocking: dict[str, FigureStart] | None = None,
                 ) -> tuple[tuple[CastMember, ...], tuple[Figure, ...], dict[str, str]]:
    """Cast conditioning in spec order, their figures (placed by the shot's resolved blocking), and the
    asset files they need (sha256 → path).

    Raises CastFileError (naming `$.characters[i]...` and the file) when a character's file is
    missing or unusable.
    """
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    members, assets = [], {}
    for character_id in cast:
        member, files = cast_member(production, character_id, episode.id, scene.id, base_dir)
        members.append(member)
        assets.update(files)
    return tuple(members), place_figures(production, cast, episode.id, scene.id, blocking), assets
