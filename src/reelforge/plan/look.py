"""A shot's camera look, merged field by field from production → episode → scene → shot.

The resolved look (LookJob) holds numbers only: the LUT is keyed by the SHA-256 of its
file, and its path goes into the job's `assets` (not keyed), so moving the file
re-renders nothing and editing it re-renders exactly the shots that use it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reelforge.plan.base import Frozen
from reelforge.plan.framing import canvas_shape
from reelforge.plan.lut import LutError, read_lut
from reelforge.spec.look import Look
from reelforge.store.assets import keep_asset
from reelforge.store.paths import ProductionPaths


class DepthOfFieldJob(Frozen):
    f_stop: float
    focus_m: float | None  # None: the subject's distance, frame by frame


class LutJob(Frozen):
    sha256: str  # the .cube file's content; its path is in ShotJob.assets
    strength: float  # 1 = the LUT's output, 0 = the input


class LookJob(Frozen):
    aspect_ratio: str
    depth_of_field: DepthOfFieldJob | None = None  # previz only
    shutter_deg: float = 0.0  # motion blur (post/motion_blur.py); 0 = none
    grain: float = 0.0
    vignette: float = 0.0
    lut: LutJob | None = None


def merge_looks(*looks: Look | None) -> Look:
    """Outermost first: each later look overrides the fields it sets.

    A depth of field merges field by field as well: a shot's {"focus_m": 2} keeps the
    scene's f-stop, as a director pulling focus on one shot expects.
    """
    merged: dict = {}
    for look in looks:
        if look is None:
            continue
        given = look.model_dump(exclude_none=True, exclude_unset=True)
        outer, inner = merged.get("depth_of_field"), given.get("depth_of_field")
        if isinstance(outer, dict) and isinstance(inner, dict):
            given["depth_of_field"] = {**outer, **inner}
        merged.update(given)
    return Look(**merged)


# (resolved path, size, mtime, inode, production root) → (sha256, kept copy): a production-wide
# LUT is resolved for every shot, but read, checked and copied once while it stays unchanged.
_checked: dict[tuple, tuple[str, str]] = {}
_checked_lock = threading.Lock()


def kept_lut(path: Path, base_dir: Path) -> tuple[str, str]:
    """Check that a .cube file reads as a LUT and keep this version of it in the production
    (`.reelforge/assets/<sha256>.cube`, like a watermark logo): (sha256, kept path).

    The job records the kept copy, so re-rendering or verifying it later applies exactly
    this LUT even after the user edits or moves their file.
    """
    try:
        stat = path.stat()
    except OSError:
        stat = None
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, str(base_dir.resolve())) if stat else None
    with _checked_lock:
        if memo in _checked and Path(_checked[memo][1]).is_file():
            return _checked[memo]
    read_lut(path)
    try:
        kept = keep_asset(path, base_dir.resolve())
    except OSError as exc:
        raise LutError(f"cannot keep a copy of {path} under {ProductionPaths.for_root(base_dir).state}: {exc.strerror or exc}") from None
    result = (kept.stem, str(kept))  # keep_asset names the copy by the file's SHA-256
    with _checked_lock:
        _checked[memo] = result
    return result


def spec_path(value: str, base_dir: Path) -> Path:
    """A file named in the spec: relative paths start at the spec's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def resolve_look(look: Look, base_dir, canvas: tuple[int, int]) -> tuple[LookJob, dict[str, str]]:
    """The resolved look and the asset files it needs (sha256 → path).

    A look that sets no aspect ratio takes the delivered canvas's shape: a 9:16 delivery is full-frame
    vertical, never a 16:9 picture pillarboxed inside it.

    Raises LutError naming `look.lut` and the file when the LUT cannot be read.
    """
    dof = look.depth_of_field or None
    lut, assets = None, {}
    if look.lut:
        base_dir = Path(base_dir or Path.cwd())
        path = spec_path(look.lut, base_dir)
        try:
            digest, kept = kept_lut(path, base_dir)
        except LutError as exc:
            raise LutError(f"look.lut: {exc}") from None
        except OSError as exc:
            raise LutError(f"look.lut: cannot read LUT file {path}: {exc.strerror or exc}") from None
        strength = 1.0 if look.lut_strength is None else float(look.lut_strength)
        if strength > 0.0:
            lut, assets = LutJob(sha256=digest, strength=strength), {digest: kept}
    return LookJob(
        aspect_ratio=look.aspect_ratio or canvas_shape(canvas),
        depth_of_field=DepthOfFieldJob(f_stop=float(dof.f_stop), focus_m=dof.focus_m) if dof else None,
        shutter_deg=float(look.shutter_deg or 0.0),
        grain=float(look.grain or 0.0),
        vignette=float(look.vignette or 0.0),
        lut=lut,
    ), assets


def lut_problems(production, base_dir) -> list[tuple[str, str]]:
    """(JSON path, message) for every look.lut in the spec that cannot be read, in spec order.

    Planning stops at the first bad LUT with a message that names the file; this walk
    names where in the spec each bad one is, so a user sees them all at once.
    """
    found = []
    levels = [("$", production)]
    for e, episode in enumerate(production.episodes):
        levels.append((f"$.episodes[{e}]", episode))
        for s, scene in enumerate(episode.scenes):
            levels.append((f"$.episodes[{e}].scenes[{s}]", scene))
            levels += [(f"$.episodes[{e}].scenes[{s}].shots[{t}]", shot) for t, shot in enumerate(scene.shots)]
    for where, level in levels:
        look = level.look
        if look is None or not look.lut:
            continue
        try:
            read_lut(spec_path(look.lut, Path(base_dir)))  # read only: checking a spec keeps no copies
        except LutError as exc:
            found.append((f"{where}.look.lut", str(exc)))
        except OSError as exc:
            found.append((f"{where}.look.lut", f"cannot read LUT file: {exc.strerror or exc}"))
    return found
